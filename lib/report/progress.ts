// The live status block at the bottom of a terminal: one line per running
// host (its resource, how long that has run, what it is doing), redrawn in
// place about every second and on progress notes. Every write is one frame
// (erase the block, the new result lines, the block again), so result lines
// are never broken by a half-drawn status line. Only for a terminal: see
// progressWanted().
import pc from 'picocolors';
import type { TaskStart } from '../engine/run.js';
import { redact } from '../secrets.js';

export type { TaskStart };

export interface LiveStatusOptions {
  write: (text: string) => void;
  colour: boolean;
  /** terminal width: lines are cut to fit (a wrapped line would break the erase) */
  columns?: () => number | undefined;
  /** terminal height: a block taller than the screen could not be erased, so it is cut to fit */
  rows?: () => number | undefined;
  now?: () => number;
  /** how often the elapsed seconds are looked at (default 250 ms; the block is redrawn only when its text changed) */
  tickMs?: number;
  /** shortest time between two redraws caused by progress notes (default 100 ms) */
  minRedrawMs?: number;
}

/**
 * Whether to show the live block: only on a terminal that understands ANSI
 * (not TERM=dumb), not with --no-progress, and not when stdout carries the
 * JSON report (`--json -`: the human output then goes to stderr, for a log).
 */
export function progressWanted(o: { tty: boolean; term?: string; noProgress: boolean; jsonToStdout: boolean }): boolean {
  return o.tty && o.term !== 'dumb' && !o.noProgress && !o.jsonToStdout;
}

interface HostLine {
  since: number;
  started: boolean;
  task?: TaskStart & { since: number; note?: string };
}

const ESC = '\x1b[';

export class LiveStatus {
  private hosts = new Map<string, HostLine>();
  /** status lines on the screen now, right above the cursor */
  private drawn = 0;
  private shown: string[] = [];
  private timer?: NodeJS.Timeout;
  private lastDraw = 0;
  private pendingDraw?: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly c: ReturnType<typeof pc.createColors>;

  constructor(private readonly opts: LiveStatusOptions) {
    this.now = opts.now ?? Date.now;
    this.c = pc.createColors(opts.colour);
  }

  hostStart(host: string): void {
    this.hosts.set(host, { since: this.now(), started: false });
    this.timer ??= setInterval(() => this.frame(''), this.opts.tickMs ?? 250);
    this.timer.unref?.();
    this.frame('');
  }

  taskStart(host: string, t: TaskStart): void {
    const h = this.hosts.get(host);
    if (!h) return;
    // the same resource going from probe to apply keeps its clock
    const since = h.task?.resource === t.resource ? h.task.since : this.now();
    h.task = { ...t, since };
    h.started = true;
    this.frame('');
  }

  /** What the running resource of `host` is doing now (e.g. "unpacking gitlab-runner 1/2"). */
  note(host: string, text: string): void {
    const task = this.hosts.get(host)?.task;
    if (!task) return;
    task.note = text.replace(/\s+/g, ' ').trim();
    const wait = this.lastDraw + (this.opts.minRedrawMs ?? 100) - this.now();
    if (wait <= 0) this.frame('');
    else
      this.pendingDraw ??= setTimeout(() => {
        this.pendingDraw = undefined;
        this.frame('');
      }, wait);
  }

  /** The running resource of `host` ended: its line goes, `text` (its result lines, if any) is printed in its place. */
  taskEnd(host: string, text = ''): void {
    const h = this.hosts.get(host);
    if (h) h.task = undefined;
    this.frame(text);
  }

  hostEnd(host: string, text = ''): void {
    this.hosts.delete(host);
    if (!this.hosts.size) this.idle();
    this.frame(text);
  }

  /** Print lines above the block. */
  print(text: string): void {
    this.frame(text);
  }

  /**
   * Something else wrote to the terminal (the interrupt message on stderr):
   * the block drawn stays where it is, above that text, and the next one is
   * drawn below it, rather than erasing the wrong lines.
   */
  forget(): void {
    this.drawn = 0;
    this.shown = [];
  }

  /** Erase the block and stop redrawing (end of the run). */
  stop(): void {
    this.hosts.clear();
    this.idle();
    this.frame('');
  }

  private idle(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.pendingDraw);
    this.pendingDraw = undefined;
  }

  /** One write: erase what is drawn, print `text`, draw the block again. */
  private frame(text: string): void {
    const lines = this.render();
    if (!text && lines.join('\n') === this.shown.join('\n') && lines.length === this.drawn) return;
    const erase = this.drawn ? `${ESC}${this.drawn}A\r${ESC}J` : '';
    const body = text && !text.endsWith('\n') ? text + '\n' : text;
    this.opts.write(erase + body + lines.map((l) => l + '\n').join(''));
    this.drawn = lines.length;
    this.shown = lines;
    this.lastDraw = this.now();
  }

  private render(): string[] {
    const now = this.now();
    const rows = [...this.hosts].map(([host, h]) => {
      const t = h.task;
      // a host between resources (or still connecting): its label spans the role and resource columns
      if (!t) return { host, role: h.started ? 'between resources' : 'connecting', resource: undefined, secs: secs(now - h.since), note: '' };
      return { host, role: t.role, resource: t.resource, secs: secs(now - t.since), note: t.note ?? (t.phase === 'probe' ? 'checking' : 'applying') };
    });
    const w = (f: (r: (typeof rows)[number]) => string | undefined) => Math.max(0, ...rows.map((r) => f(r)?.length ?? 0));
    const [wHost, wRole, wResource, wSecs] = [w((r) => r.host), w((r) => (r.resource === undefined ? '' : r.role)), w((r) => r.resource), w((r) => r.secs)];
    const wBoth = wResource ? wRole + 2 + wResource : 0;
    // a terminal of unknown size (0 columns: e.g. a pseudo-terminal nobody sized) counts as 80
    const width = Math.max(20, (this.opts.columns?.() || 80) - 1);
    // columns aligned across hosts: host, role, resource, seconds (right-aligned), note
    const lines = rows.map((r) => {
      const middle = r.resource === undefined ? r.role.padEnd(wBoth) : `${r.role.padEnd(wRole)}  ${r.resource.padEnd(wResource)}`;
      const plain = redact(`  ${r.host.padEnd(wHost)}  ${middle}  ${r.secs.padStart(wSecs)}${r.note ? `  ${r.note}` : ''}`);
      return this.c.dim(cut(plain, width));
    });
    const room = Math.max(2, (this.opts.rows?.() || 24) - 2);
    if (lines.length <= room) return lines;
    return [...lines.slice(0, room - 1), this.c.dim(`  … and ${lines.length - room + 1} more host(s) running`)];
  }
}

function secs(ms: number): string {
  return `${Math.max(0, Math.floor(ms / 1000))}s`;
}

/** At most `width` characters (code points), with an ellipsis when cut. */
function cut(s: string, width: number): string {
  const chars = [...s];
  return chars.length <= width ? s : chars.slice(0, width - 1).join('') + '…';
}
