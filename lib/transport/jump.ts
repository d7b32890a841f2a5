// Jump hosts (OpenSSH's ProxyJump): one SSH connection per hop, each
// verified against the same known_hosts as the target, the next hop (and at
// last the target) reached through a direct-tcpip channel of the previous
// one. The target's SSH connection runs over that channel; its one persistent
// shell is unchanged.
import type { Duplex } from 'node:stream';
import type { NodeSSH } from 'node-ssh';
import { HostError, HostKeyError, UnreachableError, isHostError, isHostKeyError, isUnreachable } from '../errors.js';

/** One hop on the way to a target (OpenSSH's ProxyJump): reached over the previous hop, or directly for the first. */
export interface JumpHost {
  address: string;
  port: number;
  user: string;
  identityFiles: string[];
}

/** The hops of one session: `sock` reaches the target (undefined without jumps); close() ends every hop. */
export interface JumpChain {
  sock?: Duplex;
  close(): void;
}

type Endpoint = JumpHost;

/**
 * Connects hop by hop with `connect` (the target's own verified connect, so
 * each hop gets the same host-key checking and authentication), then opens
 * the channel to `target` on the last hop.
 */
export async function openJumps<O extends Endpoint & { jumps?: JumpHost[] }>(
  target: O,
  connect: (opts: O, sock?: Duplex) => Promise<NodeSSH>,
): Promise<JumpChain> {
  const hops = target.jumps ?? [];
  const open: NodeSSH[] = [];
  const close = () => {
    for (const c of open.reverse()) c.dispose();
  };
  if (!hops.length) return { close };
  let sock: Duplex | undefined;
  try {
    for (const [i, hop] of hops.entries()) {
      const name = `jump host ${hop.user}@${hop.address}:${hop.port}`;
      let conn: NodeSSH;
      try {
        conn = await connect({ ...target, ...hop, jumps: undefined }, sock);
      } catch (e) {
        throw renamed(e, name);
      }
      // A dropped hop closes the channel the target runs over: the target's session reports that.
      conn.connection?.on('error', () => {});
      open.push(conn);
      const next: Endpoint = hops[i + 1] ?? target;
      try {
        sock = await forwardOut(conn, next.address, next.port);
      } catch (e: any) {
        throw new UnreachableError(`cannot reach ${next.address}:${next.port} through ${name}: ${e?.message ?? e}`, { phase: 'connect' });
      }
    }
    return { sock, close };
  } catch (e) {
    close();
    throw e;
  }
}

/** A hop's error says which jump host it is about, keeping its kind (unknown key, unreachable). */
function renamed(e: unknown, name: string): Error {
  if (!isHostError(e)) return e as Error;
  const message = `${name}: ${e.message}`;
  if (isHostKeyError(e)) return new HostKeyError(message);
  if (isUnreachable(e)) return new UnreachableError(message, { phase: 'connect' }, { cause: e });
  return new HostError(message, { phase: 'connect' }, { cause: e });
}

function forwardOut(conn: NodeSSH, address: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    // the source address is informational for the server; OpenSSH's -J sends 127.0.0.1 too
    conn.connection!.forwardOut('127.0.0.1', 0, address, port, (err, channel) => (err ? reject(err) : resolve(channel)));
  });
}
