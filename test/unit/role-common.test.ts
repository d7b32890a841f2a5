import { describe, expect, it } from 'vitest';
import role, { autoUpgradesContent, DEFAULT_PACKAGES, localtimeLink, sudoersContent, varsSchema, type AdminUser } from '../../roles/common/index.js';
import type { Facts, Resource, Vars } from '../../lib/engine/types.js';
import { FakeRemote } from './helpers/fakeRemote.js';
import { expandRole, schemaProblems } from './helpers/roles.js';
import { makeCtx, probe } from './helpers/context.js';

const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm9m2Sxg8c3dJ0ekq7oWj0tWg0mO6y9pE1bJ3x0AAAA alice@laptop';
const KEY_B = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7vbqajDhA6b3ZXjQ3e2V3Y1Pp bob@desk';

const problemsOf = (vars: Vars) => schemaProblems(varsSchema, vars);
const expand = (vars: Vars = {}, facts: Partial<Facts> = {}) => expandRole(role, vars, facts);

const byId = (resources: Resource[], id: string) => {
  const r = resources.find((x) => x.id === id);
  if (!r) throw new Error(`no resource ${id} in ${resources.map((x) => x.id).join(', ')}`);
  return r;
};

/** Plan a file-like resource against an absent file and return the change (with diff). */
async function planCreate(r: Resource) {
  return r.plan(probe('absent', 1), makeCtx(new FakeRemote(), { wantDiff: true }));
}

describe('common: vars', () => {
  it('fills every default and keeps the vars of other roles', () => {
    const v = varsSchema.parse({ gitlab_url: 'https://git.example.org' });
    expect(v).toMatchObject({
      common_packages: DEFAULT_PACKAGES,
      common_extra_packages: [],
      common_apt_cache_max_age: 3600,
      admin_users: [],
      admin_sudo_nopasswd: true,
      unattended_upgrades: true,
      gitlab_url: 'https://git.example.org',
    });
    expect(v.hostname).toBeUndefined();
    // No default zone: a server keeps its own unless the inventory sets one (its cron jobs must not move).
    expect(v.timezone).toBeUndefined();
    expect(DEFAULT_PACKAGES).toEqual(['ca-certificates', 'curl', 'gnupg', 'cron', 'sudo', 'unattended-upgrades']);
  });

  it('fills admin user defaults', () => {
    const v = varsSchema.parse({ admin_users: [{ name: 'alice', keys: [KEY_A] }] });
    expect(v.admin_users).toEqual([{ name: 'alice', shell: '/bin/bash', sudo: true, keys: [KEY_A], exclusive_keys: false }]);
  });

  it.each([
    [{ timezone: 'Europe/../../etc/passwd' }, 'timezone'],
    [{ timezone: 'Europe/Paris; rm -rf /' }, 'timezone: expected a zone name'],
    [{ hostname: 'bad_host!' }, 'hostname: not a valid host name'],
    [{ hostname: '-leading' }, 'hostname: not a valid host name'],
    [{ common_extra_packages: ['htop', 'Bad Name'] }, 'common_extra_packages.1: not a Debian package name'],
    [{ common_packages: 'curl' }, 'common_packages'],
    [{ admin_users: [{ name: 'Alice', keys: [] }] }, 'admin_users.0.name: not a valid user name'],
    [{ admin_users: [{ name: 'alice', keys: ['not a key'] }] }, 'admin_users.0.keys.0: not an SSH public key line'],
    [{ admin_users: [{ name: 'alice', key: [KEY_A] }] }, 'admin_users.0'],
    [{ admin_users: [{ name: 'alice', shell: 'bash' }] }, 'admin_users.0.shell: expected an absolute path'],
    [{ admin_users: [{ name: 'alice' }, { name: 'alice' }] }, 'admin_users.1.name: admin user alice is listed twice'],
    [{ admin_users: [{ name: 'alice', sudo: 'yes' }] }, 'admin_users.0.sudo'],
    [{ unattended_upgrades: 'yes' }, 'unattended_upgrades'],
  ])('refuses %j', (vars, message) => {
    expect(problemsOf(vars as Vars).join('\n')).toContain(message);
  });

  it('accepts pinned package versions and multi-level zones', () => {
    expect(problemsOf({ common_extra_packages: ['htop=3.2.2-2'], timezone: 'America/Argentina/Buenos_Aires', hostname: 'mania.example.org' })).toEqual([]);
  });
});

