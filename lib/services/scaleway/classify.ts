// Which server is what, and what a run may delete. Pure: a function of the
// API snapshot, this host's docker-machine store, the ledger and the clock.
//
// A server is a runner machine only by evidence: its id is in this host's
// store now; or an earlier apply run recorded it from this host's store (the
// ledger); or it carries the driver's marker tag naming a machine this host's
// store has or had. A name never counts. Everything else is foreign: shown,
// never touched. Deletion candidates (stopped runner machines, orphans, and
// the volumes and IPs gone runner machines left behind) then pass the guards:
// keep-list, `protected`, a settled state, the grace period, two sightings for
// an orphan, and at most `maxDeletions` per run.
import type { FleetRunner } from './config.js';
import { serverHourly, ipHourly, volumeHourly, sum, type Cost, type Prices } from './costs.js';
import { entriesOf, serverKey, type LedgerEntries, type LedgerFile } from './ledger.js';
import type { StoreMachine } from './machineStore.js';
import type { ApiSnapshot, IpView, ServerView, StoreServerLookup, VolumeView } from './snapshot.js';
import { formatAge } from './duration.js';

export type MachineClass = 'in-store' | 'stopped' | 'orphan' | 'other-host' | 'foreign' | 'ghost';
export type Action = 'delete' | 'deferred' | 'kept' | 'none';

export interface FleetSettings {
  projectId: string;
  zones: string[];
  graceMs: number;
  maxDeletions: number;
  keep: string[];
  markerTag?: string;
  fleetCap?: number;
  prices: Prices;
}

export interface FleetInput {
  host: string;
  settings: FleetSettings;
  runners: FleetRunner[];
  api: ApiSnapshot;
  store: StoreMachine[];
  ledger: LedgerFile;
  /** for store entries whose server the listing did not show: gone (404) or in another project */
  storeLookups?: Record<string, StoreServerLookup>;
  now: Date;
}

export interface MachineRow {
  class: MachineClass;
  /** absent for a store entry whose server does not exist (ghost) or is still being created */
  server?: ServerView;
  /** docker-machine name (from the store, the ledger or the marker) */
  machine?: string;
  runner?: string;
  /** a ghost's Driver.ServerID (empty while the machine is being created) */
  storeServerId?: string;
  /** a store entry gitlab-runner cannot remove: powered off, or its server gone */
  stuck?: boolean;
  evidence: string[];
  action: Action;
  /** why (kept: which guard; deferred: the per-run limit; first sighting...) */
  note: string;
  cost: Cost;
}

export interface LeakRow {
  kind: 'volume' | 'ip';
  volume?: VolumeView;
  ip?: IpView;
  /** the gone runner machine it belonged to */
  machine: string;
  action: Action;
  note: string;
  cost: Cost;
}

export type Target =
  | { kind: 'server'; id: string; server: ServerView; machine?: string; inStore: boolean; reason: 'stopped' | 'orphan'; volumes: VolumeView[]; cost: Cost }
  | { kind: 'volume'; id: string; volume: VolumeView; machine: string; cost: Cost }
  | { kind: 'ip'; id: string; ip: IpView; machine: string; cost: Cost }
  /** a store entry whose server is gone (404): stuck in removal, it fills the runner's limit */
  | { kind: 'store-entry'; id: string; machine: string; zone: string; serverId: string; cost: Cost };

export interface FleetPlan {
  host: string;
  settings: FleetSettings;
  runners: FleetRunner[];
  rows: MachineRow[];
  leaks: LeakRow[];
  /** deleted by this run, in order */
  targets: Target[];
  /** candidates beyond this run's limit */
  deferred: Target[];
  warnings: string[];
  /** the ledger's entries of this host as they were read */
  ledgerBefore: LedgerEntries;
  api: ApiSnapshot;
  store: StoreMachine[];
  now: Date;
}

export function targetId(t: { kind: 'server' | 'volume' | 'ip'; zone: string; objectId: string }): string {
  return `scaleway-${t.kind}:${t.zone}/${t.objectId}`;
}

const SETTLED = new Set(['running', 'stopped', 'stopped in place']);
const POWERED_OFF = new Set(['stopped', 'stopped in place']);

