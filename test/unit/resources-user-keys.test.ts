import { describe, expect, it } from 'vitest';
import { group, user, type UserOptions } from '../../lib/resources/user.js';
import { authorizedKeys, keyIdentity } from '../../lib/resources/authorizedKeys.js';
import { FakeRemote } from './helpers/fakeRemote.js';
import { makeCtx, probe, sync } from './helpers/context.js';
import { itPassesShellcheck, recordScript } from './helpers/shellcheck.js';

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

/** What the user probe prints on Debian 12: the passwd line, then |supplementary,groups|primary. */
const RUNNER = 'gitlab-runner:x:999:999:GitLab Runner:/home/gitlab-runner:/bin/bash\n|gitlab-runner,docker|gitlab-runner\n';
const planUser = (opts: Partial<UserOptions>, out: string) => sync(user({ name: 'gitlab-runner', ...opts }).plan(probe(out), makeCtx(new FakeRemote())));

describe('group', () => {
  it('creates a missing group and deletes an unwanted one', () => {
    const ctx = makeCtx(new FakeRemote());
    expect(group({ name: 'docker' }).id).toBe('group:docker');
    expect(group({ name: 'docker' }).plan(probe('absent\n'), ctx)).toEqual({ summary: 'create' });
    expect(group({ name: 'docker' }).plan(probe('present\n'), ctx)).toBeNull();
    expect(group({ name: 'old', state: 'absent' }).plan(probe('present\n'), ctx)).toEqual({ summary: 'delete' });
    expect(group({ name: 'old', state: 'absent' }).plan(probe('absent\n'), ctx)).toBeNull();
  });

  it('applies with groupadd (--system) or groupdel', async () => {
    const remote = new FakeRemote();
    await group({ name: 'docker', system: true }).apply({ summary: '' }, makeCtx(remote));
    await group({ name: 'staff' }).apply({ summary: '' }, makeCtx(remote));
    await group({ name: 'old', state: 'absent' }).apply({ summary: '' }, makeCtx(remote));
    expect(remote.scripts).toEqual(['groupadd --system -- docker', 'groupadd -- staff', 'groupdel -- old']);
  });
});

describe('user: plan', () => {
  it('probes getent passwd and id', () => {
    expect(user({ name: 'deploy' }).probe).toBe('if getent passwd -- deploy; then echo "|$(id -Gn -- deploy | tr \' \' \',\')|$(id -gn -- deploy)"; else echo absent; fi');
  });

  it('creates an absent user and deletes an unwanted one', () => {
    expect(planUser({}, 'absent\n')).toEqual({ summary: 'create', data: { create: true } });
    expect(planUser({ state: 'absent' }, 'absent\n')).toBeNull();
    expect(planUser({ state: 'absent' }, RUNNER)).toEqual({ summary: 'delete', data: { remove: true } });
  });

  it('is null when shell, home, comment and groups match', () => {
    expect(planUser({ shell: '/bin/bash', home: '/home/gitlab-runner', comment: 'GitLab Runner', groups: ['docker'] }, RUNNER)).toBeNull();
  });

  it('lists shell, home and comment differences', () => {
    expect(planUser({ shell: '/usr/sbin/nologin', home: '/srv/runner', comment: 'Runner' }, RUNNER)?.summary).toBe(
      'shell /bin/bash -> /usr/sbin/nologin, home /home/gitlab-runner -> /srv/runner, comment',
    );
  });

  it('adds missing supplementary groups and leaves others alone', () => {
    expect(planUser({ groups: ['docker', 'adm'] }, RUNNER)?.summary).toBe('add to adm');
    const withAdm = 'gitlab-runner:x:999:999:GitLab Runner:/home/gitlab-runner:/bin/bash\n|gitlab-runner,docker,adm|gitlab-runner\n';
    expect(planUser({ groups: ['docker'] }, withAdm)).toBeNull();
  });

  it('removes other supplementary groups when exclusive (never the primary group)', () => {
    const withAdm = 'gitlab-runner:x:999:999:GitLab Runner:/home/gitlab-runner:/bin/bash\n|gitlab-runner,docker,adm|gitlab-runner\n';
    expect(planUser({ groups: ['docker'], exclusiveGroups: true }, withAdm)?.summary).toBe('remove from adm');
    expect(planUser({ groups: [], exclusiveGroups: true }, withAdm)?.summary).toBe('remove from docker,adm');
    expect(planUser({ groups: ['docker', 'adm'], exclusiveGroups: true }, withAdm)).toBeNull();
  });

  it('counts a listed primary group as a membership it already has', () => {
    expect(planUser({ groups: ['gitlab-runner', 'docker'] }, RUNNER)).toBeNull();
    expect(planUser({ groups: ['gitlab-runner', 'docker'], exclusiveGroups: true }, RUNNER)).toBeNull();
  });

  it('handles a user without supplementary groups and an empty comment', () => {
    const bare = 'deploy:x:1001:1001::/home/deploy:/bin/sh\n|deploy|deploy\n';
    expect(user({ name: 'deploy', comment: '' }).plan(probe(bare), makeCtx(new FakeRemote()))).toBeNull();
    expect(sync(user({ name: 'deploy', groups: ['sudo'] }).plan(probe(bare), makeCtx(new FakeRemote())))?.summary).toBe('add to sudo');
  });
});

