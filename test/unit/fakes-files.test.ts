// Checks of the file fixtures (test/fakes/aptrepo.ts, downloads.ts, fixtures.ts)
// with local tools only (dpkg-deb, gpgv): no network, no Docker. The end-to-end
// proof against a real Debian 12 apt is test/fakes/check-aptrepo.ts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFakeAptRepo, nextMinorVersion, type FakeAptRepo } from '../fakes/aptrepo.js';
import { buildFakeDownloads } from '../fakes/downloads.js';
import { prepareFixtures } from '../fakes/fixtures.js';

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

let tmp: string;
let repo: FakeAptRepo;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rigger-fakes-test-'));
  repo = await buildFakeAptRepo(path.join(tmp, 'apt'));
}, 60_000);
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('buildFakeAptRepo', () => {
  it('returns the documented shape', () => {
    expect(repo).toMatchObject({
      repoDir: path.join(tmp, 'apt'),
      codename: 'bookworm',
      component: 'main',
      packages: ['gitlab-runner', 'gitlab-runner-helper-images'],
      version: '17.7.1-1',
      newerVersion: '17.8.0-1',
    });
    expect(repo.fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(fs.readFileSync(repo.keyFile, 'utf8')).toContain('-----BEGIN PGP PUBLIC KEY BLOCK-----');
    expect(repo.debs).toHaveLength(4);
  });

  it('signs Release (detached and inline) with the exported key', () => {
    const dist = path.join(repo.repoDir, 'dists/bookworm');
    run('gpgv', ['--keyring', repo.keyringFile, path.join(dist, 'Release.gpg'), path.join(dist, 'Release')]);
    run('gpgv', ['--keyring', repo.keyringFile, path.join(dist, 'InRelease')]);
  });

  it('lists the right hashes and sizes in Release', () => {
    const dist = path.join(repo.repoDir, 'dists/bookworm');
    const release = fs.readFileSync(path.join(dist, 'Release'), 'utf8');
    expect(release).toMatch(/^Codename: bookworm$/m);
    expect(release).toMatch(/^Date: .+ UTC$/m);
    const sha = release.split('SHA256:\n')[1].split(/\n(?! )/)[0];
    const entries = sha.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(entries.map((e) => e[2])).toContain(`main/binary-${repo.architecture}/Packages.gz`);
    for (const [hash, size, name] of entries) {
      const file = path.join(dist, name);
      expect(sha256(file)).toBe(hash);
      expect(fs.statSync(file).size).toBe(Number(size));
    }
  });

  it('indexes both versions of both packages, with matching pool hashes', () => {
    const packages = fs.readFileSync(path.join(repo.repoDir, `dists/bookworm/main/binary-${repo.architecture}/Packages`), 'utf8');
    const stanzas = packages.trim().split(/\n\n/).map((s) => Object.fromEntries(s.split('\n').filter((l) => !l.startsWith(' ')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)])));
    expect(stanzas.map((s) => `${s.Package}=${s.Version}`).sort()).toEqual([
      'gitlab-runner-helper-images=17.7.1-1',
      'gitlab-runner-helper-images=17.8.0-1',
      'gitlab-runner=17.7.1-1',
      'gitlab-runner=17.8.0-1',
    ]);
    for (const s of stanzas) {
      expect(sha256(path.join(repo.repoDir, s.Filename))).toBe(s.SHA256);
      if (s.Package === 'gitlab-runner') expect(s.Depends).toBe(`gitlab-runner-helper-images (= ${s.Version})`);
    }
  });

  it('gitlab-runner.deb carries the script, the unit and a postinst creating /etc/gitlab-runner', () => {
    const deb = repo.debs.find((d) => path.basename(d).startsWith('gitlab-runner_17.7.1-1'))!;
    const contents = run('dpkg-deb', ['-c', deb]);
    expect(contents).toMatch(/-rwxr-xr-x root\/root .* \.\/usr\/bin\/gitlab-runner$/m);
    expect(contents).toContain('./lib/systemd/system/gitlab-runner.service');
    const x = path.join(tmp, 'x');
    run('dpkg-deb', ['-R', deb, x]);
    expect(fs.readFileSync(path.join(x, 'lib/systemd/system/gitlab-runner.service'), 'utf8')).toContain(
      'ExecStart=/usr/bin/gitlab-runner run --config /etc/gitlab-runner/config.toml',
    );
    expect(fs.readFileSync(path.join(x, 'DEBIAN/postinst'), 'utf8')).toContain('mkdir -p /etc/gitlab-runner');
    const bin = path.join(x, 'usr/bin/gitlab-runner');
    expect(run('sh', [bin, '--version'])).toMatch(/^Version: +17\.7\.1$/m);
    expect(() => run('sh', [bin, 'register'])).toThrow();
    const helper = repo.debs.find((d) => path.basename(d).startsWith('gitlab-runner-helper-images_17.7.1-1_all'))!;
    expect(run('dpkg-deb', ['-c', helper])).toContain('./usr/lib/gitlab-runner/');
  });

  it('reuses a complete cached repository (same key) and rebuilds for another version', async () => {
    const t = Date.now();
    const again = await buildFakeAptRepo(repo.repoDir);
    expect(Date.now() - t).toBeLessThan(1000);
    expect(again.fingerprint).toBe(repo.fingerprint);

    const other = await buildFakeAptRepo(path.join(tmp, 'apt2'), { version: '16.11.2-1' });
    expect(other.newerVersion).toBe('16.12.0-1');
    expect(other.debs.map((d) => path.basename(d))).toContain('gitlab-runner_16.11.2-1_' + other.architecture + '.deb');
    const rebuilt = await buildFakeAptRepo(path.join(tmp, 'apt2'));
    expect(rebuilt.version).toBe('17.7.1-1');
    expect(fs.existsSync(path.join(tmp, 'apt2/pool/main/g/gitlab-runner/gitlab-runner_16.11.2-1_' + other.architecture + '.deb'))).toBe(false);
  }, 60_000);

  it('rebuilds an incomplete repository', async () => {
    fs.rmSync(path.join(tmp, 'apt2/dists/bookworm/InRelease'));
    const fixed = await buildFakeAptRepo(path.join(tmp, 'apt2'));
    expect(fs.existsSync(path.join(tmp, 'apt2/dists/bookworm/InRelease'))).toBe(true);
    expect(fixed.fingerprint).toMatch(/^[0-9A-F]{40}$/);
  }, 60_000);

  it('nextMinorVersion', () => {
    expect(nextMinorVersion('17.7.1-1')).toBe('17.8.0-1');
    expect(nextMinorVersion('19.0.3')).toBe('19.1.0-1');
    expect(() => nextMinorVersion('latest')).toThrow();
  });
});

