// A discovered fabric against an inventory: devices, links and management
// addresses found on one side only, and devices whose kind differs. Equal
// means nothing on either list.

import type { Fabric } from '../model.ts';
import { linkKey, type DiscoveredFabric } from './merge.ts';

export interface DeviceAddress {
  device: string;
  address: string;
}

export interface FabricDiff {
  equal: boolean;
  devices: { onlyDiscovered: string[]; onlyInventory: string[]; kindDiffers: { device: string; discovered: string; inventory: string }[] };
  /** "a:port b:port", ends in name order. */
  links: { onlyDiscovered: string[]; onlyInventory: string[] };
  /** Management addresses of devices on both sides. */
  addresses: { onlyDiscovered: DeviceAddress[]; onlyInventory: DeviceAddress[] };
}

export function diffFabric(found: DiscoveredFabric, inventory: Fabric): FabricDiff {
  const inv = new Map(inventory.devices.map((d) => [d.name, d]));
  const disc = new Map(found.devices.map((d) => [d.name, d]));
  const onlyDiscoveredDevices = [...disc.keys()].filter((n) => !inv.has(n)).sort();
  const onlyInventoryDevices = [...inv.keys()].filter((n) => !disc.has(n)).sort();
  const kindDiffers: FabricDiff['devices']['kindDiffers'] = [];
  const onlyDiscoveredAddr: DeviceAddress[] = [];
  const onlyInventoryAddr: DeviceAddress[] = [];
  for (const [name, d] of [...disc].sort(([a], [b]) => a.localeCompare(b))) {
    const i = inv.get(name);
    if (!i) continue;
    const kindOf = (k: string, variant?: string): string => (variant ? `${k}/${variant}` : k);
    const dk = kindOf(d.kind, d.pipeline);
    const ik = kindOf(i.kind, i.pipeline);
    if (dk !== ik) kindDiffers.push({ device: name, discovered: dk, inventory: ik });
    if (i.mgmt.address !== d.mgmt.address) {
      onlyDiscoveredAddr.push({ device: name, address: d.mgmt.address });
      if (i.mgmt.address !== undefined) onlyInventoryAddr.push({ device: name, address: i.mgmt.address });
    }
  }
  const discLinks = new Set(found.links.map((l) => linkKey(l.a, l.b)));
  const invLinks = new Set(inventory.links.map((l) => linkKey(l.a, l.b)));
  const diff: FabricDiff = {
    equal: false,
    devices: { onlyDiscovered: onlyDiscoveredDevices, onlyInventory: onlyInventoryDevices, kindDiffers },
    links: { onlyDiscovered: [...discLinks].filter((k) => !invLinks.has(k)).sort(), onlyInventory: [...invLinks].filter((k) => !discLinks.has(k)).sort() },
    addresses: { onlyDiscovered: onlyDiscoveredAddr, onlyInventory: onlyInventoryAddr },
  };
  diff.equal = [diff.devices.onlyDiscovered, diff.devices.onlyInventory, kindDiffers, diff.links.onlyDiscovered, diff.links.onlyInventory, onlyDiscoveredAddr, onlyInventoryAddr].every((l) => l.length === 0);
  return diff;
}

export function formatFabricDiff(d: FabricDiff, inventoryFile: string): string {
  if (d.equal) return `discovered fabric equals ${inventoryFile}: same devices, links and management addresses`;
  const lines = [`discovered fabric differs from ${inventoryFile}:`];
  for (const n of d.devices.onlyDiscovered) lines.push(`  + device ${n} (discovered, not in the inventory)`);
  for (const n of d.devices.onlyInventory) lines.push(`  - device ${n} (in the inventory, not discovered)`);
  for (const k of d.devices.kindDiffers) lines.push(`  ~ device ${k.device}: discovered as ${k.discovered}, inventory says ${k.inventory}`);
  for (const l of d.links.onlyDiscovered) lines.push(`  + link ${l.replace(' ', ' <-> ')}`);
  for (const l of d.links.onlyInventory) lines.push(`  - link ${l.replace(' ', ' <-> ')}`);
  for (const a of d.addresses.onlyDiscovered) lines.push(`  + address ${a.device} ${a.address}`);
  for (const a of d.addresses.onlyInventory) lines.push(`  - address ${a.device} ${a.address}`);
  lines.push('(+ discovered only, - inventory only, ~ both but different)');
  return lines.join('\n');
}
