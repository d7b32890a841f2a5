// One persistent remote shell on one SSH channel. Every script is framed with
// end markers on stdout and stderr, so many commands share one channel and a
// command costs one round trip instead of one SSH session (~50 ms) each.
import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import type { RunResult } from '../engine/types.js';

interface Pending {
  marker: string;
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
}

export class PersistentShell {
  private out: Buffer[] = [];
  private err: Buffer[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private pending?: Pending;
  private closedError?: Error;

  constructor(private channel: ClientChannel) {
    channel.on('data', (d: Buffer) => {
      this.out.push(d);
      this.settle();
    });
    channel.stderr.on('data', (d: Buffer) => {
      this.err.push(d);
      this.settle();
    });
    channel.on('close', () => {
      const stderr = Buffer.concat(this.err).toString('utf8').trim();
      this.closedError = new Error(stderr ? `remote shell exited: ${stderr}` : 'remote shell exited');
      this.pending?.reject(this.closedError);
      this.pending = undefined;
    });
  }

  /** Run one script in a subshell of the persistent shell; calls are serialized. */
  run(script: string, stdin?: Buffer | string): Promise<RunResult> {
    const next = this.queue.then(() => this.send(script, stdin));
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.channel.end();
  }

  private send(script: string, stdin?: Buffer | string): Promise<RunResult> {
    if (this.closedError) return Promise.reject(this.closedError);
    const marker = `__RIGGER_${randomBytes(8).toString('hex')}`;
    const body = Buffer.from(script).toString('base64');
    // The script travels base64-encoded inside one fixed command line, so the
    // persistent shell never parses its text, and it cannot read the shell's
    // own stdin (the next commands). Input data, if any, follows as a heredoc.
    // It runs in a subshell via eval rather than as an argument of `sh -c`:
    // one exec argument is limited to 128 KiB (a large probe batch is more).
    const exec = `( eval "$(printf %s '${body}' | base64 -d)" )`;
    const feed =
      stdin === undefined
        ? `${exec} </dev/null`
        : // The heredoc sits inside a command substitution inside a subshell: if the
          // connection drops while it is being sent, the shell meets end-of-file before
          // the closing ")" and runs nothing. A bare heredoc cut short by end-of-file
          // still runs (dash, bash), with truncated input: a writeAtomically() script
          // would then rename a partial file into place.
          `(rigger_in=$(cat <<'${marker}_IN'\n${wrap(Buffer.from(stdin).toString('base64'))}\n${marker}_IN\n) && printf '%s\\n' "$rigger_in" | base64 -d | ${exec})`;
    const line = `${feed}\nprintf '\\n%s %s\\n' ${marker} $?; printf '\\n%s\\n' ${marker} >&2\n`;
    return new Promise<RunResult>((resolve, reject) => {
      this.pending = { marker, resolve, reject };
      this.channel.write(line);
    });
  }

  private settle(): void {
    const p = this.pending;
    if (!p) return;
    const out = Buffer.concat(this.out);
    const err = Buffer.concat(this.err);
    const outEnd = out.lastIndexOf(`\n${p.marker} `);
    const errEnd = err.lastIndexOf(`\n${p.marker}\n`);
    if (outEnd < 0 || errEnd < 0) return;
    const tail = out.subarray(outEnd + p.marker.length + 2).toString();
    const nl = tail.indexOf('\n');
    if (nl < 0) return; // exit code line not complete yet
    const code = Number(tail.slice(0, nl));
    this.out = [out.subarray(outEnd + p.marker.length + 2 + nl + 1)];
    this.err = [err.subarray(errEnd + p.marker.length + 2)];
    this.pending = undefined;
    p.resolve({ stdout: out.subarray(0, outEnd).toString('utf8'), stderr: err.subarray(0, errEnd).toString('utf8'), code });
  }
}

function wrap(b64: string): string {
  return b64.replace(/.{1,76}/g, '$&\n').trimEnd();
}
