// Live lines per resource and a recap per host, in the spirit of Ansible's PLAY RECAP.
// Every line goes through redact(): no secret value reaches the terminal.
import pc from 'picocolors';
import type { HostResult, TaskResult } from '../engine/report-types.js';
import { redact } from '../secrets.js';
import { colourDiff, unifiedDiff } from './diff.js';
import type { LiveStatus, TaskStart } from './progress.js';

export interface ConsoleOptions {
  showDiffs: boolean;
  verbose: number;
  colour: boolean;
  check: boolean;
  write?: (text: string) => void;
  /** the live status block (a terminal only): every line is then printed through it */
  live?: LiveStatus;
}

export class ConsoleReporter {
  private write: (text: string) => void;
  private c: ReturnType<typeof pc.createColors>;
  constructor(private opts: ConsoleOptions) {
    this.write = opts.write ?? ((t) => process.stdout.write(t));
    this.c = pc.createColors(opts.colour);
  }

  private out(text: string): void {
    const line = redact(text) + '\n';
    if (this.opts.live) this.opts.live.print(line);
    else this.write(line);
  }

  hostStart(host: string): void {
    this.opts.live?.hostStart(host);
  }

  taskStart(host: string, t: TaskStart): void {
    this.opts.live?.taskStart(host, t);
  }

  progress(host: string, note: string): void {
    this.opts.live?.note(host, note);
  }

  hostEnd(host: string): void {
    this.opts.live?.hostEnd(host);
  }

  /** End of the run: the live block is erased. */
  close(): void {
    this.opts.live?.stop();
  }

  header(title: string, hosts: string[]): void {
    this.out(this.c.bold(`PLAYBOOK ${title}${this.opts.check ? ' (check mode: nothing will be changed)' : ''} on ${hosts.length} host(s)`));
  }

  task(host: string, t: TaskResult): void {
    const lines = this.taskLines(host, t).map((l) => redact(l) + '\n');
    // the resource's live line turns into its result line, in one write
    if (this.opts.live) this.opts.live.taskEnd(host, lines.join(''));
    else for (const l of lines) this.write(l);
  }

  private taskLines(host: string, t: TaskResult): string[] {
    const c = this.c;
    if ((t.status === 'ok' || t.status === 'skipped') && this.opts.verbose === 0) return [];
    const label = { ok: c.green('ok     '), changed: c.yellow(this.opts.check ? 'would  ' : 'changed'), failed: c.red('failed '), skipped: c.dim('skipped') }[t.status];
    const detail = t.status === 'failed' ? c.red(t.error ?? '') : (t.summary ?? '');
    const lines = [`${label} ${c.bold(host)} [${t.role}] ${t.resource}${detail ? `: ${detail}` : ''}`];
    if (t.diff && this.opts.showDiffs) lines.push(colourDiff(unifiedDiff(t.diff), this.opts.colour));
    return lines;
  }

  /** --confirm: a host whose state changed between its plan and the apply; nothing was changed on it */
  drifted(host: string, differences: string[]): void {
    this.out(`${this.c.magenta('drifted')} ${this.c.bold(host)}: its state changed since its plan was shown; nothing was changed on it`);
    for (const d of differences) this.out(`  ${d}`);
  }

  log(host: string, message: string): void {
    if (this.opts.verbose > 0) this.out(this.c.dim(`  ${host}: ${message}`));
  }

  recap(results: Map<string, HostResult>, durationMs: number): void {
    const c = this.c;
    this.out('\n' + c.bold('RECAP') + c.dim(` (${(durationMs / 1000).toFixed(2)} s)`));
    const width = Math.max(...[...results.keys()].map((h) => h.length), 4);
    for (const [host, r] of results) {
      const colour = r.status === 'ok' ? c.green : r.status === 'changed' ? c.yellow : c.red;
      const counts = `ok=${r.counts.ok} changed=${r.counts.changed} failed=${r.counts.failed} skipped=${r.counts.skipped} unreachable=${r.status === 'unreachable' ? 1 : 0}`;
      this.out(`${colour(host.padEnd(width))} : ${counts} remote=${r.remoteCommands}${r.apiRequests ? ` api=${r.apiRequests}` : ""} ${c.dim(`${r.durationMs} ms`)}`);
      if (r.drift) this.out(`${' '.repeat(width)}   ${c.magenta('drifted: nothing was changed; its state changed since its plan was shown')}`);
      if (r.error) this.out(`${' '.repeat(width)}   ${c.red(r.status === 'unreachable' ? `UNREACHABLE: ${r.error}` : r.error)}`);
    }
  }
}
