// A runner fleet for the Scaleway stand-in: a docker-machine store (the
// files gitlab-runner's store holds, credentials included) and the servers,
// volumes and IPs behind it, with the decoys a cleanup must never touch.
// Shared by the unit tests (store in a temp dir, scripts run by /bin/sh) and
// the integration test (store written onto a test host).
import type { FakeScaleway, FakeServer } from './scaleway.js';

export const PROJECT = '0b7c5a2e-4f1d-4c3b-9a8e-6d5f4e3c2b1a';
export const OTHER_PROJECT = '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a';
/** Canaries: distinctive, so a test can grep every output for them. */
export const SECRET_KEY = '5ca1ab1e-cafe-4bee-8d00-c0ffee5ec7e7';
export const ACCESS_KEY = 'SCWCANARYFLEETKEY001';
/** the driver's credentials written in every store config.json (they must never be printed) */
export const STORE_SECRET = 'store-canary-3e1f7c9a-secret';

export const RUNNER = 'download-convert-autoscale';
const SHORT = 'abcd1234x';
export const machineName = (n: number) => `runner-${SHORT}-fetch-${1700000000 + n}`;

/** The config.json docker-machine writes (json.MarshalIndent, 4 spaces), for the scaleway-v2 driver. */
export function storeConfigJson(name: string, serverId: string, zone = 'fr-par-1'): string {
  return (
    JSON.stringify(
      {
        ConfigVersion: 3,
        Driver: {
          IPAddress: '51.15.0.1',
          MachineName: name,
          SSHUser: 'root',
          SSHPort: 22,
          SSHKeyPath: `/root/.docker/machine/machines/${name}/id_rsa`,
          StorePath: '/root/.docker/machine',
          SwarmMaster: false,
          SwarmHost: '',
          SwarmDiscovery: '',
          AccessKey: 'SCWSTORECANARY000001',
          SecretKey: STORE_SECRET,
          ProjectID: PROJECT,
          Zone: zone,
          ServerID: serverId,
          CommercialType: 'DEV1-S',
          Image: 'debian_bookworm',
        },
        DriverName: 'scaleway-v2',
        HostOptions: { Driver: '', Memory: 0, Disk: 0, EngineOptions: { StorageDriver: 'overlay2' }, AuthOptions: { StorePath: `/root/.docker/machine/machines/${name}` } },
        Name: name,
      },
      null,
      4,
    ) + '\n'
  );
}

export interface Fleet {
  busy: FakeServer;
  idle: FakeServer;
  stopped: FakeServer;
  orphan: FakeServer;
  young: FakeServer;
  leaker: FakeServer;
  protectedRunner: FakeServer;
  mail: FakeServer;
  nameDecoy: FakeServer;
  otherProject: FakeServer;
  /** store entries at the start: machine name -> server id and zone */
  store: Array<{ name: string; serverId: string; zone: string }>;
}

export function seedFleet(fake: FakeScaleway): Fleet {
  const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
  const runner = (n: number, extra: Partial<Parameters<FakeScaleway['addServer']>[0]> = {}) => fake.addServer({ name: `scw-${n}`, project: PROJECT, createdAt: hoursAgo(30), ...extra });
  const fleet: Omit<Fleet, 'store'> = {
    busy: runner(1),
    idle: runner(2, { zone: 'nl-ams-1', volumes: [{ type: 'l_ssd', sizeGb: 20 }] }),
    stopped: runner(3, { state: 'stopped', createdAt: hoursAgo(120), volumes: [{ type: 'sbs_volume', sizeGb: 10 }, { type: 'l_ssd', sizeGb: 20 }] }),
    orphan: runner(4),
    young: runner(5, { createdAt: new Date(Date.now() - 10 * 60_000) }),
    leaker: runner(6),
    protectedRunner: runner(7, { state: 'stopped', protected: true, createdAt: hoursAgo(200) }),
    // decoys
    mail: fake.addServer({ name: 'mail', project: PROJECT, commercialType: 'GP1-XS', createdAt: hoursAgo(5000), volumes: [{ type: 'sbs_volume', sizeGb: 50 }] }),
    nameDecoy: fake.addServer({ name: machineName(99), project: PROJECT, state: 'stopped', createdAt: hoursAgo(300) }),
    otherProject: fake.addServer({ name: 'runner-in-another-project', project: OTHER_PROJECT, state: 'stopped', createdAt: hoursAgo(300) }),
  };
  const store = [
    { name: machineName(1), serverId: fleet.busy.id, zone: 'fr-par-1' },
    { name: machineName(2), serverId: fleet.idle.id, zone: 'nl-ams-1' },
    { name: machineName(3), serverId: fleet.stopped.id, zone: 'fr-par-1' },
    { name: machineName(4), serverId: fleet.orphan.id, zone: 'fr-par-1' },
    { name: machineName(5), serverId: fleet.young.id, zone: 'fr-par-1' },
    { name: machineName(6), serverId: fleet.leaker.id, zone: 'fr-par-1' },
    { name: machineName(7), serverId: fleet.protectedRunner.id, zone: 'fr-par-1' },
    { name: machineName(8), serverId: fleet.otherProject.id, zone: 'fr-par-1' },
  ];
  return { ...fleet, store };
}

/** What the scaleway-v2 driver's `docker-machine rm` leaves: server deleted, its block volumes kept (detached long ago), IP kept. */
export function leakLikeV2Driver(fake: FakeScaleway, s: FakeServer, detachedHoursAgo = 3): { volumes: string[]; ips: string[] } {
  const volumes = s.volumes.filter((v) => fake.blockVolumes.has(v));
  const ips = [...s.ips];
  s.state = 'stopped';
  fake.servers.delete(s.id);
  const when = new Date(Date.now() - detachedHoursAgo * 3_600_000).toISOString();
  for (const v of volumes) Object.assign(fake.blockVolumes.get(v)!, { server: null, last_detached_at: when });
  for (const ip of ips) fake.ips.get(ip)!.server = null;
  for (const v of s.volumes) fake.instanceVolumes.delete(v);
  return { volumes, ips };
}

/** The `scaleway` var for an inventory, as TOML. */
export function scalewayVarToml(o: { ledger: string; machineStore?: string; fleetCap?: number; maxDeletions?: number; extra?: string }): string {
  return (
    `scaleway = { project_id = "${PROJECT}", zones = ["fr-par-1", "nl-ams-1"], ` +
    `access_key = { secret = "SCW_ACCESS_KEY" }, secret_key = { secret = "SCW_SECRET_KEY" }, ` +
    `fleet_cap = ${o.fleetCap ?? 10}, grace = "1h", max_deletions = ${o.maxDeletions ?? 3}, ` +
    `prices = { volume_gb_month = { sbs_5k = 0.08, l_ssd = 0.05 }, ip_month = 2.92 }, ` +
    `ledger = "${o.ledger}", poll_interval = "50ms", request_timeout = "2s"` +
    (o.machineStore ? `, machine_store = "${o.machineStore}"` : '') +
    (o.extra ? `, ${o.extra}` : '') +
    ' }'
  );
}
