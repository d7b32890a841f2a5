// The shared test hosts of globalSetup are really up: SSH with the generated key and
// known_hosts (strict checking), deploy has passwordless sudo, host keys differ per host.
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { parse } from 'smol-toml';
import { describe, expect, inject, it } from 'vitest';

const execFileP = promisify(execFile);
const state = inject('testhosts');

// (ssh keeps the first value it sees for an option: `extra` cannot override the ones below)
function ssh(user: string, port: number, command: string, extra: string[] = [], knownHosts = state.knownHosts) {
  return execFileP(
    'ssh',
    [
      '-F', '/dev/null',
      '-o', 'BatchMode=yes',
      '-o', 'IdentitiesOnly=yes',
      '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'ConnectTimeout=10',
      '-i', state.privateKey,
      ...extra,
      '-p', String(port),
      `${user}@127.0.0.1`,
      command,
    ],
    { timeout: 30_000 },
  );
}

describe('test hosts', () => {
  it('inventory.toml lists every host on 127.0.0.1 with its port and groups', async () => {
    const inv = parse(await readFile(state.inventory, 'utf8')) as any;
    expect(inv.defaults).toMatchObject({ user: 'root', private_key: 'id_ed25519', known_hosts: 'known_hosts' });
    expect(Object.keys(inv.hosts).sort()).toEqual(state.hosts.map((h) => h.name).sort());
    for (const h of state.hosts) {
      expect(inv.hosts[h.name]).toEqual({ host: '127.0.0.1', port: h.port, groups: ['test'] });
    }
  });

  it.each(state.hosts.map((h) => [h.name, h] as const))('%s: root and deploy log in with the key; deploy has sudo -n', async (name, h) => {
    const root = await ssh('root', h.port, 'hostname; id -u; systemctl is-system-running');
    expect(root.stdout.split('\n').slice(0, 3)).toEqual([name, '0', 'running']);
    const deploy = await ssh('deploy', h.port, 'id -un; sudo -n true && echo sudo-ok');
    expect(deploy.stdout.trim().split('\n')).toEqual(['deploy', 'sudo-ok']);
  });

  it('fixtures are mounted read-only at /srv/fixtures', async () => {
    const h = state.hosts[0];
    const r = await ssh('root', h.port, 'test -d /srv/fixtures && ! touch /srv/fixtures/x 2>/dev/null && echo ro');
    expect(r.stdout.trim()).toBe('ro');
  });

  it('pwuser has no key: key login is refused', async () => {
    const h = state.hosts[0];
    await expect(ssh('pwuser', h.port, 'true', ['-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no'])).rejects.toMatchObject({
      stderr: expect.stringContaining('Permission denied'),
    });
  });

  it('every host has its own host keys, and known_hosts holds exactly them', async () => {
    const ed = state.hosts.map((h) => h.knownHosts.find((l) => l.includes(' ssh-ed25519 '))!.split(' ').slice(1).join(' '));
    expect(new Set(ed).size).toBe(state.hosts.length);
    const all = state.hosts.flatMap((h) => h.knownHosts.map((l) => l.split(' ')[2]));
    expect(new Set(all).size).toBe(all.length);
    const lines = (await readFile(state.knownHosts, 'utf8')).trim().split('\n');
    expect(lines).toEqual(state.hosts.flatMap((h) => h.knownHosts));
    for (const h of state.hosts) for (const l of h.knownHosts) expect(l.startsWith(`[127.0.0.1]:${h.port} `)).toBe(true);
  });

  it('a host key that does not match known_hosts is refused', async () => {
    const [a, b] = state.hosts;
    // b's port with a's known_hosts entries only: strict checking must refuse.
    const wrong = `${state.dir}/known_hosts.wrong`;
    await writeFile(wrong, a.knownHosts.map((l) => l.replace(`[127.0.0.1]:${a.port}`, `[127.0.0.1]:${b.port}`)).join('\n') + '\n');
    try {
      await expect(ssh('root', b.port, 'true', [], wrong)).rejects.toMatchObject({
        stderr: expect.stringMatching(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/),
      });
    } finally {
      await rm(wrong, { force: true });
    }
  });
});
