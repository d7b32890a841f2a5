/**
 * Role gitlab-runner against a disposable Docker test host, the signed fake apt
 * repository (mounted at /srv/fixtures) and the GitLab API fake (127.0.0.1; the
 * role talks to GitLab from the control machine, i.e. this process).
 *
 * Own state folder (RIGGER_GITLAB_RUNNER_TESTHOSTS_DIR, default
 * $TMPDIR/rigger-testhosts-gitlab-runner) and own fixtures folder, so it never
 * touches other test hosts; afterAll removes only this run's container.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlaybook, type JsonReport } from '../../lib/playbook.js';
import gitlabRunner from '../../roles/gitlab-runner/index.js';
import { prepareFixtures, type Fixtures } from '../fakes/fixtures.js';
import { startFakeGitlab, type FakeGitlab } from '../fakes/gitlab.js';
import { fakeRunnerJobs, type FakeRunnerJobs } from '../fakes/gitlabRunnerJobs.js';
import { upHosts, type TestHosts } from '../hosts/testhosts.js';

const execFileP = promisify(execFile);
const STATE_DIR = process.env.RIGGER_GITLAB_RUNNER_TESTHOSTS_DIR ?? join(tmpdir(), 'rigger-testhosts-gitlab-runner');
const FIXTURES_DIR = join(tmpdir(), 'rigger-gitlab-runner-fixtures');
const HOST = 'grunner';
const CONFIG = '/etc/gitlab-runner/config.toml';

// Secret values that must never appear in any output.
const SECRETS = {
  GR_IT_ACCESS_TOKEN: 'glpat-integration-access-token-0001',
  GR_IT_S3_SECRET: 'scw-s3-secret-key-integration-0002',
  GR_IT_SCW_TOKEN: 'scw-api-secret-token-integration-0003',
};

let fixtures: Fixtures;
let gitlab: FakeGitlab;
let jobs: FakeRunnerJobs;
let hosts: TestHosts;
let containerId: string;
let inventoryPath: string;

const autoscale = {
  name: 'mania-autoscale',
  executor: 'docker+machine',
  tags: ['download-convert', 'scaleway'],
  run_untagged: false,
  limit: 8,
  docker: { image: 'debian:bookworm-slim', privileged: false, volumes: ['/cache'] },
  cache: {
    type: 's3',
    shared: true,
    s3: { ServerAddress: 's3.fr-par.scw.cloud', BucketName: 'runner-cache', BucketLocation: 'fr-par', AccessKey: 'SCWINTEGRATIONKEY', SecretKey: { secret: 'GR_IT_S3_SECRET' } },
  },
  machine: {
    IdleCount: 0,
    IdleScaleFactor: 1.0,
    IdleTime: 1800,
    MaxBuilds: 10,
    MaxGrowthRate: 2,
    MachineDriver: 'scaleway',
    MachineName: 'ci-%s',
    MachineOptions: ['scaleway-zone=fr-par-1', { key: 'scaleway-token', value: { secret: 'GR_IT_SCW_TOKEN' } }],
    autoscaling: [{ Periods: ['* * 8-18 * * mon-fri *'], IdleCount: 2, IdleTime: 3600, Timezone: 'Europe/Paris' }],
  },
};
const stateful = { name: 'stateful', executor: 'docker', tags: ['stateful'], docker: { image: 'alpine:3' } };

async function writeInventory(vars: Record<string, unknown>): Promise<void> {
  const base = parse(await readFile(hosts.inventory, 'utf8')) as Record<string, any>;
  const inv = {
    ...base,
    defaults: { ...base.defaults, secrets: 'gitlab-runner-secrets.toml' },
    host_vars: {
      [HOST]: {
        gitlab_url: gitlab.url,
        gitlab_access_token: { secret: 'GR_IT_ACCESS_TOKEN' },
        gitlab_runner_version: '17.7.1',
        gitlab_runner_apt_url: fixtures.inHost.aptUrl,
        gitlab_runner_apt_key_url: fixtures.inHost.aptKeyUrl,
        gitlab_runner_apt_key_fingerprint: fixtures.apt.fingerprint,
        concurrent: 10,
        log_level: 'info',
        gitlab_runner_drain_interval: 1,
        gitlab_runners: [autoscale, stateful],
        ...vars,
      },
    },
  };
  await writeFile(inventoryPath, stringify(inv));
}

interface Run {
  exitCode: number;
  report: JsonReport;
  host: JsonReport['hosts'][string];
  output: string;
  /** GitLab calls made during this run */
  calls: FakeGitlab['calls'];
}

