// The policy importers behind `weft import k8s|cilium`: read manifests,
// translate them into the directional model, compose the Weft policy, and
// check the result with Weft's own policy parser before anyone sees it.

import { DiagnosticBag, InputError, type Diagnostic } from '../diagnostics.ts';
import { parsePolicy } from '../policy/load.ts';
import { CILIUM_KINDS, importCiliumPolicies } from './cilium.ts';
import { composePolicy } from './compose.ts';
import { importNetworkPolicies, NETWORK_POLICY_KINDS } from './kubernetes.ts';
import { readManifests } from './manifest.ts';
import { DEFAULT_CLUSTER } from './model.ts';

export type PolicySource = 'k8s' | 'cilium';

export interface PolicyImport {
  /** policy.yaml text. */
  text: string;
  counts: { rules: number; groups: number };
  warnings: Diagnostic[];
}

export interface PolicyImportOptions {
  cluster?: string;
  name?: string;
}

/** Imports policies; throws InputError (with every diagnostic) on bad input. */
export function importPolicy(source: PolicySource, paths: string[], opts: PolicyImportOptions): PolicyImport {
  const bag = new DiagnosticBag();
  const cluster = opts.cluster ?? DEFAULT_CLUSTER;
  let imported;
  switch (source) {
    case 'k8s': {
      const objects = readManifests(paths, NETWORK_POLICY_KINDS, bag);
      imported = importNetworkPolicies(objects, cluster, paths);
      break;
    }
    case 'cilium': {
      // Cilium enforces Kubernetes NetworkPolicies beside its own, with the same per-direction model.
      const objects = readManifests(paths, { ...CILIUM_KINDS, ...NETWORK_POLICY_KINDS }, bag);
      imported = importCiliumPolicies(objects.filter((o) => o.kind in CILIUM_KINDS), cluster, paths);
      const k8s = importNetworkPolicies(objects.filter((o) => o.kind in NETWORK_POLICY_KINDS), cluster, paths);
      imported.rules.push(...k8s.rules);
      imported.isolations.push(...k8s.isolations);
      break;
    }
    default: {
      const never: never = source;
      throw new Error(`unhandled policy source ${String(never)}`);
    }
  }
  bag.throwIfErrors();
  if (opts.name) imported.name = opts.name;
  const composed = composePolicy(imported);
  // The composer's output must be a policy Weft accepts; a failure here is a bug, not bad input.
  let check;
  try {
    check = parsePolicy(composed.text, 'imported policy');
  } catch (e) {
    if (e instanceof InputError) throw new Error(`internal: the imported policy does not parse: ${e.message}`);
    throw e;
  }
  return { text: composed.text, counts: { rules: check.rules.length, groups: check.groups.size }, warnings: bag.items.filter((d) => d.severity === 'warning') };
}
