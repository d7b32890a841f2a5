// A Session like SshSession but on a local /bin/sh: the real persistent shell
// (framing, process groups, timeouts, stop()) without SSH, so engine tests can
// time out and interrupt real commands.
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import type { RunOptions, RunResult } from '../../../lib/engine/types.js';
import type { Session } from '../../../lib/engine/run.js';
import { PersistentShell } from '../../../lib/transport/shell.js';
import { RemoteError } from '../../../lib/transport/ssh.js';
import { LocalChannel } from './localChannel.js';

export async function localKill(pgid: number, signal: 'TERM' | 'KILL'): Promise<void> {
  try {
    process.kill(-pgid, `SIG${signal}`);
  } catch {
    // already gone
  }
}

export class LocalShellSession implements Session {
  roundTrips = 0;
  scripts: string[] = [];
  readonly channel = new LocalChannel();
  private shell: PersistentShell;

  constructor() {
    this.channel.write('export LC_ALL=C DEBIAN_FRONTEND=noninteractive\n');
    this.shell = new PersistentShell(this.channel.asChannel(), { killGroup: localKill, killGraceMs: 500 });
  }

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.roundTrips++;
    this.scripts.push(script);
    const r = await this.shell.run(script, { stdin: opts.stdin, timeoutMs: opts.timeoutMs });
    if (opts.check !== false && r.code !== 0) throw new RemoteError(script, r);
    return r;
  }

  async upload(path: string, content: Buffer): Promise<void> {
    this.roundTrips++;
    await writeFile(path, content, { mode: 0o600 });
  }

  async verifyNewConnection(): Promise<void> {
    this.roundTrips++;
  }

  stop(failure: Error, graceMs?: number): Promise<void> {
    return this.shell.stop(failure, graceMs);
  }

  close(): void {
    this.shell.close();
  }

  async closed(): Promise<void> {
    if (this.channel.child.exitCode === null && this.channel.child.signalCode === null) await once(this.channel.child, 'close');
  }
}