async function converge(...flags: string[]): Promise<Run> {
  const jsonPath = join(STATE_DIR, 'gitlab-runner-report.json');
  let output = '';
  const io = { stdout: (t: string) => void (output += t), stderr: (t: string) => void (output += t), colour: false };
  const before = gitlab.calls.length;
  const { exitCode } = await runPlaybook({ name: 'gitlab-runner-it', plays: [{ hosts: HOST, roles: [gitlabRunner] }] }, ['-i', inventoryPath, '--json', jsonPath, '-v', ...flags], io);
  const reportText = await readFile(jsonPath, 'utf8');
  const report = JSON.parse(reportText) as JsonReport;
  output += reportText;
  for (const [name, value] of Object.entries(SECRETS)) expect(output, `output shows ${name}`).not.toContain(value);
  for (const r of gitlab.runners.values()) expect(output, `output shows the token of runner ${r.id}`).not.toContain(r.token);
  expect(output).not.toMatch(/glrt-[A-Za-z0-9_-]{6}/);
  return { exitCode, report, host: report.hosts[HOST], output, calls: gitlab.calls.slice(before) };
}

async function sh(script: string): Promise<string> {
  const { stdout } = await execFileP('docker', ['exec', containerId, 'sh', '-c', script]);
  return stdout;
}

/** requests that change something on GitLab (POST /runners/verify only reads) */
const writes = (calls: FakeGitlab['calls']) => calls.filter((c) => c.method !== 'GET' && c.path !== '/api/v4/runners/verify').map((c) => `${c.method} ${c.path} ${c.status}`);
const task = (run: Run, resource: string) => run.host.tasks.find((t) => t.resource === resource);
const configTask = (run: Run) => task(run, `gitlab-runner-config:${CONFIG}`);

