// The Scaleway stand-in follows the public contract, checked by driving it
// with the real SDK client (and raw HTTP where the contract is about bytes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Errors } from '@scaleway/sdk-client';
import { scalewayApis, type ScalewayApis } from '../../lib/services/scaleway/client.js';
import { hourlyPrices, readZone } from '../../lib/services/scaleway/snapshot.js';
import { Secret } from '../../lib/secrets.js';
import { startFakeScaleway, type FakeScaleway } from '../fakes/scaleway.js';

const KEY = '6b1f3c2e-1111-4222-8333-444455556666';
const P = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const Q = 'bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const zone = 'fr-par-1';

function apis(fake: FakeScaleway, o: { key?: string; check?: boolean; timeoutMs?: number; counter?: { n: number } } = {}): ScalewayApis {
  const creds = { accessKey: new Secret('SCWABCDEFGHIJKLMNOPQ', 'test'), secretKey: new Secret(o.key ?? KEY, 'test'), apiUrl: fake.url, origin: { accessKey: '', secretKey: '', apiUrl: '' } };
  return scalewayApis(creds, { check: o.check ?? false, count: (n) => o.counter && (o.counter.n += n), timeoutMs: o.timeoutMs ?? 2000, backoffMs: 5 });
}

let fake: FakeScaleway;
beforeAll(async () => {
  fake = await startFakeScaleway({ secretKey: KEY });
});
afterAll(() => fake.close());

