// Pushing a switch's artefacts over its management protocol: P4Runtime for
// P4 switches (the P4 target's client), gNMI Set for OpenConfig switches (the
// OpenConfig target's client).

import type { Device } from '../../inventory/model.ts';
import type { ManifestDevice } from '../compile/manifest.ts';
import { UnsupportedError } from '../diagnostics.ts';

export async function pushSwitch(transport: 'p4runtime' | 'gnmi', device: Device, deviceDir: string, md: ManifestDevice): Promise<string> {
  switch (transport) {
    case 'p4runtime':
      throw new UnsupportedError('p4', 'P4Runtime client', `cannot push ${md.files.length} files from ${deviceDir} to ${device.name}`);
    case 'gnmi':
      throw new UnsupportedError('openconfig', 'gNMI client', `cannot push ${md.files.length} files from ${deviceDir} to ${device.name}`);
  }
}