describe('role gitlab-runner on a test host', () => {
  beforeAll(async () => {
    fixtures = await prepareFixtures(FIXTURES_DIR);
    jobs = fakeRunnerJobs();
    gitlab = await startFakeGitlab({ accessToken: SECRETS.GR_IT_ACCESS_TOKEN, extensions: [jobs.extension] });
    await mkdir(STATE_DIR, { recursive: true });
    hosts = await upHosts({ names: [HOST], fixturesDir: fixtures.dir, dir: STATE_DIR, log: () => {} });
    containerId = hosts.get(HOST).containerId;
    inventoryPath = join(STATE_DIR, 'gitlab-runner-inventory.toml');
    await writeFile(join(STATE_DIR, 'gitlab-runner-secrets.toml'), stringify(SECRETS), { mode: 0o600 });
    await writeInventory({});
  }, 900_000);

  afterAll(async () => {
    await gitlab?.close();
    await hosts?.down();
    await rm(join(STATE_DIR, 'gitlab-runner-inventory.toml'), { force: true });
    await rm(join(STATE_DIR, 'gitlab-runner-secrets.toml'), { force: true });
    await rm(join(STATE_DIR, 'gitlab-runner-report.json'), { force: true });
    await rm(STATE_DIR, { recursive: false }).catch(() => {});
  }, 120_000);

  it('check mode on a fresh host: each registration is its own line, no GitLab write request', async () => {
    const run = await converge('--check');
    expect(run.exitCode).toBe(0);
    expect(run.report.mode).toBe('check');
    expect(task(run, 'gitlab-runner:mania-autoscale')?.summary).toBe(`register on ${gitlab.url} (tags: download-convert, scaleway)`);
    expect(task(run, 'gitlab-runner:stateful')?.summary).toBe(`register on ${gitlab.url} (tags: stateful)`);
    expect(configTask(run)?.summary).toBe('create (mode 0600); add mania-autoscale, stateful');
    expect(run.output).toMatch(/would\s+grunner \[gitlab-runner\] gitlab-runner:mania-autoscale: register on http:\/\/127\.0\.0\.1:\d+ \(tags: download-convert, scaleway\)/);
    expect(writes(run.calls)).toEqual([]);
    expect(await sh(`test -e ${CONFIG} && echo yes || echo no`)).toBe('no\n');
  }, 300_000);

  it('converges: pinned held packages, config.toml 0600 with registered runners, service running', async () => {
    const run = await converge();
    expect(run.exitCode, run.output).toBe(0);
    expect(run.host.status).toBe('changed');
    expect(writes(run.calls)).toEqual(['POST /api/v4/user/runners 201', 'POST /api/v4/user/runners 201']);
    expect(run.calls.filter((c) => c.method === 'POST').map((c) => c.body)).toEqual([
      { runner_type: 'instance_type', description: 'mania-autoscale', tag_list: ['download-convert', 'scaleway'], run_untagged: false },
      { runner_type: 'instance_type', description: 'stateful', tag_list: ['stateful'] },
    ]);

    expect(await sh(`dpkg-query -W -f='\${Package} \${Version}\\n' gitlab-runner gitlab-runner-helper-images`)).toBe('gitlab-runner 17.7.1-1\ngitlab-runner-helper-images 17.7.1-1\n');
    expect((await sh('apt-mark showhold')).split('\n').filter(Boolean).sort()).toEqual(['gitlab-runner', 'gitlab-runner-helper-images']);
    expect(await sh(`stat -c '%a %U %G' ${CONFIG}`)).toBe('600 root root\n');
    expect(await sh('systemctl is-enabled gitlab-runner; systemctl is-active gitlab-runner')).toBe('enabled\nactive\n');

    const text = await sh(`cat ${CONFIG}`);
    expect(text).toMatch(/^IdleScaleFactor = 1\.0$/m);
    const doc = parse(text) as any;
    const fake = [...gitlab.runners.values()];
    expect(doc).toEqual({
      concurrent: 10,
      check_interval: 3,
      log_level: 'info',
      shutdown_timeout: 30,
      runners: [
        {
          name: 'mania-autoscale',
          url: gitlab.url,
          id: fake[0].id,
          token: fake[0].token,
          token_obtained_at: expect.any(Date),
          token_expires_at: expect.any(Date),
          executor: 'docker+machine',
          limit: 8,
          cache: {
            Type: 's3',
            Shared: true,
            s3: { ServerAddress: 's3.fr-par.scw.cloud', AccessKey: 'SCWINTEGRATIONKEY', SecretKey: SECRETS.GR_IT_S3_SECRET, BucketName: 'runner-cache', BucketLocation: 'fr-par' },
          },
          docker: { image: 'debian:bookworm-slim', privileged: false, volumes: ['/cache'] },
          machine: {
            IdleCount: 0,
            IdleScaleFactor: 1,
            IdleTime: 1800,
            MaxGrowthRate: 2,
            MaxBuilds: 10,
            MachineDriver: 'scaleway',
            MachineName: 'ci-%s',
            MachineOptions: ['scaleway-zone=fr-par-1', `scaleway-token=${SECRETS.GR_IT_SCW_TOKEN}`],
            autoscaling: [{ Periods: ['* * 8-18 * * mon-fri *'], IdleCount: 2, IdleTime: 3600, Timezone: 'Europe/Paris' }],
          },
        },
        { name: 'stateful', url: gitlab.url, id: fake[1].id, token: fake[1].token, token_obtained_at: expect.any(Date), token_expires_at: expect.any(Date), executor: 'docker', docker: { image: 'alpine:3' } },
      ],
    });
  }, 600_000);

  it('converges again with zero changes and no GitLab write', async () => {
    const run = await converge();
    expect(run.exitCode, run.output).toBe(0);
    expect(run.host.status).toBe('ok');
    expect(run.host.counts.changed).toBe(0);
    expect(writes(run.calls)).toEqual([]);
    expect(run.host.remoteCommands).toBe(2); // facts + one batch of every probe
    expect(run.host.apiRequests).toBe(4); // per runner: verify its token, read its settings
  }, 300_000);

  it('a GitLab-side change is its own line with a diff; config.toml is not rewritten for it', async () => {
    const before = await sh(`cat ${CONFIG}`);
    await writeInventory({ gitlab_runners: [autoscale, { ...stateful, tags: ['stateful', 'download-convert'], paused: true }] });
    const check = await converge('--check');
    expect(task(check, 'gitlab-runner:stateful')?.summary).toBe('tags: stateful -> stateful, download-convert; paused: false -> true');
    expect(task(check, 'gitlab-runner:stateful')?.diff).toContain('+  - download-convert');
    expect(configTask(check)?.status).toBe('ok');
    expect(writes(check.calls)).toEqual([]);
    const run = await converge();
    expect(run.exitCode, run.output).toBe(0);
    const id = (parse(before) as any).runners[1].id;
    expect(writes(run.calls)).toEqual([`PUT /api/v4/runners/${id} 200`]);
    expect(gitlab.runners.get(id)).toMatchObject({ tag_list: ['stateful', 'download-convert'], paused: true });
    expect(await sh(`cat ${CONFIG}`)).toBe(before);
    await writeInventory({});
    expect(writes((await converge()).calls)).toEqual([`PUT /api/v4/runners/${id} 200`]);
  }, 300_000);

  it('keeps a token the runner rotated: no change, no new registration', async () => {
    const id = (parse(await sh(`cat ${CONFIG}`)) as any).runners[0].id as number;
    const old = gitlab.runners.get(id)!.token;
    const rotated = gitlab.rotate(id);
    // What gitlab-runner does when it rotates: rewrite its token (and token_obtained_at) in config.toml.
    await sh(`sed -i -e 's/${old}/${rotated}/' -e '0,/^token_obtained_at = .*/s//token_obtained_at = 2026-03-04T05:06:07.123456789Z/' ${CONFIG}`);
    const run = await converge('--diff');
    expect(run.exitCode, run.output).toBe(0);
    expect(run.host.counts.changed).toBe(0);
    expect(writes(run.calls)).toEqual([]);
    const text = await sh(`cat ${CONFIG}`);
    expect((parse(text) as any).runners[0].token).toBe(rotated);
    expect(text).toContain('token_obtained_at = 2026-03-04T05:06:07.123456789Z');
  }, 300_000);

  it('a config change shows a masked diff in check mode, and applies without restarting the service', async () => {
    await writeInventory({ concurrent: 12 });
    const pid = await sh('systemctl show -p MainPID --value gitlab-runner');
    const check = await converge('--check');
    expect(configTask(check)?.summary).toBe('content');
    const diff = configTask(check)?.diff ?? '';
    expect(diff).toContain('-concurrent = 10\n+concurrent = 12');
    expect(writes(check.calls)).toEqual([]);

    const run = await converge();
    expect(run.exitCode, run.output).toBe(0);
    expect(run.host.counts.changed).toBe(1);
    expect(run.host.tasks.some((t) => t.resource.startsWith('handler:'))).toBe(false);
    expect(await sh('systemctl show -p MainPID --value gitlab-runner')).toBe(pid);
    expect((parse(await sh(`cat ${CONFIG}`)) as any).concurrent).toBe(12);
  }, 300_000);

  it('a runner removed from the inventory is left alone; gitlab_runners_absent deletes it, on GitLab and in config.toml', async () => {
    const before = parse(await sh(`cat ${CONFIG}`)) as any;
    const statefulId = before.runners[1].id as number;
    await writeInventory({ concurrent: 12, gitlab_runners: [autoscale] });
    const left = await converge();
    expect(left.exitCode, left.output).toBe(0);
    expect(left.host.counts.changed).toBe(0);
    expect(writes(left.calls)).toEqual([]);
    expect(left.output).toContain('unmanaged: stateful in /etc/gitlab-runner/config.toml (a registered runner) is not in gitlab_runners: left as it is');
    expect((parse(await sh(`cat ${CONFIG}`)) as any).runners.map((r: any) => r.name)).toEqual(['mania-autoscale', 'stateful']);

    await writeInventory({ concurrent: 12, gitlab_runners: [autoscale], gitlab_runners_absent: ['stateful'] });
    const check = await converge('--check');
    expect(task(check, 'gitlab-runner:stateful')?.summary).toBe(`delete runner ${statefulId} on ${gitlab.url}`);
    expect(configTask(check)?.summary).toBe('drop stateful');
    expect(writes(check.calls)).toEqual([]);

    const run = await converge();
    expect(run.exitCode, run.output).toBe(0);
    expect(writes(run.calls)).toEqual(['DELETE /api/v4/runners 204']);
    expect(gitlab.runners.has(statefulId)).toBe(false);
    const after = parse(await sh(`cat ${CONFIG}`)) as any;
    expect(after.runners.map((r: any) => r.name)).toEqual(['mania-autoscale']);
    expect(after.runners[0].token).toBe(before.runners[0].token);
  }, 300_000);

  it('a package upgrade pauses the runner on GitLab, waits for its running job, upgrades, restarts, then resumes it', async () => {
    await writeInventory({ concurrent: 12, gitlab_runners: [autoscale], gitlab_runners_absent: ['stateful'], gitlab_runner_version: fixtures.apt.newerVersion });
    const id = (parse(await sh(`cat ${CONFIG}`)) as any).runners[0].id as number;
    const job = jobs.add(id, { name: 'download' });
    const check = await converge('--check');
    expect(task(check, `gitlab-runner-drain:${CONFIG}`)?.summary).toBe(
      `pause mania-autoscale on GitLab and wait for running jobs (1 now, at most 1800 s) before gitlab-runner ${fixtures.apt.version} -> ${fixtures.apt.newerVersion}; mania-autoscale resumed after`,
    );
    expect(task(check, 'handler:resume gitlab-runner runners')?.summary).toBe('would run');
    expect(writes(check.calls)).toEqual([]);

    const pid = await sh('systemctl show -p MainPID --value gitlab-runner');
    // The job ends 4 s into the run; until then the package must not have changed.
    let versionWhileRunning = '';
    const ending = new Promise<void>((resolve) =>
      setTimeout(() => {
        void sh(`dpkg-query -W -f='\${Version}' gitlab-runner`).then((v) => {
          versionWhileRunning = v;
          expect(gitlab.runners.get(id)?.paused).toBe(true);
          jobs.finish(job.id);
          resolve();
        });
      }, 4000),
    );
    const run = await converge();
    await ending;
    expect(run.exitCode, run.output).toBe(0);
    expect(versionWhileRunning).toBe(fixtures.apt.version);
    expect(run.output).toMatch(/waiting for 1 running job\(s\) on mania-autoscale \(1\) before the upgrade/);
    expect(writes(run.calls)).toEqual([`PUT /api/v4/runners/${id} 200`, `PUT /api/v4/runners/${id} 200`]);
    const [pause, resume] = run.calls.filter((c) => c.method === 'PUT');
    expect(pause.body).toMatchObject({ paused: true, maintenance_note: expect.stringMatching(/^\[rigger drain grunner /) });
    expect(resume.body).toEqual({ paused: false, maintenance_note: '' });
    expect(gitlab.runners.get(id)).toMatchObject({ paused: false, maintenance_note: '' });
    const order = run.host.tasks.map((t) => t.resource);
    expect(order.indexOf('handler:resume gitlab-runner runners')).toBeGreaterThan(order.indexOf('handler:restart gitlab-runner'));
    expect(task(run, 'apt:gitlab-runner,gitlab-runner-helper-images')?.summary).toBe(
      `install gitlab-runner=${fixtures.apt.newerVersion} gitlab-runner-helper-images=${fixtures.apt.newerVersion}`,
    );
    expect(task(run, 'handler:restart gitlab-runner')?.status).toBe('changed');
    expect(await sh(`dpkg-query -W -f='\${Version}\\n' gitlab-runner gitlab-runner-helper-images`)).toBe(`${fixtures.apt.newerVersion}\n`.repeat(2));
    expect((await sh('apt-mark showhold')).split('\n').filter(Boolean).sort()).toEqual(['gitlab-runner', 'gitlab-runner-helper-images']);
    expect(await sh('systemctl is-active gitlab-runner')).toBe('active\n');
    expect(await sh('systemctl show -p MainPID --value gitlab-runner')).not.toBe(pid);
    const again = await converge();
    expect(again.host.counts.changed).toBe(0);
    expect(writes(again.calls)).toEqual([]);
  }, 600_000);
});
