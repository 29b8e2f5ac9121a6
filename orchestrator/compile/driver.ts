// `weft compile` without the CLI: parse, build the IR, analyze, place, size
// every device's share, run each device's codegen and write its artefacts as
// they come, and swap the bundle in atomically. The new bundle is assembled
// in a temporary directory beside the output and renamed into place only
// when complete (manifest last), so a failure at any step leaves the
// previous bundle (or nothing) behind.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Device, Fabric } from '../../inventory/model.ts';
import type { Policy } from '../policy/model.ts';
import { parseInventory, readInventoryFile } from '../../inventory/load.ts';
import type { CodegenInput, CodegenOutput, Target } from '../../targets/contract.ts';
import { targetFor as registryTargetFor } from '../../targets/registry.ts';
import { analyze } from '../analysis/analyze.ts';
import { InputError, UnsupportedError, type Diagnostic } from '../diagnostics.ts';
import { buildIr } from '../ir/build.ts';
import { checkShareBudget } from '../ir/budget.ts';
import { irToJson } from '../ir/json.ts';
import { logger } from '../log.ts';
import { packageVersion } from '../package-root.ts';
import { placementJson } from '../placement/compact.ts';
import { place } from '../placement/place.ts';
import { parsePolicy, readPolicyFile } from '../policy/load.ts';
import { ANALYSIS_FILE, analysisDocument } from './analysis.ts';
import { DEVICES_DIR, IR_FILE, MANIFEST_FILE, PLACEMENT_FILE, sourceInventoryPath, sourcePolicyPath } from './bundle.ts';
import {
  generationDigest,
  MANIFEST_API_VERSION,
  MANIFEST_KIND,
  MANIFEST_SCHEMA_VERSION,
  sha256,
  validateManifest,
  type Manifest,
  type ManifestDevice,
  type ManifestFile,
} from './manifest.ts';
import { replaceDir } from './swap.ts';
import { CodegenWorker, compileThreads, workersFor, type WorkerSources } from './codegen-pool.ts';
import { InputDigests, linkDeviceFiles, previousBundle, reusableDevice, type PreviousBundle } from './reuse.ts';

const log = logger('compile');

export interface CompileOptions {
  policyPath: string;
  inventoryPath: string;
  outDir: string;
  /** Receives analysis warnings (errors are thrown as InputError). */
  onDiagnostic?: (d: Diagnostic) => void;
  /** Receives warnings about the policy and inventory files themselves (unknown keys); the manifest does not count them. */
  onInputWarning?: (d: Diagnostic) => void;
  /** Chooses the target per device; the registry unless a caller substitutes one. */
  targetFor?: (device: Device) => Target;
  /** Refuse a device whose share needs more (remote, rule, protocol) triples (ir/budget.ts). */
  maxShareTriples?: number;
  /** Receives each phase's wall and CPU time as it ends (benchmarks and --log-level debug). */
  onPhase?: (t: PhaseTiming) => void;
  /** Receives each device's codegen figures as it is written. */
  onDevice?: (d: DeviceTiming) => void;
  /** Threads for device codegen, this one included (codegen-pool.ts); default WEFT_COMPILE_THREADS or the cores available. */
  threads?: number;
  /** Keep the artefacts of devices whose inputs are unchanged from the bundle already at outDir (reuse.ts); default true. */
  reuse?: boolean;
}

export interface PhaseTiming {
  /** documents: the sources, ir.json, placement.json, analysis; codegen: every device's codegen and its writes; finish: manifest and swap. */
  phase: 'parse' | 'rules' | 'placement' | 'budget' | 'documents' | 'codegen' | 'finish';
  wallMs: number;
  cpuMs: number;
}

export interface DeviceTiming {
  device: string;
  target: string;
  wallMs: number;
  stats: Record<string, number>;
  /** Where its codegen ran: 0 on the compile's own thread, k on worker k (codegen-pool.ts). */
  thread: number;
  /** Its inputs were unchanged: its artefacts were taken from the previous bundle, no codegen ran. */
  reused?: boolean;
  /** Why the device was refused (its share does not fit it); the compile then fails once every device is tried. */
  refused?: Diagnostic[];
}

