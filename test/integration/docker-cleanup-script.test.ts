/**
 * roles/docker-cleanup/files/docker-cleanup.sh against a real Docker engine.
 *
 * Everything runs against a SECOND dockerd (helpers/second-dockerd.ts) with
 * its own data root: the script prunes, and the default engine holds the
 * test-host images. No registry: the test image is a ~2 MB rootfs made of the
 * host's dash, sleep and true plus their libraries, loaded with `docker import`.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile, chmod, access } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecondDockerd, type SecondDockerd } from './helpers/second-dockerd.js';

const execFileP = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = resolve(here, '../../roles/docker-cleanup/files/docker-cleanup.sh');
const LABEL = 'com.gitlab.gitlab-runner.managed=true';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { env, timeout: 120_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let engine: SecondDockerd;
let tmp: string;
let dockerEnv: NodeJS.ProcessEnv;

async function docker(...args: string[]): Promise<string> {
  const r = await run('docker', args, dockerEnv);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean).sort();
const volumes = async () => lines(await docker('volume', 'ls', '-q'));
const containers = async () => lines(await docker('ps', '-a', '--format', '{{.Names}}'));
const images = async () => lines(await docker('image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'));
const state = async () => ({ volumes: await volumes(), containers: await containers(), images: await images() });

/** Runs the script with a clean configuration: no config file, no syslog, a private lock. */
async function cleanup(extraEnv: Record<string, string> = {}, args: string[] = []): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...dockerEnv };
  for (const v of ['THRESHOLD', 'GRACE', 'DOCKER_ROOT', 'DRY_RUN', 'LOG_TAG', 'LOCK_FILE', 'DOCKER', 'DOCKER_CLEANUP_CONFIG']) {
    delete env[v];
  }
  Object.assign(env, {
    DOCKER_CLEANUP_CONFIG: join(tmp, 'no-such-config'),
    LOCK_FILE: join(tmp, 'cleanup.lock'),
    LOG_TAG: '',
    ...extraEnv,
  });
  return run('bash', [SCRIPT, ...args], env);
}

