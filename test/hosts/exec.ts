// Small process helpers for the test-host tooling (no shell involved: argv arrays only).
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Text written to the child's stdin (stdin is closed afterwards). */
  input?: string | Buffer;
  /** Kill the child after this many ms (the result then has code 124). */
  timeoutMs?: number;
  /** Do not throw on a non-zero exit status. */
  allowFail?: boolean;
  env?: NodeJS.ProcessEnv;
}

export class CommandError extends Error {
  constructor(
    public readonly argv: string[],
    public readonly result: RunResult,
  ) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-15).join('\n');
    super(`command failed (exit ${result.code}): ${argv.join(' ')}${detail ? `\n${detail}` : ''}`);
    this.name = 'CommandError';
  }
}

/** Runs argv[0] with argv[1..], collects stdout/stderr, throws CommandError on failure unless allowFail. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run ${argv[0]}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const result: RunResult = {
        code: timedOut ? 124 : (code ?? (signal ? 128 : 1)),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (timedOut ? `\n(timed out after ${opts.timeoutMs} ms)` : ''),
      };
      if (result.code !== 0 && !opts.allowFail) reject(new CommandError(argv, result));
      else resolve(result);
    });
    child.stdin.on('error', () => {
      /* child exited before reading stdin: reported through its exit status */
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Maps items with at most `limit` promises in flight; rejects with the first error after all settle. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (e) {
        errors.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => (e instanceof Error ? e.message : String(e))).join('\n---\n'));
  return results;
}

/** A counting semaphore. */
export class Semaphore {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}
  async use<R>(fn: () => Promise<R>): Promise<R> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await fn();
    } finally {
      const w = this.waiting.shift();
      if (w) w();
      else this.free++;
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
