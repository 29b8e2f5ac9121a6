// Held connections: one per device for a run, replaced after a failed call
// or when the driver says it can no longer serve, all closed at the end.

import { describe, expect, it } from 'vitest';
import { HeldConnections, withConnection, type Link } from './connections.ts';

interface Conn {
  id: number;
  alive: boolean;
  closed: boolean;
}

function counting(failOpens = 0): { link: Link<Conn>; opened: Conn[] } {
  const opened: Conn[] = [];
  let refuse = failOpens;
  const link: Link<Conn> = {
    open: async () => {
      if (refuse > 0) {
        refuse--;
        throw new Error('connection refused');
      }
      const c = { id: opened.length, alive: true, closed: false };
      opened.push(c);
      return c;
    },
    usable: (c) => c.alive,
    close: (c) => {
      c.closed = true;
    },
  };
  return { link, opened };
}

describe('HeldConnections', () => {
  it('opens one connection per device and serves every call of the run on it', async () => {
    const { link, opened } = counting();
    const held = new HeldConnections();
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => held.use(`d${i % 2}`, link, async (c) => c.id)));
    expect(opened).toHaveLength(2);
    expect(new Set(ids)).toEqual(new Set([0, 1]));
    expect(opened.every((c) => !c.closed)).toBe(true);
    held.close();
    await Promise.resolve();
    expect(opened.every((c) => c.closed)).toBe(true);
  });

  it('closes the connection a call failed on and opens a fresh one for the next call', async () => {
    const { link, opened } = counting();
    const held = new HeldConnections();
    await expect(held.use('d', link, async () => Promise.reject(new Error('write refused')))).rejects.toThrow('write refused');
    await Promise.resolve();
    expect(opened[0].closed).toBe(true);
    expect(await held.use('d', link, async (c) => c.id)).toBe(1);
  });

  it('replaces a connection the driver no longer finds usable', async () => {
    const { link, opened } = counting();
    const held = new HeldConnections();
    await held.use('d', link, async () => undefined);
    opened[0].alive = false;
    expect(await held.use('d', link, async (c) => c.id)).toBe(1);
    await Promise.resolve();
    expect(opened[0].closed).toBe(true);
  });

  it('does not keep a connection that failed to open', async () => {
    const { link } = counting(1);
    const held = new HeldConnections();
    await expect(held.use('d', link, async (c) => c.id)).rejects.toThrow('connection refused');
    expect(await held.use('d', link, async (c) => c.id)).toBe(0);
  });

  it('without held connections, opens and closes one per call', async () => {
    const { link, opened } = counting();
    await withConnection(undefined, 'd', link, async () => undefined);
    await withConnection(undefined, 'd', link, async () => undefined);
    expect(opened.map((c) => c.closed)).toEqual([true, true]);
  });
});
