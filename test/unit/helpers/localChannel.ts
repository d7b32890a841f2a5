// A local /bin/sh child process dressed up as an ssh2 ClientChannel (what
// PersistentShell talks to): 'data' events for stdout, a `stderr` emitter,
// write(), end() and 'close'.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { ClientChannel } from 'ssh2';

export class LocalChannel extends EventEmitter {
  readonly stderr = new EventEmitter();
  readonly child: ChildProcessWithoutNullStreams;
  /** everything written to the shell's stdin, for assertions about framing */
  written = '';

  constructor(shell = '/bin/sh') {
    super();
    // own process group, so kill() can take down the shell and whatever it is running, like a dropped connection
    this.child = spawn(shell, [], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, detached: true });
    this.child.stdout.on('data', (d: Buffer) => this.emit('data', d));
    this.child.stderr.on('data', (d: Buffer) => this.stderr.emit('data', d));
    this.child.stdin.on('error', () => undefined);
    this.child.on('close', () => this.closeOnce());
  }

  write(data: string | Buffer): boolean {
    this.written += data.toString();
    return this.child.stdin.write(data);
  }

  end(): void {
    this.child.stdin.end();
  }

  private closed = false;
  private closeOnce(): void {
    if (!this.closed) this.emit('close');
    this.closed = true;
  }

  /** What a dropped connection does: the shell dies and the channel closes at once (commands in sessions of their own live on). */
  kill(): void {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    this.closeOnce();
  }

  asChannel(): ClientChannel {
    return this as unknown as ClientChannel;
  }
}
