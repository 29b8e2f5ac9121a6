// Kubernetes label selectors (matchLabels, matchExpressions) as Weft
// selectors. Weft selectors are conjunctions of key=value, so a label
// selector becomes a union of them: `In` with several values expands into
// one conjunction per value. NotIn, Exists and DoesNotExist have no
// equality form; for them the reader returns two answers, a lower bound
// (what allows may use: nothing) and an upper bound (what isolations and
// denies may use: the selector without that expression), and warns.

import { isScalar, type MapNode } from '../yaml/node.ts';
import { listChoices, type YamlSource, type YNode } from '../yaml/source.ts';
import type { Selector } from './model.ts';

/** Conjunctions beyond this make the policy unreadable; the input is refused. */
const MAX_CONJUNCTIONS = 256;

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

export interface SelectorBounds {
  /** Pods certainly selected (all of them when every expression was expressible). */
  lower: Selector[];
  /** Pods possibly selected (as above). */
  upper: Selector[];
}

export interface SelectorContext {
  /** Pairs every selected pod carries anyway (cluster, namespace). */
  base: Selector;
  /** Turns a selector key into the endpoint label key; undefined: cannot be matched (already reported). */
  mapKey: (key: string, node: YNode) => string | undefined;
  /** What an inexpressible expression does to the rule, for the warning. */
  effect: string;
}

/** a AND b, or undefined when they need different values for one key. */
export function mergeSelectors(a: Selector, b: Selector): Selector | undefined {
  const out: Selector = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (k in out && out[k] !== v) return undefined;
    out[k] = v;
  }
  return out;
}

/** Pairwise AND of two unions, without duplicates. */
export function intersectUnions(as: Selector[], bs: Selector[]): Selector[] {
  const out = new Map<string, Selector>();
  for (const a of as) {
    for (const b of bs) {
      const m = mergeSelectors(a, b);
      if (m) out.set(selectorKey(m), m);
    }
  }
  return [...out.values()];
}

export function selectorKey(s: Selector): string {
  return JSON.stringify(Object.entries(s).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Reads a LabelSelector mapping (absent or `{}`: every pod of the base).
 * Errors (wrong types, bad operators) go to src.bag.
 */
export function readLabelSelector(src: YamlSource, node: YNode | undefined, what: string, ctx: SelectorContext): SelectorBounds {
  let lower: Selector[] = [{ ...ctx.base }];
  let upper: Selector[] = [{ ...ctx.base }];
  if (node === undefined) return { lower, upper };
  const m = src.map(node, what, 'valid: {matchLabels: {app: web}, matchExpressions: [{key, operator, values}]}');
  if (!m) return { lower: [], upper: [] };
  src.checkKeys(m, ['matchLabels', 'matchExpressions'], what);
  const and = (pairs: Selector[]): void => {
    lower = intersectUnions(lower, pairs);
    upper = intersectUnions(upper, pairs);
  };
  const ml = src.get(m, 'matchLabels');
  if (ml !== undefined) {
    const mm = src.map(ml, `${what}.matchLabels`, 'valid: matchLabels: {app: web}');
    for (const { key, keyNode, value } of mm ? src.pairs(mm, `${what}.matchLabels`) : []) {
      const k = ctx.mapKey(key, keyNode);
      const v = src.textValue(value, `${what}.matchLabels.${key}`);
      if (k === undefined || v === undefined) {
        lower = [];
        continue;
      }
      and([{ [k]: v }]);
    }
  }
  const me = src.get(m, 'matchExpressions');
  if (me !== undefined) {
    const seq = src.seq(me, `${what}.matchExpressions`, 'valid: matchExpressions: [{key: tier, operator: In, values: [web]}]');
    for (const item of seq ? src.items(seq) : []) {
      const r = readExpression(src, item, what);
      if (r === undefined) {
        lower = [];
        continue;
      }
      const k = ctx.mapKey(r.key, r.keyNode);
      if (k === undefined) {
        lower = [];
        continue;
      }
      if (r.operator === 'In') {
        and(r.values.map((v) => ({ [k]: v })));
      } else {
        lower = [];
        src.bag.warning(
          'inexpressible-selector',
          `${what}: "${r.key} ${r.operator}${r.values.length ? ` [${r.values.join(', ')}]` : ''}" has no Weft form (selectors match key=value only): ${ctx.effect}`,
          src.span(item),
          'valid in Weft: matchLabels and In; rewrite the expression as In over the values in use to import it exactly',
        );
      }
      if (upper.length > MAX_CONJUNCTIONS) {
        src.bag.error('selector-too-large', `${what}: the In expressions expand to ${upper.length} key=value combinations`, src.span(item), `valid: at most ${MAX_CONJUNCTIONS} combinations; label the pods with one shared label instead`);
        return { lower: [], upper: [] };
      }
    }
  }
  return { lower, upper };
}

interface Expression {
  key: string;
  keyNode: YNode;
  operator: (typeof OPERATORS)[number];
  values: string[];
}

function readExpression(src: YamlSource, node: YNode | null, what: string): Expression | undefined {
  const e = src.map(node, `${what}.matchExpressions entry`, 'valid: {key: tier, operator: In, values: [web, api]}');
  if (!e) return undefined;
  src.checkKeys(e, ['key', 'operator', 'values'], `${what}.matchExpressions entry`);
  const keyNode = src.require(e, 'key', `${what}.matchExpressions entry`, 'valid: key: <label key>');
  const key = keyNode === undefined ? undefined : src.textValue(keyNode, `${what}.matchExpressions key`);
  const opNode = src.require(e, 'operator', `${what}.matchExpressions entry`, `valid: operator: ${listChoices(OPERATORS)}`);
  let operator: Expression['operator'] | undefined;
  if (opNode !== undefined) {
    const v = isScalar(opNode) ? opNode.value : undefined;
    if (typeof v === 'string' && (OPERATORS as readonly string[]).includes(v)) operator = v as Expression['operator'];
    else src.bag.error('bad-operator', `${what}: operator is ${src.describe(opNode)}`, src.span(opNode), `valid: ${listChoices(OPERATORS)}`);
  }
  const values = readValues(src, e, what);
  if (key === undefined || keyNode === undefined || operator === undefined || values === undefined) return undefined;
  const needsValues = operator === 'In' || operator === 'NotIn';
  if (needsValues !== values.length > 0) {
    src.bag.error(
      'bad-expression',
      `${what}: operator ${operator} ${needsValues ? 'needs' : 'takes no'} values`,
      src.span(e),
      needsValues ? `valid: ${operator} with a non-empty values list` : `valid: ${operator} without values`,
    );
    return undefined;
  }
  return { key, keyNode, operator, values };
}

function readValues(src: YamlSource, e: MapNode, what: string): string[] | undefined {
  const node = src.get(e, 'values');
  if (node === undefined) return [];
  const seq = src.seq(node, `${what}.matchExpressions values`, 'valid: values: [web, api]');
  if (!seq) return undefined;
  const out: string[] = [];
  for (const item of src.items(seq)) {
    const v = src.textValue(item, `${what}.matchExpressions value`);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}