export function classify(input: FleetInput): FleetPlan {
  const { host, settings, api, store, ledger, now } = input;
  const warnings: string[] = [];
  const mine = entriesOf(ledger, host, settings.projectId);
  const others = new Map<string, { host: string; machine: string }>();
  for (const [h, projects] of Object.entries(ledger.hosts)) {
    if (h === host) continue;
    for (const [key, e] of Object.entries(projects[settings.projectId] ?? {})) others.set(key, { host: h, machine: e.machine });
  }
  const storeById = new Map(store.filter((m) => m.serverId).map((m) => [m.serverId, m]));
  const knownNames = new Set([...store.map((m) => m.name), ...Object.values(mine).map((e) => e.machine)]);
  const runnerOf = (name?: string) => (name ? input.runners.find((r) => r.pattern.test(name))?.name : undefined);
  const keep = new Set(settings.keep.map((k) => k.toLowerCase()));
  const kept = (...names: Array<string | undefined>) => names.some((n) => n !== undefined && keep.has(n.toLowerCase()));
  const ageOf = (d: Date) => now.getTime() - d.getTime();

  const rows: MachineRow[] = [];
  const candidates: Array<{ target: Target; row: { action: Action; note: string } }> = [];
  const allServers = new Map<string, ServerView>();

  for (const zone of settings.zones) {
    const z = api.zones[zone];
    if (!z) continue;
    for (const s of z.servers) {
      allServers.set(s.id, s);
      const key = serverKey(zone, s.id);
      const inStore = storeById.get(s.id);
      const recorded = mine[key];
      const markerName = settings.markerTag ? [...knownNames].find((n) => s.tags.includes(settings.markerTag!.replace('%s', n))) : undefined;
      const evidence: string[] = [];
      if (inStore) evidence.push('store');
      if (recorded) evidence.push('ledger');
      if (markerName) evidence.push('marker');
      const other = others.get(key);
      let cls: MachineClass;
      if (inStore) cls = POWERED_OFF.has(s.state) ? 'stopped' : 'in-store';
      else if (recorded || markerName) cls = 'orphan';
      else if (other) {
        cls = 'other-host';
        evidence.push(`ledger of ${other.host}`);
      } else cls = 'foreign';
      const machine = inStore?.name ?? recorded?.machine ?? markerName ?? other?.machine;
      const row: MachineRow = { class: cls, server: s, machine, runner: runnerOf(machine), stuck: cls === 'stopped', evidence, action: 'none', note: '', cost: serverHourly(s, z, settings.prices) };
      rows.push(row);
      if (cls === 'foreign') row.note = 'not a runner machine: never touched';
      if (cls === 'other-host') row.note = `runner machine of ${other!.host}: left to its runs`;
      if (cls === 'in-store') row.note = s.state === 'running' ? 'in store' : `in store, ${s.state}`;
      if (cls !== 'stopped' && cls !== 'orphan') continue;

      // A deletion candidate: the guards, in order.
      const guard = (note: string) => {
        row.action = 'kept';
        row.note = note;
      };
      if (kept(s.id, s.name, machine)) guard('in the keep-list');
      else if (s.protected) guard('protected');
      else if (!SETTLED.has(s.state)) guard(`${s.state}: left for a later run`);
      else if (ageOf(s.createdAt) < settings.graceMs) guard(`younger than the grace period (${formatAge(ageOf(s.createdAt))} < ${formatAge(settings.graceMs)})`);
      else if (cls === 'orphan' && !recorded?.orphanSince) guard('orphan, first sighting: deleted by a later run if still orphaned');
      else {
        const volumes = s.volumes.map((v) => z.volumes.find((x) => x.id === v.id)).filter((v): v is VolumeView => Boolean(v));
        candidates.push({ target: { kind: 'server', id: targetId({ kind: 'server', zone, objectId: s.id }), server: s, machine, inStore: Boolean(inStore), reason: cls, volumes, cost: row.cost }, row });
      }
    }
  }

  // Store entries without a server in the project's zones.
  for (const m of store) {
    if (m.serverId && allServers.has(m.serverId)) continue;
    const lookup = m.serverId ? input.storeLookups?.[m.serverId] : undefined;
    const row: MachineRow = {
      class: 'ghost',
      machine: m.name,
      runner: runnerOf(m.name),
      storeServerId: m.serverId || undefined,
      stuck: Boolean(m.serverId) && lookup?.status !== 'elsewhere',
      evidence: ['store'],
      action: 'none',
      note: !m.serverId
        ? 'no server id yet (being created)'
        : lookup?.status === 'gone'
          ? `server ${m.serverId.slice(0, 8)} is gone, the store entry is stuck in removal`
          : lookup?.status === 'elsewhere'
            ? `server ${m.serverId.slice(0, 8)} is in project ${lookup.project}: never touched`
            : `no server ${m.serverId.slice(0, 8)} in the project's zones`,
      cost: { hourly: 0, unpriced: [] },
    };
    rows.push(row);
    if (lookup?.status !== 'gone') continue;
    const zone = storeZone(m.zone);
    if (kept(m.name, m.serverId)) Object.assign(row, { action: 'kept', note: `${row.note}; in the keep-list` });
    else if (ageOf(m.modifiedAt) < settings.graceMs) Object.assign(row, { action: 'kept', note: `${row.note}; changed less than the grace period ago` });
    else if (zone) candidates.push({ target: { kind: 'store-entry', id: `docker-machine-entry:${m.name}`, machine: m.name, zone, serverId: m.serverId, cost: row.cost }, row });
  }

  // Volumes and IPs that runner machines of this host left behind: recorded with a server that is gone.
  const leaks: LeakRow[] = [];
  const owners = new Map<string, string>();
  for (const [key, e] of Object.entries(mine)) {
    const [, id] = key.split('/');
    if (allServers.has(id)) continue;
    for (const v of e.volumes) owners.set(v, e.machine);
    for (const ip of e.ips) owners.set(ip, e.machine);
  }
  for (const zone of settings.zones) {
    const z = api.zones[zone];
    if (!z) continue;
    for (const v of z.volumes) {
      const machine = owners.get(v.id);
      if (!machine || v.attachedTo !== null) continue;
      const row: LeakRow = { kind: 'volume', volume: v, machine, action: 'none', note: '', cost: volumeHourly(v, settings.prices) };
      leaks.push(row);
      if (kept(v.id, v.name)) Object.assign(row, { action: 'kept', note: 'in the keep-list' });
      else if (ageOf(v.detachedAt) < settings.graceMs || ageOf(v.createdAt) < settings.graceMs)
        Object.assign(row, { action: 'kept', note: `detached less than the grace period ago (${formatAge(Math.min(ageOf(v.detachedAt), ageOf(v.createdAt)))})` });
      else candidates.push({ target: { kind: 'volume', id: targetId({ kind: 'volume', zone, objectId: v.id }), volume: v, machine, cost: row.cost }, row });
    }
    for (const ip of z.ips) {
      const machine = owners.get(ip.id);
      if (!machine || ip.attachedTo !== null) continue;
      const row: LeakRow = { kind: 'ip', ip, machine, action: 'none', note: '', cost: ipHourly(ip, settings.prices) };
      leaks.push(row);
      if (kept(ip.id, ip.address)) Object.assign(row, { action: 'kept', note: 'in the keep-list' });
      else candidates.push({ target: { kind: 'ip', id: targetId({ kind: 'ip', zone, objectId: ip.id }), ip, machine, cost: row.cost }, row });
    }
  }

  // Stopped machines first (they block the runner's limit), then orphans, then leaks; oldest first.
  const rank = (t: Target) => (t.kind === 'server' ? (t.reason === 'stopped' ? 0 : 2) : t.kind === 'store-entry' ? 1 : 3);
  const created = (t: Target) => (t.kind === 'server' ? t.server.createdAt : t.kind === 'volume' ? t.volume.createdAt : new Date(0)).getTime();
  candidates.sort((a, b) => rank(a.target) - rank(b.target) || created(a.target) - created(b.target));
  const targets: Target[] = [];
  const deferred: Target[] = [];
  for (const c of candidates) {
    if (targets.length < settings.maxDeletions) {
      targets.push(c.target);
      c.row.action = 'delete';
      c.row.note = c.target.kind === 'server' ? `${c.target.reason}: deleted by this run` : c.target.kind === 'store-entry' ? `${c.row.note}: entry removed by this run` : 'leaked: deleted by this run';
    } else {
      deferred.push(c.target);
      c.row.action = 'deferred';
      c.row.note = `over the limit of ${settings.maxDeletions} deletions per run: next run`;
    }
  }

  const foreign = rows.filter((r) => r.class === 'foreign');
  if (foreign.length)
    warnings.push(
      `project ${settings.projectId} holds ${foreign.length} server(s) that are not runner machines (${foreign.map((r) => r.server!.name).join(', ')}): ` +
        'give the runners a project of their own, with an API key scoped to it (see the README)',
    );
  const limits = input.runners.reduce((a, r) => a + (r.limit ?? 0), 0);
  if (settings.fleetCap !== undefined && limits > settings.fleetCap)
    warnings.push(`the runners' limits on ${host} add up to ${limits} machines, over the fleet cap of ${settings.fleetCap}: gitlab-runner's limit is what bounds the fleet, lower it`);
  for (const m of store) {
    const zone = storeZone(m.zone);
    if (zone && !settings.zones.includes(zone)) warnings.push(`store machine ${m.name} is in zone ${zone}, which scaleway.zones does not list: it is not read`);
  }
  return { host, settings, runners: input.runners, rows, leaks, targets, deferred, warnings, ledgerBefore: mine, api, store, now };
}

