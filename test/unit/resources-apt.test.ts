import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { aptPackages } from '../../lib/resources/apt.js';
import { aptRepository } from '../../lib/resources/aptRepository.js';
import type { Change } from '../../lib/engine/types.js';
import { itPassesShellcheck, recordScript } from './helpers/shellcheck.js';
import { FakeRemote } from './helpers/fakeRemote.js';
import { makeCtx, probe, sync } from './helpers/context.js';
import { LocalRemote, probeAndPlan, tempDir } from './helpers/localRemote.js';
import { TEST_KEY_ARMORED, TEST_KEY_BINARY, TEST_KEY_FINGERPRINT } from './helpers/testKey.js';

/** What the apt probe prints on Debian 12: dpkg-query lines (a held package's status starts with "h"), ---, cache age in seconds. */
const aptOut = (pkgs: string[], age = '420') => pkgs.map((l) => l + '\n').join('') + '---\n' + age + '\n';

const CURL = 'curl\t7.88.1-10+deb12u5\tii ';
const JQ = 'jq\t1.6-2.1\tii ';
const DOCKER = 'docker-ce\t5:24.0.7-1~debian.12~bookworm\tii ';
const DOCKER_HELD = 'docker-ce\t5:24.0.7-1~debian.12~bookworm\thi ';
const RUNNER = 'gitlab-runner\t16.11.1\tii ';

const plan = (opts: Parameters<typeof aptPackages>[0], out: string) => aptPackages(opts).plan(probe(out), makeCtx(new FakeRemote())) as Change | null;

describe('aptPackages: declaration and probe', () => {
  it('names the resource after its packages and probes dpkg, holds and cache age together', () => {
    const r = aptPackages({ packages: ['curl', 'docker-ce=5:24.0.7-1~debian.12~bookworm'] });
    expect(r.id).toBe('apt:curl,docker-ce');
    expect(r.probe).toContain("dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n' -- curl docker-ce 2>/dev/null; echo ---\n");
    // holds are read without apt-mark, which as root rewrites apt's caches (a probe must not change the host)
    expect(r.probe).not.toContain('apt-mark');
    // one dpkg-query gives versions and holds: a host pays for every process on each run
    expect(r.probe.match(/dpkg-query/g)).toHaveLength(1);
    expect(r.probe.match(/---/g)).toHaveLength(1);
    expect(r.probe).toContain('/var/lib/apt/periodic/update-success-stamp /var/cache/apt/pkgcache.bin');
  });

  it('refuses invalid package names', () => {
    expect(() => aptPackages({ packages: ['Curl'] })).toThrow('apt package "Curl": "Curl" is not a valid Debian package name');
    expect(() => aptPackages({ packages: ['curl; rm -rf /'] })).toThrow(/not a valid Debian package name/);
    expect(() => aptPackages({ packages: ['-f'] })).toThrow(/not a valid Debian package name/);
    expect(() => aptPackages({ packages: ['libstdc++6', 'python3.11'] })).not.toThrow();
    expect(() => aptPackages({ packages: ['curl=7.88; id'] })).toThrow('apt package "curl=7.88; id": the version after "=" is not a Debian version');
    expect(() => aptPackages({ packages: ['curl=1=2'] })).toThrow(/is not a Debian version/);
    expect(() => aptPackages({ packages: ['curl'], env: { 'X; id': '1' } })).toThrow('apt packages: environment name "X; id" is not a variable name');
  });
});

