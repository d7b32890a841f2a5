/**
 * playbooks/fleet.ts against a shared test host playing `mania`: its
 * docker-machine store (config.json files with credentials, as gitlab-runner's
 * store has them) is written onto the host over `docker exec`, and the
 * Scaleway stand-in (127.0.0.1, called from the control machine through the
 * real SDK, SCW_API_URL) holds busy, idle, stopped, orphaned and leaked
 * resources and the decoys: a mail server in the same project, a protected
 * runner-looking server, a server in another project, a young orphan, a
 * runner-named server no store knows. The store is read over real SSH.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fleetPlaybook } from '../../playbooks/fleet.js';
import { startFakeScaleway, type FakeScaleway } from '../fakes/scaleway.js';
import { ACCESS_KEY, RUNNER, SECRET_KEY, STORE_SECRET, leakLikeV2Driver, machineName, scalewayVarToml, seedFleet, storeConfigJson, type Fleet } from '../fakes/scalewayFleet.js';
import { dexec, sh } from './helpers/hostState.js';
import { runCaptured, type CapturedRun } from './helpers/run.js';

const execFileP = promisify(execFile);
const state = inject('testhosts');
const host = state.hosts[0];
const STORE = '/root/.docker/machine';
const SCW_VARS = ['SCW_ACCESS_KEY', 'SCW_SECRET_KEY', 'SCW_API_URL', 'SCW_CONFIG_PATH', 'SCW_PROFILE'];

let fake: FakeScaleway;
let fleet: Fleet;
let tmp: string;
let ledgerPath: string;
let tables: string[];
let savedEnv: Record<string, string | undefined>;

async function inventory(file: string, scaleway: string, limit = 10): Promise<string> {
  const path = join(tmp, file);
  await writeFile(
    path,
    `[defaults]
user = "root"
private_key = ${JSON.stringify(state.privateKey)}
known_hosts = ${JSON.stringify(state.knownHosts)}
secrets = "fleet-secrets.toml"

[hosts]
mania = { host = "127.0.0.1", port = ${host.port}, groups = ["autoscale_runners"] }

[groups.autoscale_runners.vars]
gitlab_runners = [
  { name = "${RUNNER}", executor = "docker+machine", limit = ${limit}, machine = { MachineName = "fetch-%s", MachineDriver = "scaleway-v2" } },
]
${scaleway}
`,
  );
  return path;
}
const mainInventory = () => inventory('fleet.toml', scalewayVarToml({ ledger: ledgerPath }));

async function play(inv: string, ...flags: string[]): Promise<CapturedRun & { table: string }> {
  tables = [];
  const run = await runCaptured(fleetPlaybook((_h, t) => tables.push(t)), ['-i', inv, '--limit', 'mania', ...flags]);
  return { ...run, table: tables.join('') };
}

const changed = (run: CapturedRun) => (run.report?.hosts.mania?.tasks ?? []).filter((t) => t.status === 'changed').map((t) => t.resource);
const storeNames = async () => (await sh(host.containerId, `ls ${STORE}/machines`)).trim().split('\n').filter(Boolean).sort();
const exists = (id: string) => fake.servers.has(id);

async function writeStore(entries: Fleet['store']): Promise<void> {
  for (const m of entries) {
    const dir = `${STORE}/machines/${m.name}`;
    const r = await dexec(host.containerId, `mkdir -p ${dir} && cat > ${dir}/config.json && echo key > ${dir}/id_rsa && chmod 600 ${dir}/config.json ${dir}/id_rsa`, storeConfigJson(m.name, m.serverId, m.zone));
    if (r.code !== 0) throw new Error(r.stderr);
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'rigger-fleet-it-'));
  ledgerPath = join(tmp, 'state', 'scaleway-fleet.json');
  await writeFile(join(tmp, 'fleet-secrets.toml'), `SCW_ACCESS_KEY = "${ACCESS_KEY}"\nSCW_SECRET_KEY = "${SECRET_KEY}"\n`, { mode: 0o600 });
  savedEnv = Object.fromEntries(SCW_VARS.map((k) => [k, process.env[k]]));
  for (const k of SCW_VARS) delete process.env[k];
  fake = await startFakeScaleway({ secretKey: SECRET_KEY });
  fleet = seedFleet(fake);
  process.env.SCW_API_URL = fake.url;
  process.env.SCW_CONFIG_PATH = join(tmp, 'no-scw-config.yaml');
  await sh(host.containerId, `rm -rf ${STORE}`);
  // a machine whose server was deleted by hand in the console: its store entry is stuck
  const byHand = fake.addServer({ name: 'deleted-by-hand', project: fleet.busy.project });
  fake.servers.delete(byHand.id);
  await writeStore([...fleet.store, { name: machineName(9), serverId: byHand.id, zone: 'fr-par-1' }]);
  await sh(host.containerId, `touch -d '3 hours ago' ${STORE}/machines/*/config.json`);
});

afterAll(async () => {
  await fake?.close();
  for (const k of SCW_VARS) {
    if (savedEnv?.[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  await sh(host.containerId, `rm -rf ${STORE}`).catch(() => undefined);
  await rm(tmp, { recursive: true, force: true });
});

describe('playbooks/fleet.ts on mania', () => {
  it('--check: the table, the deletion it would make with its diff, and not one write anywhere', async () => {
    const before = fake.inventory();
    const run = await play(await mainInventory(), '--check');
    expect(run.exitCode, run.output).toBe(0);
    expect(fake.writes()).toBe(0);
    expect(fake.inventory()).toEqual(before);
    expect(await storeNames()).toEqual([...fleet.store.map((m) => m.name), machineName(9)].sort());
    expect(existsSync(ledgerPath)).toBe(false);
    expect(changed(run)).toEqual([`scaleway-server:fr-par-1/${fleet.stopped.id}`, `docker-machine-entry:${machineName(9)}`, expect.stringMatching(/^scaleway-ledger:/)]);
    expect(run.output).toMatch(new RegExp(`would\\s+mania \\[scaleway-fleet\\] scaleway-server:fr-par-1/${fleet.stopped.id}: delete stopped runner machine ${machineName(3)}`));
    expect(run.output).toContain('-reason: stopped');
    // the table: every class, costs, the warning about the mail server
    expect(run.table).toMatch(/^in store +runner-abcd1234x-fetch-1700000002 +scw-2 \w+ +nl-ams-1 +running/m);
    expect(run.table).toMatch(/^stopped +runner-abcd1234x-fetch-1700000003 .* stopped: would be deleted by this run$/m);
    expect(run.table).toMatch(/^stopped +runner-abcd1234x-fetch-1700000007 .* protected$/m);
    expect(run.table).toMatch(/^no server +runner-abcd1234x-fetch-1700000008 .* is in project \S+: never touched$/m);
    expect(run.table).toMatch(/^no server +runner-abcd1234x-fetch-1700000009 .* server gone: store entry would be removed by this run$/m);
    expect(run.table).toMatch(/^foreign +- +mail \w+ .* GP1-XS .* never touched$/m);
    expect(run.table).toMatch(/^foreign +- +runner-abcd1234x-fetch-1700000099 /m);
    expect(run.table).toMatch(/^Cost now: runner machines [\d.]+ €\/h \([\d.]+ €\/month\)/m);
    expect(run.table).toMatch(/WARNING: project \S+ holds 2 server\(s\) that are not runner machines \(mail, runner-abcd1234x-fetch-1700000099\)/);
    expect(run.report!.hosts.mania.apiRequests).toBe(12); // 5 per zone, and a GET per store entry the listing did not show
    expect(run.report!.hosts.mania.remoteCommands).toBe(2);
  });

  it('apply, with a fleet cap the fleet exceeds: deletes the stopped machine like the CLI, then fails the host on the cap', async () => {
    const inv = await inventory('fleet-cap5.toml', scalewayVarToml({ ledger: ledgerPath, fleetCap: 5 }));
    const run = await play(inv);
    expect(run.exitCode, run.output).toBe(2);
    expect(run.output).toMatch(/failed\s+mania \[scaleway-fleet\] scaleway-cap:\S+: the fleet is over its bounds after this run's cleanup: project \S+ holds 6 runner servers, over the fleet cap of 5/);
    expect(exists(fleet.stopped.id)).toBe(false);
    for (const v of fleet.stopped.volumes) expect(fake.inventory().volumes).not.toContain(v);
    expect(fake.ips.has(fleet.stopped.ips[0])).toBe(false);
    expect(await storeNames()).not.toContain(machineName(3));
    expect(await storeNames()).not.toContain(machineName(9));
    expect(fake.writes()).toBe(4);
    expect(JSON.parse(await readFile(ledgerPath, 'utf8')).hosts.mania).toBeDefined();
  });

  it('after gitlab-runner lost two machines and the v2 driver leaked a volume and an IP: --check writes nothing', async () => {
    await sh(host.containerId, `rm -rf ${STORE}/machines/${machineName(4)} ${STORE}/machines/${machineName(5)} ${STORE}/machines/${machineName(6)}`);
    const leaked = leakLikeV2Driver(fake, fleet.leaker);
    const writes = fake.writes();
    const ledgerBefore = await readFile(ledgerPath, 'utf8');
    const run = await play(await mainInventory(), '--check');
    expect(run.exitCode, run.output).toBe(0);
    expect(fake.writes()).toBe(writes);
    expect(await readFile(ledgerPath, 'utf8')).toBe(ledgerBefore);
    expect(changed(run).sort()).toEqual([`scaleway-ip:fr-par-1/${leaked.ips[0]}`, `scaleway-ledger:${fleet.busy.project}`, `scaleway-volume:fr-par-1/${leaked.volumes[0]}`].sort());
    expect(run.table).toMatch(/^orphan +runner-abcd1234x-fetch-1700000004 .* orphan, first sighting: deleted by a later run if still orphaned$/m);
    expect(run.table).toMatch(/^orphan +runner-abcd1234x-fetch-1700000005 .* younger than the grace period/m);
    expect(run.table).toMatch(/^sbs_5k volume .* runner-abcd1234x-fetch-1700000006 .* would be deleted by this run$/m);
  });

  it('the applies the rules call for: leaks now, the orphan on its second sighting; the young orphan and every decoy stay', async () => {
    const inv = await mainInventory();
    const second = await play(inv);
    expect(second.exitCode, second.output).toBe(0);
    expect(changed(second)).toHaveLength(3); // the volume, the IP, the ledger (sightings)
    expect(exists(fleet.orphan.id)).toBe(true);
    const third = await play(inv);
    expect(third.exitCode, third.output).toBe(0);
    expect(changed(third)).toEqual([`scaleway-server:fr-par-1/${fleet.orphan.id}`, expect.stringMatching(/^scaleway-ledger:/)]);
    expect(fake.calls.some((c) => c.method === 'POST' && c.path.endsWith(`/servers/${fleet.orphan.id}/action`))).toBe(true);

    const gone = [fleet.stopped, fleet.orphan, fleet.leaker];
    const stay = [fleet.busy, fleet.idle, fleet.young, fleet.protectedRunner, fleet.mail, fleet.nameDecoy, fleet.otherProject];
    expect(gone.filter((s) => exists(s.id))).toEqual([]);
    expect(stay.filter((s) => !exists(s.id)).map((s) => s.name)).toEqual([]);
    const inv2 = fake.inventory();
    for (const s of gone) {
      for (const v of s.volumes) expect(inv2.volumes).not.toContain(v);
      for (const ip of s.ips) expect(inv2.ips).not.toContain(ip);
    }
    for (const s of stay) {
      for (const v of s.volumes) expect(inv2.volumes).toContain(v);
      for (const ip of s.ips) expect(inv2.ips).toContain(ip);
    }
    expect(fake.servers.get(fleet.busy.id)!.state).toBe('running');
    expect(await storeNames()).toEqual([1, 2, 7, 8].map(machineName));
  });

  it('one more run changes nothing', async () => {
    const writes = fake.writes();
    const run = await play(await mainInventory(), '--detailed-exitcode');
    expect(run.exitCode, run.output).toBe(0);
    expect(changed(run)).toEqual([]);
    expect(fake.writes()).toBe(writes);
  });

  it('the CLI prints the table on stdout; no output ever holds a secret', async () => {
    const json = join(tmp, 'report.json');
    const { stdout, stderr } = await execFileP('node_modules/.bin/tsx', ['playbooks/fleet.ts', '-i', await mainInventory(), '--limit', 'mania', '--check', '-vv', '--json', json], {
      env: { ...process.env, FORCE_COLOR: '' },
      maxBuffer: 16 << 20,
    });
    expect(stdout).toMatch(/^Scaleway fleet of mania: project /m);
    expect(stdout).toMatch(/^CLASS +MACHINE +SERVER +ZONE +STATE +AGE +TYPE +€\/MONTH +EVIDENCE +ACTION$/m);
    const texts = { stdout, stderr, report: await readFile(json, 'utf8'), ledger: await readFile(ledgerPath, 'utf8') };
    for (const [where, text] of Object.entries(texts)) for (const s of [SECRET_KEY, ACCESS_KEY, STORE_SECRET, 'SCWSTORECANARY000001']) expect(text.includes(s), `${s} in ${where}`).toBe(false);
  });
});

describe('bad input: a clear error, exit 1 or 2, nothing deleted', () => {
  let writes: number;
  beforeAll(async () => {
    // Something to delete, so "nothing deleted" means something.
    const s = fake.addServer({ name: 'scw-30', project: fleet.busy.project, state: 'stopped', createdAt: new Date(Date.now() - 48 * 3_600_000) });
    await writeStore([{ name: machineName(30), serverId: s.id, zone: 'fr-par-1' }]);
    writes = fake.writes();
  });

  const expectNothingDeleted = () => expect(fake.writes()).toBe(writes);

  it('missing credentials (no inventory secret, no SCW_* variable, no profile file): exit 1 before connecting', async () => {
    const inv = await inventory('fleet-nocreds.toml', scalewayVarToml({ ledger: ledgerPath }).replace(/access_key = \{[^}]+\}, secret_key = \{[^}]+\}, /, ''));
    const run = await play(inv);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/scaleway\.access_key: no Scaleway access key: set scaleway\.access_key in the inventory \(a secret\), SCW_ACCESS_KEY in the environment, or access_key in the scw profile file .*no-scw-config\.yaml, which does not exist/);
    expect(run.stderr).toMatch(/scaleway\.secret_key: no Scaleway secret key/);
    expectNothingDeleted();
  });

  it('malformed credentials: exit 1, the message names the source, never the value', async () => {
    const bad = 'this-is-not-a-uuid-3f9a';
    await writeFile(join(tmp, 'bad-secrets.toml'), `SCW_ACCESS_KEY = "${ACCESS_KEY}"\nSCW_SECRET_KEY = "${bad}"\n`, { mode: 0o600 });
    const inv = (await readFile(await mainInventory(), 'utf8')).replace('fleet-secrets.toml', 'bad-secrets.toml');
    await writeFile(join(tmp, 'fleet-bad.toml'), inv);
    const run = await play(join(tmp, 'fleet-bad.toml'));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/scaleway\.secret_key: the Scaleway secret key from the inventory \(SCW_SECRET_KEY .*\) is malformed: expected a UUID/);
    expect(run.output).not.toContain(bad);
    expectNothingDeleted();
  });

  it('an unknown zone: exit 1, naming the key', async () => {
    const run = await play(await inventory('fleet-zone.toml', scalewayVarToml({ ledger: ledgerPath }).replace('"nl-ams-1"', '"fr-par-9"')));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/scaleway\.zones\[1\]: expected a Scaleway zone \(fr-par-1, /);
    expectNothingDeleted();
  });

  it('an API that answers 500: the host fails (exit 2) with the request and status', async () => {
    fake.setFault((_m, path) => (path.includes('/block/') ? '500' : undefined));
    try {
      const run = await play(await mainInventory());
      expect(run.exitCode).toBe(2);
      expect(run.output).toMatch(/failed\s+mania \[scaleway-fleet\] scaleway-fleet:\S+: Scaleway: listing block volumes of project \S+ in (fr-par-1|nl-ams-1) failed: http error 500: internal server error/);
    } finally {
      fake.setFault(undefined);
    }
    expectNothingDeleted();
  });

  it('an API that never answers: the host fails (exit 2) after the timeout', async () => {
    fake.setFault(() => 'hang');
    try {
      const run = await play(await inventory('fleet-slow.toml', scalewayVarToml({ ledger: ledgerPath }).replace('request_timeout = "2s"', 'request_timeout = "300ms"')));
      expect(run.exitCode).toBe(2);
      expect(run.output).toMatch(/no answer within 300 ms \(3 attempts\)/);
    } finally {
      fake.setFault(undefined);
    }
    expectNothingDeleted();
    expect(await storeNames()).toContain(machineName(30));
  });
});
