// The `scaleway` var of an autoscale runner host: which project and zones
// hold its machines, the guards and bounds of the cleanup, prices, and the
// credentials (resolved here, so bad credentials stop the run before any host
// is contacted).
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { Instancev1 } from '@scaleway/sdk-instance';
import { Secret } from '../../secrets.js';
import { resolveCredentials, type ScalewayCredentials } from './credentials.js';
import { DURATION_PATTERN, parseDuration } from './duration.js';

/** Zones the Instance API serves (the SDK's own list). */
export const INSTANCE_ZONES: readonly string[] = Instancev1.API.LOCALITY.type === 'zone' ? Instancev1.API.LOCALITY.zones : [];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const secret = z.instanceof(Secret, { message: 'expected a secret ({ secret = "NAME" })' });
const duration = z.string().regex(DURATION_PATTERN, 'expected a duration like "90s", "30m", "2h" or "7d"');
const price = z.number({ message: 'expected a number (EUR)' }).min(0, { message: 'expected a price >= 0' });
const int = (min: number) => z.number({ message: 'expected a number' }).int({ message: 'expected an integer' }).min(min, { message: `expected at least ${min}` });

/** `~/x` -> home/x (the ledger lives on the control machine). */
function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p;
}

export function defaultLedgerPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'rigger', 'scaleway-fleet.json');
}

const raw = z.object({
  /** the Scaleway Project dedicated to runner machines: nothing outside it is read or touched */
  // May come from a secret (e.g. SCW_PROJECT_ID, beside the key scoped to it); an unresolved one (--render, --list-tasks) passes.
  project_id: z.union([z.string(), secret]).refine((v) => (v instanceof Secret ? v.reveal() === '' || UUID.test(v.reveal()) : UUID.test(v)), 'expected the UUID of the Scaleway Project that holds the runner machines'),
  /** zones the runners create machines in */
  zones: z
    .array(z.string().refine((s) => INSTANCE_ZONES.includes(s), { message: `expected a Scaleway zone (${INSTANCE_ZONES.join(', ')})` }))
    .min(1, 'expected at least one zone, e.g. ["fr-par-1"]'),
  access_key: z.union([secret, z.string()], { message: 'expected a string or a secret' }).optional(),
  secret_key: secret.optional(),
  api_url: z.string().optional(),
  profile: z.string().min(1).optional(),
  /** at most this many runner servers in the project (all runner hosts together) */
  fleet_cap: int(1).optional(),
  /** nothing created less than this long ago is deleted */
  grace: duration.default('1h'),
  /** deletions per run (a server with its volumes and IPs is one); the rest is reported */
  max_deletions: int(0).default(3),
  /** server, volume or IP ids (or server names) never touched */
  keep: z.array(z.string().min(1)).default([]),
  /** a tag the docker-machine driver sets, %s being the machine name (e.g. "docker-machine=%s"); unset: none */
  marker_tag: z.string().refine((s) => (s.match(/%s/g) ?? []).length === 1, 'must contain %s once').optional(),
  /** prices the API does not give (EUR): per GB-month by volume type, per month for a flexible IP */
  prices: z
    .object({
      volume_gb_month: z.record(z.string(), price).default({}),
      ip_month: price.optional(),
    })
    .default({ volume_gb_month: {} }),
  /** the control machine's record of runner machines seen in stores (written by apply runs only) */
  ledger: z.string().min(1).optional(),
  /** the docker-machine store of gitlab-runner on the host (it runs as root) */
  machine_store: z.string().startsWith('/', 'expected an absolute path').default('/root/.docker/machine'),
  /** per API request attempt */
  request_timeout: duration.default('30s'),
  /** how long a poweroff may take */
  poweroff_timeout: duration.default('5m'),
  /** between reads of a server powering off (the SDK's waiters use >= 1 s) */
  poll_interval: duration.default('2s'),
});

export type FleetConfigInput = z.input<typeof raw>;

export interface FleetConfig {
  projectId: string;
  zones: string[];
  credentials: ScalewayCredentials;
  fleetCap?: number;
  graceMs: number;
  maxDeletions: number;
  keep: string[];
  markerTag?: string;
  prices: { volumeGbMonth: Record<string, number>; ipMonth?: number };
  ledgerPath: string;
  machineStore: string;
  requestTimeoutMs: number;
  poweroffTimeoutMs: number;
  pollIntervalMs: number;
}

export const fleetConfigSchema = raw.transform((v, ctx): FleetConfig => {
  const { credentials, problems } = resolveCredentials(v);
  for (const p of problems) ctx.addIssue({ code: 'custom', path: [p.key], message: p.message });
  if (!credentials) return z.NEVER;
  return {
    projectId: (v.project_id instanceof Secret ? v.project_id.reveal() : v.project_id).toLowerCase(),
    zones: [...new Set(v.zones)],
    credentials,
    fleetCap: v.fleet_cap,
    graceMs: parseDuration(v.grace),
    maxDeletions: v.max_deletions,
    keep: v.keep,
    markerTag: v.marker_tag,
    prices: { volumeGbMonth: v.prices.volume_gb_month, ipMonth: v.prices.ip_month },
    ledgerPath: expandHome(v.ledger ?? defaultLedgerPath()),
    machineStore: v.machine_store.replace(/\/+$/, ''),
    requestTimeoutMs: parseDuration(v.request_timeout),
    poweroffTimeoutMs: parseDuration(v.poweroff_timeout),
    pollIntervalMs: parseDuration(v.poll_interval),
  };
});

/** The runners of the host, as far as the fleet needs them (the gitlab-runner role validates the rest). */
export const fleetRunnersSchema = z
  .array(
    z.looseObject({
      name: z.string(),
      executor: z.string(),
      limit: z.number().optional(),
      machine: z.looseObject({ MachineName: z.string().optional() }).optional(),
    }),
  )
  .default([]);

export interface FleetRunner {
  name: string;
  limit?: number;
  /** matches the store names of this runner's machines: runner-<short token (8 to 17 characters)>-<MachineName> */
  pattern: RegExp;
}

export function fleetRunners(runners: z.output<typeof fleetRunnersSchema>): FleetRunner[] {
  return runners
    .filter((r) => r.executor === 'docker+machine' && r.machine?.MachineName?.includes('%s'))
    .map((r) => {
      const [before, after] = r.machine!.MachineName!.split('%s');
      const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return { name: r.name, limit: r.limit, pattern: new RegExp(`^runner-[A-Za-z0-9_-]{8,17}-${esc(before)}.+${esc(after)}$`) };
    });
}
