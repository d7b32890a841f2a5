/**
 * The main job: playbooks/runner.ts converges one test host as `mania`
 * (docker+machine manager) and one as `eros` (static docker runner), with
 * the local stand-ins of test/fakes/runnerStage.ts. Assertions read the hosts
 * with `docker exec`, not the engine's report. Then the secrets check: the
 * real CLI, run as a child process in every output mode and on a forced
 * failure, never prints a canary secret.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import runner from '../../playbooks/runner.js';
import { startRunnerStage, type RunnerStage } from '../fakes/runnerStage.js';
import { DEFAULT_FIXTURES_DIR } from '../fakes/fixtures.js';
import { upHosts, type TestHosts } from '../hosts/testhosts.js';
import { sh } from './helpers/hostState.js';
import { runCaptured, type CapturedRun } from './helpers/run.js';

const execFileP = promisify(execFile);
const REGISTER = '/api/v4/user/runners';

let hosts: TestHosts;
let stage: RunnerStage;
let tmp: string;
const container = (name: string) => hosts.get(name).containerId;

function registrations(): number {
  return stage.gitlab.calls.filter((c) => c.method === 'POST' && c.path === REGISTER).length;
}

function changedTasks(run: CapturedRun, host: string): string[] {
  return (run.report?.hosts[host]?.tasks ?? []).filter((t) => t.status === 'changed').map((t) => `${t.resource}: ${t.summary}`);
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'rigger-runner-it-'));
  hosts = await upHosts({ names: ['mania', 'eros'], fixturesDir: DEFAULT_FIXTURES_DIR, dir: join(tmp, 'hosts'), log: () => {} });
  stage = await startRunnerStage({
    stateDir: hosts.dir,
    hosts: [
      { name: 'mania', port: hosts.get('mania').port, kind: 'autoscale' },
      { name: 'eros', port: hosts.get('eros').port, kind: 'static' },
    ],
  });
});

afterAll(async () => {
  await stage?.close();
  await hosts?.down();
  await rm(tmp, { recursive: true, force: true });
});

describe('playbooks/runner.ts on mania (docker+machine) and eros (docker)', () => {
  it('converges both hosts', async () => {
    const run = await runCaptured(runner, ['-i', stage.inventory, '--limit', 'mania,eros', '--forks', '2']);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report!.hosts.mania.status).toBe('changed');
    expect(run.report!.hosts.eros.status).toBe('changed');
    expect(registrations()).toBe(2);
  });

  it('converges again with zero changes, no registration, in a handful of round trips', async () => {
    const run = await runCaptured(runner, ['-i', stage.inventory, '--limit', 'mania,eros', '--detailed-exitcode']);
    expect(run.exitCode, run.output).toBe(0);
    for (const host of ['mania', 'eros']) {
      expect(changedTasks(run, host), host).toEqual([]);
      expect(run.report!.hosts[host].counts.changed).toBe(0);
      expect(run.report!.hosts[host].remoteCommands).toBeLessThanOrEqual(3);
    }
    expect(registrations()).toBe(2);
  });

  it('installed gitlab-runner pinned and held, with the docker-machine binaries on mania', async () => {
    for (const host of ['mania', 'eros']) {
      const versions = await sh(container(host), "dpkg-query -W -f='${Package} ${Version}\\n' gitlab-runner gitlab-runner-helper-images");
      expect(versions.trim().split('\n').sort()).toEqual([`gitlab-runner ${stage.fixtures.apt.version}`, `gitlab-runner-helper-images ${stage.fixtures.apt.version}`]);
      const held = await sh(container(host), 'apt-mark showhold');
      expect(held.split('\n')).toEqual(expect.arrayContaining(['gitlab-runner', 'gitlab-runner-helper-images']));
      expect((await sh(container(host), 'systemctl is-active gitlab-runner; systemctl is-enabled gitlab-runner')).split('\n').slice(0, 2)).toEqual(['active', 'enabled']);
    }
    const dm = await sh(container('mania'), 'stat -c "%a %U" /usr/local/bin/docker-machine /usr/local/bin/docker-machine-driver-scaleway-v2; sha256sum /usr/local/bin/docker-machine | cut -d" " -f1');
    expect(dm.trim().split('\n')).toEqual(['755 root', '755 root', stage.fixtures.downloads.dockerMachine.sha256]);
    expect((await sh(container('eros'), 'test -e /usr/local/bin/docker-machine && echo yes || echo no')).trim()).toBe('no');
  });

  it('wrote config.toml 0600 with the runner of each host and the token GitLab issued', async () => {
    const mania = await sh(container('mania'), 'stat -c "%a %U %G" /etc/gitlab-runner/config.toml; cat /etc/gitlab-runner/config.toml');
    const [modeLine, ...rest] = mania.split('\n');
    expect(modeLine).toBe('600 root root');
    const text = rest.join('\n');
    expect(text).toMatch(/^IdleScaleFactor = 1\.0$/m);
    const cfg = parse(text) as any;
    expect(cfg.concurrent).toBe(10);
    expect(cfg.runners).toHaveLength(1);
    const r = cfg.runners[0];
    expect(r).toMatchObject({ name: 'download-convert-autoscale', executor: 'docker+machine', limit: 5 });
    expect(r.machine).toMatchObject({ IdleCount: 0, IdleTime: 1800, MaxBuilds: 10, MaxGrowthRate: 2, MachineDriver: 'scaleway-v2', MachineName: 'fetch-%s' });
    expect(r.machine.MachineOptions).toEqual(
      expect.arrayContaining(['scaleway-commercial-type=DEV1-S', 'scaleway-zone=fr-par-1', `scaleway-secretkey=${stage.secrets.SCW_SECRET_KEY}`]),
    );
    expect(r.machine.autoscaling[0]).toMatchObject({ Periods: ['* * 8-18 * * mon-fri *'], IdleCount: 1, IdleTime: 3600, Timezone: 'Europe/Paris' });
    expect(r.cache.s3).toMatchObject({ BucketName: 'runner-cache', SecretKey: stage.secrets.CACHE_S3_SECRET_KEY });
    const issued = [...stage.gitlab.runners.values()].find((x) => x.description === 'download-convert-autoscale' || x.token === r.token);
    expect(issued?.token).toBe(r.token);
    expect(r.token).toMatch(/^glrt-/);
    expect(issued?.tag_list).toEqual(expect.arrayContaining(['download-convert', 'autoscale']));

    const eros = parse(await sh(container('eros'), 'cat /etc/gitlab-runner/config.toml')) as any;
    expect(eros.runners.map((x: any) => [x.name, x.executor])).toEqual([['download-convert-stateful', 'docker']]);
    expect(eros.runners[0].machine).toBeUndefined();
  });

  it('installed docker-cleanup on eros only, as a cron entry running a shellcheck-clean script', async () => {
    const cronFile = await sh(container('eros'), 'cat /etc/cron.d/docker-cleanup; stat -c "%a" /usr/local/sbin/docker-cleanup; cat /etc/default/docker-cleanup');
    expect(cronFile).toMatch(/^\*\/15 \* \* \* \* root \/usr\/local\/sbin\/docker-cleanup/m);
    expect(cronFile).toMatch(/^755$/m);
    expect(cronFile).toMatch(/^THRESHOLD=15%$/m);
    expect((await sh(container('mania'), 'test -e /etc/cron.d/docker-cleanup && echo yes || echo no')).trim()).toBe('no');
  });

  it('keeps a token the runner rotated, and registers nothing', async () => {
    const cfg = parse(await sh(container('mania'), 'cat /etc/gitlab-runner/config.toml')) as any;
    const rotated = stage.gitlab.rotate(cfg.runners[0].id);
    // What gitlab-runner does at 75% of the token's life: rewrite its own file.
    await sh(container('mania'), `sed -i 's/^token = .*/token = "${rotated}"/' /etc/gitlab-runner/config.toml`);
    const run = await runCaptured(runner, ['-i', stage.inventory, '--limit', 'mania']);
    expect(run.exitCode, run.output).toBe(0);
    expect(changedTasks(run, 'mania')).toEqual([]);
    const after = parse(await sh(container('mania'), 'cat /etc/gitlab-runner/config.toml')) as any;
    expect(after.runners[0].token).toBe(rotated);
    expect(registrations()).toBe(2);
  });

  it('deletes a runner removed from the inventory, on GitLab and in config.toml', async () => {
    const before = parse(await sh(container('eros'), 'cat /etc/gitlab-runner/config.toml')) as any;
    const id = before.runners[0].id;
    const inventory = join(hosts.dir, 'runner-inventory-no-eros-runner.toml');
    await writeFile(inventory, (await readFile(stage.inventory, 'utf8')) + '\n[host_vars.eros]\ngitlab_runners = []\n');
    const run = await runCaptured(runner, ['-i', inventory, '--limit', 'eros']);
    expect(run.exitCode, run.output).toBe(0);
    expect(stage.gitlab.calls.some((c) => c.method === 'DELETE' && c.path.startsWith('/api/v4/runners'))).toBe(true);
    expect(stage.gitlab.runners.has(id)).toBe(false);
    const after = parse(await sh(container('eros'), 'cat /etc/gitlab-runner/config.toml')) as any;
    expect(after.runners ?? []).toEqual([]);
    // ...and the next run of the original inventory registers it again, once.
    const again = await runCaptured(runner, ['-i', stage.inventory, '--limit', 'eros']);
    expect(again.exitCode, again.output).toBe(0);
    expect(registrations()).toBe(3);
  });
});

