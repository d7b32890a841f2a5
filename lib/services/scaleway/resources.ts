// The fleet as API resources of one runner host, in the order they run:
//
//   scaleway-fleet:<project>     reads the store, the ledger and the API once
//                                per run; prints the table; never a change
//   scaleway-<kind>:<zone>/<id>  one per deletion this run makes (at most
//   docker-machine-entry:<name>  max_deletions): a diff of the object -> absent
//   scaleway-ledger:<project>    what this apply run records for later runs
//   scaleway-cap:<project>       fails the host when the fleet is over its
//                                bounds after the cleanup; last, so a cap
//                                failure never stops the cleanup before it
//
// Deletion targets are known only once the fleet is read, after the role has
// listed its resources: the engine has no resource that expands into others
// on read, so the role lists max_deletions deletion slots, and each takes the
// id of its target (or keeps `scaleway-deletion:<n>` when there is none).
import type { ApiResource, Change, HostContext, RunContext } from '../../engine/types.js';
import { objectDiff, stableJson } from '../../report/objectText.js';
import { capProblems } from './cap.js';
import { classify, storeZone, type FleetPlan, type Target } from './classify.js';
import { scalewayApis, type ScalewayApis } from './client.js';
import type { FleetConfig, FleetRunner } from './config.js';
import { HOURS_PER_MONTH } from './costs.js';
import { deleteLeakedIp, deleteLeakedVolume, deleteServerLikeCli, serverExists } from './delete.js';
import { formatAge } from './duration.js';
import { entriesOf, readLedger, writeLedgerEntries, type LedgerEntries } from './ledger.js';
import { readMachineStore, removeStoreEntry } from './machineStore.js';
import { nextLedgerEntries } from './record.js';
import { lookUpStoreServers, readApiSnapshot } from './snapshot.js';
import { fleetTable } from './table.js';

export interface FleetResourceOptions {
  host: string;
  config: FleetConfig;
  runners: FleetRunner[];
  /** where the table goes besides the -v log (the fleet playbook prints it) */
  print?: (host: string, text: string) => void;
  /** for tests */
  now?: () => Date;
  /** for tests: list page size */
  pageSize?: number;
}

interface FleetRun {
  plan: FleetPlan;
  apis: ScalewayApis;
  /** targets deleted so far by this (apply) run */
  deleted: Target[];
  printed: boolean;
}

/** Each host's fleet, read once per run: keyed by the options its role made for this run (one per run and host). */
const runs = new WeakMap<FleetResourceOptions, Promise<FleetRun>>();

function hostContext(ctx: RunContext): HostContext {
  const h = ctx as HostContext;
  if (!h.remote) throw new Error('the Scaleway fleet runs on a runner host (it reads the host\'s docker-machine store), not on "local"');
  return h;
}

/** The fleet of this host, read once per run: store (one round trip), ledger, API (counted). */
function fleetRun(ctx: RunContext, o: FleetResourceOptions): Promise<FleetRun> {
  const h = hostContext(ctx);
  let run = runs.get(o);
  if (!run) {
    run = (async () => {
      const c = o.config;
      const apis = scalewayApis(c.credentials, { check: ctx.check, count: (n) => ctx.countApiRequests(n), log: ctx.log, timeoutMs: c.requestTimeoutMs });
      const [store, ledger, api] = await Promise.all([readMachineStore(h.remote, c.machineStore), readLedger(c.ledgerPath), readApiSnapshot(apis, c.projectId, c.zones, o.pageSize)]);
      const listed = new Set(Object.values(api.zones).flatMap((z) => z.servers.map((s) => s.id)));
      const unlisted = store.flatMap((m) => {
        const zone = storeZone(m.zone);
        return m.serverId && !listed.has(m.serverId) && zone && c.zones.includes(zone) ? [{ zone, serverId: m.serverId }] : [];
      });
      const storeLookups = await lookUpStoreServers(apis, unlisted);
      const plan = classify({ host: o.host, settings: c, runners: o.runners, api, store, ledger, storeLookups, now: (o.now ?? (() => new Date()))() });
      return { plan, apis, deleted: [], printed: false };
    })();
    runs.set(o, run);
  }
  return run;
}

