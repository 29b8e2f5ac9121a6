// The fast path of fabric loading: a fabric.yaml or fabric.json read as
// plain values (orchestrator/yaml/plain.ts) into the Fabric model, with the
// checks of the positional loader (fabric.ts). It reports nothing: at the
// first thing that would make a diagnostic, error or warning, it gives up
// and the caller reads the file again with positions, so every message a
// user sees is the positional loader's own. Devices and links (a few
// thousand at most) go through that loader's readers on nodes made from
// their values; endpoints, the bulk of a large fabric (130,000 in 16 MiB),
// are read straight from their objects into the model.

import { DiagnosticBag, type SourceSpan } from '../orchestrator/diagnostics.ts';
import { parseIp } from '../orchestrator/net/ip.ts';
import { plainDigest, type PlainMap } from '../orchestrator/yaml/node.ts';
import { withLazyDigest } from '../orchestrator/yaml/lazy-digest.ts';
import { isPlainMap, plainToNode, readPlainDocument } from '../orchestrator/yaml/plain.ts';
import { WEFT_API_VERSION, YamlSource } from '../orchestrator/yaml/source.ts';
import { checkSecrets, defaultFabricName, FABRIC_KEYS, FabricBuilder, fabricFieldAt, isSecretKey, NAME_RE, readDevice, readLink, splitPortRef } from './fabric.ts';
import type { Endpoint, Fabric } from './model.ts';

const ENDPOINT_KEYS = new Set<string>(FABRIC_KEYS.endpoint);

/** The fabric in `text`, or undefined when reading it needs a diagnostic (or plain values cannot hold it). */
export function readFabricPlain(text: string, file: string): Fabric | undefined {
  const doc = readPlainDocument(text, file);
  if (!doc) return undefined;
  const top = doc.root;
  if (!isPlainMap(top) || !onlyKeys(top, FABRIC_KEYS.top)) return undefined;
  if (top.apiVersion !== WEFT_API_VERSION || top.kind !== 'Fabric') return undefined;
  let name = defaultFabricName(file);
  const meta = top.metadata;
  if (meta !== undefined) {
    if (!isPlainMap(meta) || !onlyKeys(meta, FABRIC_KEYS.metadata)) return undefined;
    if (meta.name !== undefined) {
      if (typeof meta.name !== 'string' || meta.name === '') return undefined;
      name = meta.name;
    }
  }
  const spec = top.spec;
  if (!isPlainMap(spec) || !onlyKeys(spec, FABRIC_KEYS.spec)) return undefined;
  const { devices, links, endpoints } = spec;
  if (!Array.isArray(devices) || (links !== undefined && !Array.isArray(links)) || (endpoints !== undefined && !Array.isArray(endpoints))) return undefined;

  const bag = new DiagnosticBag();
  const src = YamlSource.forNodes(text, file, bag);
  const b = new FabricBuilder(bag, fabricFieldAt(src));
  const topStart = doc.starts.get(top) ?? 0;
  for (const d of devices) {
    const node = plainToNode(d, topStart, doc.starts);
    checkSecrets(src, node);
    readDevice(src, b, node);
  }
  for (const l of links ?? []) readLink(src, b, plainToNode(l, topStart, doc.starts));
  if (bag.items.length) return undefined;
  const secret = secretKeys();
  for (const item of endpoints ?? []) {
    const start = isPlainMap(item) ? doc.starts.get(item) : undefined;
    const e = start === undefined ? undefined : readEndpoint(item as PlainMap, src.spanAt(start), secret);
    if (!e) return undefined;
    b.endpoint(e);
  }
  b.check();
  if (bag.items.length) return undefined;
  return withLazyDigest({ file, name, devices: b.devices, links: b.links, endpoints: b.endpoints }, () => plainDigest(top));
}

function onlyKeys(m: PlainMap, known: readonly string[]): boolean {
  for (const k in m) if (!known.includes(k)) return false;
  return true;
}

/** isSecretKey, asked once per distinct key: label keys repeat on every endpoint. */
function secretKeys(): (key: string) => boolean {
  const known = new Map<string, boolean>();
  return (key) => {
    let s = known.get(key);
    if (s === undefined) known.set(key, (s = isSecretKey(key)));
    return s;
  };
}

/**
 * An endpoint as fabric.ts's readEndpoint makes it (the same fields in the
 * same order), or undefined where that reader would report something.
 */
function readEndpoint(m: PlainMap, span: SourceSpan, secret: (key: string) => boolean): Endpoint | undefined {
  for (const k in m) if (!ENDPOINT_KEYS.has(k)) return undefined;
  const name = m.name;
  if (typeof name !== 'string' || !NAME_RE.test(name)) return undefined;
  const e: Endpoint = { name, addresses: [], labels: {}, span };
  const host = m.host;
  if (host !== undefined && host !== null) {
    if (typeof host !== 'string' || host === '') return undefined;
    e.host = host;
  }
  const attach = m.attach;
  if (attach !== undefined && attach !== null) {
    const ref = typeof attach === 'string' ? splitPortRef(attach) : undefined;
    if (!ref) return undefined;
    e.attach = ref;
  }
  const addresses = m.addresses;
  if (!Array.isArray(addresses) || addresses.length === 0) return undefined;
  for (const a of addresses) {
    const ip = typeof a === 'string' && a !== '' ? parseIp(a.trim()) : undefined;
    if (!ip) return undefined;
    e.addresses.push(ip);
  }
  const labels = m.labels;
  if (labels !== undefined && labels !== null) {
    if (!isPlainMap(labels)) return undefined;
    let text = true;
    for (const k in labels) {
      if (k.startsWith('weft.') || secret(k)) return undefined;
      const v = labels[k];
      if (typeof v === 'string') {
        if (v === '') return undefined;
      } else if (typeof v === 'number' || typeof v === 'boolean') {
        text = false;
      } else {
        return undefined;
      }
    }
    // The document's own object when every value is text already: the plain tree is dropped after the load.
    e.labels = text ? (labels as Record<string, string>) : labelText(labels);
  }
  return e;
}

/** Labels with numbers and booleans as text (a plain document writes them as they print). */
function labelText(labels: PlainMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in labels) out[k] = String(labels[k]);
  return out;
}