describe('buildFakeDownloads', () => {
  it('writes executables whose sha256 is returned, and answers --version', async () => {
    const d = await buildFakeDownloads(path.join(tmp, 'dl'));
    expect(d.scalewayDriver.name).toBe('scaleway-v2');
    for (const f of [d.dockerMachine, d.scalewayDriver]) {
      expect(sha256(f.path)).toBe(f.sha256);
      expect(fs.statSync(f.path).mode & 0o777).toBe(0o755);
      expect(path.join(tmp, 'dl', f.relPath)).toBe(f.path);
    }
    expect(run(d.dockerMachine.path, ['--version'])).toMatch(/^docker-machine version 0\.16\.2-gitlab\.30, build \w+$/m);
    expect(run(d.dockerMachine.path, ['ls', '-q'])).toBe('');
    expect(path.basename(d.dockerMachine.path)).toBe('docker-machine-Linux-x86_64');
    expect(path.basename(d.scalewayDriver.path)).toBe('docker-machine-driver-scaleway-v2');
    const again = await buildFakeDownloads(path.join(tmp, 'dl'));
    expect(again.dockerMachine.sha256).toBe(d.dockerMachine.sha256);
  });
});

describe('prepareFixtures', () => {
  it('builds apt/ and downloads/ and maps them to /srv/fixtures', async () => {
    const f = await prepareFixtures(path.join(tmp, 'fx'));
    expect(f.apt.repoDir).toBe(path.join(tmp, 'fx/apt'));
    expect(f.inHost.aptUrl).toBe('file:/srv/fixtures/apt');
    expect(f.inHost.aptKeyFile).toBe('/srv/fixtures/apt/gpgkey.asc');
    expect(f.inHost.aptSourceLine('/etc/apt/keyrings/gitlab-runner.gpg')).toBe(
      'deb [signed-by=/etc/apt/keyrings/gitlab-runner.gpg] file:/srv/fixtures/apt bookworm main',
    );
    expect(f.inHost.dockerMachineUrl).toBe(
      'file:///srv/fixtures/downloads/docker-machine/v0.16.2-gitlab.30/docker-machine-Linux-x86_64',
    );
  }, 60_000);
});
