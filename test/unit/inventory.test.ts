import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { loadInventory, type Inventory } from '../../lib/inventory/load.js';
import { isSecret } from '../../lib/secrets.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/inventories/', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);
const env = { HOME: '/home/tester', RUNNER_TOKEN: 'glrt-runner-token-value', SCW_SECRET_KEY: 'scw-secret-key-value' };
const load = (name: string) => loadInventory(fixture(name), { env });

describe('loadInventory: good.toml', () => {
  it('lists hosts in inventory order with connection settings', async () => {
    const inv = await load('good.toml');
    expect(inv.file).toBe(fixture('good.toml'));
    expect([...inv.hosts.keys()]).toEqual(['mania', 'eros', 'thanatos', 'api1']);
    const eros = inv.hosts.get('eros')!;
    expect(eros).toMatchObject({ name: 'eros', address: 'eros.example.org', port: 2222, user: 'root', connectTimeout: 15 });
    const thanatos = inv.hosts.get('thanatos')!;
    expect(thanatos).toMatchObject({ address: '203.0.113.7', port: 22, user: 'deploy' });
  });

  it('resolves paths relative to the inventory file and ~ to HOME', async () => {
    const inv = await load('good.toml');
    const mania = inv.hosts.get('mania')!;
    expect(mania.privateKey).toBe(join(FIXTURES, 'keys/deploy_ed25519'));
    expect(mania.knownHosts).toBe('/home/tester/.ssh/known_hosts');
    expect(inv.hosts.get('thanatos')!.privateKey).toBe('/home/tester/.ssh/thanatos');
  });

  it('gives each host its groups with ancestors, all first, parents before children', async () => {
    const inv = await load('good.toml');
    expect(inv.hosts.get('mania')!.groups).toEqual(['all', 'runners', 'autoscale']);
    expect(inv.hosts.get('eros')!.groups).toEqual(['all', 'runners', 'stateful']);
    expect(inv.hosts.get('api1')!.groups).toEqual(['all', 'api']);
  });

  it('lists group members including those of child groups', async () => {
    const inv = await load('good.toml');
    expect([...inv.groups.keys()]).toEqual(['all', 'runners', 'autoscale', 'stateful', 'api']);
    expect(inv.groups.get('runners')).toMatchObject({ hosts: ['mania', 'eros', 'thanatos'], children: ['autoscale', 'stateful'] });
    expect(inv.groups.get('stateful')!.hosts).toEqual(['eros', 'thanatos']);
    expect(inv.groups.get('all')).toMatchObject({ hosts: ['mania', 'eros', 'thanatos', 'api1'], children: ['runners', 'api'] });
    expect(inv.groups.get('all')!.vars.timezone).toBe('Europe/Paris');
    expect(inv.groups.get('api')!.vars).toEqual({ api_port: 8080 });
  });

  it('merges vars: global < parent group < child group < host line < host_vars', async () => {
    const inv = await load('good.toml');
    const mania = inv.hosts.get('mania')!.vars;
    expect(mania.timezone).toBe('Europe/Paris'); // global only
    expect(mania.gitlab_url).toBe('https://gitlab.example.org'); // group beats global
    expect(mania.docker_log_max_size).toBe('50m');
    expect(mania.runner_executor).toBe('docker+machine'); // child group
    expect(mania.runner_concurrent).toBe(30); // host_vars beats host line (20) beats autoscale (10) beats runners (4)
    expect(mania.scaleway_instance_type).toBe('DEV1-M');
    expect(inv.hosts.get('eros')!.vars.runner_concurrent).toBe(4);
    expect(inv.hosts.get('api1')!.vars.timezone).toBe('UTC'); // host line beats global
    expect(inv.hosts.get('api1')!.vars).not.toHaveProperty('runner_token');
  });

  it('replaces top-level vars whole (shallow merge)', async () => {
    const inv = await load('good.toml');
    expect(inv.hosts.get('mania')!.vars.ntp_servers).toEqual(['0.debian.pool.ntp.org', '1.debian.pool.ntp.org']);
  });

  it('turns { secret = NAME } into a Secret shared by every host', async () => {
    const inv = await load('good.toml');
    const token = inv.hosts.get('mania')!.vars.runner_token;
    expect(isSecret(token)).toBe(true);
    expect(inv.hosts.get('eros')!.vars.runner_token).toBe(token);
  });
});

describe('loadInventory: defaults', () => {
  it('fills connection defaults and uses the name as address when host is omitted', async () => {
    const inv = await load('minimal.toml');
    expect(inv.hosts.get('web1')).toEqual({
      name: 'web1',
      address: '10.0.0.1',
      port: 22,
      user: 'root',
      privateKey: '/home/tester/.ssh/id_ed25519',
      knownHosts: '/home/tester/.ssh/known_hosts',
      connectTimeout: 10,
      commandTimeout: 3600,
      lockTimeout: 300,
      serverAliveInterval: 15,
      serverAliveCountMax: 3,
      groups: ['all'],
      vars: {},
      declared: { host: true, port: false, user: false, privateKey: false },
    });
    expect(inv.hosts.get('web2')!.address).toBe('web2');
    expect([...inv.groups.keys()]).toEqual(['all']);
  });
});

describe('loadInventory: nested groups', () => {
  let inv: Inventory;
  it('loads', async () => {
    inv = await load('nested.toml');
  });

  it('orders groups by depth, ties alphabetical, a group reached by two paths at its deepest', () => {
    // leaf is a child of mid (depth 2) and alpha (depth 1): depth 3
    expect(inv.hosts.get('h1')!.groups).toEqual(['all', 'alpha', 'top', 'mid', 'leaf']);
    expect(inv.hosts.get('h2')!.groups).toEqual(['all', 'top', 'zeta', 'mid']);
    expect(inv.hosts.get('h3')!.groups).toEqual(['all', 'alpha']);
  });

  it('lets the deepest group win, then the host line, then host_vars', () => {
    expect(inv.hosts.get('h2')!.vars.level).toBe('mid'); // mid (2) beats top and zeta (1)
    expect(inv.hosts.get('h3')!.vars.level).toBe('alpha');
    expect(inv.hosts.get('h1')!.vars).toEqual({
      level: 'host_vars',
      only_global: true,
      from_top: 1,
      from_mid: 1,
      from_alpha: 1,
    });
  });

  it('lists members through every path', () => {
    expect(inv.groups.get('top')!.hosts).toEqual(['h1', 'h2']);
    expect(inv.groups.get('alpha')!.hosts).toEqual(['h1', 'h3']);
    expect(inv.groups.get('leaf')!.hosts).toEqual(['h1']);
    expect(inv.groups.get('all')!.children).toEqual(['top', 'alpha', 'zeta']);
  });
});

describe('loadInventory: YAML', () => {
  it('gives the same inventory as the TOML version', async () => {
    const toml = await load('good.toml');
    const yaml = await load('good.yaml');
    const plain = (inv: Inventory) => JSON.parse(JSON.stringify({ hosts: [...inv.hosts.values()], groups: [...inv.groups.values()] }));
    expect(plain(yaml)).toEqual(plain(toml));
    expect(isSecret(yaml.hosts.get('mania')!.vars.scaleway_secret_key)).toBe(true);
  });
});
