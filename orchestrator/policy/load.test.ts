// Normalisation of policy.yaml into the Policy model, error collection, and
// behaviour on oversized or hostile input.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../diagnostics.ts';
import { formatCidr } from '../net/ip.ts';
import { formatBytes, MAX_INPUT_BYTES } from '../yaml/source.ts';
import { loadPolicy, parsePolicy } from './load.ts';

const FIX = join(import.meta.dirname, '../../test/fixtures');
const HEAD = 'apiVersion: weft.dev/v1\nkind: Policy\nmetadata: {name: t}\n';

function errorsOf(text: string): InputError {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an InputError');
}

describe('parsePolicy normalisation', () => {
  it('reads the DESIGN example', () => {
    const text = readFileSync(join(FIX, 'valid/design/policy.yaml'), 'utf8');
    const p = parsePolicy(text, 'policy.yaml');
    expect(p.name).toBe('dc1-segmentation');
    expect(p.defaultAction).toBe('deny');
    // The digest is of the content: comments and layout do not change it, a value does.
    expect(p.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(parsePolicy(`# reformatted\n${text.replace(/: /g, ':   ')}`, 'policy.yaml').digest).toBe(p.digest);
    expect(parsePolicy(text.replace('5432', '5433'), 'policy.yaml').digest).not.toBe(p.digest);
    expect([...p.groups.keys()]).toEqual(['web', 'db', 'ops']);
    expect(p.groups.get('db')?.selector).toEqual({ app: 'db', env: 'prod' });
    expect(p.groups.get('db')?.cidrs).toEqual([]);
    const ops = p.groups.get('ops');
    expect(ops?.selector).toBeUndefined();
    expect(ops?.cidrs.map(formatCidr)).toEqual(['10.250.0.0/16']);
    expect(ops?.except.map(formatCidr)).toEqual(['10.250.9.0/24']);
    expect(p.sections.map((s) => s.name)).toEqual(['baseline']);
    expect(p.rules.map((r) => [r.index, r.name, r.section, r.action])).toEqual([
      [0, 'ops-ssh', 'baseline', 'allow'],
      [1, 'web-to-db', 'baseline', 'allow'],
      [2, 'no-icmp-to-db', 'baseline', 'deny'],
    ]);
    expect(p.rules[0].from).toEqual([{ kind: 'group', name: 'ops', span: { file: 'policy.yaml', line: 14, col: 18 } }]);
    expect(p.rules[0].to).toEqual([{ kind: 'any' }]);
    expect(p.rules[1].ports.map(({ span: _s, ...rest }) => rest)).toEqual([
      { protocol: 'tcp', lo: 5432, hi: 5432 },
      { protocol: 'udp', lo: 8000, hi: 8099 },
    ]);
    expect(p.rules[2].ports.map(({ span: _s, ...rest }) => rest)).toEqual([{ protocol: 'icmp', type: 8 }]);
    expect(p.rules[1].span).toEqual({ file: 'policy.yaml', line: 18, col: 11 });
  });

  it('normalises ports, peers and defaults', () => {
    const p = parsePolicy(
      `${HEAD}spec:
  defaultAction: allow
  groups:
    a: {cidrs: ["fd00::/8", 10.0.0.0/8], except: [10.1.0.0/16, "fd00:1::/32"], selector: {tier: 01, on: true}}
  rules:
    - {name: r0, from: a, to: any, action: deny, log: true}
    - name: r1
      from: [any, a]
      to: [a]
      extra-key: ignored
      ports:
        - {protocol: tcp}
        - {protocol: udp, port: "53"}
        - {protocol: tcp, port: 8000-8099}
        - {protocol: tcp, port: " 1 - 2 "}
        - {protocol: icmpv6, type: 128, code: 0}
        - {protocol: icmp}
        - {protocol: any}
      action: allow
`,
      'x/p.yaml',
    );
    expect(p.defaultAction).toBe('allow');
    const a = p.groups.get('a');
    expect(a?.cidrs.map(formatCidr)).toEqual(['fd00::/8', '10.0.0.0/8']);
    expect(a?.except.map(formatCidr)).toEqual(['10.1.0.0/16', 'fd00:1::/32']);
    expect(a?.selector).toEqual({ tier: '01', on: 'true' });
    expect(p.sections).toEqual([]);
    expect(p.rules[0]).toMatchObject({ name: 'r0', section: '', from: [{ kind: 'group', name: 'a' }], to: [{ kind: 'any' }], ports: [], log: true });
    expect(p.rules[1].from.map((x) => x.kind)).toEqual(['any', 'group']);
    expect(p.rules[1].log).toBe(false);
    expect(p.rules[1].ports.map(({ span: _s, ...rest }) => rest)).toEqual([
      { protocol: 'tcp', lo: 0, hi: 65535 },
      { protocol: 'udp', lo: 53, hi: 53 },
      { protocol: 'tcp', lo: 8000, hi: 8099 },
      { protocol: 'tcp', lo: 1, hi: 2 },
      { protocol: 'icmpv6', type: 128, code: 0 },
      { protocol: 'icmp' },
      { protocol: 'any' },
    ]);
  });

  it('names the policy after its file when metadata is absent, and accepts an empty spec', () => {
    const p = parsePolicy('apiVersion: weft.dev/v1\nkind: Policy\nspec: {}\n', 'dir/prod.yaml');
    expect(p.name).toBe('prod');
    expect(p.rules).toEqual([]);
    expect(p.groups.size).toBe(0);
    expect(p.defaultAction).toBe('deny');
  });

  it('collects every error of the bad-policy fixture in one InputError', () => {
    let err: unknown;
    try {
      loadPolicy(join(FIX, 'bad-policy/policy.yaml'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const codes = (err as InputError).diagnostics.map((d) => d.code).sort();
    expect(codes).toEqual(['cidr-host-bits', 'reversed-port-range', 'unknown-group']);
    expect((err as Error).message).toMatch(/bad-policy\/policy\.yaml:14:12: error: .*unknown group "dbz"/);
  });

  it('reports wrong types with what was found', () => {
    const e = errorsOf(`${HEAD}spec:\n  groups: [web]\n  rules: {a: 1}\n`);
    const msgs = e.diagnostics.map((d) => `${d.code} ${d.span?.line}:${d.span?.col} ${d.message}`);
    expect(msgs).toEqual(['wrong-type 5:11 spec.groups must be a mapping, found a list', 'wrong-type 6:10 spec.rules must be a list, found a mapping']);
  });

  it('hints the defined groups on an unknown group', () => {
    const e = errorsOf(`${HEAD}spec:\n  groups: {web: {selector: {a: b}}, db: {cidrs: [10.0.0.0/8]}}\n  rules: [{name: r, from: wbe, to: any, action: allow}]\n`);
    expect(e.diagnostics[0].hint).toBe('valid: any or a defined group: web or db');
  });

  it('refuses deep nesting without crashing', () => {
    const deep = (n: number): string => `${HEAD}spec: ${'['.repeat(n)}${']'.repeat(n)}\n`;
    expect(errorsOf(deep(100)).diagnostics.map((d) => d.code)).toEqual(['too-deep']);
    // Deeper still, the YAML parser itself runs out of stack: still one clean diagnostic.
    const codes = errorsOf(deep(20000)).diagnostics.map((d) => d.code);
    expect(codes.length).toBeGreaterThan(0);
    expect(codes.every((c) => c === 'too-deep' || c === 'yaml-syntax')).toBe(true);
  });
});

describe('big input', () => {
  function bigPolicy(targetBytes: number): string {
    const parts = [`${HEAD}spec:\n  groups:\n    g: {cidrs: [10.0.0.0/8]}\n  rules:\n`];
    let size = parts[0].length;
    for (let i = 0; size < targetBytes; i++) {
      const line = `    - {name: r${i}, from: [g], to: [any], ports: [{protocol: tcp, port: ${i % 65536}}], action: allow}\n`;
      parts.push(line);
      size += line.length;
    }
    return parts.join('');
  }

  it('refuses a policy over the input limit cleanly, from a file and from text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-big-'));
    try {
      const text = bigPolicy(MAX_INPUT_BYTES + 4 * 1024 * 1024);
      expect(text.length).toBeGreaterThan(MAX_INPUT_BYTES);
      const file = join(dir, 'policy.yaml');
      writeFileSync(file, text);
      for (const run of [() => loadPolicy(file), () => parsePolicy(text, file)]) {
        let err: unknown;
        const t0 = Date.now();
        try {
          run();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(InputError);
        const d = (err as InputError).diagnostics[0];
        expect(d.code).toBe('input-too-large');
        expect(d.message).toBe(`input is ${formatBytes(Buffer.byteLength(text))}, larger than the ${formatBytes(MAX_INPUT_BYTES)} Weft reads`);
        console.log(`policy ${formatBytes(text.length)}: refused in ${Date.now() - t0} ms`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses a large policy below the limit', () => {
    const text = bigPolicy(1024 * 1024);
    const t0 = Date.now();
    const p = parsePolicy(text, 'big.yaml');
    console.log(`policy ${(text.length / 1048576).toFixed(1)} MiB, ${p.rules.length} rules: parsed in ${Date.now() - t0} ms`);
    expect(p.rules.length).toBeGreaterThan(10_000);
    expect(p.rules[p.rules.length - 1].index).toBe(p.rules.length - 1);
  });
});

describe('unknown keys', () => {
  const text = `${HEAD.replace('metadata: {name: t}', 'metadata: {name: t, owner: netops}')}extra: 1
spec:
  defaultaction: deny
  groups:
    web: {selector: {app: web}}
    db: {cidr: [10.0.2.0/24], cidrs: [10.0.1.0/24]}
  sections:
    - name: base
      description: the baseline
      rules:
        - name: web-to-db
          from: [web]
          to: [db]
          prots: [{protocol: tcp, port: 5432}]
          action: allow
        - name: dns
          from: [any]
          to: [any]
          ports: [{protocol: udp, prot: 53}]
          action: allow
`;

  it('are legal, but each one is a warning at the key with the valid keys and a suggestion', () => {
    const p = parsePolicy(text, 'p.yaml');
    // Still read as written: the misspelt ports is absent, so the rule matches every port.
    expect(p.rules.map((r) => r.name)).toEqual(['web-to-db', 'dns']);
    expect(p.rules[0].ports).toEqual([]);
    const w = p.warnings ?? [];
    expect(w.every((d) => d.severity === 'warning' && d.code === 'unknown-key')).toBe(true);
    expect(w.map((d) => [d.message, d.span?.line, d.span?.col])).toEqual([
      ['policy document: unknown key "extra"', 4, 1],
      ['metadata: unknown key "owner"', 3, 21],
      ['spec: unknown key "defaultaction"', 6, 3],
      ['group db: unknown key "cidr"', 9, 10],
      ['section base: unknown key "description"', 12, 7],
      ['rule web-to-db: unknown key "prots"', 17, 11],
      ['rule dns: ports entry: unknown key "prot"', 22, 35],
    ]);
    const hint = (key: string): string => w.find((d) => d.message.endsWith(`"${key}"`))?.hint ?? '';
    expect(hint('prots')).toBe('valid keys here: name, from, to, ports, action or log; did you mean "ports"?');
    expect(hint('defaultaction')).toContain('did you mean "defaultAction"?');
    expect(hint('cidr')).toContain('did you mean "cidrs"?');
    expect(hint('prot')).toContain('did you mean "port"?');
    expect(hint('description')).toBe('valid keys here: name or rules');
    expect(hint('extra')).toBe('valid keys here: apiVersion, kind, metadata or spec');
  });

  it('come with the errors when the policy is also wrong', () => {
    const e = errorsOf(text.replace('action: allow', 'action: permit'));
    expect(e.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code)).toEqual(['bad-action']);
    expect(e.diagnostics.filter((d) => d.code === 'unknown-key')).toHaveLength(7);
  });

  it('are absent from the examples and the valid fixtures', () => {
    expect(loadPolicy(join(FIX, '../../examples/policy.yaml')).warnings).toBeUndefined();
    expect(parsePolicy(readFileSync(join(FIX, 'valid/design/policy.yaml'), 'utf8'), 'policy.yaml').warnings).toBeUndefined();
  });
});

describe('except prefixes outside their group', () => {
  const policy = (groups: string): string => `${HEAD}spec:\n  groups:\n${groups}  rules:\n    - {name: r, from: [any], to: [any], action: allow}\n`;

  it('are a warning at the prefix, naming the cidrs it could apply to', () => {
    const p = parsePolicy(
      policy(`    ops: {cidrs: [10.250.0.0/16, "fd00:9::/32"], except: [10.250.9.0/24, 10.251.9.0/24, "fd00:8::/48"]}\n`),
      'p.yaml',
    );
    const w = p.warnings ?? [];
    expect(w.map((d) => [d.code, d.severity, d.message, d.span?.line, d.span?.col])).toEqual([
      ['except-outside-cidrs', 'warning', 'group ops: except 10.251.9.0/24 lies outside every cidr of the group, so it removes nothing', 6, 74],
      ['except-outside-cidrs', 'warning', 'group ops: except fd00:8::/48 lies outside every cidr of the group, so it removes nothing', 6, 89],
    ]);
    expect(w[0].hint).toBe("valid: an except prefix inside one of the group's cidrs (10.250.0.0/16, fd00:9::/32)");
    // Still read as written: a warning, not a change of meaning.
    expect(p.groups.get('ops')?.except.map(formatCidr)).toEqual(['10.250.9.0/24', '10.251.9.0/24', 'fd00:8::/48']);
  });

  it('are not warned about when they lie inside, equal or cover one of the cidrs', () => {
    const p = parsePolicy(
      policy(`    a: {cidrs: [10.0.0.0/8, 192.168.1.0/24], except: [10.1.0.0/16, 192.168.1.0/24]}\n    b: {cidrs: [10.9.0.0/24], except: [10.0.0.0/8]}\n`),
      'p.yaml',
    );
    expect(p.warnings).toBeUndefined();
  });
});
