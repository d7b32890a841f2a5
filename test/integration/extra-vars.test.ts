/**
 * -e/--extra-vars on a real host: a value given with -e wins over the group var
 * of the same name and is what gets applied (role common's timezone, read back
 * with `docker exec`); an invalid -e value exits 1 naming -e and the key path
 * before any host is contacted: the inventory also holds a host nobody listens
 * for (127.0.0.1:1, a run that got as far as connecting would exit 2) and one
 * whose address is a local TCP listener that counts connections (it gets none).
 *
 * Own host (upHosts in beforeAll into .testhosts/extra-vars-<pid>, removed in
 * afterAll): the timezone change must not reach the hosts other files share.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import common from '../../roles/common/index.js';
import { upHosts, type TestHosts } from '../hosts/testhosts.js';
import { dexec } from './helpers/hostState.js';
import { runCaptured } from './helpers/run.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const STATE_DIR = join(REPO, '.testhosts', `extra-vars-${process.pid}`);
const HOST = 'ev1';
const def = { name: 'extra-vars-it', plays: [{ hosts: 'zoned', roles: [common] }] };

let hosts: TestHosts;
let inventory: string;
let listener: Server;
let connections = 0;

async function sh(script: string): Promise<string> {
  const r = await dexec(hosts.get(HOST).containerId, script);
  if (r.code !== 0) throw new Error(`${script}: ${r.stderr}`);
  return r.stdout;
}

const run = (...argv: string[]) => runCaptured(def, ['-i', inventory, '--tags', 'timezone', ...argv]);

describe('-e on a Docker test host', () => {
  beforeAll(async () => {
    await mkdir(STATE_DIR, { recursive: true });
    hosts = await upHosts({ names: [HOST], dir: STATE_DIR, log: () => {} });
    listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const inv = parse(await readFile(hosts.inventory, 'utf8')) as Record<string, any>;
    inv.hosts[HOST] = { ...inv.hosts[HOST], groups: ['zoned'] };
    inv.groups = { zoned: { vars: { timezone: 'Europe/Berlin' } } };
    inventory = join(STATE_DIR, 'extra-vars-inventory.toml');
    await writeFile(inventory, stringify(inv));
  }, 900_000);

  afterAll(async () => {
    await new Promise((resolve) => listener?.close(resolve));
    await hosts?.down();
    await rm(STATE_DIR, { recursive: true, force: true });
  }, 120_000);

  it('without -e the group var is applied', async () => {
    const r = await run();
    expect(r.exitCode, r.output).toBe(0);
    expect(await sh('cat /etc/timezone')).toBe('Europe/Berlin\n');
    expect((await sh('readlink /etc/localtime')).trim()).toBe('/usr/share/zoneinfo/Europe/Berlin');
  }, 120_000);

  it('-e overrides the group var: its value is what the host gets', async () => {
    const check = await run('--check', '-e', 'timezone=Europe/Paris');
    expect(check.exitCode, check.output).toBe(0);
    expect(check.output).toContain('+Europe/Paris');
    expect(await sh('cat /etc/timezone')).toBe('Europe/Berlin\n');

    const r = await run('-e', 'timezone=Europe/Berlin', '-e', 'timezone=Europe/Paris'); // the later -e wins
    expect(r.exitCode, r.output).toBe(0);
    expect(r.report!.hosts[HOST].status).toBe('changed');
    expect(await sh('cat /etc/timezone')).toBe('Europe/Paris\n');
    expect((await sh('readlink /etc/localtime')).trim()).toBe('/usr/share/zoneinfo/Europe/Paris');
    expect((await sh('date +%Z')).trim()).toMatch(/^CES?T$/);

    // the same from an @file, as a second run: nothing left to change
    const file = join(STATE_DIR, 'vars.yaml');
    await writeFile(file, 'timezone: Europe/Paris\n');
    const again = await run('-e', `@${file}`);
    expect(again.exitCode, again.output).toBe(0);
    expect(again.report!.hosts[HOST].status).toBe('ok');
  }, 120_000);

  it('an invalid -e value exits 1 with the key path, and no host is contacted', async () => {
    const inv = parse(await readFile(inventory, 'utf8')) as Record<string, any>;
    const port = (listener.address() as { port: number }).port;
    inv.hosts.nobody = { host: '127.0.0.1', port: 1, groups: ['zoned'] };
    inv.hosts.counted = { host: '127.0.0.1', port, groups: ['zoned'] };
    const withTraps = join(STATE_DIR, 'extra-vars-traps.toml');
    await writeFile(withTraps, stringify(inv));
    const before = await sh('cat /etc/timezone');

    // (no --tags timezone here: a role whose vars are invalid is not expanded, so its resources' tags are unknown)
    const r = await runCaptured(def, ['-i', withTraps, '-e', 'timezone=Mars/Olympus Mons']);
    expect(r.exitCode, r.output).toBe(1);
    expect(r.stderr).toMatch(/^error: invalid declarations \(nothing was contacted\):\n/);
    for (const h of [HOST, 'nobody', 'counted']) {
      expect(r.stderr).toContain(`  -e: host ${h}, role common: timezone: expected a zone name such as "Etc/UTC" or "Europe/Paris"`);
    }
    expect(r.report).toBeUndefined();
    expect(connections).toBe(0);
    expect(await sh('cat /etc/timezone')).toBe(before);

    // the trap works: a valid run does connect to it (and fails it: it speaks no SSH)
    const valid = await runCaptured(def, ['-i', withTraps, '--tags', 'timezone', '--limit', 'counted']);
    expect(valid.exitCode).toBe(2);
    expect(connections).toBeGreaterThan(0);
  }, 120_000);
});
