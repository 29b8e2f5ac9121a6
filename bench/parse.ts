// Input reading at data-center scale: a realistic generated fabric (the
// compile benchmark's 100,000-endpoint shape, scaled to each size) written
// as block YAML and as JSON, loaded whole (parse + the fabric loader's
// checks) at 1 MiB, 9.4 MiB (100,000 endpoints), 16 MiB and the input limit.
// Beside it, the yaml package's Document parse of the same YAML text (the
// reader Weft used before, and still uses outside the fast subset), with the
// ratio. Each measurement runs in its own child process so its peak RSS is
// its own. Also: a 1 MiB policy and containerlab file, and how fast an
// oversized input is refused. Run alone: node bin/run-ts.js bench/parse.ts
//
// With WEFT_PARSE_BASELINE=<git ref> (a commit, a branch), the same loads
// also run on that commit's readers and loaders, extracted to a temporary
// directory, each in its own child beside the current code's: old and new
// side by side in one run, CPU time beside wall time, since a shared
// machine inflates wall time for both. WEFT_PARSE_SIZES=16MiB,100k picks
// sizes (labels 1MiB, 100k, 16MiB, limit).

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LineCounter, parseDocument } from 'yaml';
import type { Fabric } from '../inventory/model.ts';
import { InputError } from '../orchestrator/diagnostics.ts';
import { formatIp } from '../orchestrator/net/ip.ts';
import { parsePolicy } from '../orchestrator/policy/load.ts';
import { MAX_INPUT_BYTES } from '../orchestrator/yaml/source.ts';
import { fabricToContainerlab, parseContainerlab, parseFabric } from '../inventory/load.ts';
import { benchScenario } from './compile.ts';

const MIB = 1024 * 1024;
/** Bytes per endpoint of the block-YAML form, measured on the 100,000-endpoint fabric. */
const YAML_BYTES_PER_ENDPOINT = 127;

type Format = 'yaml' | 'json';
type Reader = 'weft' | 'yaml-package';

