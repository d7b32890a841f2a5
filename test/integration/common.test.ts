/**
 * Role common against a disposable Docker test host, through the engine's
 * runPlaybook. Assertions read the host independently (`docker exec`, and real
 * SSH logins of the admin users with the OpenSSH client).
 *
 * Own state folder (RIGGER_COMMON_TESTHOSTS_DIR, default
 * $TMPDIR/rigger-testhosts-common); afterAll removes only this run's container.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlaybook, type JsonReport } from '../../lib/playbook.js';
import common from '../../roles/common/index.js';
import { upHosts, type TestHosts } from '../hosts/testhosts.js';

const execFileP = promisify(execFile);
const STATE_DIR = process.env.RIGGER_COMMON_TESTHOSTS_DIR ?? join(tmpdir(), 'rigger-testhosts-common');
const HOST = 'common1';
const OTHER_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm9m2Sxg8c3dJ0ekq7oWj0tWg0mO6y9pE1bJ3x0AAAA other@laptop';
const STRAY_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB stray@nowhere';

let hosts: TestHosts;
let inventoryPath: string;
let testKey: string; // public key of the test hosts' private key: admins log in with it

async function play(vars: Record<string, unknown>, ...flags: string[]): Promise<{ exitCode: number; host: JsonReport['hosts'][string]; output: string }> {
  const base = parse(await readFile(hosts.inventory, 'utf8')) as Record<string, any>;
  await writeFile(inventoryPath, stringify({ ...base, host_vars: { [HOST]: vars } }));
  let output = '';
  const io = { stdout: (t: string) => void (output += t), stderr: (t: string) => void (output += t), colour: false };
  const jsonPath = join(STATE_DIR, 'report-common.json');
  await rm(jsonPath, { force: true });
  const { exitCode } = await runPlaybook({ name: 'common-it', plays: [{ hosts: HOST, roles: [common] }] }, ['-i', inventoryPath, '--json', jsonPath, ...flags], io);
  const report = exitCode === 1 ? null : (JSON.parse(await readFile(jsonPath, 'utf8')) as JsonReport);
  return { exitCode, host: report?.hosts[HOST] as JsonReport['hosts'][string], output };
}

async function sh(script: string): Promise<string> {
  const r = await shResult(script);
  if (r.code !== 0) throw new Error(`docker exec failed (${r.code}): ${script}\n${r.stderr}`);
  return r.stdout;
}

async function shResult(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP('docker', ['exec', hosts.get(HOST).containerId, 'sh', '-c', script]);
    return { code: 0, stdout, stderr };
  } catch (e: any) {
    if (typeof e.code !== 'number') throw e;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Run a command over a real SSH login with the OpenSSH client. */