describe('user: apply', () => {
  const run = async (opts: Partial<UserOptions>, data: object) => {
    const remote = new FakeRemote();
    await user({ name: 'gitlab-runner', ...opts }).apply({ summary: '', data }, makeCtx(remote));
    return remote.scripts.map(squash);
  };

  it('creates with useradd, home, shell, comment and groups', async () => {
    expect(await run({ system: true, shell: '/bin/bash', comment: 'GitLab Runner', groups: ['docker', 'adm'] }, { create: true })).toEqual([
      "useradd --create-home --system --shell /bin/bash --comment 'GitLab Runner' --groups docker,adm -- gitlab-runner",
    ]);
    expect(await run({}, { create: true })).toEqual(['useradd --create-home -- gitlab-runner']);
  });

  it('modifies with usermod, appending groups unless exclusive', async () => {
    expect(await run({ shell: '/usr/sbin/nologin', groups: ['docker'] }, {})).toEqual(['usermod --shell /usr/sbin/nologin --append --groups docker -- gitlab-runner']);
    expect(await run({ groups: ['docker'], exclusiveGroups: true }, {})).toEqual(['usermod --groups docker -- gitlab-runner']);
    expect(await run({ groups: [], exclusiveGroups: true }, {})).toEqual(["usermod --groups '' -- gitlab-runner"]);
  });

  it('deletes with userdel', async () => {
    expect(await run({ state: 'absent' }, { remove: true })).toEqual(['userdel -- gitlab-runner']);
  });
});

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const ED2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHtBvUqLrIIlLwN4RnKzhsh2dDL6V0xwLQZbhgMAAl0D';
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7vbqajDhA3xSDgD9sU1xvVyuk8HfQ1cjVqo3CAqf6zPm0m1+6CghSFnDfzmcOpGiMiXvWgRUKp4yFjZ9UL8jW6U2X';
const ECDSA = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT';
const SK = 'sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIBq2lU5nrBbVv3L';

describe('keyIdentity', () => {
  it('is type + blob, ignoring comments and options', () => {
    expect(keyIdentity(`${ED} alice@laptop`)).toBe(ED);
    expect(keyIdentity(ED)).toBe(ED);
    expect(keyIdentity(`from="10.0.0.0/8",no-pty ${ED} ci deploy key`)).toBe(ED);
    expect(keyIdentity(`restrict,command="/usr/bin/rrsync -ro /srv/backups" ${ED} backup`)).toBe(ED);
    expect(keyIdentity(`  ${RSA} bob`)).toBe(RSA);
  });

  it('knows ecdsa and security-key types', () => {
    expect(keyIdentity(`${ECDSA} x`)).toBe(ECDSA);
    expect(keyIdentity(`no-touch-required ${SK} yubikey`)).toBe(SK);
  });

  it('is null for comments, blank lines and garbage', () => {
    expect(keyIdentity('# ssh-ed25519 keys below')).toBeNull();
    expect(keyIdentity('')).toBeNull();
    expect(keyIdentity('ssh-ed25519 short')).toBeNull();
    expect(keyIdentity('hello world')).toBeNull();
  });
});