describe('secrets never reach any output', () => {
  const cli = async (args: string[]) => {
    try {
      const { stdout, stderr } = await execFileP('node_modules/.bin/tsx', ['playbooks/runner.ts', '-i', stage.inventory, ...args], { env: { ...process.env, FORCE_COLOR: '' }, maxBuffer: 64 << 20 });
      return { code: 0, text: stdout + stderr };
    } catch (e: any) {
      return { code: e.code as number, text: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  };

  const expectNoCanary = (text: string, what: string) => {
    for (const [name, value] of Object.entries(stage.secrets)) expect(text.includes(value), `${name} leaked in ${what}`).toBe(false);
    const tokens = [...stage.gitlab.runners.values()].map((r) => r.token);
    for (const t of tokens) expect(text.includes(t), `a runner token leaked in ${what}`).toBe(false);
  };

  it('in check, --diff, -v, --json and apply modes, and on a forced failure', async () => {
    const json = join(tmp, 'report.json');
    // Something to diff in every mode: drop the config so the runner is registered again.
    await sh(container('mania'), 'rm -f /etc/gitlab-runner/config.toml');
    const check = await cli(['--limit', 'mania', '--check', '-vv', '--json', json]);
    expect(check.code, check.text).toBe(0);
    expect(check.text).toContain('config.toml');
    expect(check.text).toContain('********');
    expectNoCanary(check.text, 'check mode output');
    expectNoCanary(await readFile(json, 'utf8'), 'check mode JSON report');

    const apply = await cli(['--limit', 'mania', '--diff', '-vv', '--json', json]);
    expect(apply.code, apply.text).toBe(0);
    expect(apply.text).toContain('register download-convert-autoscale');
    expectNoCanary(apply.text, 'apply --diff -vv output');
    expectNoCanary(await readFile(json, 'utf8'), 'apply JSON report');

    // Forced failure: GitLab refuses the access token while a runner must be registered.
    await sh(container('mania'), 'rm -f /etc/gitlab-runner/config.toml');
    const badInventory = join(hosts.dir, 'runner-inventory-bad-token.toml');
    await writeFile(badInventory, (await readFile(stage.inventory, 'utf8')).replace('{ secret = "GITLAB_ACCESS_TOKEN" }', '{ secret = "SCW_SECRET_KEY" }'));
    const failed = await execFileP('node_modules/.bin/tsx', ['playbooks/runner.ts', '-i', badInventory, '--limit', 'mania', '-vv', '--diff', '--json', json]).then(
      (r) => ({ code: 0, text: r.stdout + r.stderr }),
      (e) => ({ code: e.code as number, text: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
    expect(failed.code, failed.text).toBe(2);
    expect(failed.text).toMatch(/failed/);
    expectNoCanary(failed.text, 'failure output');
    expectNoCanary(await readFile(json, 'utf8'), 'failure JSON report');

    // Back to a converged host for whoever runs next.
    const fix = await cli(['--limit', 'mania']);
    expect(fix.code, fix.text).toBe(0);
  });
});
