// Live lines per resource and a recap per host, in the spirit of Ansible's PLAY RECAP.
// Every line goes through redact(): no secret value reaches the terminal.
import pc from 'picocolors';
import type { HostResult, TaskResult } from '../engine/report-types.js';
import { redact } from '../secrets.js';
import { colourDiff, unifiedDiff } from './diff.js';

export interface ConsoleOptions {
  showDiffs: boolean;
  verbose: number;
  colour: boolean;
  check: boolean;
  write?: (text: string) => void;
}

export class ConsoleReporter {
  private write: (text: string) => void;
  private c: ReturnType<typeof pc.createColors>;
  constructor(private opts: ConsoleOptions) {
    this.write = opts.write ?? ((t) => process.stdout.write(t));
    this.c = pc.createColors(opts.colour);
  }

  private out(text: string): void {
    this.write(redact(text) + '\n');
  }

  header(title: string, hosts: string[]): void {
    this.out(this.c.bold(`PLAYBOOK ${title}${this.opts.check ? ' (check mode: nothing will be changed)' : ''} on ${hosts.length} host(s)`));
  }

  task(host: string, t: TaskResult): void {
    const c = this.c;
    if (t.status === 'ok' && this.opts.verbose === 0) return;
    if (t.status === 'skipped' && this.opts.verbose === 0) return;
    const label = { ok: c.green('ok     '), changed: c.yellow(this.opts.check ? 'would  ' : 'changed'), failed: c.red('failed '), skipped: c.dim('skipped') }[t.status];
    const detail = t.status === 'failed' ? c.red(t.error ?? '') : (t.summary ?? '');
    this.out(`${label} ${c.bold(host)} [${t.role}] ${t.resource}${detail ? `: ${detail}` : ''}`);
    if (t.diff && this.opts.showDiffs) this.out(colourDiff(unifiedDiff(t.diff), this.opts.colour));
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
      if (r.error) this.out(`${' '.repeat(width)}   ${c.red(r.status === 'unreachable' ? `UNREACHABLE: ${r.error}` : r.error)}`);
    }
  }
}