describe('authorizedKeys: plan', () => {
  /** What the probe prints on Debian 12: home, primary group, stat "%a|%U" (or absent), then the file. */
  const out = (st: string, lines: string[] = [], home = '/home/deploy') => `${home}\ndeploy\n${st}\n${lines.map((l) => l + '\n').join('')}`;
  const plan = (opts: { keys: string[]; exclusive?: boolean }, o: string, check = false) =>
    sync(authorizedKeys({ user: 'deploy', ...opts }).plan(probe(o), makeCtx(new FakeRemote(), { check })));

  it('refuses lines that are not public keys', () => {
    expect(() => authorizedKeys({ user: 'deploy', keys: ['-----BEGIN OPENSSH PRIVATE KEY-----'] })).toThrow(/is not an SSH public key line/);
    // a newline would add a line of its own (another key, or options for one)
    expect(() => authorizedKeys({ user: 'deploy', keys: [`${ED} alice\ncommand="/bin/sh" ${ED2}`] })).toThrow(/is not an SSH public key line/);
    expect(() => authorizedKeys({ user: 'de ploy', keys: [ED] })).toThrow('authorized keys: user "de ploy" is not a valid name');
  });

  it('adds keys to a missing file and shows the new file as a diff', () => {
    const change = plan({ keys: [`${ED} alice`] }, out('absent'));
    expect(change?.summary).toBe('add 1 key(s)');
    expect(change?.data).toEqual({ home: '/home/deploy', group: 'deploy', content: `${ED} alice\n` });
    expect(change?.diff).toEqual({ path: '/home/deploy/.ssh/authorized_keys', before: '', after: `${ED} alice\n` });
  });

  it('is null when the key is present with another comment or options, mode 600, owned by the user', () => {
    expect(plan({ keys: [`${ED} alice@new-laptop`] }, out('600|deploy', [`no-pty ${ED} alice@old-laptop`]))).toBeNull();
  });

  it('keeps keys it does not manage unless exclusive', () => {
    const existing = [`${RSA} bob`, `${ED} alice`];
    expect(plan({ keys: [`${ED} alice`] }, out('600|deploy', existing))).toBeNull();
    const change = plan({ keys: [`${ED} alice`, `${ED2} carol`] }, out('600|deploy', existing));
    expect(change?.summary).toBe('add 1 key(s)');
    expect((change?.data as any).content).toBe(`${RSA} bob\n${ED} alice\n${ED2} carol\n`);
  });

  it('removes unlisted keys when exclusive, keeping listed ones as they are', () => {
    const existing = [`${RSA} bob`, `from="10.0.0.1" ${ED} alice`, `${ECDSA} mallory`];
    const change = plan({ keys: [`${ED} alice`, `${ED2} carol`], exclusive: true }, out('600|deploy', existing));
    expect(change?.summary).toBe('add 1 key(s), remove 2 key(s)');
    expect((change?.data as any).content).toBe(`from="10.0.0.1" ${ED} alice\n${ED2} carol\n`);
    expect(change?.diff?.before).toBe(existing.join('\n') + '\n');
  });

  it('fixes mode or owner even when the keys are right', () => {
    expect(plan({ keys: [ED] }, out('644|deploy', [ED]))?.summary).toBe('fix mode/owner');
    expect(plan({ keys: [ED] }, out('600|root', [ED]))?.summary).toBe('fix mode/owner');
  });

  it('fails for a missing user, except in check mode where the user may be created first', () => {
    expect(() => plan({ keys: [ED] }, 'nouser\n')).toThrow('user deploy does not exist');
    expect(plan({ keys: [ED, ED2] }, 'nouser\n', true)?.summary).toBe('add 2 key(s) (user not created yet)');
  });

  it('in check mode for a user still to be created, shows the whole file as the diff when diffs are wanted', () => {
    const r = authorizedKeys({ user: 'deploy', keys: [`${ED} alice`, RSA] });
    const change = sync(r.plan(probe('nouser\n'), makeCtx(new FakeRemote(), { check: true, wantDiff: true })));
    expect(change?.diff?.before).toBe('');
    expect(change?.diff?.after).toBe(`${ED} alice\n${RSA}\n`);
  });

  it('ignores blank lines in the current file', () => {
    expect(plan({ keys: [ED] }, out('600|deploy', ['', ED, '   ']))).toBeNull();
  });
});

describe('authorizedKeys: apply', () => {
  it('creates ~/.ssh 0700 owned by the user, then writes the file atomically 0600', async () => {
    const remote = new FakeRemote();
    await authorizedKeys({ user: 'deploy', keys: [ED] }).apply({ summary: '', data: { home: '/home/deploy', group: 'users', content: `${ED}\n` } }, makeCtx(remote));
    expect(remote.scripts[0]).toBe('install -d -m 0700 -o deploy -g users -- /home/deploy/.ssh');
    expect(remote.calls).toHaveLength(2);
    const write = remote.calls[1];
    expect(write.stdin?.toString()).toBe(`${ED}\n`);
    expect(write.script.split('\n')[0]).toMatch(/^set -- \/home\/deploy\/\.ssh\/authorized_keys \/home\/deploy\/\.ssh\/\.rigger-[0-9a-f]+\.tmp deploy:users 600 0 1 '' ''$/);
  });
});

describe('user, group, authorizedKeys: generated scripts', () => {
  it('probes of every variant', () => {
    for (const r of [
      group({ name: 'docker' }),
      user({ name: 'deploy', shell: '/bin/bash', home: "/srv/it's", comment: 'a $(b) `c`', groups: ['sudo', 'adm'] }),
      authorizedKeys({ user: 'deploy', keys: [ED] }),
    ])
      recordScript(r.probe);
  });
  itPassesShellcheck(8);
});
