// Pushing a switch's artefacts over its management protocol: P4Runtime for
// P4 switches (the P4 target's client), gNMI Set for OpenConfig switches (the
// OpenConfig target's driver).

import type { Device } from '../../inventory/model.ts';
import { OpenconfigDriver } from '../../targets/openconfig/driver.ts';
import { applyP4 } from '../../targets/p4/driver.ts';

function gnmiAddress(device: Device): string {
  const a = device.mgmt.address;
  if (!a || !device.mgmt.gnmi) throw new Error(`${device.name}: no mgmt.address / mgmt.gnmi in the inventory (needed to reach its gNMI server)`);
  return `${a.includes(':') ? `[${a}]` : a}:${device.mgmt.gnmi.port}`;
}

/** `inventoryDir` resolves files the inventory references (a P4 switch's device config). */
export async function pushSwitch(transport: 'p4runtime' | 'gnmi', device: Device, deviceDir: string, inventoryDir: string): Promise<string> {
  switch (transport) {
    case 'p4runtime': {
      const r = await applyP4({ device, deviceDir, inventoryDir });
      return `P4Runtime write: ${r.inserted} inserted, ${r.modified} modified, ${r.deleted} deleted${r.pipelineSet ? ', pipeline set' : ''}; ${r.entries} entries read back`;
    }
    case 'gnmi': {
      const driver = new OpenconfigDriver(gnmiAddress(device));
      try {
        const r = await driver.apply(deviceDir);
        return `gNMI Set of ${r.entries} acl entries, read back identical`;
      } finally {
        driver.close();
      }
    }
  }
}
