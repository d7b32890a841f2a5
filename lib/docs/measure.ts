// Live facts of a server for the page, measured in one round trip: the
// measuring resource's probe (lib/docs/measure.sh) is batched with the other
// probes of the host, and its plan only records what it read. It never
// changes anything, so it reports "ok" and runs the same in check mode.
import { readFileSync } from 'node:fs';
import type { ProbeResult, ShellResource } from '../engine/types.js';
import { shq } from '../resources/shell.js';

const SCRIPT = readFileSync(new URL('./measure.sh', import.meta.url), 'utf8');

export interface Listener {
  proto: string;
  /** as bound: 0.0.0.0, ::, *, 127.0.0.1, ::1, a specific address */
  address: string;
  port: number;
  process?: string;
  /** bound to a loopback address only */
  local: boolean;
}

export interface PathSize {
  path: string;
  /** disk usage in bytes, when du finished */
  bytes?: number;
  status: 'ok' | 'missing' | 'timeout';
}

export interface HostMeasure {
  host: string;
  /** ISO date (control machine's clock) of the measurement */
  date: string;
  cpus: number;
  memBytes: number;
  filesystems: Array<{ mount: string; sizeBytes: number; usedBytes: number }>;
  runningUnits: string[];
  listeners: Listener[];
  paths: PathSize[];
}

/** The measurements of one run, filled by the measuring resources, read by the page. */
export class Measurements {
  private byHost = new Map<string, HostMeasure>();
  set(m: HostMeasure): void {
    this.byHost.set(m.host, m);
  }
  get(host: string): HostMeasure | undefined {
    return this.byHost.get(host);
  }
  get size(): number {
    return this.byHost.size;
  }
}

export function measureScript(paths: readonly string[], duTimeout: number): string {
  return `set -- ${[duTimeout, ...paths].map(shq).join(' ')}\n${SCRIPT}`;
}

export function parseMeasure(host: string, stdout: string, paths: readonly string[], date: string): HostMeasure {
  const m: HostMeasure = { host, date, cpus: 0, memBytes: 0, filesystems: [], runningUnits: [], listeners: [], paths: paths.map((path) => ({ path, status: 'timeout' })) };
  const seen = new Set<string>();
  for (const line of stdout.split('\n')) {
    const f = line.split('\t');
    switch (f[0]) {
      case 'cpus':
        m.cpus = Number(f[1]) || 0;
        break;
      case 'mem_kb':
        m.memBytes = (Number(f[1]) || 0) * 1024;
        break;
      case 'fs':
        if (!seen.has(f[1])) {
          seen.add(f[1]);
          m.filesystems.push({ mount: f[1], sizeBytes: Number(f[2]) || 0, usedBytes: Number(f[3]) || 0 });
        }
        break;
      case 'unit':
        if (f[1] && !m.runningUnits.includes(f[1])) m.runningUnits.push(f[1]);
        break;
      case 'listen': {
        const l = parseListener(f[1], f[2], f[3]);
        if (l && !m.listeners.some((x) => x.proto === l.proto && x.address === l.address && x.port === l.port)) m.listeners.push(l);
        break;
      }
      case 'path': {
        const p = m.paths[Number(f[1])];
        if (!p) break;
        if (f[2] === 'missing' || f[2] === 'timeout') p.status = f[2];
        else if (/^\d+$/.test(f[2] ?? '')) Object.assign(p, { status: 'ok', bytes: Number(f[2]) });
        break;
      }
    }
  }
  m.runningUnits.sort();
  m.listeners.sort((a, b) => a.port - b.port || a.proto.localeCompare(b.proto) || a.address.localeCompare(b.address));
  return m;
}

/** "127.0.0.1:8983", "[::1]:25", "*:22", "127.0.0.53%lo:53" */
export function parseListener(proto: string, local: string, processColumn: string | undefined): Listener | undefined {
  const i = local?.lastIndexOf(':') ?? -1;
  if (i < 0) return undefined;
  const port = Number(local.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0) return undefined;
  const address = local.slice(0, i).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const process = /\(\("([^"]+)"/.exec(processColumn ?? '')?.[1];
  const loopback = address === '::1' || /^127\./.test(address) || address === 'localhost';
  return { proto, address, port, process, local: loopback };
}

export interface MeasureOptions {
  host: string;
  paths: readonly string[];
  duTimeout: number;
  into: Measurements;
  /** the date written on the page; default today (UTC) */
  today?: () => string;
}

export function measureResource(o: MeasureOptions): ShellResource {
  return {
    id: `measure:${o.host}`,
    tags: [],
    notify: [],
    probe: measureScript(o.paths, o.duTimeout),
    plan(current: ProbeResult) {
      o.into.set(parseMeasure(o.host, current.stdout, o.paths, (o.today ?? todayUtc)()));
      return null;
    },
    async apply() {},
  };
}

export function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}