describe('aptPackages: plan', () => {
  it('is null when everything is installed', () => {
    expect(plan({ packages: ['curl', 'jq'] }, aptOut([CURL, JQ]))).toBeNull();
  });

  it('installs packages dpkg does not know, and ones only known as removed (rc) or unknown (un)', () => {
    const out = aptOut([CURL, 'jq\t1.6-2.1\trc ', 'git\t\tun ']);
    const change = plan({ packages: ['curl', 'jq', 'git', 'nginx'] }, out);
    expect(change?.summary).toBe('install jq git nginx');
    expect(change?.data).toEqual({ install: ['jq', 'git', 'nginx'], remove: [], hold: [], unhold: [], cacheAge: 420 });
  });

  it('treats half-installed packages as not installed, and installed-but-marked-for-removal as installed', () => {
    expect(plan({ packages: ['jq'] }, aptOut(['jq\t1.6-2.1\tiU ']))?.summary).toBe('install jq');
    expect(plan({ packages: ['jq'] }, aptOut(['jq\t1.6-2.1\tri ']))).toBeNull();
    expect(plan({ packages: ['jq'], state: 'absent' }, aptOut(['jq\t1.6-2.1\tri ']))?.summary).toBe('remove jq');
  });

  it('reinstalls a pinned version when another version is installed, and not when it matches', () => {
    const pin = 'docker-ce=5:24.0.7-1~debian.12~bookworm';
    expect(plan({ packages: [pin] }, aptOut([DOCKER]))).toBeNull();
    const change = plan({ packages: [pin] }, aptOut(['docker-ce\t5:25.0.3-1~debian.12~bookworm\tii ']));
    expect(change?.summary).toBe(`install ${pin}`);
    expect((change?.data as any).install).toEqual([pin]);
  });

  it('holds packages that are not held yet, and leaves holds alone when hold is unset', () => {
    const pin = 'docker-ce=5:24.0.7-1~debian.12~bookworm';
    expect(plan({ packages: [pin], hold: true }, aptOut([DOCKER]))?.summary).toBe('hold docker-ce');
    expect(plan({ packages: [pin], hold: true }, aptOut([DOCKER_HELD]))).toBeNull();
    expect(plan({ packages: [pin] }, aptOut([DOCKER_HELD]))).toBeNull();
    const both = plan({ packages: ['curl', pin], hold: true }, aptOut([CURL]));
    expect(both?.summary).toBe(`install ${pin}, hold curl docker-ce`);
  });

  it('unholds when hold is false', () => {
    const change = plan({ packages: ['gitlab-runner'], hold: false }, aptOut(['gitlab-runner\t16.11.1\thi ']));
    expect(change?.summary).toBe('unhold gitlab-runner');
    expect(plan({ packages: ['gitlab-runner'], hold: false }, aptOut([RUNNER]))).toBeNull();
  });

  it('removes installed packages for state absent and ignores unknown or config-only ones', () => {
    const out = aptOut([CURL, 'jq\t1.6-2.1\trc ']);
    expect(plan({ packages: ['curl', 'jq', 'nginx'], state: 'absent' }, out)?.summary).toBe('remove curl');
    expect(plan({ packages: ['jq', 'nginx'], state: 'absent' }, out)).toBeNull();
  });

  it('parses the cache age, including a cache updated this second, and treats a missing age as infinitely old', () => {
    const age = (a: string) => (plan({ packages: ['jq'] }, aptOut([], a))?.data as any).cacheAge;
    expect(age('86400')).toBe(86400);
    expect(age('0')).toBe(0);
    expect(age('')).toBe(Infinity);
    expect(age('garbage')).toBe(Infinity);
    // never stamped: the probe prints now - 0
    expect(age('1735689600')).toBe(1735689600);
  });

  it('survives empty or truncated probe output by installing everything', () => {
    expect(plan({ packages: ['curl'] }, '')?.summary).toBe('install curl');
  });
});

