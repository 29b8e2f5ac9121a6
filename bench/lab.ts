// Lab figures: deploy and destroy time of the example lab (namespaces, veths,
// sshd/snmpd, switch agents), and the size of what it builds.

import { join, resolve } from 'node:path';
import { deploy, destroy } from '../lab/emulator.ts';
import { loadTopology } from '../lab/topology.ts';

export async function run(): Promise<Record<string, unknown>> {
  if (process.getuid?.() !== 0) return { skipped: 'the lab needs root' };
  const topo = loadTopology(join(resolve(import.meta.dirname, '..'), 'lab/topologies/example.clab.yml'));
  const lab = `bench${process.pid % 100000}`;
  const t0 = performance.now();
  let state;
  try {
    state = await deploy(topo, { name: lab });
  } catch (e) {
    await destroy(lab);
    throw e;
  }
  const deploySeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const d = await destroy(lab);
  const destroySeconds = (performance.now() - t1) / 1000;
  return {
    'lab.example.nodes': state.nodes.length,
    'lab.example.links': topo.links.length,
    'lab.example.processes': state.processes.length,
    'lab.example.deploySeconds': Number(deploySeconds.toFixed(2)),
    'lab.example.destroySeconds': Number(destroySeconds.toFixed(2)),
    'lab.example.namespacesRemoved': d.namespaces.length,
  };
}