interface Job {
  format: Format;
  reader: Reader;
  endpoints: number;
  /** A checkout whose inventory/load.ts parseFabric does the load (the baseline); absent: this tree's. */
  impl?: string;
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A generated fabric with `endpoints` endpoints on 1,000 devices. */
function scenarioFabric(endpoints: number): Fabric {
  return benchScenario({ rules: 10, endpoints, devices: 1_000, apps: 400, seed: 1, anyToAny: false }).fabric;
}

const q = (s: string): string => JSON.stringify(s);

/** The fabric in the block YAML a person or a generator writes. */
export function fabricYaml(f: Fabric): string {
  const out = [`apiVersion: weft.dev/v1\nkind: Fabric\nmetadata: {name: ${f.name}}\nspec:\n  devices:\n`];
  for (const d of f.devices) {
    const extra = d.pipeline ? `, pipeline: ${d.pipeline}` : d.profile ? `, profile: ${d.profile}, attachedTo: ${d.attachedTo}` : '';
    out.push(`    - {name: ${d.name}, kind: ${d.kind}${extra}}\n`);
  }
  out.push('  links:\n');
  for (const l of f.links) out.push(`    - endpoints: [${q(`${l.a.device}:${l.a.port}`)}, ${q(`${l.b.device}:${l.b.port}`)}]\n`);
  out.push('  endpoints:\n');
  for (const e of f.endpoints) {
    out.push(`    - name: ${e.name}\n`);
    out.push(e.host ? `      host: ${e.host}\n` : `      attach: ${q(`${e.attach!.device}:${e.attach!.port}`)}\n`);
    out.push(`      addresses: [${e.addresses.map((a) => (a.family === 6 ? q(formatIp(6, a.value)) : formatIp(4, a.value))).join(', ')}]\n`);
    out.push(`      labels: {${Object.entries(e.labels).map(([k, v]) => `${k}: ${v}`).join(', ')}}\n`);
  }
  return out.join('');
}

/** The same fabric as JSON, one endpoint per line, as inventory exporters write it. */
export function fabricJson(f: Fabric): string {
  const devices = f.devices.map((d) => JSON.stringify({ name: d.name, kind: d.kind, ...(d.pipeline ? { pipeline: d.pipeline } : {}), ...(d.profile ? { profile: d.profile, attachedTo: d.attachedTo } : {}) }));
  const links = f.links.map((l) => JSON.stringify({ endpoints: [`${l.a.device}:${l.a.port}`, `${l.b.device}:${l.b.port}`] }));
  const endpoints = f.endpoints.map((e) =>
    JSON.stringify({
      name: e.name,
      ...(e.host ? { host: e.host } : { attach: `${e.attach!.device}:${e.attach!.port}` }),
      addresses: e.addresses.map((a) => formatIp(a.family, a.value)),
      labels: e.labels,
    }),
  );
  const list = (items: string[]): string => `[\n    ${items.join(',\n    ')}\n  ]`;
  return `{\n  "apiVersion": "weft.dev/v1",\n  "kind": "Fabric",\n  "metadata": {"name": ${q(f.name)}},\n  "spec": {\n  "devices": ${list(devices)},\n  "links": ${list(links)},\n  "endpoints": ${list(endpoints)}\n  }\n}\n`;
}

/** Runs in the child: generate, then time only the read. */
async function measure(job: Job): Promise<Record<string, unknown>> {
  const load = job.impl === undefined ? parseFabric : ((await import(pathToFileURL(join(job.impl, 'inventory/load.ts')).href)) as { parseFabric: typeof parseFabric }).parseFabric;
  const fabric = scenarioFabric(job.endpoints);
  const text = job.format === 'yaml' ? fabricYaml(fabric) : fabricJson(fabric);
  const file = job.format === 'yaml' ? 'bench/fabric.yaml' : 'bench/fabric.json';
  const bytes = Buffer.byteLength(text);
  if (global.gc) global.gc();
  const rssBefore = process.memoryUsage().rss;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let endpoints = 0;
  if (job.reader === 'weft') {
    endpoints = load(text, file).endpoints.length;
  } else {
    const doc = parseDocument(text, { lineCounter: new LineCounter(), prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length) throw new Error(`yaml package: ${doc.errors[0].message}`);
    endpoints = job.endpoints;
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return {
    bytes,
    endpoints,
    ms: Math.round(ms),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    MiBps: Math.round((bytes / MIB / (ms / 1000)) * 10) / 10,
    // The text and the generator's model are already resident: peak minus that is the reader's.
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    readerRssMiB: Math.round((process.resourceUsage().maxRSS * 1024 - rssBefore) / MIB),
  };
}

async function inChild(job: Job): Promise<Record<string, unknown>> {
  const here = fileURLToPath(import.meta.url);
  const runner = resolve(dirname(here), '../bin/run-ts.js');
  const child = spawn(process.execPath, ['--max-old-space-size=8192', '--expose-gc', runner, here, '--child', JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((res) => child.on('close', res));
  if (code !== 0) throw new Error(`parse bench child (${JSON.stringify(job)}) exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
}

function timed<T>(f: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = f();
  return { ms: Math.round(performance.now() - t0), value };
}

function policyText(bytes: number): string {
  const parts = [`apiVersion: weft.dev/v1\nkind: Policy\nmetadata: {name: bench}\nspec:\n  groups:\n    g: {cidrs: [10.0.0.0/8], except: [10.9.0.0/16]}\n    w: {selector: {app: web}}\n  rules:\n`];
  let size = parts[0].length;
  for (let i = 0; size < bytes; i++) {
    const line = `    - name: r${i}\n      from: [g]\n      to: [w, any]\n      ports: [{protocol: tcp, port: "${i % 60000}-${(i % 60000) + 10}"}, {protocol: icmp, type: 8}]\n      action: ${i % 2 ? 'allow' : 'deny'}\n`;
    parts.push(line);
    size += line.length;
  }
  return parts.join('');
}

/** Small inputs measured in this process: a policy, a containerlab file, an oversized refusal. */
function smallInputs(): Record<string, unknown> {
  const rate = (bytes: number, ms: number): number => Math.round((bytes / MIB / (Math.max(ms, 1) / 1000)) * 10) / 10;
  const pText = policyText(MIB);
  const p = timed(() => parsePolicy(pText, 'policy.yaml'));
  const cText = fabricToContainerlab(scenarioFabric(3_000));
  const c = timed(() => parseContainerlab(cText, 'bench.clab.yml'));
  const huge = 'x'.repeat(MAX_INPUT_BYTES + 1);
  const refused = timed(() => {
    try {
      parsePolicy(huge, 'huge.yaml');
      return false;
    } catch (e) {
      return e instanceof InputError;
    }
  });
  return {
    'policy.rules': p.value.rules.length,
    'policy.ms': p.ms,
    'policy.MiBps': rate(pText.length, p.ms),
    'clab.bytes': cText.length,
    'clab.ms': c.ms,
    'clab.MiBps': rate(cText.length, c.ms),
    'oversized.refused': refused.value,
    'oversized.ms': refused.ms,
    maxInputBytes: MAX_INPUT_BYTES,
  };
}

/**
 * Extracts the readers and loaders of `ref` into a temporary directory that
 * shares this tree's node_modules; the caller removes it.
 */
function extractBaseline(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), `weft-parse-baseline-${process.pid}-`));
  const tar = execFileSync('git', ['-C', REPO, 'archive', '--format=tar', ref, 'orchestrator', 'inventory', 'package.json'], { maxBuffer: 256 * MIB });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

export async function run(): Promise<Record<string, unknown>> {
  const sizes: [string, number][] = [
    ['1MiB', Math.round(MIB / YAML_BYTES_PER_ENDPOINT)],
    ['100k', 100_000],
    ['16MiB', Math.round((16 * MIB) / YAML_BYTES_PER_ENDPOINT) - 2_000],
    ['limit', Math.round(MAX_INPUT_BYTES / YAML_BYTES_PER_ENDPOINT) - 8_000],
  ];
  // WEFT_PARSE_SIZES=16MiB,100k measures only those sizes (and the small inputs).
  const only = process.env.WEFT_PARSE_SIZES?.split(',');
  if (only) sizes.splice(0, sizes.length, ...sizes.filter(([label]) => only.includes(label)));
  const baselineRef = process.env.WEFT_PARSE_BASELINE;
  const baseline = baselineRef ? extractBaseline(baselineRef) : undefined;
  const out: Record<string, unknown> = baselineRef ? { baselineRef } : {};
  try {
    for (const [label, endpoints] of sizes) {
      for (const format of ['yaml', 'json'] as const) {
        const r = await inChild({ format, reader: 'weft', endpoints });
        for (const [k, v] of Object.entries(r)) out[`${label}.${format}.${k}`] = v;
        if (baseline === undefined) continue;
        // The baseline right after the current code, so both see about the same load on a shared machine.
        const old = await inChild({ format, reader: 'weft', endpoints, impl: baseline });
        for (const k of ['ms', 'cpuMs', 'peakRssMiB']) out[`${label}.${format}.baseline.${k}`] = old[k];
        out[`${label}.${format}.baseline.cpuRatio`] = Math.round(((old.cpuMs as number) / (r.cpuMs as number)) * 100) / 100;
      }
      // The yaml package needs ~110 bytes of heap per input byte: above 16 MiB it is not a reader Weft would use.
      if (label !== 'limit') {
        const old = await inChild({ format: 'yaml', reader: 'yaml-package', endpoints });
        for (const k of ['ms', 'cpuMs', 'MiBps', 'peakRssMiB']) out[`${label}.yaml-package.${k}`] = old[k];
        // Wall time swings with other load on the machine; CPU time less so: give both ratios.
        out[`${label}.speedup`] = Math.round(((old.ms as number) / (out[`${label}.yaml.ms`] as number)) * 10) / 10;
        out[`${label}.speedupCpu`] = Math.round(((old.cpuMs as number) / (out[`${label}.yaml.cpuMs`] as number)) * 10) / 10;
      }
    }
  } finally {
    if (baseline !== undefined) rmSync(baseline, { recursive: true, force: true });
  }
  return { ...out, ...smallInputs() };
}

const invokedAs = process.argv[1] ? resolve(process.argv[1]) : '';
if (invokedAs === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--child') {
    process.stdout.write(`${JSON.stringify(await measure(JSON.parse(process.argv[3]) as Job))}\n`);
  } else {
    console.log(JSON.stringify(await run(), null, 2));
  }
}