describe('aptPackages: apply scripts', () => {
  const applyWith = async (opts: Parameters<typeof aptPackages>[0], data: object, changed: string[] = []) => {
    const remote = new FakeRemote();
    const ctx = makeCtx(remote, { changed: (id) => changed.includes(id) });
    await aptPackages(opts).apply({ summary: '', data: { install: [], remove: [], hold: [], unhold: [], cacheAge: 0, ...data } }, ctx);
    expect(remote.calls).toHaveLength(1);
    return remote.scripts[0].split('\n');
  };

  it('updates a stale cache, stamps it, then installs non-interactively keeping existing config files', async () => {
    const lines = await applyWith({ packages: ['curl', 'jq'] }, { install: ['curl', 'jq'], cacheAge: 7200 });
    // apt's output goes to stderr; its status lines (Status-Fd 3) to stdout, after a line naming the step
    expect(lines).toEqual([
      'set -e',
      'echo rigger-apt:update',
      'apt-get update -q -o APT::Status-Fd=3 3>&1 >&2',
      'mkdir -p /var/lib/apt/periodic',
      'touch /var/lib/apt/periodic/update-success-stamp',
      'echo rigger-apt:install',
      'apt-get install -y -q --no-install-recommends --allow-change-held-packages --allow-downgrades -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o APT::Status-Fd=3 -- curl jq 3>&1 >&2',
    ]);
  });

  it('does not update a fresh cache', async () => {
    const lines = await applyWith({ packages: ['curl'] }, { install: ['curl'], cacheAge: 60 });
    expect(lines.some((l) => l.includes('apt-get update'))).toBe(false);
  });

  it('respects cacheMaxAge', async () => {
    expect((await applyWith({ packages: ['curl'], cacheMaxAge: 30 }, { install: ['curl'], cacheAge: 60 })).some((l) => l.includes('apt-get update'))).toBe(true);
    expect((await applyWith({ packages: ['curl'], cacheMaxAge: 86400 }, { install: ['curl'], cacheAge: 7200 })).some((l) => l.includes('apt-get update'))).toBe(false);
  });

  it('updates a fresh cache when a linked source changed earlier in the run (updateCacheIfChanged)', async () => {
    const repo = aptRepository({ name: 'runner', uri: 'https://packages.example.org/debian', suites: ['bookworm'], components: ['main'], keyUrl: 'https://packages.example.org/gpg' });
    const opts = { packages: ['gitlab-runner'], updateCacheIfChanged: repo };
    expect(aptPackages(opts).links).toEqual({ updateCacheIfChanged: ['apt-keyring:/etc/apt/keyrings/runner.gpg', 'file:/etc/apt/sources.list.d/runner.sources'] });
    const changed = await applyWith(opts, { install: ['gitlab-runner'], cacheAge: 5 }, ['file:/etc/apt/sources.list.d/runner.sources']);
    expect(changed[2]).toBe('apt-get update -q -o APT::Status-Fd=3 3>&1 >&2');
    const keyOnly = await applyWith(opts, { install: ['gitlab-runner'], cacheAge: 5 }, ['apt-keyring:/etc/apt/keyrings/runner.gpg']);
    expect(keyOnly[2]).toBe('apt-get update -q -o APT::Status-Fd=3 3>&1 >&2');
    // another resource's change does not count: only the linked ones do
    const unrelated = await applyWith(opts, { install: ['gitlab-runner'], cacheAge: 5 }, ['file:/etc/motd']);
    expect(unrelated.some((l) => l.includes('apt-get update'))).toBe(false);
  });

  it('quotes pinned versions and puts env before apt-get', async () => {
    const pin = 'docker-ce=5:24.0.7-1~debian.12~bookworm';
    const lines = await applyWith({ packages: [pin], env: { NO_DOCKER_PRUNE: '1', NOTE: 'a b' } }, { install: [pin], cacheAge: 0 });
    expect(lines[2]).toMatch(/^env 'NO_DOCKER_PRUNE=1' 'NOTE=a b' apt-get install -y .* -- 'docker-ce=5:24\.0\.7-1~debian\.12~bookworm' 3>&1 >&2$/);
  });

  it('holds again what it installed when hold is set (an upgrade resets the selection)', async () => {
    const pin = 'docker-ce=5:24.0.7-1~debian.12~bookworm';
    const lines = await applyWith({ packages: [pin, 'containerd.io'], hold: true }, { install: [pin], hold: ['containerd.io'] });
    expect(lines.at(-1)).toMatch(/^apt-mark hold -- (containerd\.io docker-ce|docker-ce containerd\.io) >\/dev\/null$/);
    expect(lines.findIndex((l) => l.startsWith('apt-mark hold'))).toBeGreaterThan(lines.findIndex((l) => l.includes('apt-get install')));
  });

  it('removes without updating the cache, and holds/unholds with apt-mark', async () => {
    expect(await applyWith({ packages: ['nginx'], state: 'absent' }, { remove: ['nginx'], cacheAge: 999999 })).toEqual(['set -e', 'echo rigger-apt:remove', 'apt-get remove -y -q --allow-change-held-packages -o APT::Status-Fd=3 -- nginx 3>&1 >&2']);
    expect(await applyWith({ packages: ['a1', 'b2'] }, { hold: ['a1'], unhold: ['b2'] })).toEqual(['set -e', 'apt-mark hold -- a1 >/dev/null', 'apt-mark unhold -- b2 >/dev/null']);
  });
});

