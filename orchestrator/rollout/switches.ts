// Pushing a switch's artefacts over its management protocol: P4Runtime for
// P4 switches (the P4 target's client), gNMI Set for OpenConfig switches (the
// OpenConfig target's driver).

import type { Device } from '../../inventory/model.ts';
import { OpenconfigDriver } from '../../targets/openconfig/driver.ts';
import type { ManifestDevice } from '../compile/manifest.ts';
import { UnsupportedError } from '../diagnostics.ts';

function endpoint(device: Device, port: number | undefined, what: string): string {
  if (!device.mgmt.address) throw new Error(`device ${device.name} has no mgmt.address`);
  if (port === undefined) throw new Error(`device ${device.name} has no mgmt.${what}.port`);
  return `${device.mgmt.address}:${port}`;
}

export async function pushSwitch(transport: 'p4runtime' | 'gnmi', device: Device, deviceDir: string, md: ManifestDevice): Promise<string> {
  switch (transport) {
    case 'p4runtime':
      throw new UnsupportedError('p4', 'P4Runtime client', `cannot push ${md.files.length} files from ${deviceDir} to ${device.name}`);
    case 'gnmi': {
      const driver = new OpenconfigDriver(endpoint(device, device.mgmt.gnmi?.port, 'gnmi'));
      try {
        const r = await driver.apply(deviceDir);
        return `gNMI Set of ${r.entries} acl entries, read back identical`;
      } finally {
        driver.close();
      }
    }
  }
}
