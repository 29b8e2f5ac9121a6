// A gNMI Subscribe STREAM of whole configuration subtrees (/acl,
// /defined-sets) in ON_CHANGE mode, turned into "here is the configuration
// now" calls: once at the initial sync and after every notification. A
// switch that sends each subtree whole (Weft's agent does) is read from the
// stream itself; one that sends leaf updates or deletes makes the caller read
// the configuration with a Get instead, so a notification is never misread.

import { status } from '@grpc/grpc-js';
import { stripPrefix } from './model.ts';
import { GnmiError, type GnmiClient } from './client.ts';
import { joinPath, jsonIetfValue, parsePath, type Notification } from './gnmi.ts';

/** How long an open stream may stay quiet: a change may take weeks (setTimeout's ceiling). */
const QUIET_MS = 2 ** 31 - 1;

export interface RootStream {
  close(): void;
}

/** Why a stream ended; `unsupported`: the switch refused Subscribe STREAM itself (re-read it instead). */
export class StreamEnded extends Error {
  constructor(
    message: string,
    readonly unsupported: boolean,
  ) {
    super(message);
    this.name = 'StreamEnded';
  }
}

/**
 * Subscribes to `roots` and calls `onChange` with every root's latest whole
 * value (undefined: read the configuration another way), one call at a time.
 * `onEnd` is called once if the stream fails or the switch ends it.
 */
export function streamRoots(client: GnmiClient, roots: string[], syncTimeoutMs: number, onChange: (values: Map<string, unknown> | undefined) => Promise<void>, onEnd: (e: StreamEnded) => void): RootStream {
  const sub = client.subscribe({ mode: 'STREAM', encoding: 'JSON_IETF', subscription: roots.map((p) => ({ path: parsePath(p), mode: 'ON_CHANGE' })) });
  let closed = false;
  let synced = false;
  const values = new Map<string, unknown>();
  /** Takes one notification in; false when it holds something other than whole roots. */
  const absorb = (n: Notification): boolean => {
    let whole = !n.delete?.length;
    for (const u of n.update ?? []) {
      const path = `/${joinPath(n.prefix, u.path)
        .map((e) => stripPrefix(e.name))
        .join('/')}`;
      if (roots.includes(path) && (u.val?.jsonIetfVal !== undefined || u.val?.jsonVal !== undefined)) values.set(path, jsonIetfValue(u.val));
      else whole = false;
    }
    return whole;
  };
  const current = (whole: boolean): Map<string, unknown> | undefined => (whole && roots.every((r) => values.has(r)) ? new Map(values) : undefined);
  void (async () => {
    const initial = await sub.untilSync(syncTimeoutMs);
    synced = true;
    await onChange(current(initial.map(absorb).every(Boolean)));
    for (;;) {
      const r = await sub.next(QUIET_MS);
      if (closed) return;
      if (!r) throw new Error('the switch ended the stream');
      if (r.update) await onChange(current(absorb(r.update)));
    }
  })().catch((e: unknown) => {
    if (closed) return;
    const unsupported = !synced && e instanceof GnmiError && e.code === status.UNIMPLEMENTED;
    onEnd(new StreamEnded(`gnmi subscribe ${roots.join(' ')}: ${e instanceof Error ? e.message : String(e)}`, unsupported));
  });
  return {
    close: () => {
      closed = true;
      sub.close();
    },
  };
}