/** A tiny rootfs with /bin/sh (dash), sleep, true and their shared libraries. */
async function buildRootfs(dir: string): Promise<void> {
  const bins: Record<string, string> = { '/bin/sh': '/bin/dash', '/bin/sleep': '/bin/sleep', '/bin/true': '/bin/true' };
  const files = new Map<string, string>(Object.entries(bins)); // target in rootfs -> source on host
  for (const src of Object.values(bins)) {
    const { stdout } = await execFileP('ldd', [src]);
    for (const m of stdout.matchAll(/(\/\S+) \(0x/g)) files.set(m[1], m[1]);
  }
  for (const [target, src] of files) {
    await mkdir(join(dir, dirname(target)), { recursive: true });
    await copyFile(src, join(dir, target)); // copyFile follows symlinks
    await chmod(join(dir, target), 0o755);
  }
}

async function importImage(rootfs: string, tag: string): Promise<void> {
  const r = await run('sh', ['-c', 'tar -C "$1" -c . | docker import - "$2"', 'sh', rootfs, tag], dockerEnv);
  if (r.code !== 0) throw new Error(`docker import failed: ${r.stderr}`);
}

/**
 * The objects every scenario starts from (names are what the assertions use):
 *  - image base:latest       used by the containers below
 *  - image unused:latest     used by nothing
 *  - volume lab-free-a/b     runner label, unused (b is a cache-style name)
 *  - volume plain-free       no label, unused: must always survive
 *  - volume lab-running      runner label, used by running container `running`
 *  - volume lab-created      runner label, used by container `created` (never started)
 *  - volume lab-exited       runner label, used by container `exited` (ran and stopped)
 */
let fixturesCreatedAt = 0;
async function createFixtures(): Promise<void> {
  await docker('volume', 'create', '--label', LABEL, 'lab-free-a');
  await docker('volume', 'create', '--label', LABEL, 'runner-abc123-project-1-concurrent-0-cache-3c3f060a0374fc8bc39395164f415a70');
  await docker('volume', 'create', 'plain-free');
  await docker('volume', 'create', '--label', LABEL, 'lab-running');
  await docker('volume', 'create', '--label', LABEL, 'lab-created');
  await docker('volume', 'create', '--label', LABEL, 'lab-exited');
  await docker('run', '-d', '--name', 'running', '--network', 'none', '--label', LABEL,
    '-v', 'lab-running:/cache', 'base:latest', 'sleep', '600');
  await docker('create', '--name', 'created', '--network', 'none', '--label', LABEL,
    '-v', 'lab-created:/cache', 'base:latest', 'true');
  await docker('run', '--name', 'exited', '--network', 'none', '--label', LABEL,
    '-v', 'lab-exited:/cache', 'base:latest', 'sh', '-c', 'echo data > /cache/f');
  fixturesCreatedAt = Date.now();
}

const CACHE_VOL = 'runner-abc123-project-1-concurrent-0-cache-3c3f060a0374fc8bc39395164f415a70';
const INITIAL = {
  volumes: ['lab-created', 'lab-exited', 'lab-free-a', 'lab-running', 'plain-free', CACHE_VOL].sort(),
  containers: ['created', 'exited', 'running'],
  images: ['base:latest', 'unused:latest'],
};

describe('docker-cleanup.sh', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    tmp = await mkdtemp('/tmp/dcs-');
    engine = await startSecondDockerd();
    dockerEnv = { ...process.env, ...engine.env };
    delete dockerEnv.DOCKER_CONTEXT;
    const rootfs = join(tmp, 'rootfs');
    await buildRootfs(rootfs);
    await importImage(rootfs, 'base:latest');
    await writeFile(join(rootfs, 'marker'), `unused ${Date.now()}\n`); // different content, different image
    await importImage(rootfs, 'unused:latest');
    await createFixtures();
  }, 180_000);

  afterAll(async () => {
    await engine?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }, 120_000);

  it('passes shellcheck', async () => {
    const r = await run('shellcheck', ['--severity=style', SCRIPT], process.env);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('is executable and refuses bad configuration with exit 2', async () => {
    await access(SCRIPT, 1 /* X_OK */);
    const bad: Record<string, string>[] = [
      { THRESHOLD: '15 percent' }, { THRESHOLD: '101%' }, { THRESHOLD: '20X' }, { GRACE: '3 days' }, { GRACE: '72' },
    ];
    for (const env of bad) {
      const r = await cleanup({ THRESHOLD: '100%', ...env });
      expect(r.code, JSON.stringify(env)).toBe(2);
    }
    expect((await cleanup({}, ['--bogus'])).code).toBe(2);
    expect(await state()).toEqual(INITIAL);
  });

  it('does nothing while free space is above the threshold (bytes and percent)', async () => {
    for (const threshold of ['1K', '1', '0%', '500M']) {
      const r = await cleanup({ THRESHOLD: threshold, GRACE: '0s' });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('free space above threshold, nothing to do');
      expect(r.stdout).toMatch(new RegExp(`free space on ${engine.dir}/data: .*\\(\\d+ bytes\\)`));
    }
    expect(await state()).toEqual(INITIAL);
  });

  it('logs through logger(1) with LOG_TAG', async () => {
    // A stub logger first in PATH records its arguments.
    const bin = join(tmp, 'bin');
    const out = join(tmp, 'logger.out');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'logger'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${out}'\n`);
    await chmod(join(bin, 'logger'), 0o755);
    const r = await cleanup({ THRESHOLD: '1K', LOG_TAG: 'ci-cleanup', PATH: `${bin}:${process.env.PATH}` });
    expect(r.code, r.stderr).toBe(0);
    const logged = lines(await readFile(out, 'utf8'));
    expect(logged).toContain('-t ci-cleanup -- free space above threshold, nothing to do');
    expect(logged.filter((l) => l.startsWith('-t ci-cleanup -- free space on '))).toHaveLength(1);
  });

  it('reads the config file, and the environment overrides it', async () => {
    const conf = join(tmp, 'docker-cleanup.conf');
    await writeFile(conf, 'THRESHOLD=1K\nGRACE=0s\n');
    let r = await cleanup({ DOCKER_CLEANUP_CONFIG: conf });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('threshold 1.0KiB');
    expect(r.stdout).toContain('nothing to do');

    await writeFile(conf, 'THRESHOLD=100%\nGRACE=0s\n');
    r = await cleanup({ THRESHOLD: '2K' }, ['--config', conf]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('threshold 2.0KiB');
    expect(r.stdout).toContain('nothing to do');
    expect(await state()).toEqual(INITIAL);
  });

  it('skips (exit 0) while another run holds the lock', async () => {
    const lock = join(tmp, 'held.lock');
    // Another "run": flock(1) holding the same lock file, in its own process group.
    const holder = spawn('flock', [lock, 'sleep', '30'], { detached: true, stdio: 'ignore' });
    try {
      // wait until the lock is really held
      for (let i = 0; i < 50 && (await run('flock', ['-n', lock, 'true'], process.env)).code === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const r = await cleanup({ LOCK_FILE: lock, THRESHOLD: '100%', GRACE: '0s' }, ['--force']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('another docker-cleanup run holds');
      expect(await state()).toEqual(INITIAL);
    } finally {
      if (holder.pid) process.kill(-holder.pid, 'SIGTERM');
    }
  });

  it('--dry-run reports what would go and removes nothing', async () => {
    const wait = 1_100 - (Date.now() - fixturesCreatedAt); // `until=0s` has 1 s resolution
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const r = await cleanup({ THRESHOLD: '100%', GRACE: '0s' }, ['--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    const would = r.stdout.split('\n').filter((l) => l.includes('would remove'));
    const ids = {
      created: await docker('inspect', '--format', '{{.Id}}', 'created'),
      exited: await docker('inspect', '--format', '{{.Id}}', 'exited'),
      unused: await docker('image', 'inspect', '--format', '{{.Id}}', 'unused:latest'),
    };
    expect(would.filter((l) => l.includes('containers:')).map((l) => l.split(' ')[4]).sort())
      .toEqual([ids.created, ids.exited].sort());
    expect(would.filter((l) => l.includes('volumes:')).map((l) => l.split(' ').pop()).sort())
      .toEqual(['lab-created', 'lab-exited', 'lab-free-a', CACHE_VOL].sort());
    expect(would.filter((l) => l.includes('images:')).map((l) => l.split(' ')[4])).toEqual([ids.unused]);
    expect(r.stdout).toContain('dry run: nothing removed');
    // DRY_RUN=1 in the environment is the same as --dry-run
    const r2 = await cleanup({ THRESHOLD: '100%', GRACE: '0s', DRY_RUN: '1' });
    expect(r2.stdout).toContain('dry run: nothing removed');
    expect(await state()).toEqual(INITIAL);
  });

  it('with a long grace: removes only unused runner volumes (named ones too, as Docker 23+ prune would not)', async () => {
    // A docker wrapper records every CLI call the script makes.
    const calls = join(tmp, 'calls.log');
    const wrapper = join(tmp, 'docker-wrapper');
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\nexec docker "$@"\n`);
    await chmod(wrapper, 0o755);

    const r = await cleanup({ THRESHOLD: '100%', GRACE: '1h', DOCKER: wrapper });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('free space at or below threshold, cleaning (grace 1h)');
    expect(r.stdout).toMatch(/free space before .*\(\d+ bytes\), after .*\(\d+ bytes\), reclaimed .*\(-?\d+ bytes\)/);
    expect(r.stdout).toContain('volumes: removed 2 runner volume(s)');
    expect(await state()).toEqual({
      ...INITIAL,
      volumes: ['lab-created', 'lab-exited', 'lab-running', 'plain-free'],
    });

    // Version-independent by construction: the volume step is `ls` (label +
    // dangling) then `rm`, which select and remove the same volumes on API
    // 1.41 and >= 1.42; no `volume prune` (whose named-volume behaviour
    // changed in Docker 23), no API version sniffing, no `until` with volumes.
    const log = lines(await readFile(calls, 'utf8'));
    expect(log.some((l) => l.startsWith('volume prune') || l.startsWith('system prune'))).toBe(false);
    expect(log.some((l) => l.startsWith('version'))).toBe(false);
    expect(log).toContain(`volume ls -q --filter label=${LABEL} --filter dangling=true`);
    expect(log.filter((l) => l.startsWith('volume rm'))).toEqual([`volume rm -- ${[CACHE_VOL, 'lab-free-a'].sort().join(' ')}`]);
    expect(log).toContain('container prune -f --filter until=1h');
    expect(log).toContain('image prune -a -f --filter until=1h');
  });

  it('with --force and grace 0s: removes stopped containers, then their runner volumes and unused images', async () => {
    const wait = 1_100 - (Date.now() - fixturesCreatedAt);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const r = await cleanup({ THRESHOLD: '1K', GRACE: '0s' }, ['--force']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('cleaning anyway (--force)');
    expect(r.stdout).toContain('volumes: removed 2 runner volume(s)');
    expect(r.stdout).toContain('images: untagged: unused:latest');
    expect(await state()).toEqual({
      // unlabelled and in-use volumes stay, the running container and its image stay
      volumes: ['lab-running', 'plain-free'],
      containers: ['running'],
      images: ['base:latest'],
    });
    expect((await docker('inspect', '--format', '{{.State.Running}}', 'running'))).toBe('true');
  });

  it('exits non-zero when docker fails', async () => {
    const bad = { DOCKER_HOST: `unix://${tmp}/nothing-here.sock` };
    let r = await cleanup({ ...bad, THRESHOLD: '100%' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('docker info failed');
    // data root given, so it gets as far as the prunes, which fail
    r = await cleanup({ ...bad, THRESHOLD: '100%', DOCKER_ROOT: tmp });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/failed/);
    expect(await state()).toEqual({ volumes: ['lab-running', 'plain-free'], containers: ['running'], images: ['base:latest'] });
  });
});
