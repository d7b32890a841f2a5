// Classification, guards, costs, the ledger's next state and the cap: pure
// functions of a snapshot, a store, a ledger and a clock.
import { describe, expect, it } from 'vitest';
import { capProblems } from '../../lib/services/scaleway/cap.js';
import { classify, storeZone, totals, type FleetInput, type FleetSettings } from '../../lib/services/scaleway/classify.js';
import { fleetRunners } from '../../lib/services/scaleway/config.js';
import { serverHourly } from '../../lib/services/scaleway/costs.js';
import type { LedgerFile, LedgerServer } from '../../lib/services/scaleway/ledger.js';
import type { StoreMachine } from '../../lib/services/scaleway/machineStore.js';
import { nextLedgerEntries } from '../../lib/services/scaleway/record.js';
import type { IpView, ServerView, VolumeView, ZoneSnapshot } from '../../lib/services/scaleway/snapshot.js';
import { fleetTable } from '../../lib/services/scaleway/table.js';

const P = '0b7c5a2e-4f1d-4c3b-9a8e-6d5f4e3c2b1a';
const NOW = new Date('2026-12-01T12:00:00Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000);
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const name = (n: number) => `runner-abcd1234x-fetch-${n}`;

const SETTINGS: FleetSettings = { projectId: P, zones: ['fr-par-1'], graceMs: 3_600_000, maxDeletions: 10, keep: [], prices: { volumeGbMonth: { sbs_5k: 0.08, l_ssd: 0.05 }, ipMonth: 2.92 }, fleetCap: 10 };
const RUNNERS = fleetRunners([{ name: 'autoscale', executor: 'docker+machine', limit: 5, machine: { MachineName: 'fetch-%s' } }]);

function server(n: number, o: Partial<ServerView> = {}): ServerView {
  return {
    zone: 'fr-par-1',
    id: uuid(n),
    name: `scw-${n}`,
    project: P,
    state: 'running',
    commercialType: 'DEV1-S',
    createdAt: hoursAgo(30),
    protected: false,
    tags: [],
    volumes: [{ id: uuid(1000 + n), type: 'sbs_volume' }],
    flexibleIps: [{ id: uuid(2000 + n), address: `51.15.0.${n}` }],
    allowedActions: [],
    ...o,
  };
}
const volumeOf = (s: ServerView, o: Partial<VolumeView> = {}): VolumeView => ({ zone: 'fr-par-1', id: s.volumes[0].id, api: 'block', type: 'sbs_5k', name: `${s.name}-root`, sizeBytes: 10e9, project: P, attachedTo: s.id, createdAt: s.createdAt, detachedAt: s.createdAt, ...o });
const ipOf = (s: ServerView, o: Partial<IpView> = {}): IpView => ({ zone: 'fr-par-1', id: s.flexibleIps[0].id, address: s.flexibleIps[0].address, project: P, attachedTo: s.id, ...o });
const inStore = (n: number, s?: ServerView): StoreMachine => ({ name: name(n), serverId: s?.id ?? uuid(n), driver: 'scaleway-v2', zone: 'fr-par-1', modifiedAt: hoursAgo(30) });
const record = (n: number, o: Partial<LedgerServer> = {}): LedgerServer => ({ machine: name(n), recordedAt: hoursAgo(20).toISOString(), volumes: [uuid(1000 + n)], ips: [uuid(2000 + n)], ...o });

function input(o: { servers: ServerView[]; volumes?: VolumeView[]; ips?: IpView[]; store?: StoreMachine[]; ledger?: LedgerFile; settings?: Partial<FleetSettings> }): FleetInput {
  const zone: ZoneSnapshot = {
    servers: o.servers,
    volumes: o.volumes ?? o.servers.map((s) => volumeOf(s)),
    ips: o.ips ?? o.servers.map((s) => ipOf(s)),
    hourlyPrices: { 'DEV1-S': 0.01368, 'GP1-XS': 0.0919 },
  };
  return { host: 'mania', settings: { ...SETTINGS, ...o.settings }, runners: RUNNERS, api: { project: P, zones: { 'fr-par-1': zone } }, store: o.store ?? [], ledger: o.ledger ?? { version: 1, hosts: {} }, now: NOW };
}
const ledger = (entries: Record<string, LedgerServer>, host = 'mania'): LedgerFile => ({ version: 1, hosts: { [host]: { [P]: entries } } });
const rowOf = (plan: ReturnType<typeof classify>, s: ServerView) => plan.rows.find((r) => r.server?.id === s.id)!;

describe('classification: a runner machine only by evidence', () => {
  it('in the store now: running -> in store, powered off -> stopped (deleted)', () => {
    const a = server(1);
    const b = server(2, { state: 'stopped' });
    const plan = classify(input({ servers: [a, b], store: [inStore(1, a), inStore(2, b)] }));
    expect(rowOf(plan, a)).toMatchObject({ class: 'in-store', machine: name(1), runner: 'autoscale', evidence: ['store'], action: 'none' });
    expect(rowOf(plan, b)).toMatchObject({ class: 'stopped', action: 'delete' });
    expect(plan.targets.map((t) => t.id)).toEqual([`scaleway-server:fr-par-1/${b.id}`]);
  });

  it('a runner-looking name alone is foreign: shown, never touched, and warned about', () => {
    const decoy = server(3, { name: name(3), state: 'stopped', createdAt: hoursAgo(500) });
    const mail = server(4, { name: 'mail', commercialType: 'GP1-XS' });
    const plan = classify(input({ servers: [decoy, mail] }));
    expect(plan.rows.map((r) => r.class)).toEqual(['foreign', 'foreign']);
    expect(plan.targets).toEqual([]);
    expect(plan.warnings.join('\n')).toMatch(/holds 2 server\(s\) that are not runner machines \(runner-abcd1234x-fetch-3, mail\)/);
  });

  it('recorded by an earlier run, in no store now: an orphan, deleted only on its second sighting', () => {
    const o = server(5);
    const first = classify(input({ servers: [o], ledger: ledger({ [`fr-par-1/${o.id}`]: record(5) }) }));
    expect(rowOf(first, o)).toMatchObject({ class: 'orphan', evidence: ['ledger'], action: 'kept' });
    expect(rowOf(first, o).note).toMatch(/first sighting/);
    expect(first.targets).toEqual([]);
    const second = classify(input({ servers: [o], ledger: ledger({ [`fr-par-1/${o.id}`]: record(5, { orphanSince: hoursAgo(1).toISOString() }) }) }));
    expect(rowOf(second, o).action).toBe('delete');
    expect(second.targets[0]).toMatchObject({ kind: 'server', reason: 'orphan', inStore: false });
  });

  it("the driver's marker counts only when it names a machine the store has or had", () => {
    const dup = server(6, { tags: [`docker-machine=${name(1)}`] });
    const stranger = server(7, { tags: ['docker-machine=runner-zzzz9999z-fetch-1'] });
    const a = server(1);
    const plan = classify(input({ servers: [a, dup, stranger], store: [inStore(1, a)], settings: { markerTag: 'docker-machine=%s' } }));
    expect(rowOf(plan, dup)).toMatchObject({ class: 'orphan', evidence: ['marker'], machine: name(1) });
    expect(rowOf(plan, stranger).class).toBe('foreign');
    // without a marker setting, tags are no evidence
    expect(rowOf(classify(input({ servers: [a, dup], store: [inStore(1, a)] })), dup).class).toBe('foreign');
  });

  it("another host's record: a runner machine left to that host", () => {
    const s = server(8, { state: 'stopped' });
    const plan = classify(input({ servers: [s], ledger: ledger({ [`fr-par-1/${s.id}`]: record(8) }, 'hermes') }));
    expect(rowOf(plan, s)).toMatchObject({ class: 'other-host', action: 'none' });
    expect(plan.targets).toEqual([]);
  });

  it('a store entry without a server in the zones: removed only when its server is proven gone (404), and old enough', () => {
    const plan = classify(input({ servers: [], store: [inStore(9)] }));
    expect(plan.rows).toMatchObject([{ class: 'ghost', machine: name(9), storeServerId: uuid(9), stuck: true, action: 'none' }]);
    expect(plan.targets).toEqual([]);
    const gone = classify({ ...input({ servers: [], store: [inStore(9), inStore(10), { ...inStore(11), modifiedAt: hoursAgo(0.1) }, inStore(12)], settings: { keep: [name(12)] } }), storeLookups: { [uuid(9)]: { status: 'gone' }, [uuid(10)]: { status: 'elsewhere', project: 'other' }, [uuid(11)]: { status: 'gone' }, [uuid(12)]: { status: 'gone' } } });
    expect(gone.targets).toEqual([{ kind: 'store-entry', id: `docker-machine-entry:${name(9)}`, machine: name(9), zone: 'fr-par-1', serverId: uuid(9), cost: { hourly: 0, unpriced: [] } }]);
    expect(gone.rows.map((r) => [r.machine, r.action, r.stuck])).toEqual([
      [name(9), 'delete', true],
      [name(10), 'none', false],
      [name(11), 'kept', true],
      [name(12), 'kept', true],
    ]);
    expect(gone.rows[1].note).toBe('server 00000000 is in project other: never touched');
    // removing it takes it out of the runner's count
    const small = { ...gone, runners: fleetRunners([{ name: 'autoscale', executor: 'docker+machine', limit: 3, machine: { MachineName: 'fetch-%s' } }]) };
    expect(capProblems(small, [])).toHaveLength(2);
    expect(capProblems(small, gone.targets)).toEqual([]);
  });
});

describe('guards', () => {
  const stopped = (n: number, o: Partial<ServerView> = {}) => server(n, { state: 'stopped', ...o });

  it('protected servers and the keep-list are never touched (by id, server name or machine name)', () => {
    const p = stopped(1, { protected: true });
    const k1 = stopped(2);
    const k2 = stopped(3, { name: 'keep-me' });
    const k3 = stopped(4);
    const plan = classify(input({ servers: [p, k1, k2, k3], store: [inStore(1, p), inStore(2, k1), inStore(3, k2), inStore(4, k3)], settings: { keep: [k1.id, 'keep-me', name(4)] } }));
    expect(plan.rows.map((r) => [r.action, r.note])).toEqual([
      ['kept', 'protected'],
      ['kept', 'in the keep-list'],
      ['kept', 'in the keep-list'],
      ['kept', 'in the keep-list'],
    ]);
    expect(plan.targets).toEqual([]);
  });

  it('nothing younger than the grace period', () => {
    const young = stopped(1, { createdAt: hoursAgo(0.5) });
    const plan = classify(input({ servers: [young], store: [inStore(1, young)] }));
    expect(rowOf(plan, young).action).toBe('kept');
    expect(rowOf(plan, young).note).toMatch(/younger than the grace period \(30m < 1h\)/);
  });

  it('a server in a transient state waits for a later run', () => {
    const s = server(1, { state: 'stopping' });
    const o = server(2, { state: 'locked' });
    const plan = classify(input({ servers: [s, o], store: [inStore(1, s)], ledger: ledger({ [`fr-par-1/${o.id}`]: record(2, { orphanSince: hoursAgo(2).toISOString() }) }) }));
    expect(plan.rows.map((r) => r.note)).toEqual(['in store, stopping', 'locked: left for a later run']);
    expect(plan.targets).toEqual([]);
  });

  it('at most max_deletions per run: stopped ones first, oldest first; the rest deferred and reported', () => {
    const servers = [stopped(1, { createdAt: hoursAgo(50) }), stopped(2, { createdAt: hoursAgo(90) }), stopped(3, { createdAt: hoursAgo(70) }), server(4)];
    const l = ledger({ [`fr-par-1/${servers[3].id}`]: record(4, { orphanSince: hoursAgo(3).toISOString() }) });
    const plan = classify(input({ servers, store: servers.slice(0, 3).map((s, i) => inStore(i + 1, s)), ledger: l, settings: { maxDeletions: 2 } }));
    expect(plan.targets.map((t) => (t.kind === 'server' ? t.server.name : t.id))).toEqual(['scw-2', 'scw-3']);
    expect(plan.deferred.map((t) => (t.kind === 'server' ? t.server.name : t.id))).toEqual(['scw-1', 'scw-4']);
    expect(rowOf(plan, servers[0])).toMatchObject({ action: 'deferred' });
    expect(rowOf(plan, servers[0]).note).toMatch(/limit of 2 deletions per run/);
    expect(fleetTable(plan, 'check')).toMatch(/2 more wait for the next run \(at most 2 per run\)/);
    expect(classify(input({ servers, store: [], settings: { maxDeletions: 0 } })).targets).toEqual([]);
  });

  it('leaked volumes and IPs: only those recorded with a runner machine that is gone, detached longer than the grace period', () => {
    const gone = server(1);
    const recentGone = server(2);
    const live = server(3, { state: 'stopped', protected: true });
    const volumes = [
      volumeOf(gone, { attachedTo: null, detachedAt: hoursAgo(3) }),
      volumeOf(recentGone, { attachedTo: null, detachedAt: hoursAgo(0.2) }),
      volumeOf(live, { attachedTo: null, detachedAt: hoursAgo(10) }),
      { ...volumeOf(server(4), { attachedTo: null }), name: 'someone-elses' },
    ];
    const ips = [ipOf(gone, { attachedTo: null }), ipOf(recentGone, { attachedTo: uuid(77) }), ipOf(server(5), { attachedTo: null })];
    const l = ledger({ [`fr-par-1/${gone.id}`]: record(1), [`fr-par-1/${recentGone.id}`]: record(2), [`fr-par-1/${live.id}`]: record(3) });
    const plan = classify(input({ servers: [live], volumes, ips, ledger: l }));
    expect(plan.leaks.map((x) => [x.kind, x.machine, x.action])).toEqual([
      ['volume', name(1), 'delete'],
      ['volume', name(2), 'kept'],
      ['ip', name(1), 'delete'],
    ]);
    expect(plan.targets.map((t) => t.id).sort()).toEqual([`scaleway-ip:fr-par-1/${gone.flexibleIps[0].id}`, `scaleway-volume:fr-par-1/${gone.volumes[0].id}`]);
  });

  it('only the configured zones are read; a store machine in another zone is warned about', () => {
    const plan = classify(input({ servers: [], store: [{ ...inStore(1), zone: 'pl-waw-1' }] }));
    expect(plan.warnings.join('\n')).toMatch(/zone pl-waw-1, which scaleway.zones does not list/);
    expect(storeZone('par1')).toBe('fr-par-1');
    expect(storeZone('nl-ams-2')).toBe('nl-ams-2');
  });
});

describe('costs', () => {
  it('running: compute + volumes + IPs; powered off: volumes and IPs only; stop_in_place billed like running', () => {
    const zone: ZoneSnapshot = { servers: [], volumes: [], ips: [], hourlyPrices: { 'DEV1-S': 0.01368 } };
    const s = server(1);
    zone.volumes.push(volumeOf(s));
    const running = serverHourly(s, zone, SETTINGS.prices);
    expect(running.compute).toBe(0.01368);
    expect(running.hourly).toBeCloseTo(0.01368 + (10 * 0.08) / 730 + 2.92 / 730, 10);
    expect(serverHourly({ ...s, state: 'stopped' }, zone, SETTINGS.prices).hourly).toBeCloseTo((10 * 0.08) / 730 + 2.92 / 730, 10);
    expect(serverHourly({ ...s, state: 'stopped in place' }, zone, SETTINGS.prices).hourly).toBeCloseTo(running.hourly, 10);
    expect(serverHourly({ ...s, commercialType: 'NEW-1' }, zone, SETTINGS.prices).unpriced).toEqual(['type NEW-1']);
    expect(serverHourly(s, zone, { volumeGbMonth: {} }).unpriced).toEqual(['sbs_5k volumes', 'flexible IPs']);
  });

  it('totals per hour and month, and what deleting the stopped and orphaned ones saves', () => {
    const a = server(1);
    const b = server(2, { state: 'stopped' });
    const mail = server(3, { name: 'mail', commercialType: 'GP1-XS' });
    const plan = classify(input({ servers: [a, b, mail], store: [inStore(1, a), inStore(2, b)] }));
    const t = totals(plan);
    const storage = (10 * 0.08) / 730 + 2.92 / 730;
    expect(t.runners.hourly).toBeCloseTo(0.01368 + 2 * storage, 10);
    expect(t.foreign.hourly).toBeCloseTo(0.0919 + storage, 10);
    expect(t.savable.hourly).toBeCloseTo(storage, 10);
    expect(t.thisRun.hourly).toBeCloseTo(storage, 10);
    const table = fleetTable(plan, 'apply');
    expect(table).toMatch(/total 0\.1209 €\/h \(88\.23 €\/month\)/);
    expect(table).toMatch(/would save 0\.0051 €\/h \(3\.72 €\/month\); this run deletes 1 of them, saving 3\.72 €\/month/);
  });
});

describe('the ledger after a run', () => {
  it('records store machines with their volumes and IPs, sightings of orphans, and forgets what is entirely gone', () => {
    const a = server(1);
    const o = server(2);
    const gone = server(3);
    const b = server(4, { state: 'stopped' });
    const before = ledger({ [`fr-par-1/${o.id}`]: record(2), [`fr-par-1/${gone.id}`]: record(3), [`fr-par-1/${b.id}`]: record(4) });
    const plan = classify(input({ servers: [a, o, b], store: [inStore(1, a), inStore(4, b)], ledger: before }));
    expect(plan.targets.map((t) => t.id)).toEqual([`scaleway-server:fr-par-1/${b.id}`]);
    const next = nextLedgerEntries(plan, plan.targets, NOW);
    expect(Object.keys(next).sort()).toEqual([`fr-par-1/${a.id}`, `fr-par-1/${o.id}`].sort());
    expect(next[`fr-par-1/${a.id}`]).toEqual({ machine: name(1), recordedAt: NOW.toISOString(), volumes: [a.volumes[0].id], ips: [a.flexibleIps[0].id] });
    expect(next[`fr-par-1/${o.id}`].orphanSince).toBe(NOW.toISOString());
    // Nothing was deleted: the stopped machine stays recorded.
    expect(Object.keys(nextLedgerEntries(plan, [], NOW))).toContain(`fr-par-1/${b.id}`);
  });

  it('is stable: the next run over the same fleet records nothing new', () => {
    const a = server(1);
    const o = server(2);
    const first = classify(input({ servers: [a, o], store: [inStore(1, a)], ledger: ledger({ [`fr-par-1/${o.id}`]: record(2) }) }));
    const after = nextLedgerEntries(first, first.targets, NOW);
    const second = classify(input({ servers: [a, o], store: [inStore(1, a)], ledger: ledger(after) }));
    expect(second.targets.map((t) => t.id)).toEqual([`scaleway-server:fr-par-1/${o.id}`]);
    const later = new Date(NOW.getTime() + 60_000);
    const third = classify({ ...input({ servers: [a], store: [inStore(1, a)], ledger: ledger(nextLedgerEntries(second, second.targets, later)) }), now: later });
    expect(nextLedgerEntries(third, [], later)).toEqual(nextLedgerEntries(second, second.targets, later));
  });

  it('a machine back in the store loses its orphan sighting', () => {
    const a = server(1);
    const plan = classify(input({ servers: [a], store: [inStore(1, a)], ledger: ledger({ [`fr-par-1/${a.id}`]: record(1, { orphanSince: hoursAgo(1).toISOString() }) }) }));
    expect(nextLedgerEntries(plan, [], NOW)[`fr-par-1/${a.id}`].orphanSince).toBeUndefined();
  });
});

describe('the cap, as things stand after the cleanup', () => {
  it("a runner's machines over its limit, and machines stuck in removal filling it", () => {
    const servers = [1, 2, 3, 4, 5, 6].map((n) => server(n, { state: n > 3 ? 'stopped' : 'running', protected: n === 6 }));
    const store = servers.map((s, i) => inStore(i + 1, s));
    const plan = classify(input({ servers, store, settings: { maxDeletions: 1 } }));
    expect(plan.targets).toHaveLength(1);
    // 6 store entries, one deleted: 5 = limit, fine; but before the cleanup 6 > 5.
    expect(capProblems(plan, plan.targets)).toEqual([]);
    expect(capProblems(plan, [])).toEqual(['runner autoscale: 6 machines in the docker-machine store, over its limit of 5']);
    const stuck = classify(input({ servers, store, settings: { maxDeletions: 0 } }));
    const small = { ...stuck, runners: fleetRunners([{ name: 'autoscale', executor: 'docker+machine', limit: 3, machine: { MachineName: 'fetch-%s' } }]) };
    expect(capProblems(small, [])).toEqual([
      'runner autoscale: 6 machines in the docker-machine store, over its limit of 3',
      'runner autoscale: 3 of its 3 machines are stuck in removal (powered off, or a store entry without a server): it cannot create machines while jobs wait',
    ]);
  });

  it("the project's runner servers over the fleet cap; foreign servers do not count", () => {
    const servers = [server(1), server(2), server(3, { state: 'stopped' }), server(4, { name: 'mail' })];
    const plan = classify(input({ servers, store: servers.slice(0, 3).map((s, i) => inStore(i + 1, s)), settings: { fleetCap: 2 } }));
    expect(capProblems(plan, plan.targets)).toEqual([]);
    expect(capProblems(plan, [])).toEqual([`project ${P} holds 3 runner servers, over the fleet cap of 2`]);
    const one = { ...plan, settings: { ...plan.settings, fleetCap: 1 } };
    expect(capProblems(one, [])).toEqual([`project ${P} holds 3 runner servers, over the fleet cap of 1`, '1 powered-off runner servers fill the fleet cap of 1']);
  });

  it("warns when the runners' limits allow more machines than the fleet cap", () => {
    expect(classify(input({ servers: [], settings: { fleetCap: 4 } })).warnings).toEqual([
      "the runners' limits on mania add up to 5 machines, over the fleet cap of 4: gitlab-runner's limit is what bounds the fleet, lower it",
    ]);
    expect(classify(input({ servers: [], settings: { fleetCap: 5 } })).warnings).toEqual([]);
  });

  it('machine names are matched to runners by their MachineName', () => {
    const [r] = fleetRunners([{ name: 'x', executor: 'docker+machine', limit: 2, machine: { MachineName: 'fetch-%s-big' } }]);
    expect(r.pattern.test('runner-t1_abc-de-fetch-1700000000-big')).toBe(true);
    expect(r.pattern.test('runner-abcd1234-fetch-1700000000')).toBe(false);
    expect(r.pattern.test('fetch-1-big')).toBe(false);
    expect(fleetRunners([{ name: 'static', executor: 'docker' }])).toEqual([]);
  });
});
