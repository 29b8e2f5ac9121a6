// Connections a rollout keeps open to its devices from a device's push to
// the read-back at the end of the run, so each device costs one connection
// per run instead of one per step: opening a gRPC channel or an SSH session
// (key exchange, host key check, authentication) cost a switch or host more
// CPU than the few calls made on it. A driver asks for its connection
// through `withConnection`; without a held set of connections (status,
// confirm, one-off calls) every call opens and closes its own, as before.

/** How a driver opens, checks and closes the connection it holds to a device. */
export interface Link<C> {
  open(): Promise<C>;
  /** False once the held connection cannot serve another call (its peer went away, it lost its role). */
  usable(c: C): boolean;
  close(c: C): void;
}

interface Held {
  connection: Promise<unknown>;
  close(): void;
}

/** One connection per device, held until `close`; a connection a call failed on is closed at once, so the next call starts afresh. */
export class HeldConnections {
  private readonly held = new Map<string, Held>();

  async use<C, T>(device: string, link: Link<C>, f: (c: C) => Promise<T>): Promise<T> {
    let h = this.held.get(device);
    if (h) {
      const c = (await h.connection.catch(() => undefined)) as C | undefined;
      if (c === undefined || !link.usable(c)) {
        this.drop(device);
        h = undefined;
      }
    }
    if (!h) {
      const connection = link.open();
      const entry: Held = { connection, close: () => void connection.then((c) => link.close(c), () => undefined) };
      h = entry;
      this.held.set(device, entry);
      connection.catch(() => {
        if (this.held.get(device) === entry) this.held.delete(device);
      });
    }
    const c = (await h.connection) as C;
    try {
      return await f(c);
    } catch (e) {
      // After a failed call the connection's state (a call left half done, a stream closed) is unknown: the next call opens a fresh one.
      this.drop(device);
      throw e;
    }
  }

  private drop(device: string): void {
    this.held.get(device)?.close();
    this.held.delete(device);
  }

  /** Closes every held connection. */
  close(): void {
    for (const device of [...this.held.keys()]) this.drop(device);
  }
}

/** Runs `f` on the device's held connection when the run holds connections, else on one opened for `f` alone. */
export async function withConnection<C, T>(held: HeldConnections | undefined, device: string, link: Link<C>, f: (c: C) => Promise<T>): Promise<T> {
  if (held) return held.use(device, link, f);
  const c = await link.open();
  try {
    return await f(c);
  } finally {
    link.close(c);
  }
}
