// The exact bytes rigger's persistent remote shell receives for one resource
// write, so a test can replay them cut short (as a dropped connection does).
import { EventEmitter } from 'node:events';
import type { ClientChannel } from 'ssh2';
import type { HostContext, Remote, RunOptions } from '../../../lib/engine/types.js';
import { writeAtomically } from '../../../lib/resources/index.js';
import { PersistentShell } from '../../../lib/transport/shell.js';

/** A channel that only records what PersistentShell writes to it. */
class RecordingChannel extends EventEmitter {
  readonly stderr = new EventEmitter();
  written: Buffer[] = [];
  write(d: string | Buffer): boolean {
    this.written.push(Buffer.from(d));
    return true;
  }
  end(): void {}
}

/**
 * What SshSession would send down its persistent shell for
 * writeAtomically(path, content) of a small (inline) file, mode 0600 root:root.
 */
export async function wireBytesOfWrite(path: string, content: Buffer): Promise<Buffer> {
  const calls: Array<{ script: string; opts?: RunOptions }> = [];
  const remote: Remote = {
    run: async (script, opts) => {
      calls.push({ script, opts });
      return { stdout: '', stderr: '', code: 0 };
    },
    upload: async () => {
      throw new Error('expected an inline write, not an upload');
    },
    verifyNewConnection: async () => {},
  };
  const ctx = { host: 'wire', vars: {}, check: false, wantDiff: false, remote, state: new Map(), log: () => {} } as unknown as HostContext;
  await writeAtomically(ctx, path, content, { mode: '600', owner: 'root', group: 'root' });
  if (calls.length !== 1) throw new Error(`expected one script, got ${calls.length}`);

  const channel = new RecordingChannel();
  const shell = new PersistentShell(channel as unknown as ClientChannel);
  const pending = shell.run(calls[0].script, { stdin: calls[0].opts?.stdin }).catch(() => undefined);
  for (let i = 0; i < 100 && channel.written.length === 0; i++) await new Promise((r) => setImmediate(r));
  channel.emit('close'); // nothing answers: end the pending call
  await pending;
  return Buffer.concat(channel.written);
}
