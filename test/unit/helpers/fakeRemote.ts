// A Remote that never touches a host: it records every script and answers
// from a responder function, so tests can assert what would be sent.
import type { RunOptions, RunResult } from '../../../lib/engine/types.js';
import type { Session } from '../../../lib/engine/run.js';
import { RemoteError } from '../../../lib/transport/ssh.js';
import { recordScript } from './shellcheck.js';

export type Responder = (script: string, stdin?: Buffer) => Partial<RunResult> | undefined | void;

export interface FakeCall {
  script: string;
  stdin?: Buffer;
  check: boolean;
}

export class FakeRemote implements Session {
  roundTrips = 0;
  closed = false;
  calls: FakeCall[] = [];
  uploads: Array<{ path: string; content: Buffer }> = [];
  verifications = 0;

  constructor(public responder: Responder = () => undefined) {}

  get scripts(): string[] {
    return this.calls.map((c) => c.script);
  }

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.roundTrips++;
    const stdin = opts.stdin === undefined ? undefined : Buffer.from(opts.stdin);
    this.calls.push({ script, stdin, check: opts.check !== false });
    recordScript(script);
    const result: RunResult = { stdout: '', stderr: '', code: 0, ...(this.responder(script, stdin) ?? {}) };
    if (opts.check !== false && result.code !== 0) throw new RemoteError(script, result);
    return result;
  }

  async upload(path: string, content: Buffer): Promise<void> {
    this.roundTrips++;
    this.uploads.push({ path, content });
  }

  async verifyNewConnection(): Promise<void> {
    this.roundTrips++;
    this.verifications++;
  }

  close(): void {
    this.closed = true;
  }
}
