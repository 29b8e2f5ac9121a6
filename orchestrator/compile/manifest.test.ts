// Manifest validation: a good manifest passes, every kind of damage is named,
// and a manifest from a newer Weft is refused with its own error code.

import { describe, expect, it } from 'vitest';
import { generationDigest, ManifestError, sha256, validateManifest, type Manifest } from './manifest.ts';

function good(): Manifest {
  const files = [{ path: 'maps.json', sha256: sha256('{}'), bytes: 2 }];
  return {
    apiVersion: 'weft.dev/v1',
    kind: 'Bundle',
    schemaVersion: 1,
    generator: 'weft 0.1.0',
    fabric: { name: 'dc1', digest: sha256('fabric'), source: 'source/inventory.yaml' },
    policy: { name: 'seg', digest: sha256('policy'), source: 'source/policy.yaml' },
    warnings: { 'shadowed-rule': 1 },
    devices: [{ name: 'host1', kind: 'host', target: 'host', mode: 'exact', generation: generationDigest(files), files, notes: [], stats: { entries: 3 } }],
  };
}

function problemsOf(value: unknown): ManifestError {
  try {
    validateManifest(value);
  } catch (e) {
    if (e instanceof ManifestError) return e;
    throw e;
  }
  throw new Error('manifest was accepted');
}

describe('validateManifest', () => {
  it('accepts a well-formed manifest and survives a JSON round trip', () => {
    expect(validateManifest(JSON.parse(JSON.stringify(good())))).toEqual(good());
  });

  it('names every problem of a damaged manifest', () => {
    const m = good() as unknown as Record<string, unknown>;
    m.kind = 'Bundel';
    (m.policy as Record<string, unknown>).digest = 'abc';
    const dev = (m.devices as Record<string, unknown>[])[0];
    dev.mode = 'fast';
    dev.target = 'tofino';
    (dev.files as Record<string, unknown>[])[0].path = '../../etc/passwd';
    const e = problemsOf(m);
    expect(e.code).toBe('bad-manifest');
    expect(e.problems).toEqual(
      expect.arrayContaining([
        'kind must be Bundle',
        'policy.digest must be a sha256 hex digest',
        'devices[0].mode must be one of exact|prefilter',
        'devices[0].target must be one of host|dpu|p4|openconfig',
        'devices[0].files[0].path must be a relative path inside the device directory',
      ]),
    );
    expect(e.problems).toHaveLength(5);
  });

  it('refuses non-objects, missing parts and duplicate devices', () => {
    expect(problemsOf(null).problems).toEqual(['the manifest must be a JSON object']);
    expect(problemsOf([]).code).toBe('bad-manifest');
    const m = good();
    m.devices.push({ ...m.devices[0] });
    expect(problemsOf(m).problems).toEqual(['device names must be unique']);
    const { devices: _d, ...noDevices } = good();
    expect(problemsOf(noDevices).problems).toEqual(['devices must be a list']);
  });

  it('refuses a newer schema major with a recognisable error', () => {
    const e = problemsOf({ ...good(), schemaVersion: 2, devices: 'whatever the future holds' });
    expect(e.code).toBe('newer-manifest');
    expect(e.message).toMatch(/schemaVersion 2 is newer than this Weft understands \(1\); upgrade Weft/);
    const api = problemsOf({ ...good(), apiVersion: 'weft.dev/v2' });
    expect(api.code).toBe('newer-manifest');
    expect(api.message).toContain('apiVersion weft.dev/v2');
  });

  it('computes generation digests independent of file order', () => {
    const a = { path: 'a', sha256: sha256('a'), bytes: 1 };
    const b = { path: 'b', sha256: sha256('b'), bytes: 1 };
    expect(generationDigest([a, b])).toBe(generationDigest([b, a]));
    expect(generationDigest([a, b])).not.toBe(generationDigest([a, { ...b, sha256: sha256('c') }]));
    expect(generationDigest([a])).not.toBe(generationDigest([{ ...a, path: 'a2' }]));
  });
});
