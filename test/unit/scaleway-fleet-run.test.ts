// The scaleway-fleet role through the engine, without Docker: the store is a
// temp directory read by the real scripts under /bin/sh, the API the
// stand-in, driven by the real SDK. (test/integration/fleet.test.ts runs the
// whole playbook over SSH against a test host.)
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runHost } from '../../lib/engine/run.js';
import type { HostResult } from '../../lib/engine/report-types.js';
import { validateRoleVars } from '../../lib/engine/validateVars.js';
import { Secret } from '../../lib/secrets.js';
import { parseStoreListing, readMachineStore, removeStoreEntry } from '../../lib/services/scaleway/machineStore.js';
import { scalewayFleetRole } from '../../roles/scaleway-fleet/index.js';
import { startFakeScaleway, type FakeScaleway } from '../fakes/scaleway.js';
import { ACCESS_KEY, PROJECT, RUNNER, SECRET_KEY, STORE_SECRET, leakLikeV2Driver, machineName, seedFleet, storeConfigJson, type Fleet } from '../fakes/scalewayFleet.js';
import { LocalRemote } from './helpers/localRemote.js';

let dir: string;
let fake: FakeScaleway;
let fleet: Fleet;
let tables: string[];
const store = () => join(dir, 'store');
const ledger = () => join(dir, 'state', 'ledger.json');

function writeStore(entries: Fleet['store']): void {
  for (const m of entries) {
    mkdirSync(join(store(), 'machines', m.name), { recursive: true });
    const cfg = join(store(), 'machines', m.name, 'config.json');
    writeFileSync(cfg, storeConfigJson(m.name, m.serverId, m.zone));
    const written = new Date(Date.now() - 3 * 3_600_000);
    utimesSync(cfg, written, written);
    writeFileSync(join(store(), 'machines', m.name, 'id_rsa'), 'PRIVATE KEY\n');
  }
}
const storeNames = () => readdirSync(join(store(), 'machines')).sort();

async function run(check: boolean, over: Record<string, unknown> = {}, limit = 10): Promise<HostResult> {
  const role = scalewayFleetRole({ print: (_h, t) => tables.push(t) });
  const raw = {
    scaleway: {
      project_id: PROJECT,
      zones: ['fr-par-1', 'nl-ams-1'],
      access_key: new Secret(ACCESS_KEY, 'SCW_ACCESS_KEY (test)'),
      secret_key: new Secret(SECRET_KEY, 'SCW_SECRET_KEY (test)'),
      api_url: fake.url,
      fleet_cap: 10,
      prices: { volume_gb_month: { sbs_5k: 0.08, l_ssd: 0.05 }, ip_month: 2.92 },
      ledger: ledger(),
      machine_store: store(),
      poll_interval: '10ms',
      request_timeout: '500ms',
      ...over,
    },
    gitlab_runners: [{ name: RUNNER, executor: 'docker+machine', limit, machine: { MachineName: 'fetch-%s' } }],
  };
  const { vars, problems } = validateRoleVars(role, 'mania', raw);
  if (!vars) throw new Error(problems.map((p) => p.message).join('\n'));
  return runHost('mania', async () => new LocalRemote(), [{ role, vars }], { check, wantDiff: true, tags: [], skipTags: [] });
}

const changed = (r: HostResult) => r.tasks.filter((t) => t.status === 'changed').map((t) => t.resource);
const failed = (r: HostResult) => r.tasks.filter((t) => t.status === 'failed').map((t) => `${t.resource}: ${t.error}`);

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rigger-fleet-'));
  fake = await startFakeScaleway({ secretKey: SECRET_KEY });
  fleet = seedFleet(fake);
  writeStore(fleet.store);
  tables = [];
});
afterEach(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the docker-machine store scripts', () => {
  it('list names and server ids only: the credentials in config.json never leave the host', async () => {
    const remote = new LocalRemote();
    const machines = await readMachineStore(remote, store());
    expect(machines.map((m) => [m.name, m.serverId, m.driver, m.zone])).toEqual(fleet.store.map((m) => [m.name, m.serverId, 'scaleway-v2', m.zone]));
    expect(remote.runs[0].result.stdout).not.toContain(STORE_SECRET);
    expect(remote.runs[0].result.stdout).not.toContain('SCWSTORECANARY');
    expect(await readMachineStore(remote, join(dir, 'no-store'))).toEqual([]);
    expect(() => parseStoreListing('machine\ta\tb\n', '/x')).toThrow(/cut short/);
  });

  it('remove one entry, refusing anything that is not a machine name', async () => {
    const remote = new LocalRemote();
    expect(await removeStoreEntry(remote, store(), machineName(3))).toBe(true);
    expect(await removeStoreEntry(remote, store(), machineName(3))).toBe(false);
    await expect(removeStoreEntry(remote, store(), '../machines')).rejects.toThrow(/not a machine name/);
    expect(storeNames()).not.toContain(machineName(3));
    expect(storeNames()).toHaveLength(7);
  });
});

