// The control machine as a target (`hosts: 'local'`): commands run with
// /bin/sh as the user rigger runs as, no SSH. Used for plays whose resources
// belong to no server (GitLab projects, the wiki page, the Scaleway project).
import { spawn } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { dirname, join } from 'node:path';
import type { RunOptions, RunResult } from '../engine/types.js';
import type { Session } from '../engine/run.js';

const ENV = { LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' };

export class LocalSession implements Session {
  roundTrips = 0;

  static async open(): Promise<LocalSession> {
    return new LocalSession();
  }

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.roundTrips++;
    // Without input data the script goes on stdin (no argv size limit); with
    // input data the script is a private temp file and the data its stdin.
    const dir = opts.stdin === undefined ? null : await mkdtemp(join(tmpdir(), 'rigger-local-'));
    try {
      if (dir) await writeFile(join(dir, 'script.sh'), script, { mode: 0o600 });
      const result = await new Promise<RunResult>((resolve, reject) => {
        const child = spawn('/bin/sh', dir ? [join(dir, 'script.sh')] : ['-s'], { env: { ...process.env, ...ENV }, stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        const onOutput = opts.onOutput;
        const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
        const say = (text: string, stream: 'stdout' | 'stderr') => {
          try {
            if (text) onOutput?.(text, stream);
          } catch {
            // a faulty progress listener must not fail the command
          }
        };
        const collect = (into: Buffer[], stream: 'stdout' | 'stderr') => (b: Buffer) => {
          into.push(b);
          if (onOutput) say(decoders[stream].write(b), stream);
        };
        child.stdout.on('data', collect(out, 'stdout'));
        child.stderr.on('data', collect(err, 'stderr'));
        child.on('error', reject);
        const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          if (signal === 'SIGKILL' && opts.timeoutMs) reject(new Error(`local command timed out after ${Math.round(opts.timeoutMs / 1000)} s and was killed`));
        });
        child.on('close', () => {
          if (onOutput) for (const stream of ['stdout', 'stderr'] as const) say(decoders[stream].end(), stream);
        });
        child.on('close', (code) => resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code: code ?? 1 }));
        child.stdin.on('error', () => {}); // a script that exits without reading its input
        child.stdin.end(dir ? opts.stdin : script);
      });
      if (opts.check !== false && result.code !== 0)
        throw new Error(`local command failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().split('\n').slice(-6).join('\n') || '(no output)'}`);
      return result;
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }

  async upload(path: string, content: Buffer): Promise<void> {
    this.roundTrips++;
    const tmp = join(dirname(path), `.rigger-${process.pid}-${Date.now()}.tmp`);
    await writeFile(tmp, content, { mode: 0o600 });
    await rename(tmp, path);
  }

  async verifyNewConnection(): Promise<void> {}

  close(): void {}
}
