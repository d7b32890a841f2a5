// One persistent remote shell on one SSH channel. Every script is framed with
// end markers on stdout and stderr, so many commands share one channel and a
// command costs one round trip instead of one SSH session (~50 ms) each.
//
// Each script runs as its own process group on the host (setsid), whose id it
// reports first: a command that runs too long, or one running when the run is
// interrupted, is killed there with everything it started, and the shell
// itself stays usable (for cleaning up) afterwards.
import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import type { RunResult } from '../engine/types.js';
import { CommandTimeoutError, HostError } from '../errors.js';
import { BodyStream, FrameReader } from './frame.js';

/** Sends a signal to a process group on the host (through a channel of its own: the shell is busy). */
export type GroupKiller = (pgid: number, signal: 'TERM' | 'KILL') => Promise<void>;

export interface ShellRunOptions {
  /** data fed to the script's stdin (binary-safe) */
  stdin?: Buffer | string;
  /** kill the script (its whole process group) after this long; 0 or undefined: never */
  timeoutMs?: number;
  /** the command's output as it arrives (the result still carries all of it) */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
}

export interface PersistentShellOptions {
  killGroup: GroupKiller;
  /** after SIGTERM, how long the process group has before SIGKILL (default 2 s) */
  killGraceMs?: number;
}

interface Pending {
  marker: string;
  out: FrameReader;
  err: FrameReader;
  /** set when the caller wants the output as it arrives */
  streams?: { out: BodyStream; err: BodyStream };
  pid?: number;
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
  /** set when the command is being stopped: the frame still completes, then this is thrown */
  failure?: Error;
  timer?: NodeJS.Timeout;
  settled: Promise<void>;
  markSettled: () => void;
}

export class PersistentShell {
  private queue: Promise<unknown> = Promise.resolve();
  private pending?: Pending;
  private closedError?: Error;
  /** bytes that arrived between frames (none, normally) */
  private strayOut: Buffer[] = [];
  private strayErr: Buffer[] = [];

  constructor(
    private channel: ClientChannel,
    private opts: PersistentShellOptions = { killGroup: () => Promise.reject(new Error('no way to signal the host')) },
  ) {
    channel.on('data', (d: Buffer) => {
      if (this.pending) this.pushOut(this.pending, d);
      else this.strayOut.push(d);
      this.settle();
    });
    channel.stderr.on('data', (d: Buffer) => {
      if (this.pending) this.pushErr(this.pending, d);
      else this.strayErr.push(d);
      this.settle();
    });
    channel.on('close', () => {
      const errText = this.pending ? this.pending.err.complete()?.body ?? this.pending.err.head(64 * 1024) : Buffer.concat(this.strayErr);
      const stderr = errText.toString('utf8').trim().split('\n').slice(-6).join('\n');
      this.closedError ??= new Error(stderr ? `remote shell exited: ${stderr}` : 'remote shell exited');
      this.finish(this.pending, this.pending?.failure ?? this.closedError);
    });
  }

