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
const CONFIG = '/etc/gitlab-runner/config.toml';
/** the runner eros has today, registered by hand before rigger: the inventory does not name it */
let handMade: { id: number; token: string };

let hosts: TestHosts;
let stage: RunnerStage;
let tmp: string;
const container = (name: string) => hosts.get(name).containerId;

function registrations(): number {
  return stage.gitlab.calls.filter((c) => c.method === 'POST' && c.path === REGISTER).length;
}

const shortToken = (token: string) => token.replace(/^glrt-/, '').slice(0, 9).toLowerCase();

/** The stage's inventory with more TOML appended (host_vars of a host). */
async function inventoryWith(file: string, extra: string): Promise<string> {
  const path = join(hosts.dir, file);
  await writeFile(path, (await readFile(stage.inventory, 'utf8')) + '\n' + extra);
  return path;
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
  // eros as it is before the migration: a runner registered by hand, tagged docker.
  const res = await fetch(`${stage.gitlab.url}${REGISTER}`, {
    method: 'POST',
    headers: { 'PRIVATE-TOKEN': stage.gitlab.accessToken, 'Content-Type': 'application/json' },
    body: JSON.stringify({ runner_type: 'instance_type', description: 'eros docker (by hand)', tag_list: ['docker'] }),
  });
  handMade = (await res.json()) as { id: number; token: string };
  stage.gitlab.calls.length = 0; // count only what the playbook does
  await sh(
    container('eros'),
    `mkdir -p /etc/gitlab-runner && umask 077 && cat > ${CONFIG} <<'EOF'\nconcurrent = 2\n\n[[runners]]\n  name = "eros-docker"\n  url = "${stage.gitlab.url}"\n  id = ${handMade.id}\n  token = "${handMade.token}"\n  token_obtained_at = 2025-06-01T08:00:00.123456789Z\n  token_expires_at = 0001-01-01T00:00:00Z\n  executor = "docker"\n  [runners.docker]\n    image = "debian:bookworm"\n    volumes = ["/cache", "/srv/data:/data"]\n    shm_size = 0\nEOF`,
  );
});

afterAll(async () => {
  await stage?.close();
  await hosts?.down();
  await rm(tmp, { recursive: true, force: true });
});