/** What a check run assumes deleted, or what an apply run did delete. */
const deletedSoFar = (run: FleetRun, ctx: RunContext) => (ctx.check ? run.plan.targets : run.deleted);

function fleetStatus(o: FleetResourceOptions): ApiResource<FleetRun> {
  return {
    id: `scaleway-fleet:${o.config.projectId}`,
    tags: [],
    notify: [],
    read: (ctx) => fleetRun(ctx, o),
    plan(run, ctx) {
      if (!run.printed) {
        run.printed = true;
        const table = fleetTable(run.plan, ctx.check ? 'check' : 'apply');
        for (const line of table.trimEnd().split('\n')) ctx.log(line);
        o.print?.(o.host, table);
      }
      return null;
    },
    async apply() {},
  };
}

/** The object a deletion removes, as its diff shows it. */
function describe(t: Target, now: Date): Record<string, unknown> {
  const month = (h: number) => Number((h * HOURS_PER_MONTH).toFixed(2));
  if (t.kind === 'server') {
    const s = t.server;
    return {
      name: s.name,
      machine: t.machine,
      reason: t.reason,
      project: s.project,
      state: s.state,
      commercial_type: s.commercialType,
      created: s.createdAt.toISOString(),
      age: formatAge(now.getTime() - s.createdAt.getTime()),
      protected: s.protected,
      volumes: s.volumes.map((v) => {
        const full = t.volumes.find((x) => x.id === v.id);
        return { id: v.id, type: full?.type ?? v.type, api: v.type === 'sbs_volume' ? 'block' : 'instance', size_gb: full ? Math.round(full.sizeBytes / 1e9) : undefined };
      }),
      flexible_ips: s.flexibleIps.map((ip) => ip.address),
      docker_machine_store_entry: t.inStore ? t.machine : undefined,
      eur_per_month: month(t.cost.hourly),
    };
  }
  if (t.kind === 'store-entry') return { docker_machine_store_entry: t.machine, server_id: t.serverId, server: 'gone (404)', zone: t.zone };
  if (t.kind === 'volume') {
    const v = t.volume;
    return { name: v.name, machine: t.machine, type: v.type, api: v.api, project: v.project, size_gb: Math.round(v.sizeBytes / 1e9), created: v.createdAt.toISOString(), attached_to: null, eur_per_month: month(t.cost.hourly) };
  }
  return { address: t.ip.address, machine: t.machine, project: t.ip.project, attached_to: null, eur_per_month: month(t.cost.hourly) };
}

function summaryOf(t: Target): string {
  const saves = `saves ${(t.cost.hourly * HOURS_PER_MONTH).toFixed(2)} €/month`;
  if (t.kind === 'server') {
    const s = t.server;
    const parts = [
      ...s.volumes.map((v) => `${v.type} volume`),
      ...s.flexibleIps.map(() => 'flexible IP'),
      ...(t.inStore ? ['store entry'] : []),
    ];
    return `delete ${t.reason} runner machine ${t.machine ?? s.name} (server ${s.name}, ${s.commercialType}, ${s.state}) with ${parts.join(', ') || 'nothing else'}; ${saves}`;
  }
  if (t.kind === 'store-entry') return `remove docker-machine store entry ${t.machine}: its server ${t.serverId} is gone, the entry fills the runner's limit`;
  if (t.kind === 'volume') return `delete leaked ${t.volume.type} volume ${t.volume.name} (${Math.round(t.volume.sizeBytes / 1e9)} GB) of gone runner machine ${t.machine}; ${saves}`;
  return `delete leaked flexible IP ${t.ip.address} of gone runner machine ${t.machine}; ${saves}`;
}

interface SlotState {
  run: FleetRun;
  target?: Target;
}