/** Times consecutive phases: each lap reports the wall and CPU time since the previous one. */
function phaseClock(report: ((t: PhaseTiming) => void) | undefined): (phase: PhaseTiming['phase']) => void {
  let wall = performance.now();
  let cpu = process.cpuUsage();
  return (phase) => {
    const w = performance.now();
    const c = process.cpuUsage(cpu);
    report?.({ phase, wallMs: Math.round(w - wall), cpuMs: Math.round((c.user + c.system) / 1000) });
    log.debug({ phase, ms: Math.round(w - wall) }, 'compile phase done');
    wall = w;
    cpu = process.cpuUsage();
  };
}

const GENERATOR = `weft ${packageVersion()}`;

function checkArtefactPath(device: string, path: string): void {
  if (path === '' || path.startsWith('/') || path.split('/').some((p) => p === '..' || p === '')) {
    throw new Error(`${device}: target produced an artefact path outside its directory: "${path}"`);
  }
}

/** Refuses to replace something that is not a bundle: --out pointing at a source tree must not wipe it. */
function checkReplaceable(outDir: string): void {
  if (!existsSync(outDir)) return;
  const entries = readdirSync(outDir);
  if (entries.length > 0 && !entries.includes(MANIFEST_FILE)) {
    throw new InputError([
      {
        code: 'out-not-bundle',
        severity: 'error',
        message: `--out ${outDir} exists and is not a Weft bundle (no ${MANIFEST_FILE})`,
        hint: 'choose an empty or new directory, or a previous bundle to replace',
      },
    ]);
  }
}

