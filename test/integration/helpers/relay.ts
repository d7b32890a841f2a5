// A TCP relay on 127.0.0.1 in front of a test host's SSH port that can be
// frozen: the connection stays open but nothing passes any more, which is what
// a host that hangs (or a network that silently drops packets) looks like.
import { createServer, connect, type Socket } from 'node:net';

export interface Relay {
  port: number;
  /** bytes relayed so far (both directions) */
  readonly bytes: number;
  /** stop relaying, keep the sockets open */
  freeze(): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number): Promise<Relay> {
  const sockets = new Set<Socket>();
  let frozen = false;
  let bytes = 0;
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('data', (d) => {
        if (frozen) return; // swallowed: the other side never hears of it
        bytes += d.length;
        to.write(d);
      });
      from.on('error', () => undefined);
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    get bytes() {
      return bytes;
    },
    freeze() {
      frozen = true;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