describe('Scaleway stand-in, through the SDK', () => {
  it('lists servers in full pages with X-Total-Count; the SDK pages through them', async () => {
    for (let i = 0; i < 5; i++) fake.addServer({ name: `page-${i}`, project: P });
    const before = fake.calls.length;
    const counter = { n: 0 };
    const all = await apis(fake, { counter }).instance.listServers({ zone, project: P, perPage: 2 }).all();
    expect(all.map((s) => s.name).sort()).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    const pages = fake.calls.slice(before);
    expect(pages.map((c) => [c.path, c.query.page ?? '1', c.query.per_page])).toEqual([
      [`/instance/v1/zones/${zone}/servers`, '1', '2'],
      [`/instance/v1/zones/${zone}/servers`, '2', '2'],
      [`/instance/v1/zones/${zone}/servers`, '3', '2'],
    ]);
    expect(counter.n).toBe(3);
  });

  it('answers snake_case JSON with Content-Type exactly application/json, and the total in X-Total-Count', async () => {
    const res = await fetch(`${fake.url}/instance/v1/zones/${zone}/servers?project=${P}&per_page=2`, { headers: { 'X-Auth-Token': KEY } });
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-total-count')).toBe('5');
    const body = (await res.json()) as { servers: Array<Record<string, unknown>> };
    expect(body.servers).toHaveLength(2);
    expect(Object.keys(body.servers[0])).toEqual(expect.arrayContaining(['commercial_type', 'creation_date', 'allowed_actions', 'public_ips', 'volumes', 'project']));
  });

  it('filters by project (and a stand-in that does not is caught by the reader, which keeps only the project)', async () => {
    fake.addServer({ name: 'elsewhere', project: Q });
    const mine = await apis(fake).instance.listServers({ zone, project: P }).all();
    expect(mine.every((s) => s.project === P)).toBe(true);
    const sloppy = await startFakeScaleway({ secretKey: KEY, ignoreProjectFilter: true });
    try {
      sloppy.addServer({ name: 'ours', project: P });
      sloppy.addServer({ name: 'theirs', project: Q });
      expect((await apis(sloppy).instance.listServers({ zone, project: P }).all()).map((s) => s.name).sort()).toEqual(['ours', 'theirs']);
      const snap = await readZone(apis(sloppy), P, zone);
      expect(snap.servers.map((s) => s.name)).toEqual(['ours']);
      expect(snap.volumes.every((v) => v.project === P)).toBe(true);
      expect(snap.ips.every((ip) => ip.project === P)).toBe(true);
    } finally {
      await sloppy.close();
    }
  });

  it('pages server types (a map) until totalCount keys arrived', async () => {
    const types = Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`T-${String(i).padStart(3, '0')}`, { hourly_price: i / 1000, ncpus: 1, ram: 1 }]));
    const many = await startFakeScaleway({ secretKey: KEY, serverTypes: types });
    try {
      const prices = await hourlyPrices(apis(many), zone);
      expect(Object.keys(prices)).toHaveLength(130);
      expect(prices['T-129']).toBe(0.129);
      expect(many.calls.map((c) => c.query.page)).toEqual(['1', '2']);
    } finally {
      await many.close();
    }
  });

  it('block volumes page with page_size and total_count in the body', async () => {
    const res = await fetch(`${fake.url}/block/v1/zones/${zone}/volumes?project_id=${P}&page_size=2`, { headers: { 'X-Auth-Token': KEY } });
    const body = (await res.json()) as { volumes: unknown[]; total_count: number };
    expect(body.volumes).toHaveLength(2);
    expect(body.total_count).toBeGreaterThanOrEqual(5);
    const all = await apis(fake).block.listVolumes({ zone, projectId: P, pageSize: 2, includeDeleted: false }).all();
    expect(all).toHaveLength(body.total_count);
    expect(all[0]).toMatchObject({ type: 'sbs_5k', status: 'in_use', references: [{ productResourceType: 'instance_server' }] });
  });

  it('errors: 404 not_found, 401 denied_authentication, 400 invalid_arguments, each as the SDK class', async () => {
    await expect(apis(fake).instance.getServer({ zone, serverId: '00000000-0000-4000-8000-000000000000' })).rejects.toBeInstanceOf(Errors.ResourceNotFoundError);
    await expect(apis(fake, { key: '00000000-0000-4000-8000-000000000000' }).instance.listServers({ zone })).rejects.toBeInstanceOf(Errors.DeniedAuthenticationError);
    await expect(apis(fake).instance.listServers({ zone, perPage: 101 })).rejects.toBeInstanceOf(Errors.InvalidArgumentsError);
    const raw = await fetch(`${fake.url}/instance/v1/zones/${zone}/servers/nope`, { headers: { 'X-Auth-Token': KEY } });
    expect(raw.status).toBe(404);
    expect(await raw.json()).toMatchObject({ type: 'not_found', resource: 'instance_server', resource_id: 'nope' });
  });

  it('power off takes a read to complete; delete only when powered off, 204, volumes and IPs left detached', async () => {
    const s = fake.addServer({ name: 'to-delete', project: P, volumes: [{ type: 'sbs_volume' }, { type: 'l_ssd' }] });
    const api = apis(fake);
    await expect(api.instance.deleteServer({ zone, serverId: s.id })).rejects.toThrow(/powered off/);
    await api.instance.serverAction({ zone, serverId: s.id, action: 'poweroff' });
    expect((await api.instance.getServer({ zone, serverId: s.id })).server?.state).toBe('stopped');
    await expect(api.instance.serverAction({ zone, serverId: s.id, action: 'poweroff' })).rejects.toThrow(/server should be running/);
    const raw = await fetch(`${fake.url}/instance/v1/zones/${zone}/servers/${s.id}`, { method: 'DELETE', headers: { 'X-Auth-Token': KEY } });
    expect(raw.status).toBe(204);
    expect(await raw.text()).toBe('');
    const [sbs, local] = s.volumes;
    expect(fake.blockVolumes.get(sbs)).toMatchObject({ server: null });
    expect(fake.instanceVolumes.get(local)).toMatchObject({ server: null });
    expect(fake.ips.get(s.ips[0])).toMatchObject({ server: null });
    expect(await api.block.deleteVolume({ zone, volumeId: sbs })).toBeUndefined();
    expect(await api.instance.deleteVolume({ zone, volumeId: local })).toBeUndefined();
    expect(await api.instance.deleteIp({ zone, ip: s.ips[0] })).toBeUndefined();
    expect(fake.inventory().volumes).not.toContain(sbs);
  });

  it('refuses to delete a block volume in use (412) and counts every write', async () => {
    const s = fake.addServer({ name: 'busy', project: P });
    const writes = fake.writes();
    await expect(apis(fake).block.deleteVolume({ zone, volumeId: s.volumes[0] })).rejects.toMatchObject({ status: 412 });
    expect(fake.writes()).toBe(writes + 1);
  });

  it('a check-mode client sends no write at all', async () => {
    const s = fake.addServer({ name: 'check', project: P, state: 'stopped' });
    const writes = fake.writes();
    await expect(apis(fake, { check: true }).instance.deleteServer({ zone, serverId: s.id })).rejects.toThrow(/refused, a check run makes no write request/);
    expect(fake.writes()).toBe(writes);
    expect(fake.servers.has(s.id)).toBe(true);
  });

  it('500s are retried then reported; a request that never answers times out', async () => {
    const flaky = await startFakeScaleway({ secretKey: KEY });
    try {
      flaky.setFault(() => '500');
      await expect(apis(flaky).instance.listServers({ zone })).rejects.toMatchObject({ status: 500 });
      expect(flaky.calls).toHaveLength(3);
      flaky.setFault(() => 'hang');
      const t0 = Date.now();
      await expect(apis(flaky, { timeoutMs: 200 }).instance.listServers({ zone })).rejects.toThrow(/GET \/instance\/v1\/zones\/fr-par-1\/servers: no answer within 200 ms \(3 attempts\)/);
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      await flaky.close();
    }
  });
});
