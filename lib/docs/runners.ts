// The runners as the page describes them, read from each host's
// `gitlab_runners` and `concurrent` (the vars the gitlab-runner role applies),
// so a runner added to the inventory shows up without touching the docs data.
// Only the fields the page shows are read; the role validates the rest.
// MachineOptions may hold secrets: only the commercial type and zone are read.
import { z } from 'zod';

const autoscaling = z.object({
  Periods: z.array(z.string()).default([]),
  IdleCount: z.number().default(0),
  IdleTime: z.number().default(0),
  Timezone: z.string().optional(),
});

const machine = z.object({
  IdleCount: z.number().default(0),
  IdleTime: z.number().default(600),
  MaxBuilds: z.number().optional(),
  MaxGrowthRate: z.number().optional(),
  MachineDriver: z.string().default(''),
  MachineName: z.string().default(''),
  MachineOptions: z.array(z.unknown()).default([]),
  autoscaling: z.array(autoscaling).default([]),
});

const runner = z.object({
  name: z.string(),
  executor: z.string(),
  tags: z.array(z.string()).default([]),
  run_untagged: z.boolean().optional(),
  paused: z.boolean().optional(),
  limit: z.number().optional(),
  machine: machine.optional(),
});

const hostRunnerVars = z.object({
  concurrent: z.number().default(1),
  gitlab_url: z.string().optional(),
  gitlab_runners: z.array(runner).default([]),
});

export interface IdlePeriod {
  periods: string[];
  idleCount: number;
  idleTime: number;
  timezone?: string;
}

export interface MachineSpec {
  driver: string;
  /** MachineName, with %s where gitlab-runner puts each machine's id */
  machineName: string;
  /** e.g. DEV1-S, from the `*commercial-type=` MachineOption */
  commercialType?: string;
  zone?: string;
  /** GB, from a `*root-volume-size=` MachineOption when given */
  rootVolumeGb?: number;
  idleCount: number;
  idleTime: number;
  maxBuilds?: number;
  maxGrowthRate?: number;
  autoscaling: IdlePeriod[];
}

export interface RunnerInfo {
  host: string;
  name: string;
  executor: string;
  tags: string[];
  /** GitLab's default for a new runner is true, but the role registers with what the inventory says */
  runUntagged: boolean;
  paused: boolean;
  /** jobs (docker+machine: machines) this runner handles at once; 0 or absent: no limit of its own */
  limit?: number;
  /** the host's `concurrent`: jobs across all its runners */
  concurrent: number;
  gitlabUrl?: string;
  machine?: MachineSpec;
}

/** The runners declared for one host; `problems` gets "key: message" for what cannot be read. */
export function runnersOf(host: string, vars: Record<string, unknown>, problems: string[]): RunnerInfo[] {
  const parsed = hostRunnerVars.safeParse(vars);
  if (!parsed.success) {
    for (const i of parsed.error.issues) problems.push(`host ${host}: ${i.path.join('.')}: ${i.message}`);
    return [];
  }
  const v = parsed.data;
  return v.gitlab_runners.map((r) => ({
    host,
    name: r.name,
    executor: r.executor,
    tags: [...new Set(r.tags)],
    runUntagged: r.run_untagged ?? false,
    paused: r.paused ?? false,
    limit: r.limit,
    concurrent: v.concurrent,
    gitlabUrl: v.gitlab_url,
    machine: r.machine && machineSpec(r.machine),
  }));
}

function machineSpec(m: z.output<typeof machine>): MachineSpec {
  const opt = (suffix: string) => {
    for (const o of m.MachineOptions) {
      // "key=value" strings and { key, value } tables; secrets (class instances) are never read
      const [k, v] = typeof o === 'string' ? splitOption(o) : isPlainOption(o) ? [o.key, typeof o.value === 'object' ? undefined : String(o.value)] : [undefined, undefined];
      if (k && v !== undefined && (k === suffix || k.endsWith(`-${suffix}`))) return v;
    }
    return undefined;
  };
  const volume = Number(opt('root-volume-size'));
  return {
    driver: m.MachineDriver,
    machineName: m.MachineName,
    commercialType: opt('commercial-type'),
    zone: opt('zone'),
    rootVolumeGb: Number.isFinite(volume) && volume > 0 ? (volume > 1e6 ? volume / 1e9 : volume) : undefined,
    idleCount: m.IdleCount,
    idleTime: m.IdleTime,
    maxBuilds: m.MaxBuilds,
    maxGrowthRate: m.MaxGrowthRate,
    autoscaling: m.autoscaling.map((a) => ({ periods: a.Periods, idleCount: a.IdleCount, idleTime: a.IdleTime, timezone: a.Timezone })),
  };
}

function splitOption(o: string): [string, string | undefined] {
  const i = o.indexOf('=');
  return i < 0 ? [o.replace(/^--/, ''), undefined] : [o.slice(0, i).replace(/^--/, ''), o.slice(i + 1)];
}

function isPlainOption(o: unknown): o is { key: string; value: unknown } {
  return typeof o === 'object' && o !== null && Object.getPrototypeOf(o) === Object.prototype && typeof (o as { key?: unknown }).key === 'string';
}