async function ssh(user: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [
    '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', `IdentityFile=${hosts.privateKey}`,
    '-o', `UserKnownHostsFile=${hosts.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10',
    '-p', String(hosts.get(HOST).port), `${user}@127.0.0.1`, command,
  ];
  try {
    const { stdout, stderr } = await execFileP('ssh', args, { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e: any) {
    return { code: typeof e.code === 'number' ? e.code : 255, stdout: e.stdout ?? '', stderr: e.stderr ?? String(e) };
  }
}

const vars = () => ({
  timezone: 'Europe/Paris',
  common_extra_packages: ['less'],
  admin_users: [
    { name: 'alice', keys: [testKey] },
    { name: 'bob', shell: '/bin/sh', sudo: false, keys: [testKey, OTHER_KEY], exclusive_keys: true },
  ],
});

describe('common on a Docker test host', () => {
  beforeAll(async () => {
    await mkdir(STATE_DIR, { recursive: true });
    hosts = await upHosts({ names: [HOST], dir: STATE_DIR, log: () => {} });
    inventoryPath = join(STATE_DIR, 'common-inventory.toml');
    testKey = (await readFile(`${hosts.privateKey}.pub`, 'utf8')).trim();
  }, 900_000);

  afterAll(async () => {
    await hosts?.down();
    for (const f of ['common-inventory.toml', 'report-common.json']) await rm(join(STATE_DIR, f), { force: true });
    await rm(STATE_DIR, { recursive: false }).catch(() => {});
  }, 120_000);

  it('invalid vars stop the run before the host is contacted', async () => {
    const run = await play({ admin_users: [{ name: 'alice', keys: ['not-a-key'] }], timezone: 'Mars/Olympus Mons' });
    expect(run.exitCode).toBe(1);
    expect(run.output).toContain('admin_users[0].keys[0]: not an SSH public key line');
    expect(run.output).toContain('timezone: expected a zone name');
  }, 30_000);

  it('converges a fresh host', async () => {
    const run = await play(vars());
    expect(run.exitCode, run.output).toBe(0);
    expect(run.host.status).toBe('changed');
    expect(run.host.counts.failed).toBe(0);
  }, 600_000);

  it('base packages and extras are installed', async () => {
    const out = await sh("dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' ca-certificates curl gnupg cron sudo unattended-upgrades tzdata less");
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(8);
    for (const l of lines) expect(l).toMatch(/ ii\s*$/);
  }, 30_000);

  it('timezone: /etc/localtime and /etc/timezone, and the clock uses it', async () => {
    expect((await sh('readlink /etc/localtime')).trim()).toBe('/usr/share/zoneinfo/Europe/Paris');
    expect(await sh('cat /etc/timezone')).toBe('Europe/Paris\n');
    expect((await sh('date +%Z')).trim()).toMatch(/^CES?T$/);
  }, 30_000);

  it('admin users log in with their key; alice has passwordless sudo, bob none', async () => {
    expect((await sh('id -nG alice')).split(/\s+/)).toContain('sudo');
    expect((await sh('id -nG bob')).split(/\s+/)).not.toContain('sudo');
    expect((await sh('getent passwd bob')).trim()).toMatch(/:\/bin\/sh$/);
    const a = await ssh('alice', 'sudo -n id -u');
    expect(a, a.stderr).toMatchObject({ code: 0, stdout: '0\n' });
    const b = await ssh('bob', 'sudo -n true');
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/password is required|not in the sudoers|may not run sudo/);
    expect(await sh('cat /home/bob/.ssh/authorized_keys')).toBe(`${testKey}\n${OTHER_KEY}\n`);
    expect((await sh("stat -c '%a %U' /home/alice/.ssh/authorized_keys /home/alice/.ssh")).trim().split('\n')).toEqual(['600 alice', '700 alice']);
    expect((await sh("stat -c '%a %U %G' /etc/sudoers.d/90-rigger-admins")).trim()).toBe('440 root root');
    expect((await shResult('visudo -c')).code).toBe(0);
  }, 60_000);

  it('unattended upgrades: daily update + upgrade on, security origins, timers running', async () => {
    const apt = await sh('apt-config dump APT::Periodic');
    expect(apt).toContain('APT::Periodic::Update-Package-Lists "1";');
    expect(apt).toContain('APT::Periodic::Unattended-Upgrade "1";');
    expect(await sh('cat /etc/apt/apt.conf.d/50unattended-upgrades')).toMatch(/^\s*"origin=Debian,codename=\$\{distro_codename\}-security,label=Debian-Security";/m);
    for (const t of ['apt-daily.timer', 'apt-daily-upgrade.timer']) {
      expect((await sh(`systemctl is-enabled ${t}`)).trim()).toBe('enabled');
      expect((await sh(`systemctl is-active ${t}`)).trim()).toBe('active');
    }
  }, 30_000);

  it('a second run changes nothing, in one probe round trip', async () => {
    const run = await play(vars());
    expect(run.exitCode, run.output).toBe(0);
    expect(run.host.status).toBe('ok');
    expect(run.host.counts).toMatchObject({ changed: 0, failed: 0 });
    expect(run.host.remoteCommands).toBeLessThanOrEqual(2);
  }, 120_000);

  it('exclusive keys remove unlisted keys; other users keep theirs', async () => {
    await sh(`echo '${STRAY_KEY}' >> /home/bob/.ssh/authorized_keys; echo '${STRAY_KEY}' >> /home/alice/.ssh/authorized_keys`);
    const run = await play(vars());
    expect(run.exitCode, run.output).toBe(0);
    expect(run.host.tasks.filter((t) => t.status === 'changed').map((t) => `${t.resource}: ${t.summary}`)).toEqual(['authorized-keys:bob: remove 1 key(s)']);
    expect(await sh('cat /home/bob/.ssh/authorized_keys')).toBe(`${testKey}\n${OTHER_KEY}\n`);
    expect(await sh('cat /home/alice/.ssh/authorized_keys')).toBe(`${testKey}\n${STRAY_KEY}\n`);
  }, 120_000);

  it('sudo = false takes sudo away again (group and sudoers line)', async () => {
    const v = vars();
    v.admin_users[0] = { ...v.admin_users[0], sudo: false } as (typeof v.admin_users)[0];
    const run = await play(v);
    expect(run.exitCode, run.output).toBe(0);
    expect((await sh('id -nG alice')).split(/\s+/)).not.toContain('sudo');
    expect(await sh('cat /etc/sudoers.d/90-rigger-admins')).not.toContain('alice');
    expect((await ssh('alice', 'sudo -n true')).code).not.toBe(0);
  }, 120_000);

  it('an unknown timezone fails the host without touching /etc/timezone', async () => {
    const run = await play({ ...vars(), timezone: 'Europe/Atlantis' });
    expect(run.exitCode).toBe(2);
    const t = run.host.tasks.find((x) => x.resource === 'link:/etc/localtime');
    expect(t?.status).toBe('failed');
    expect(t?.error).toContain('unknown timezone "Europe/Atlantis": /usr/share/zoneinfo/Europe/Atlantis does not exist on the host');
    expect(await sh('cat /etc/timezone')).toBe('Europe/Paris\n');
    expect((await sh('readlink /etc/localtime')).trim()).toBe('/usr/share/zoneinfo/Europe/Paris');
  }, 120_000);

  it('with no timezone set for the host, its zone stays as it is (its cron jobs do not move)', async () => {
    const { timezone: _zone, ...rest } = vars();
    const run = await play(rest);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.host.tasks.map((t) => t.resource)).not.toEqual(expect.arrayContaining([expect.stringMatching(/localtime|\/etc\/timezone/)]));
    expect(await sh('cat /etc/timezone')).toBe('Europe/Paris\n');
    expect((await sh('readlink /etc/localtime')).trim()).toBe('/usr/share/zoneinfo/Europe/Paris');
  }, 120_000);
});