describe.runIf(existsSync('/usr/bin/dpkg-query'))('aptPackages: the real probe on this Debian machine', () => {
  it('parses what dpkg-query, apt-mark and stat really print', async () => {
    const r = aptPackages({ packages: ['dpkg', 'rigger-no-such-package'] });
    const change = await probeAndPlan(r, makeCtx(new LocalRemote()));
    expect(change?.summary).toBe('install rigger-no-such-package');
    const age = (change?.data as any).cacheAge;
    expect(Number.isFinite(age)).toBe(true);
    expect(age).toBeGreaterThanOrEqual(0);
   }, 30_000);
});

describe('aptRepository: sources content', () => {
  const base = { name: 'gitlab-runner', uri: 'https://packages.gitlab.com/runner/gitlab-runner/debian/', suites: ['bookworm'], components: ['main'], keyUrl: 'https://packages.gitlab.com/runner/gitlab-runner/gpgkey' };
  const after = async (r: ReturnType<typeof aptRepository>[1]) => (await r.plan(probe('absent\n', 1), makeCtx(new FakeRemote(), { wantDiff: true })))?.diff?.after;

  it('returns a keyring and a deb822 sources file by default', async () => {
    const [key, src] = aptRepository(base);
    expect(key.id).toBe('apt-keyring:/etc/apt/keyrings/gitlab-runner.gpg');
    expect(src.id).toBe('file:/etc/apt/sources.list.d/gitlab-runner.sources');
    expect(await after(src)).toBe(
      '# managed by rigger\nTypes: deb\nURIs: https://packages.gitlab.com/runner/gitlab-runner/debian/\nSuites: bookworm\nComponents: main\nSigned-By: /etc/apt/keyrings/gitlab-runner.gpg\n',
    );
  });

  it('adds Architectures when given', async () => {
    const [, src] = aptRepository({ ...base, suites: ['bookworm', 'bookworm-backports'], components: ['main', 'contrib'], architectures: ['amd64', 'arm64'] });
    expect(await after(src)).toBe(
      '# managed by rigger\nTypes: deb\nURIs: https://packages.gitlab.com/runner/gitlab-runner/debian/\nSuites: bookworm bookworm-backports\nComponents: main contrib\nArchitectures: amd64 arm64\nSigned-By: /etc/apt/keyrings/gitlab-runner.gpg\n',
    );
  });

  it('writes a one-line .list with signed-by (and arch), one line per suite', async () => {
    const [, src] = aptRepository({ ...base, format: 'one-line' });
    expect(src.id).toBe('file:/etc/apt/sources.list.d/gitlab-runner.list');
    expect(await after(src)).toBe('# managed by rigger\ndeb [signed-by=/etc/apt/keyrings/gitlab-runner.gpg] https://packages.gitlab.com/runner/gitlab-runner/debian/ bookworm main\n');
    const [, multi] = aptRepository({ ...base, format: 'one-line', suites: ['bookworm', 'bookworm-updates'], architectures: ['amd64', 'arm64'] });
    expect(await after(multi)).toBe(
      '# managed by rigger\n' +
        'deb [arch=amd64,arm64 signed-by=/etc/apt/keyrings/gitlab-runner.gpg] https://packages.gitlab.com/runner/gitlab-runner/debian/ bookworm main\n' +
        'deb [arch=amd64,arm64 signed-by=/etc/apt/keyrings/gitlab-runner.gpg] https://packages.gitlab.com/runner/gitlab-runner/debian/ bookworm-updates main\n',
    );
  });

  it('refuses names that would escape /etc/apt', () => {
    expect(() => aptRepository({ ...base, name: '../evil' })).toThrow(/apt repository name/);
    expect(() => aptRepository({ ...base, name: 'Docker' })).toThrow(/apt repository name/);
  });

  it('passes tags/notify to both resources, and refuses values that would add fields or lines to the sources file', () => {
    const [key, src] = aptRepository({ ...base, tags: ['apt'], notify: 'apt update' });
    expect(src.tags).toEqual(['apt']);
    expect(key.tags).toEqual(['apt']);
    expect(src.notify).toEqual(['apt update']);
    expect(() => aptRepository({ ...base, uri: 'https://x/ bookworm main\ndeb https://evil/' })).toThrow('apt repository: uri "https://x/ bookworm main\\ndeb https://evil/" must be one word');
    expect(() => aptRepository({ ...base, suites: ['bookworm [trusted=yes]'] })).toThrow(/suite .* must be one word/);
    expect(() => aptRepository({ ...base, keyFingerprint: 'not-hex' })).toThrow(/keyFingerprint "not-hex" is not a key fingerprint/);
  });
});