describe('scaleway-fleet through the engine', () => {
  it('check mode: shows the table and the deletion with its diff, writes nothing anywhere', async () => {
    const r = await run(true);
    expect(failed(r)).toEqual([]);
    expect(fake.writes()).toBe(0);
    expect(existsSync(ledger())).toBe(false);
    expect(storeNames()).toHaveLength(8);
    expect(changed(r)).toEqual([`scaleway-server:fr-par-1/${fleet.stopped.id}`, `scaleway-ledger:${PROJECT}`]);
    const del = r.tasks.find((t) => t.resource.startsWith('scaleway-server:'))!;
    expect(del.summary).toMatch(/^delete stopped runner machine runner-abcd1234x-fetch-1700000003 \(server scw-3, DEV1-S, stopped\) with sbs_volume volume, l_ssd volume, flexible IP, store entry; saves 4\.72 €\/month$/);
    expect(del.diff!.after).toBe('');
    expect(del.diff!.before).toMatch(/reason: stopped/);
    expect(r.tasks.map((t) => t.resource)).toContain('scaleway-deletion:2');
    expect(tables).toHaveLength(1);
    expect(tables[0]).toMatch(/stopped: would be deleted by this run/);
    // facts, then the store: two round trips; one API request per list (4 lists + server types) per zone,
    // and one GET for the store entry whose server is in another project
    expect(r.remoteCommands).toBe(2);
    expect(r.apiRequests).toBe(11);
    expect(tables[0]).toMatch(/^no server +runner-abcd1234x-fetch-1700000008 .* server \w+ is in project 9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a: never touched$/m);
  });

  it('apply: deletes like the CLI, records the ledger, and a second run changes nothing', async () => {
    const first = await run(false);
    expect(failed(first)).toEqual([]);
    expect(changed(first)).toEqual([`scaleway-server:fr-par-1/${fleet.stopped.id}`, `scaleway-ledger:${PROJECT}`]);
    expect(fake.servers.has(fleet.stopped.id)).toBe(false);
    for (const v of fleet.stopped.volumes) expect(fake.inventory().volumes).not.toContain(v);
    expect(fake.ips.has(fleet.stopped.ips[0])).toBe(false);
    expect(storeNames()).not.toContain(machineName(3));
    expect(fake.calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path.replace(/\/[0-9a-f-]{36}/g, '/ID')}`)).toEqual([
      'DELETE /instance/v1/zones/fr-par-1/servers/ID',
      'DELETE /instance/v1/zones/fr-par-1/ips/ID',
      'DELETE /block/v1/zones/fr-par-1/volumes/ID',
      'DELETE /instance/v1/zones/fr-par-1/volumes/ID',
    ]);
    const writes = fake.writes();
    const second = await run(false);
    expect(changed(second)).toEqual([]);
    expect(second.status).toBe('ok');
    expect(fake.writes()).toBe(writes);
  });

  it('an orphan is deleted on its second sighting: powered off, then deleted with its volumes and IP', async () => {
    await run(false);
    rmSync(join(store(), 'machines', machineName(4)), { recursive: true });
    const sighting = await run(false);
    expect(changed(sighting)).toEqual([`scaleway-ledger:${PROJECT}`]);
    expect(sighting.tasks.find((t) => t.resource.startsWith('scaleway-ledger'))!.summary).toMatch(/^1 orphan sighting\(s\) in /);
    expect(fake.servers.has(fleet.orphan.id)).toBe(true);
    const check = await run(true);
    expect(changed(check)).toEqual([`scaleway-server:fr-par-1/${fleet.orphan.id}`, `scaleway-ledger:${PROJECT}`]);
    const writes = fake.writes();
    const del = await run(false);
    expect(failed(del)).toEqual([]);
    expect(fake.servers.has(fleet.orphan.id)).toBe(false);
    expect(fake.blockVolumes.has(fleet.orphan.volumes[0])).toBe(false);
    expect(fake.calls.slice(-20).some((c) => c.method === 'POST' && c.path.endsWith(`/servers/${fleet.orphan.id}/action`))).toBe(true);
    expect(fake.writes() - writes).toBe(4); // poweroff, server, IP, volume
  });

  it('leaked volumes and IPs of a gone runner machine are deleted; nobody else\'s', async () => {
    await run(false);
    const leaked = leakLikeV2Driver(fake, fleet.leaker);
    rmSync(join(store(), 'machines', machineName(6)), { recursive: true });
    const stranger = fake.addBlockVolume({ project: PROJECT, name: 'not-ours', createdAt: new Date(Date.now() - 86400_000) });
    const r = await run(false);
    expect(failed(r)).toEqual([]);
    expect(changed(r).sort()).toEqual([`scaleway-ip:fr-par-1/${leaked.ips[0]}`, `scaleway-ledger:${PROJECT}`, `scaleway-volume:fr-par-1/${leaked.volumes[0]}`].sort());
    expect(fake.blockVolumes.has(leaked.volumes[0])).toBe(false);
    expect(fake.ips.has(leaked.ips[0])).toBe(false);
    expect(fake.blockVolumes.has(stranger.id)).toBe(true);
    expect(changed(await run(false))).toEqual([]);
  });

  it('a store entry whose server is gone (deleted by hand) is removed: it would fill the runner\'s limit forever', async () => {
    const byHand = fake.addServer({ name: 'scw-40', project: PROJECT });
    fake.servers.delete(byHand.id);
    writeStore([{ name: machineName(40), serverId: byHand.id, zone: 'fr-par-1' }]);
    const check = await run(true);
    expect(changed(check)).toContain(`docker-machine-entry:${machineName(40)}`);
    expect(check.tasks.find((t) => t.resource === `docker-machine-entry:${machineName(40)}`)!.summary).toMatch(/^remove docker-machine store entry .*: its server .* is gone/);
    expect(storeNames()).toContain(machineName(40));
    const r = await run(false);
    expect(failed(r)).toEqual([]);
    expect(storeNames()).not.toContain(machineName(40));
    expect(storeNames()).toContain(machineName(8)); // its server is in another project: not ours
    expect(changed(await run(false))).toEqual([]);
  });

  it('at most max_deletions per run; the rest waits', async () => {
    const more = [fake.addServer({ name: 'scw-20', project: PROJECT, state: 'stopped' }), fake.addServer({ name: 'scw-21', project: PROJECT, state: 'stopped' })];
    writeStore(more.map((s, i) => ({ name: machineName(20 + i), serverId: s.id, zone: 'fr-par-1' })));
    const r = await run(false, { max_deletions: 2 });
    expect(changed(r).filter((x) => x.startsWith('scaleway-server:'))).toHaveLength(2);
    expect(tables[0]).toMatch(/1 more wait for the next run \(at most 2 per run\)/);
    expect([fleet.stopped, ...more].filter((s) => fake.servers.has(s.id))).toHaveLength(1);
  });

  it('over the cap: the host fails, after the cleanup that the run could make', async () => {
    const r = await run(false, {}, 6);
    expect(r.status).toBe('failed');
    expect(failed(r)).toEqual([
      `scaleway-cap:${PROJECT}: the fleet is over its bounds after this run's cleanup: runner ${RUNNER}: 7 machines in the docker-machine store, over its limit of 6`,
    ]);
    expect(fake.servers.has(fleet.stopped.id)).toBe(false);
    const check = await run(true, { fleet_cap: 5 });
    expect(failed(check)[0]).toMatch(/even after the cleanup this run would make: project .* holds 6 runner servers, over the fleet cap of 5$/);
  });

  it('an API that answers 500 or not at all: the host fails with a clear error, nothing deleted', async () => {
    fake.setFault((_m, path) => (path.endsWith('/ips') ? '500' : undefined));
    const r = await run(false);
    expect(r.status).toBe('failed');
    expect(failed(r)[0]).toMatch(/^scaleway-fleet:.*: Scaleway: listing flexible IPs of project .* in (fr-par-1|nl-ams-1) failed: http error 500: internal server error$/);
    fake.setFault(() => 'hang');
    const slow = await run(false, { request_timeout: '100ms' });
    expect(failed(slow)[0]).toMatch(/no answer within 100 ms \(3 attempts\)/);
    expect(fake.writes()).toBe(0);
    expect(existsSync(ledger())).toBe(false);
    expect(storeNames()).toHaveLength(8);
  });

  it('never shows a secret: API keys, and the credentials in the store files', async () => {
    await run(true);
    const r = await run(false);
    const text = JSON.stringify(r) + tables.join('\n');
    for (const s of [SECRET_KEY, ACCESS_KEY, STORE_SECRET, 'SCWSTORECANARY000001']) expect(text).not.toContain(s);
  });
});