function deletionSlot(o: FleetResourceOptions, n: number): ApiResource<SlotState, Target> {
  const slot: ApiResource<SlotState, Target> = {
    id: `scaleway-deletion:${n}`,
    tags: [],
    notify: [],
    async read(ctx) {
      const run = await fleetRun(ctx, o);
      const target = run.plan.targets[n - 1];
      if (target) slot.id = target.id;
      return { run, target };
    },
    plan({ run, target }): Change<Target> | null {
      if (!target) return null;
      return { summary: summaryOf(target), diff: objectDiff(target.id, describe(target, run.plan.now), null), data: target };
    },
    async apply(change, ctx) {
      const t = change.data!;
      const run = await fleetRun(ctx, o);
      const opts = { project: o.config.projectId, pollIntervalMs: o.config.pollIntervalMs, poweroffTimeoutMs: o.config.poweroffTimeoutMs, log: ctx.log };
      if (t.kind === 'server') {
        const done = await deleteServerLikeCli(run.apis, t.server.zone, t.server.id, opts);
        if (!done.server) ctx.log(`server ${t.server.id} was already gone`);
        // gitlab-runner counts store entries toward its limit, and forgets a machine whose entry is gone.
        if (t.inStore && t.machine) await removeStoreEntry(hostContext(ctx).remote, o.config.machineStore, t.machine);
      } else if (t.kind === 'store-entry') {
        if (await serverExists(run.apis, t.zone, t.serverId)) throw new Error(`refusing to remove store entry ${t.machine}: its server ${t.serverId} exists again`);
        await removeStoreEntry(hostContext(ctx).remote, o.config.machineStore, t.machine);
      } else if (t.kind === 'volume') {
        if (!(await deleteLeakedVolume(run.apis, t.volume.zone, t.volume.id, t.volume.api, opts))) ctx.log(`volume ${t.volume.id} was already gone`);
      } else if (!(await deleteLeakedIp(run.apis, t.ip.zone, t.ip.id, opts))) ctx.log(`flexible IP ${t.ip.address} was already gone`);
      run.deleted.push(t);
    },
  };
  return slot;
}

interface LedgerState {
  before: LedgerEntries;
  after: LedgerEntries;
}

function ledgerRecord(o: FleetResourceOptions): ApiResource<LedgerState, LedgerEntries> {
  const c = o.config;
  return {
    id: `scaleway-ledger:${c.projectId}`,
    tags: [],
    notify: [],
    async read(ctx) {
      const run = await fleetRun(ctx, o);
      // Read again: the deletions before this resource do not change it, another host of the run may have.
      const before = entriesOf(await readLedger(c.ledgerPath), o.host, c.projectId);
      return { before, after: nextLedgerEntries({ ...run.plan, ledgerBefore: before }, deletedSoFar(run, ctx), run.plan.now) };
    },
    plan({ before, after }): Change<LedgerEntries> | null {
      if (stableJson(before) === stableJson(after)) return null;
      const added = Object.keys(after).filter((k) => !before[k]).length;
      const forgotten = Object.keys(before).filter((k) => !after[k]).length;
      const sightings = Object.keys(after).filter((k) => after[k].orphanSince && !before[k]?.orphanSince).length;
      const parts = [added && `record ${added} runner machine(s)`, sightings && `${sightings} orphan sighting(s)`, forgotten && `forget ${forgotten} gone machine(s)`].filter(Boolean);
      return {
        summary: `${parts.join(', ') || 'update records'} in ${c.ledgerPath}`,
        diff: objectDiff(`${c.ledgerPath}#${o.host}/${c.projectId}`, before, after),
        data: after,
      };
    },
    async apply(change) {
      await writeLedgerEntries(c.ledgerPath, o.host, c.projectId, change.data!);
    },
  };
}

function capCheck(o: FleetResourceOptions): ApiResource<string[]> {
  return {
    id: `scaleway-cap:${o.config.projectId}`,
    tags: [],
    notify: [],
    async read(ctx) {
      const run = await fleetRun(ctx, o);
      return capProblems(run.plan, deletedSoFar(run, ctx));
    },
    plan(problems, ctx) {
      if (!problems.length) return null;
      throw new Error(`the fleet is over its bounds ${ctx.check ? 'even after the cleanup this run would make' : 'after this run\'s cleanup'}: ${problems.join('; ')}`);
    },
    async apply() {},
  };
}

export function fleetResources(o: FleetResourceOptions): ApiResource[] {
  return [fleetStatus(o), ...Array.from({ length: o.config.maxDeletions }, (_, i) => deletionSlot(o, i + 1)), ledgerRecord(o), capCheck(o)];
}