describe('aptRepository: keyring plan and apply script', () => {
  const FPR = '664360363F7873D5BDD0AF7C921D862AB8C6DAE0';
  const SUB = '0123456789ABCDEF0123456789ABCDEF01234567';
  const base = { name: 'docker', uri: 'https://download.docker.com/linux/debian', suites: ['bookworm'], components: ['stable'], keyUrl: 'https://download.docker.com/linux/debian/gpg' };
  const keyring = (fp?: string) => aptRepository({ ...base, keyFingerprint: fp })[0];
  const ctx = () => makeCtx(new FakeRemote());
  /** what scripts/apt-keyring.sh probe prints: present, then "ok|expired <expiry> <fprs>" per key */
  const present = (...keys: string[]) => `present\n${keys.map((k) => k + '\n').join('')}`;

  it('probes the keyring with scripts/apt-keyring.sh and fetches when absent', () => {
    const k = keyring(FPR);
    expect(k.probe.split('\n')[0]).toBe('set -- probe /etc/apt/keyrings/docker.gpg');
    expect(k.probe).toContain('gpg --no-default-keyring --show-keys --with-colons');
    expect(k.plan(probe('absent\n'), ctx())).toEqual({ summary: 'fetch signing key from https://download.docker.com/linux/debian/gpg', data: { reason: 'absent' } });
  });

  it('accepts a present, unexpired keyring without a fingerprint to check; without gpg on the host, any present keyring', () => {
    expect(keyring().plan(probe(present(`ok 0 ${FPR}`)), ctx())).toBeNull();
    expect(keyring().plan(probe('present\ngpg=no\n'), ctx())).toBeNull();
    expect(sync(keyring().plan(probe('present\n'), ctx()))?.summary).toBe('replace keyring (no key in it)');
  });

  it('accepts the fingerprint of a primary key or a subkey, written in any case or with spaces', () => {
    const out = present(`ok 0 ${FPR},${SUB}`);
    expect(keyring(FPR).plan(probe(out), ctx())).toBeNull();
    expect(keyring('0123 4567 89ab cdef 0123  4567 89AB CDEF 0123 4567').plan(probe(out), ctx())).toBeNull();
  });

  it('replaces a keyring that lacks the wanted fingerprint', () => {
    expect(keyring('AAAA' + FPR.slice(4)).plan(probe(present(`ok 0 ${FPR}`)), ctx())).toEqual({ summary: `replace keyring (fingerprint AAAA${FPR.slice(4)} missing)`, data: { reason: 'fingerprint' } });
    // unreadable keyring: no key at all
    expect(sync(keyring(FPR).plan(probe('present\n'), ctx()))?.summary).toMatch(/^replace keyring \(fingerprint/);
  });

  it('fetches the key again when it has expired, even with the right fingerprint (issue 9: the repository extends the expiry)', () => {
    expect(keyring(FPR).plan(probe(present(`expired 1704067200 ${FPR}`)), ctx())).toEqual({
      summary: `refresh keyring from ${base.keyUrl} (key ${FPR} expired on 2024-01-01)`,
      data: { reason: 'expired' },
    });
    expect(sync(keyring().plan(probe(present(`expired 0 ${FPR}`)), ctx()))?.summary).toBe(`refresh keyring from ${base.keyUrl} (key ${FPR} expired (no signing key left))`);
    // another key of the keyring still valid: nothing to do without a fingerprint, the wanted one decides with it
    expect(keyring().plan(probe(present(`expired 1704067200 ${FPR}`, `ok 0 ${SUB}`)), ctx())).toBeNull();
    expect(sync(keyring(FPR).plan(probe(present(`expired 1704067200 ${FPR}`, `ok 0 ${SUB}`)), ctx()))?.summary).toMatch(/^refresh keyring/);
  });

  it('fetches with scripts/apt-keyring.sh, the URL and fingerprint as quoted arguments', async () => {
    const remote = new FakeRemote();
    await keyring(FPR).apply({ summary: '' }, makeCtx(remote));
    expect(remote.scripts[0].split('\n')[0]).toBe(`set -- fetch /etc/apt/keyrings/docker.gpg https://download.docker.com/linux/debian/gpg ${FPR}`);
    const hostile = aptRepository({ ...base, keyUrl: 'https://x/"$(touch /tmp/pwned)"`id`' })[0];
    await hostile.apply({ summary: '' }, makeCtx(remote));
    expect(remote.scripts[1].split('\n')[0]).toBe(`set -- fetch /etc/apt/keyrings/docker.gpg 'https://x/"$(touch /tmp/pwned)"\`id\`' ''`);
  });
});

describe.runIf(existsSync('/usr/bin/gpg'))('aptRepository: keyring executed locally with gpg and curl', () => {
  let dir: string;
  let cleanup: () => void;
  let fpr: string;
  let armored: string;
  let binary: string;
  const gnupg = () => join(dir, 'gnupg');

  beforeAll(() => {
    ({ dir, cleanup } = tempDir());
    mkdirSync(gnupg(), { mode: 0o700 });
    fpr = TEST_KEY_FINGERPRINT;
    armored = join(dir, 'key.asc');
    binary = join(dir, 'key.gpg');
    writeFileSync(armored, TEST_KEY_ARMORED);
    writeFileSync(binary, TEST_KEY_BINARY);
  });
  afterAll(() => cleanup());

  /** The apply and probe scripts hard-code /etc/apt/keyrings: map it into the temp dir. */
  const remote = (sub: string) => {
    const keyrings = join(dir, sub);
    return { keyrings, remote: new LocalRemote({ env: { GNUPGHOME: gnupg() }, rewrite: (s) => s.split('/etc/apt/keyrings').join(keyrings) }) };
  };

  it('fetches an armored key, stores it dearmored, and is then satisfied', async () => {
    const { keyrings, remote: r } = remote('k1');
    const [key] = aptRepository({ name: 'fake', uri: 'file:/srv/apt', suites: ['bookworm'], components: ['main'], keyUrl: pathToFileURL(armored).href, keyFingerprint: fpr.toLowerCase() });
    const ctx = makeCtx(r);
    const change = await probeAndPlan(key, ctx);
    expect(change?.summary).toMatch(/^fetch signing key from file:/);
    await key.apply(change!, ctx);
    const stored = readFileSync(join(keyrings, 'fake.gpg'));
    expect(stored.equals(readFileSync(binary))).toBe(true);
    expect(stored.includes('BEGIN PGP')).toBe(false);
    expect(statSync(join(keyrings, 'fake.gpg')).mode & 0o777).toBe(0o644);
    expect(await probeAndPlan(key, ctx)).toBeNull();
  });

  it('copies a binary key as is', async () => {
    const { keyrings, remote: r } = remote('k2');
    const [key] = aptRepository({ name: 'bin', uri: 'file:/srv/apt', suites: ['bookworm'], components: ['main'], keyUrl: pathToFileURL(binary).href, keyFingerprint: fpr });
    const ctx = makeCtx(r);
    await key.apply((await probeAndPlan(key, ctx))!, ctx);
    expect(readFileSync(join(keyrings, 'bin.gpg')).equals(readFileSync(binary))).toBe(true);
    expect(await probeAndPlan(key, ctx)).toBeNull();
  });

  it('refuses a key whose fingerprint does not match, leaving nothing behind', async () => {
    const { keyrings, remote: r } = remote('k3');
    const wrong = 'DEADBEEF' + fpr.slice(8);
    const [key] = aptRepository({ name: 'evil', uri: 'file:/srv/apt', suites: ['bookworm'], components: ['main'], keyUrl: pathToFileURL(armored).href, keyFingerprint: wrong });
    const ctx = makeCtx(r);
    await expect(key.apply((await probeAndPlan(key, ctx))!, ctx)).rejects.toThrow(`does not have fingerprint ${wrong}; refusing it`);
    expect(readdirSync(keyrings)).toEqual([]);
  });

  it('replaces an existing keyring that lacks the fingerprint', async () => {
    const { keyrings, remote: r } = remote('k4');
    mkdirSync(keyrings);
    writeFileSync(join(keyrings, 'old.gpg'), 'not a key at all');
    const [key] = aptRepository({ name: 'old', uri: 'file:/srv/apt', suites: ['bookworm'], components: ['main'], keyUrl: pathToFileURL(armored).href, keyFingerprint: fpr });
    const ctx = makeCtx(r);
    const change = await probeAndPlan(key, ctx);
    expect(change?.summary).toBe(`replace keyring (fingerprint ${fpr} missing)`);
    await key.apply(change!, ctx);
    expect(await probeAndPlan(key, ctx)).toBeNull();
  });

  describe('an expired key (gpg --faked-system-time: made in 2020, valid one day)', () => {
    let home: string;
    let keyFpr: string;
    const served = () => join(dir, 'served-key.gpg');
    const gpg = (...args: string[]) => execFileSync('gpg', ['--batch', '--homedir', home, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

    beforeAll(() => {
      home = join(dir, 'expiring-gnupg');
      mkdirSync(home, { mode: 0o700 });
      gpg('--faked-system-time', '20200101T000000', '--passphrase', '', '--quick-gen-key', 'rigger test <expiring@example.org>', 'ed25519', 'sign', '1d');
      keyFpr = gpg('--with-colons', '--list-keys').split('\n').find((l) => l.startsWith('fpr:'))!.split(':')[9];
      writeFileSync(served(), execFileSync('gpg', ['--batch', '--homedir', home, '--export', keyFpr]));
    });

    it('is fetched again once the repository extends its expiry, same fingerprint; an expired download is refused', async () => {
      const { keyrings, remote: r } = remote('k5');
      mkdirSync(keyrings);
      // the host has the key as it was published in 2020: expired since 2020-01-02
      writeFileSync(join(keyrings, 'exp.gpg'), readFileSync(served()));
      const [key] = aptRepository({ name: 'exp', uri: 'file:/srv/apt', suites: ['bookworm'], components: ['main'], keyUrl: pathToFileURL(served()).href, keyFingerprint: keyFpr });
      const ctx = makeCtx(r);
      const change = await probeAndPlan(key, ctx);
      expect(change?.summary).toBe(`refresh keyring from ${pathToFileURL(served()).href} (key ${keyFpr} expired on 2020-01-02)`);
      // the URL still serves the expired key: refused, the old keyring stays
      await expect(key.apply(change!, ctx)).rejects.toThrow(`signing key from ${pathToFileURL(served()).href} has expired (apt would refuse what it signs); refusing it`);
      expect(readdirSync(keyrings)).toEqual(['exp.gpg']);
      // the repository extends the key's expiry (what GitLab did in 2024): fetched, then satisfied
      gpg('--quick-set-expire', keyFpr, '0');
      writeFileSync(served(), execFileSync('gpg', ['--batch', '--homedir', home, '--export', keyFpr]));
      await key.apply(change!, ctx);
      expect(readFileSync(join(keyrings, 'exp.gpg')).equals(readFileSync(served()))).toBe(true);
      expect(await probeAndPlan(key, ctx)).toBeNull();
    });
  });
});

describe('aptPackages: cache freshness', () => {
  it('treats a system without package lists as stale, whatever pkgcache.bin says', async () => {
    const { aptPackages } = await import('../../lib/resources/apt.js');
    const r = aptPackages({ packages: ['less'] });
    const change = r.plan({ stdout: '---\nnolists\n', code: 0 }, {} as any) as any;
    expect(change.data.cacheAge).toBe(Infinity);
    const fresh = r.plan({ stdout: '---\n12\n', code: 0 }, {} as any) as any;
    expect(fresh.data.cacheAge).toBe(12);
  });
});

describe('aptPackages and aptRepository: generated scripts', () => {
  it('probes of every variant', () => {
    recordScript(aptPackages({ packages: ['curl', 'docker-ce=5:24.0.7-1~debian.12~bookworm'] }).probe);
    for (const r of aptRepository({ name: 'x', uri: 'file:/srv/apt', suites: ['bookworm'], components: ['main'], keyUrl: 'file:/srv/k', format: 'one-line' })) recordScript(r.probe);
  });
  itPassesShellcheck(10);
});
