// Switch ACL counters back to the policy rules they come from. Both switch
// targets name each entry after its origin (P4: the entry's metadata,
// targets/p4/codegen.ts; OpenConfig: the acl-entry's description,
// targets/openconfig/codegen.ts) in the words rules.ts gives its bands:
// "rule <name>" (OpenConfig) or "rule <index> <name>" (P4) for a policy
// rule, "<name> (reply)" or "reply of <name>" for its reply entries,
// "default permit|deny|allow" for the default; anything else is an entry of
// Weft's own (neighbour discovery, spoofed sources, prefilter passes). An
// entry counts into its rule; a rule's entries (ports, families, set
// members) are summed.

import type { RuleHits } from '../contract.ts';

/** What one entry's origin text says it comes from. */
export function entryOrigin(text: string): Pick<RuleHits, 'kind' | 'label'> {
  const rule = /^rule (?:\d+ )?(.+)$/.exec(text);
  if (rule) {
    const reply = /^(.+) \(reply\)$/.exec(rule[1]);
    return reply ? { kind: 'reply', label: reply[1] } : { kind: 'rule', label: rule[1] };
  }
  // One rule's replies; "reply of a, b and 3 more" stands for several and stays Weft's own.
  const reply = /^reply of ([^,]+)$/.exec(text);
  if (reply && !/ and \d+ more$/.test(reply[1])) return { kind: 'reply', label: reply[1] };
  if (/^default (permit|deny|allow)$/.test(text)) return { kind: 'default', label: 'default' };
  return { kind: 'other', label: text };
}

/** Sums entries' counters per origin, in first-seen order. */
export function sumByOrigin(entries: { origin: string; packets: bigint; bytes?: bigint }[]): RuleHits[] {
  const out = new Map<string, RuleHits>();
  for (const e of entries) {
    const o = entryOrigin(e.origin);
    const key = `${o.kind}\u0000${o.label}`;
    const have = out.get(key);
    if (!have) out.set(key, { ...o, packets: e.packets, ...(e.bytes !== undefined ? { bytes: e.bytes } : {}) });
    else {
      have.packets += e.packets;
      if (e.bytes !== undefined) have.bytes = (have.bytes ?? 0n) + e.bytes;
    }
  }
  return [...out.values()];
}