describe('playbooks/runner.ts on mania (docker+machine) and eros (docker)', () => {
  it('converges both hosts; the GitLab-side registrations are their own lines', async () => {
    const run = await runCaptured(runner, ['-i', stage.inventory, '--limit', 'mania,eros', '--forks', '2']);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report!.hosts.mania.status).toBe('changed');
    expect(run.report!.hosts.eros.status).toBe('changed');
    expect(registrations()).toBe(2);
    expect(changedTasks(run, 'eros')).toEqual(expect.arrayContaining([`gitlab-runner:download-convert-stateful: register on ${stage.gitlab.url} (tags: download-convert, stateful)`]));
    expect(changedTasks(run, 'mania')).toEqual(expect.arrayContaining([`gitlab-runner:download-convert-autoscale: register on ${stage.gitlab.url} (tags: download-convert, autoscale)`]));
    expect(run.report!.hosts.eros.apiRequests).toBeGreaterThan(0);
  });

  it('kept the runner eros had from before, as it was, on GitLab and in config.toml', async () => {
    const text = await sh(container('eros'), `cat ${CONFIG}`);
    const cfg = parse(text) as any;
    expect(cfg.runners.map((r: any) => r.name)).toEqual(['eros-docker', 'download-convert-stateful']);
    expect(cfg.runners[0]).toEqual({
      name: 'eros-docker',
      url: stage.gitlab.url,
      id: handMade.id,
      token: handMade.token,
      token_obtained_at: expect.any(Date),
      token_expires_at: expect.any(Date),
      executor: 'docker',
      docker: { image: 'debian:bookworm', volumes: ['/cache', '/srv/data:/data'], shm_size: 0 },
    });
    expect(text).toContain('token_obtained_at = 2025-06-01T08:00:00.123456789Z');
    expect(stage.gitlab.runners.get(handMade.id)).toMatchObject({ token: handMade.token, tag_list: ['docker'], paused: false });
    expect(stage.gitlab.calls.some((c) => c.method !== 'GET' && c.path.endsWith(`/runners/${handMade.id}`))).toBe(false);
  });

  it('converges again with zero changes, no registration, in a handful of round trips', async () => {
    const run = await runCaptured(runner, ['-i', stage.inventory, '--limit', 'mania,eros', '--detailed-exitcode']);
    expect(run.exitCode, run.output).toBe(0);
    for (const host of ['mania', 'eros']) {
      expect(changedTasks(run, host), host).toEqual([]);
      expect(run.report!.hosts[host].counts.changed).toBe(0);
      expect(run.report!.hosts[host].remoteCommands).toBe(2);
    }
    // per runner of the host's config.toml: verify its token, read its settings (eros has its hand-made one too)
    expect(run.report!.hosts.mania.apiRequests).toBe(2);
    expect(run.report!.hosts.eros.apiRequests).toBe(4);
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
    expect(eros.runners.map((x: any) => [x.name, x.executor])).toEqual([
      ['eros-docker', 'docker'],
      ['download-convert-stateful', 'docker'],
    ]);
    expect(eros.runners[1].machine).toBeUndefined();
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

  it('a runner dropped from the inventory stays; gitlab_runners_absent deletes it, on GitLab and in config.toml', async () => {
    const before = parse(await sh(container('eros'), `cat ${CONFIG}`)) as any;
    const id = before.runners[1].id;
    const dropped = await inventoryWith('runner-inventory-no-eros-runner.toml', '[host_vars.eros]\ngitlab_runners = []\n');
    const left = await runCaptured(runner, ['-i', dropped, '--limit', 'eros']);
    expect(left.exitCode, left.output).toBe(0);
    expect(changedTasks(left, 'eros')).toEqual([]);
    expect(stage.gitlab.runners.has(id)).toBe(true);

    const absent = await inventoryWith('runner-inventory-eros-runner-absent.toml', '[host_vars.eros]\ngitlab_runners = []\ngitlab_runners_absent = ["download-convert-stateful"]\n');
    const check = await runCaptured(runner, ['-i', absent, '--limit', 'eros', '--check']);
    expect(changedTasks(check, 'eros')).toEqual([`gitlab-runner:download-convert-stateful: delete runner ${id} on ${stage.gitlab.url}`, `gitlab-runner-config:${CONFIG}: drop download-convert-stateful; keep unmanaged eros-docker`]);
    expect(stage.gitlab.runners.has(id)).toBe(true);
    const run = await runCaptured(runner, ['-i', absent, '--limit', 'eros']);
    expect(run.exitCode, run.output).toBe(0);
    expect(stage.gitlab.runners.has(id)).toBe(false);
    expect(stage.gitlab.runners.has(handMade.id)).toBe(true);
    const after = parse(await sh(container('eros'), `cat ${CONFIG}`)) as any;
    expect(after.runners.map((r: any) => r.name)).toEqual(['eros-docker']);
    // ...and the next run of the original inventory registers it again, once.
    const again = await runCaptured(runner, ['-i', stage.inventory, '--limit', 'eros']);
    expect(again.exitCode, again.output).toBe(0);
    expect(registrations()).toBe(3);
  });

  it('a runner deleted on GitLab (admin area) comes back registered, with a line that says why', async () => {
    const before = parse(await sh(container('mania'), `cat ${CONFIG}`)) as any;
    const old = before.runners[0];
    stage.gitlab.runners.delete(old.id);
    const run = await runCaptured(runner, ['-i', stage.inventory, '--limit', 'mania']);
    expect(run.exitCode, run.output).toBe(0);
    expect(changedTasks(run, 'mania')).toEqual([
      `gitlab-runner:download-convert-autoscale: register again: GitLab no longer accepts its token (POST /runners/verify answered 403; runner ${old.id} is gone from GitLab)`,
      `gitlab-runner-config:${CONFIG}: new token for download-convert-autoscale (registered again)`,
    ]);
    const after = parse(await sh(container('mania'), `cat ${CONFIG}`)) as any;
    expect(after.runners[0].id).not.toBe(old.id);
    expect(stage.gitlab.runners.get(after.runners[0].id)?.token).toBe(after.runners[0].token);
    expect(registrations()).toBe(4);
    const again = await runCaptured(runner, ['-i', stage.inventory, '--limit', 'mania']);
    expect(changedTasks(again, 'mania')).toEqual([]);
  });

  it('a removed docker+machine runner whose machines are still in its store is refused, never orphaned', async () => {
    const cfg = parse(await sh(container('mania'), `cat ${CONFIG}`)) as any;
    const r = cfg.runners[0];
    const machines = [`runner-${shortToken(r.token)}-fetch-1700000001`, `runner-${shortToken(r.token)}-fetch-1700000002`];
    await sh(container('mania'), machines.map((m) => `mkdir -p /root/.docker/machine/machines/${m} && echo '{"Name":"${m}","DriverName":"scaleway"}' > /root/.docker/machine/machines/${m}/config.json`).join(' && '));
    const before = await sh(container('mania'), `cat ${CONFIG}`);
    const absent = await inventoryWith('runner-inventory-mania-runner-absent.toml', '[host_vars.mania]\ngitlab_runners = []\ngitlab_runners_absent = ["download-convert-autoscale"]\n');
    for (const flags of [['--check'], []]) {
      const run = await runCaptured(runner, ['-i', absent, '--limit', 'mania', ...flags]);
      expect(run.exitCode, run.output).toBe(2);
      const t = run.report!.hosts.mania.tasks.find((x) => x.resource === 'gitlab-runner:download-convert-autoscale')!;
      expect(t.status).toBe('failed');
      expect(t.error).toContain(`still holds 2 machine(s) named after its token: ${machines.join(', ')}`);
      expect(stage.gitlab.runners.get(r.id)?.token).toBe(r.token);
      expect(await sh(container('mania'), `cat ${CONFIG}`)).toBe(before);
    }
    // Once the machines are gone (the runner removed them, or an operator did), it goes.
    await sh(container('mania'), 'rm -rf /root/.docker/machine/machines/runner-*');
    const run = await runCaptured(runner, ['-i', absent, '--limit', 'mania']);
    expect(run.exitCode, run.output).toBe(0);
    expect(stage.gitlab.runners.has(r.id)).toBe(false);
    expect((parse(await sh(container('mania'), `cat ${CONFIG}`)) as any).runners ?? []).toEqual([]);
    // Back to the playbook's inventory for what follows.
    expect((await runCaptured(runner, ['-i', stage.inventory, '--limit', 'mania'])).exitCode).toBe(0);
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
    expect(apply.text).toContain('gitlab-runner:download-convert-autoscale: register on');
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