describe('common: role expansion', () => {
  it('default resources, in order, with tags: no timezone resource when none is set', async () => {
    const out = await expand();
    expect(out.resources.map((r) => r.id)).toEqual([
      'apt:ca-certificates,curl,gnupg,cron,sudo,unattended-upgrades',
      'file:/etc/sudoers.d/90-rigger-admins',
      'file:/etc/apt/apt.conf.d/20auto-upgrades',
      'service:apt-daily.timer',
      'service:apt-daily-upgrade.timer',
    ]);
    expect(out.resources.map((r) => r.tags)).toEqual([['packages'], ['users'], ['unattended-upgrades'], ['unattended-upgrades'], ['unattended-upgrades']]);
    expect(out.handlers?.map((h) => h.name)).toEqual(['restart cron']);
    const handlerNames = new Set(out.handlers!.map((h) => h.name));
    for (const r of out.resources) for (const n of r.notify) expect(handlerNames.has(n)).toBe(true);
  });

  it('a timezone set for the host: tzdata, the link and /etc/timezone, notifying cron', async () => {
    const out = await expand({ timezone: 'Europe/Paris' });
    expect(out.resources.map((r) => r.id).slice(0, 3)).toEqual(['apt:ca-certificates,curl,gnupg,cron,sudo,unattended-upgrades,tzdata', 'link:/etc/localtime', 'file:/etc/timezone']);
    expect(out.resources.slice(1, 3).map((r) => [r.tags, r.notify])).toEqual([[['timezone'], ['restart cron']], [['timezone'], ['restart cron']]]);
  });

  it('packages: the configured list plus extras, tzdata and what enabled features need, no duplicates', async () => {
    const out = await expand({ common_packages: ['curl'], common_extra_packages: ['htop', 'curl'], timezone: 'Etc/UTC', admin_users: [{ name: 'alice', keys: [KEY_A] }] });
    expect(out.resources[0].id).toBe('apt:curl,htop,tzdata,unattended-upgrades,sudo');
    const off = await expand({ common_packages: ['curl'], unattended_upgrades: false });
    expect(off.resources[0].id).toBe('apt:curl');
    expect(off.resources.map((r) => r.id)).not.toContain('service:apt-daily.timer');
  });

  it('timezone: /etc/localtime points into zoneinfo and /etc/timezone names the zone', async () => {
    const out = await expand({ timezone: 'Europe/Paris' });
    const tz = await planCreate(byId(out.resources, 'file:/etc/timezone'));
    expect(tz?.diff).toEqual({ path: '/etc/timezone', before: '', after: 'Europe/Paris\n' });
    const lt = byId(out.resources, 'link:/etc/localtime');
    expect(lt.probe).toContain("[ -f /usr/share/zoneinfo/Europe/Paris ]");
    expect(await lt.plan(probe('link /usr/share/zoneinfo/Etc/UTC\nzone=ok'), makeCtx(new FakeRemote()))).toEqual({
      summary: 'retarget /usr/share/zoneinfo/Etc/UTC -> /usr/share/zoneinfo/Europe/Paris',
    });
    expect(await lt.plan(probe('link /usr/share/zoneinfo/Europe/Paris\nzone=ok'), makeCtx(new FakeRemote()))).toBeNull();
    expect(lt.notify).toEqual(['restart cron']);
  });

  it('timezone: refuses a zone tzdata does not have, except in check mode before tzdata is installed', async () => {
    const lt = localtimeLink('Europe/Atlantis', []);
    expect(() => lt.plan(probe('link /usr/share/zoneinfo/Etc/UTC\nzone=unknown'), makeCtx(new FakeRemote()))).toThrow(
      'unknown timezone "Europe/Atlantis": /usr/share/zoneinfo/Europe/Atlantis does not exist on the host',
    );
    expect(() => lt.plan(probe('absent\nzone=notzdata'), makeCtx(new FakeRemote()))).toThrow(/tzdata/);
    expect(await lt.plan(probe('absent\nzone=notzdata'), makeCtx(new FakeRemote(), { check: true }))).toEqual({ summary: 'create -> /usr/share/zoneinfo/Europe/Atlantis' });
  });

  it('hostname: only when set, /etc/hostname plus a guarded hostname command', async () => {
    expect((await expand()).resources.some((r) => r.tags.includes('hostname'))).toBe(false);
    const out = await expand({ hostname: 'mania' });
    const f = await planCreate(byId(out.resources, 'file:/etc/hostname'));
    expect(f?.diff?.after).toBe('mania\n');
    const cmd = byId(out.resources, 'command:set hostname');
    expect(cmd.probe).toContain('[ "$(hostname)" = mania ]');
    expect(await cmd.plan(probe('skip:unless'), makeCtx(new FakeRemote()))).toBeNull();
    expect(await cmd.plan(probe(''), makeCtx(new FakeRemote()))).toEqual({ summary: 'run: hostname mania' });
  });

  it('admin users: user with group sudo, keys, sudoers grant', async () => {
    const out = await expand({
      admin_users: [
        { name: 'alice', keys: [KEY_A], exclusive_keys: true },
        { name: 'bob', shell: '/bin/zsh', sudo: false, keys: [KEY_B] },
        { name: 'carol' },
      ],
    });
    const ids = out.resources.map((r) => r.id);
    expect(ids).toEqual([
      expect.stringMatching(/^apt:/),
      'user:alice',
      'authorized-keys:alice',
      'user:bob',
      'command:bob not in group sudo',
      'authorized-keys:bob',
      'user:carol',
      'file:/etc/sudoers.d/90-rigger-admins',
      'file:/etc/apt/apt.conf.d/20auto-upgrades',
      'service:apt-daily.timer',
      'service:apt-daily-upgrade.timer',
    ]);
    for (const id of ['user:alice', 'authorized-keys:alice', 'user:bob', 'user:carol']) expect(byId(out.resources, id).tags).toEqual(['users']);
    // alice exists without group sudo -> added to it
    const alice = byId(out.resources, 'user:alice');
    expect(await alice.plan(probe('alice:x:1001:1001::/home/alice:/bin/bash\n|alice|alice'), makeCtx(new FakeRemote()))).toEqual({ summary: 'add to sudo', data: {} });
    expect(await alice.plan(probe('absent'), makeCtx(new FakeRemote()))).toEqual({ summary: 'create', data: { create: true } });
    // bob: shell and removal from sudo
    const bob = byId(out.resources, 'user:bob');
    expect((await bob.plan(probe('bob:x:1002:1002::/home/bob:/bin/bash\n|bob,sudo|bob'), makeCtx(new FakeRemote())))?.summary).toBe('shell /bin/bash -> /bin/zsh');
    expect(byId(out.resources, 'command:bob not in group sudo').probe).toContain("sh -c 'id -nG -- bob | tr '\\'' '\\'' '\\''\\n'\\'' | grep -qx sudo'");
    // alice's keys are exclusive: an unlisted key is removed
    const keys = byId(out.resources, 'authorized-keys:alice');
    const change = await keys.plan(probe(`/home/alice\nalice\n600|alice\n${KEY_A}\n${KEY_B}`), makeCtx(new FakeRemote()));
    expect(change?.summary).toBe('remove 1 key(s)');
    // bob's are not: an unlisted key stays
    const bobKeys = byId(out.resources, 'authorized-keys:bob');
    expect(await bobKeys.plan(probe(`/home/bob\nbob\n600|bob\n${KEY_A}\n${KEY_B}`), makeCtx(new FakeRemote()))).toBeNull();
    const sudoers = await planCreate(byId(out.resources, 'file:/etc/sudoers.d/90-rigger-admins'));
    expect(sudoers?.diff?.after).toBe(
      '# Managed by rigger (role common): admin_users with sudo = true.\n' +
        '# They log in with SSH keys and have no password, so sudo must not ask for one.\n' +
        'alice ALL=(ALL:ALL) NOPASSWD: ALL\n' +
        'carol ALL=(ALL:ALL) NOPASSWD: ALL\n',
    );
  });

  it('sudoers: validated with visudo, 0440, and without grants when nopasswd is off or nobody has sudo', async () => {
    const out = await expand();
    const sudoers = byId(out.resources, 'file:/etc/sudoers.d/90-rigger-admins');
    expect(await sudoers.plan(probe('regular file|440|root|root\nx'), makeCtx(new FakeRemote()))).toMatchObject({ summary: 'content' });
    const users: AdminUser[] = [{ name: 'alice', shell: '/bin/bash', sudo: true, keys: [], exclusive_keys: false }];
    expect(sudoersContent(users, false)).not.toContain('alice');
    expect(sudoersContent([], true)).not.toContain('NOPASSWD');
    // the validate command runs on the temp file before the rename
    const remote = new FakeRemote();
    await sudoers.apply({ summary: 'content', data: { contentChanged: true } }, makeCtx(remote));
    // visudo checks the temp file, given to it as "$1" by scripts/write-file.sh
    expect(remote.scripts[0].split('\n')[0]).toMatch(/^set -- \/etc\/sudoers\.d\/90-rigger-admins \S+ root:root 440 0 1 'visudo -cqf "\$1"' 'visudo -cqf %s'$/);
  });

  it('refuses to remove every key of the user rigger logs in as', async () => {
    await expect(expand({ admin_users: [{ name: 'deploy', keys: [], exclusive_keys: true }] }, { loginUser: 'deploy' })).rejects.toThrow(
      /deploy is the user rigger logs in as; exclusive_keys with no keys would remove its key/,
    );
    const ok = await expand({ admin_users: [{ name: 'alice', keys: [], exclusive_keys: true }] }, { loginUser: 'deploy' });
    expect(ok.resources.map((r) => r.id)).toContain('authorized-keys:alice');
  });

  it('unattended upgrades: 20auto-upgrades turns the daily update and upgrade on (or off)', async () => {
    expect(autoUpgradesContent(true)).toBe('APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n');
    expect(autoUpgradesContent(false)).toBe('APT::Periodic::Update-Package-Lists "0";\nAPT::Periodic::Unattended-Upgrade "0";\n');
    const out = await expand();
    const timer = byId(out.resources, 'service:apt-daily-upgrade.timer');
    expect(await timer.plan(probe('masked\n|\ninactive'), makeCtx(new FakeRemote()))).toEqual({ summary: 'unmask, enable, start', data: ['unmask', 'enable', 'start'] });
    expect(await timer.plan(probe('enabled\n|\nactive'), makeCtx(new FakeRemote()))).toBeNull();
  });
});