/** Hourly totals: runner machines, leaks, foreign servers; and what deleting the candidates saves. */
export function totals(plan: FleetPlan): { runners: Cost; leaks: Cost; foreign: Cost; all: Cost; savable: Cost; thisRun: Cost; savableCount: number } {
  const runnerRows = plan.rows.filter((r) => r.class !== 'foreign' && r.class !== 'ghost');
  const runners = sum(runnerRows.map((r) => r.cost));
  const leaks = sum(plan.leaks.map((l) => l.cost));
  const foreign = sum(plan.rows.filter((r) => r.class === 'foreign').map((r) => r.cost));
  const removable = [...plan.rows.filter((r) => r.class === 'stopped' || r.class === 'orphan'), ...plan.leaks];
  return {
    runners,
    leaks,
    foreign,
    all: sum([runners, leaks, foreign]),
    savable: sum(removable.map((r) => r.cost)),
    thisRun: sum(plan.targets.map((t) => t.cost)),
    savableCount: removable.length,
  };
}

/** The zone a store entry names: scaleway-v2 writes a zone, the original driver a region ("par1", "ams1"). */
export function storeZone(z: string): string | undefined {
  if (/^[a-z]{2}-[a-z]{3}-\d$/.test(z)) return z;
  const legacy: Record<string, string> = { par1: 'fr-par-1', ams1: 'nl-ams-1' };
  return legacy[z];
}

