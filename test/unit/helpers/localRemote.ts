// A Session that runs scripts with the local /bin/sh instead of over SSH, so
// probe and apply scripts can be executed for real inside a temp directory.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Change, HostContext, ShellResource, RunOptions, RunResult } from '../../../lib/engine/types.js';
import { probeAll } from '../../../lib/engine/probe.js';
import type { Session } from '../../../lib/engine/run.js';
import { RemoteError } from '../../../lib/transport/ssh.js';
import { recordScript } from './shellcheck.js';

export interface LocalRemoteOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** rewrite each script before running it (e.g. map /etc/apt/keyrings into a temp dir) */
  rewrite?: (script: string) => string;
  /** record the scripts for the file's shellcheck test (default true) */
  record?: boolean;
}

export interface RecordedRun {
  script: string;
  stdin?: Buffer;
  result: RunResult;
}

export class LocalRemote implements Session {
  roundTrips = 0;
  closed = false;
  runs: RecordedRun[] = [];
  uploads: Array<{ path: string; content: Buffer }> = [];
  verifications = 0;

  constructor(private opts: LocalRemoteOptions = {}) {}

  get scripts(): string[] {
    return this.runs.map((r) => r.script);
  }

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.roundTrips++;
    if (this.opts.record !== false) recordScript(script);
    const result = await runSh(this.opts.rewrite ? this.opts.rewrite(script) : script, opts.stdin, this.opts);
    this.runs.push({ script, stdin: opts.stdin === undefined ? undefined : Buffer.from(opts.stdin), result });
    if (opts.check !== false && result.code !== 0) throw new RemoteError(script, result);
    return result;
  }

  async upload(path: string, content: Buffer): Promise<void> {
    this.roundTrips++;
    this.uploads.push({ path, content });
    await writeFile(this.opts.rewrite ? this.opts.rewrite(path) : path, content, { mode: 0o600 });
  }

  async verifyNewConnection(): Promise<void> {
    this.roundTrips++;
    this.verifications++;
  }

  close(): void {
    this.closed = true;
  }
}

export function runSh(script: string, stdin: Buffer | string | undefined, opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  // a script too large for one exec argument (a big probe batch) is run from a file
  const big = script.length > 100_000 ? mkdtempSync(join(tmpdir(), 'rigger-sh-')) : undefined;
  if (big) writeFileSync(join(big, 'script.sh'), script);
  const args = big ? [join(big, 'script.sh')] : ['-c', script];
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn('/bin/sh', args, {
      cwd: opts.cwd,
      env: { ...process.env, LC_ALL: 'C', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.stdin.on('error', () => undefined); // EPIPE when the script does not read its stdin
    child.on('close', (code, signal) =>
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code: code ?? (signal ? 128 : 1) }),
    );
    if (stdin !== undefined) child.stdin.end(stdin);
    else child.stdin.end();
  }).finally(() => big && rmSync(big, { recursive: true, force: true }));
}

/** The current user and group, which local tests use as owner/group. */
export function currentUser(): { owner: string; group: string } {
  return {
    owner: execFileSync('id', ['-un'], { encoding: 'utf8' }).trim(),
    group: execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim(),
  };
}

/** A fresh temp directory and a function that removes it. */
export function tempDir(prefix = 'rigger-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Probe one resource the way the engine does (inside a batched probe script) and plan it. */
export async function probeAndPlan<D>(r: ShellResource<D>, ctx: HostContext): Promise<Change<D> | null> {
  recordScript(r.probe);
  const [current] = await probeAll(ctx.remote, [r.probe]);
  return r.plan(current, ctx);
}