  /** Run one script in its own process group on the host; calls are serialized. */
  run(script: string, opts: ShellRunOptions = {}): Promise<RunResult> {
    const next = this.queue.then(() => this.send(script, opts));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Stop the command that is running, if any: it gets `graceMs` to finish on
   * its own, then its process group is killed. The command's run() rejects
   * with `failure` (unless it finished within the grace).
   */
  async stop(failure: Error, graceMs = 0): Promise<void> {
    const p = this.pending;
    if (!p) return;
    if (graceMs > 0 && (await within(p.settled, graceMs))) return;
    p.failure ??= failure;
    await this.kill(p);
  }

  /** Make later calls fail at once with `error` (the connection is gone, or the shell must not be used). */
  poison(error: Error): void {
    this.closedError ??= error;
    this.finish(this.pending, this.pending?.failure ?? error);
  }

  close(): void {
    this.channel.end();
  }

  private send(script: string, opts: ShellRunOptions): Promise<RunResult> {
    if (this.closedError) return Promise.reject(this.closedError);
    const marker = `__RIGGER_${randomBytes(8).toString('hex')}`;
    const line = commandLine(marker, script, opts.stdin);
    return new Promise<RunResult>((resolve, reject) => {
      let markSettled = () => {};
      const settled = new Promise<void>((r) => (markSettled = r));
      const p: Pending = {
        marker,
        out: new FrameReader(Buffer.from(`\n${marker} `)),
        err: new FrameReader(Buffer.from(`\n${marker}`)),
        resolve,
        reject,
        settled,
        markSettled,
      };
      const onOutput = opts.onOutput;
      if (onOutput)
        p.streams = {
          out: new BodyStream(p.out.needle, (t) => onOutput(t, 'stdout'), Buffer.from(`${marker}_P `)),
          err: new BodyStream(p.err.needle, (t) => onOutput(t, 'stderr')),
        };
      for (const d of this.strayOut.splice(0)) this.pushOut(p, d);
      for (const d of this.strayErr.splice(0)) this.pushErr(p, d);
      this.pending = p;
      if (opts.timeoutMs && opts.timeoutMs > 0) {
        const ms = opts.timeoutMs;
        p.timer = setTimeout(() => {
          p.failure ??= new CommandTimeoutError(`timed out after ${formatMs(ms)}; the command and everything it started were killed on the host`, ms);
          void this.kill(p);
        }, ms);
        p.timer.unref?.();
      }
      this.channel.write(line);
    });
  }

  /** SIGTERM to the command's process group, SIGKILL after a grace; give up on the shell if even that does not end it. */
  private async kill(p: Pending): Promise<void> {
    const grace = this.opts.killGraceMs ?? 2000;
    const pid = p.pid ?? this.readPid(p);
    if (pid !== undefined) {
      for (const signal of ['TERM', 'KILL'] as const) {
        if (this.pending !== p) return;
        await this.opts.killGroup(pid, signal).catch(() => undefined);
        if (await within(p.settled, grace)) return;
      }
    }
    // No process id yet (the script never started) or it would not die: this shell cannot be trusted any more.
    if (this.pending === p) this.poison(p.failure ?? new HostError('remote command could not be stopped', {}));
  }

  /** The process id line each script prints first, once it has arrived. */
  private readPid(p: Pending): number | undefined {
    const prefix = `${p.marker}_P `;
    const head = p.out.head(prefix.length + 24).toString('latin1');
    const m = head.startsWith(prefix) ? /^(\d+)\n/.exec(head.slice(prefix.length)) : null;
    if (m) p.pid = Number(m[1]);
    return p.pid;
  }

  private pushOut(p: Pending, d: Buffer): void {
    p.out.push(d);
    p.streams?.out.push(d, p.out.found);
  }

  private pushErr(p: Pending, d: Buffer): void {
    p.err.push(d);
    p.streams?.err.push(d, p.err.found);
  }

  private settle(): void {
    const p = this.pending;
    if (!p) return;
    if (p.pid === undefined) this.readPid(p);
    const out = p.out.complete();
    if (!out) return;
    const err = p.err.complete();
    if (!err) return;
    this.strayOut = out.rest.length ? [out.rest] : [];
    this.strayErr = err.rest.length ? [err.rest] : [];
    let body = out.body;
    const prefix = Buffer.from(`${p.marker}_P `);
    if (body.subarray(0, prefix.length).equals(prefix)) body = body.subarray(body.indexOf(0x0a) + 1);
    p.streams?.out.finish(body);
    p.streams?.err.finish(err.body);
    const result: RunResult = { stdout: body.toString('utf8'), stderr: err.body.toString('utf8'), code: Number(out.line) };
    this.finish(p, p.failure, result);
  }

  private finish(p: Pending | undefined, failure?: Error, result?: RunResult): void {
    if (!p) return;
    if (this.pending === p) this.pending = undefined;
    clearTimeout(p.timer);
    p.markSettled();
    if (failure || !result) p.reject(failure ?? this.closedError ?? new Error('remote shell exited'));
    else p.resolve(result);
  }
}

/**
 * The line sent for one script. The script travels base64-encoded inside one
 * fixed command line, so the persistent shell never parses its text; it is
 * decoded by a fresh /bin/sh in its own session (setsid), which first prints
 * its process id, closes the host lock's descriptor (9) so nothing it starts
 * keeps the lock, and cannot read the persistent shell's own stdin (the next
 * commands). It is not passed as an argument of `sh -c`: one exec argument is
 * limited to 128 KiB (a large probe batch is more). Input data, if any,
 * follows as a heredoc and reaches the script as its stdin (through fd 3).
 */
function commandLine(marker: string, script: string, stdin: Buffer | string | undefined): string {
  const body = Buffer.from(script).toString('base64');
  const input = stdin === undefined ? '</dev/null' : '<&3 3<&-';
  const inner = `printf "%s %s\\n" ${marker}_P $$; exec 9>&-; rigger_s=$(base64 -d) && exec ${input} && eval "$rigger_s"`;
  const exec = `printf %s '${body}' | setsid -w /bin/sh -c '${inner}'`;
  const feed =
    stdin === undefined
      ? exec
      : // The heredoc sits inside a command substitution inside a subshell: if the
        // connection drops while it is being sent, the shell meets end-of-file before
        // the closing ")" and runs nothing. A bare heredoc cut short by end-of-file
        // still runs (dash, bash), with truncated input: a writeAtomically() script
        // would then rename a partial file into place.
        `(rigger_in=$(cat <<'${marker}_IN'\n${wrap(Buffer.from(stdin).toString('base64'))}\n${marker}_IN\n) && printf '%s\\n' "$rigger_in" | base64 -d | { ${exec}; } 3<&0)`;
  return `${feed}\nprintf '\\n%s %s\\n' ${marker} $?; printf '\\n%s\\n' ${marker} >&2\n`;
}

function wrap(b64: string): string {
  return b64.replace(/.{1,76}/g, '$&\n').trimEnd();
}

/** true when `p` settles within `ms` */
function within(p: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