export async function compileBundle(opts: CompileOptions): Promise<Manifest> {
  const targetFor = opts.targetFor ?? registryTargetFor;
  const outDir = resolve(opts.outDir);
  const lap = phaseClock(opts.onPhase);
  // Each file is read once, so the copy kept in the bundle is the text compiled.
  const policyText = readPolicyFile(opts.policyPath);
  const inventoryText = readInventoryFile(opts.inventoryPath);
  const policy = parsePolicy(policyText, opts.policyPath);
  const fabric = parseInventory(inventoryText, opts.inventoryPath);
  for (const d of [...(policy.warnings ?? []), ...(fabric.warnings ?? [])]) opts.onInputWarning?.(d);
  checkReplaceable(outDir);
  // A caller's own targets run on this thread only, and lend nothing to a
  // recompile: what they read is theirs.
  const threads = opts.targetFor ? 1 : compileThreads(opts.threads);
  const previous = opts.targetFor || opts.reuse === false ? undefined : previousBundle(outDir, GENERATOR);
  const sources: WorkerSources = { policyText, policyPath: opts.policyPath, inventoryText, inventoryPath: opts.inventoryPath };
  const workers: CodegenWorker[] = [];
  // With no bundle to reuse from, every device is compiled: workers start
  // now, so that their own parse, IR and placement overlap this thread's.
  // Otherwise they start once it is known how many devices changed.
  const startWorkers = (devices: number): void => {
    for (let k = workers.length; k < workersFor(devices, threads); k++) workers.push(new CodegenWorker(sources));
  };
  if (!previous) startWorkers(fabric.devices.length);
  lap('parse');
  try {
    return await compileParsed(opts, { policyText, inventoryText, policy, fabric, outDir, lap, targetFor, workers, startWorkers, previous });
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}

interface Parsed {
  policyText: string;
  inventoryText: string;
  policy: Policy;
  fabric: Fabric;
  outDir: string;
  lap: (phase: PhaseTiming['phase']) => void;
  targetFor: (device: Device) => Target;
  workers: CodegenWorker[];
  /** Starts the workers worth it for this many devices to compile (none if already started). */
  startWorkers: (devices: number) => void;
  previous?: PreviousBundle;
}

async function compileParsed(opts: CompileOptions, parsed: Parsed): Promise<Manifest> {
  const { policyText, inventoryText, policy, fabric, outDir, lap, targetFor, workers, startWorkers, previous } = parsed;

  const ir = buildIr(policy, fabric);
  const diagnostics = analyze(policy, fabric, ir);
  if (diagnostics.some((d) => d.severity === 'error')) throw new InputError(diagnostics);
  const warnings: Record<string, number> = {};
  for (const d of diagnostics) {
    warnings[d.code] = (warnings[d.code] ?? 0) + 1;
    opts.onDiagnostic?.(d);
  }
  lap('rules');
  const placement = place(policy, fabric, ir);
  const placementText = placementJson(placement);
  lap('placement');
  // Each device's inputs, and whether the previous bundle holds its
  // artefacts for exactly these (reuse.ts). Artefacts of a caller's own
  // targets are not recorded as reusable.
  const deviceOf = new Map(fabric.devices.map((d) => [d.name, d]));
  const digests = opts.targetFor ? undefined : new InputDigests(ir, policy, fabric, placementText, `budget=${opts.maxShareTriples ?? 'default'}`);
  const inputs = placement.devices.map((dp) => digests?.of(deviceOf.get(dp.device)!, dp, dp.target));
  const reused = placement.devices.map((dp, i) => (previous && inputs[i] ? reusableDevice(previous, dp.device, inputs[i]) : undefined));
  const pending = placement.devices.flatMap((_, i) => (reused[i] ? [] : [i]));
  // Every changed device's share is sized before any codegen allocates it.
  for (const i of pending) {
    const dp = placement.devices[i];
    checkShareBudget(ir, deviceOf.get(dp.device)!, dp.localIdentities, opts.maxShareTriples);
  }
  lap('budget');
  startWorkers(pending.length);

  // The bundle is assembled in a temporary directory beside the output: each
  // device's artefacts are written as soon as its codegen returns, so memory
  // holds one device's artefacts at a time, never the whole bundle. Any
  // failure removes the directory, leaving the previous bundle (or nothing).
  mkdirSync(dirname(outDir), { recursive: true });
  const tmp = mkdtempSync(join(dirname(outDir), `.${basename(outDir)}.tmp-`));
  let manifest: Manifest;
  try {
    const write = (rel: string, content: string | Uint8Array): void => {
      const p = join(tmp, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
    };
    const policySource = sourcePolicyPath(opts.policyPath);
    const inventorySource = sourceInventoryPath(opts.inventoryPath);
    write(policySource, policyText);
    write(inventorySource, inventoryText);
    write(IR_FILE, `${JSON.stringify(irToJson(ir), null, 1)}\n`);
    write(PLACEMENT_FILE, placementText);
    write(ANALYSIS_FILE, analysisDocument([...(policy.warnings ?? []), ...(fabric.warnings ?? []), ...diagnostics]));
    lap('documents');
    // Each device's codegen runs on this thread or a worker, whichever is
    // free first; its artefacts are written here as it returns. Devices and
    // refusals keep placement order whatever the order of completion.
    const byDevice: (ManifestDevice | Diagnostic[] | undefined)[] = new Array(placement.devices.length);
    const record = (i: number, device: Device, target: Target, thread: number, wallMs: number, out: CodegenOutput): void => {
      log.debug({ device: device.name, target: target.name, thread, ms: wallMs }, 'codegen done');
      opts.onDevice?.({ device: device.name, target: target.name, thread, wallMs, stats: out.stats });
      const dp = placement.devices[i];
      const files: ManifestFile[] = [];
      const seen = new Set<string>();
      for (const f of out.files) {
        checkArtefactPath(device.name, f.path);
        if (seen.has(f.path)) throw new Error(`compile ${device.name}: ${target.name} codegen wrote ${f.path} twice`);
        seen.add(f.path);
        const bytes = typeof f.content === 'string' ? Buffer.byteLength(f.content) : f.content.byteLength;
        files.push({ path: f.path, sha256: sha256(f.content), bytes });
        write(join(DEVICES_DIR, device.name, f.path), f.content);
      }
      mkdirSync(join(tmp, DEVICES_DIR, device.name), { recursive: true });
      files.sort((x, y) => (x.path < y.path ? -1 : 1));
      byDevice[i] = {
        name: device.name,
        kind: device.kind,
        target: dp.target,
        mode: dp.mode,
        generation: generationDigest(files),
        inputs: inputs[i],
        files,
        notes: out.notes,
        stats: out.stats,
      };
    };
    for (const [i, d] of reused.entries()) {
      if (!d || !previous) continue;
      linkDeviceFiles(previous, tmp, d);
      byDevice[i] = d;
      opts.onDevice?.({ device: d.name, target: d.target, thread: 0, wallMs: 0, stats: d.stats, reused: true });
    }
    let next = 0;
    let stopped = false;
    const lane = async (thread: number, run: (input: CodegenInput, target: Target) => Promise<CodegenOutput>): Promise<void> => {
      try {
        while (!stopped && next < pending.length) await codegenDevice(thread, run);
      } catch (e) {
        // The other lanes stop after their current device; nothing more is written.
        stopped = true;
        throw e;
      }
    };
    const codegenDevice = async (thread: number, run: (input: CodegenInput, target: Target) => Promise<CodegenOutput>): Promise<void> => {
      const i = pending[next++];
      const dp = placement.devices[i];
      const device = deviceOf.get(dp.device)!;
      const target = targetFor(device);
      const started = performance.now();
      let out;
      try {
        out = await run({ policy, fabric, ir, placement, device, devicePlacement: dp }, target);
      } catch (e) {
        // A device refused for bad input (a share that does not fit it) does
        // not stop the others: every refusal is reported together, and
        // nothing is written (the CLI exits 2).
        if (e instanceof InputError) {
          byDevice[i] = e.diagnostics;
          opts.onDevice?.({ device: device.name, target: target.name, thread, wallMs: Math.round(performance.now() - started), stats: {}, refused: e.diagnostics });
          return;
        }
        if (e instanceof UnsupportedError) throw e;
        throw new Error(`compile ${device.name}: ${target.name} codegen: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      if (!stopped) record(i, device, target, thread, Math.round(performance.now() - started), out);
    };
    // Two requests in flight per worker, so that a worker does not wait for
    // this thread to finish a device of its own before it gets the next.
    const lanes = await Promise.allSettled([
      // This thread's codegen is mostly synchronous: it yields to the event
      // loop before each device so that the workers' replies are taken in.
      lane(0, async (input, target) => {
        await new Promise(setImmediate);
        return target.codegen(input);
      }),
      ...workers.flatMap((w, k) => [0, 1].map(() => lane(k + 1, (input) => w.codegen(input.device.name)))),
    ]);
    const failed = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
    if (failed) throw failed.reason;
    const devices = byDevice.filter((d): d is ManifestDevice => d !== undefined && !Array.isArray(d));
    const refusals = byDevice.flatMap((d) => (Array.isArray(d) ? d : []));
    lap('codegen');
    if (refusals.length) throw new InputError(refusals);
    manifest = validateManifest(
      {
        apiVersion: MANIFEST_API_VERSION,
        kind: MANIFEST_KIND,
        schemaVersion: MANIFEST_SCHEMA_VERSION,
        generator: GENERATOR,
        fabric: { name: fabric.name, digest: fabric.digest, source: inventorySource },
        policy: { name: policy.name, digest: policy.digest, source: policySource },
        warnings,
        devices,
      } satisfies Manifest,
      join(outDir, MANIFEST_FILE),
    );
    // The manifest goes last: a directory with a manifest is a complete bundle.
    write(MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
    replaceDir(tmp, outDir);
    lap('finish');
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  log.info({ out: outDir, devices: manifest.devices.length, reused: manifest.devices.length - pending.length }, 'bundle written');
  return manifest;
}
