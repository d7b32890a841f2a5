// The upgrade drain of the gitlab-runner role: against the GitLab stand-in and
// its jobs of a runner (127.0.0.1), with the host's config.toml in a temp dir
// read by the real probe script. The package version comes from the probe's
// dpkg line, given here.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../lib/secrets.js';
import { drainNote } from '../../lib/services/gitlab/drain.js';
import { drainResource, resumeHandler } from '../../roles/gitlab-runner/drainResource.js';
import { RunnerHost } from '../../roles/gitlab-runner/runnerHost.js';
import { varsSchema } from '../../roles/gitlab-runner/vars.js';
import { startFakeGitlab, type FakeGitlab, type FakeRunner } from '../fakes/gitlab.js';
import { fakeRunnerJobs, type FakeRunnerJobs } from '../fakes/gitlabRunnerJobs.js';
import { makeCtx } from './helpers/context.js';
import { LocalRemote, tempDir } from './helpers/localRemote.js';

let gitlab: FakeGitlab;
let jobs: FakeRunnerJobs;
let dir: string;
let cleanup: () => void;
let path: string;
let runners: Record<'alpha' | 'hand' | 'byhand', FakeRunner>;

beforeAll(async () => {
  jobs = fakeRunnerJobs();
  gitlab = await startFakeGitlab({ accessToken: 'glpat-drain-unit-1', extensions: [jobs.extension] });
});
afterAll(async () => {
  await gitlab.close();
});

async function register(description: string, fields: Record<string, unknown> = {}): Promise<FakeRunner> {
  const res = await fetch(`${gitlab.url}/api/v4/user/runners`, { method: 'POST', headers: { 'PRIVATE-TOKEN': gitlab.accessToken, 'Content-Type': 'application/json' }, body: JSON.stringify({ runner_type: 'instance_type', description, ...fields }) });
  return gitlab.runners.get(((await res.json()) as { id: number }).id)!;
}

beforeEach(async () => {
  ({ dir, cleanup } = tempDir('rigger-drain-'));
  path = join(dir, 'gitlab-runner', 'config.toml');
  gitlab.runners.clear();
  jobs.jobs.clear();
  // alpha: the inventory's; hand: a runner the inventory does not name; byhand: paused by a person, note and all.
  runners = { alpha: await register('alpha'), hand: await register('hand', { maintenance_note: 'kept by ops' }), byhand: await register('byhand', { paused: true, maintenance_note: 'broken disk' }) };
  mkdirSync(join(dir, 'gitlab-runner'));
  writeFileSync(path, Object.entries(runners).map(([name, r]) => `[[runners]]\nname = "${name}"\nurl = "${gitlab.url}"\nid = ${r.id}\ntoken = "${r.token}"\nexecutor = "shell"\n`).join('\n'));
  gitlab.calls.length = 0;
});
afterEach(() => cleanup());

function setup(over: Record<string, unknown> = {}) {
  const vars = varsSchema.parse({
    gitlab_url: gitlab.url,
    gitlab_access_token: new Secret(gitlab.accessToken, 'test'),
    gitlab_runner_version: '17.8.0',
    gitlab_runner_config_path: path,
    gitlab_runner_drain_timeout: 20,
    gitlab_runner_drain_interval: 1,
    gitlab_runners: [{ name: 'alpha', executor: 'shell' }],
    ...over,
  });
  const shared = new RunnerHost(vars, 'h1', path);
  const drain = drainResource(shared, { version: vars.gitlab_runner_version, notify: 'resume' });
  const remote = new LocalRemote();
  const logs: string[] = [];
  const ctx = { ...makeCtx(remote, { wantDiff: true, host: 'h1' }), log: (m: string) => logs.push(m) };
  /** the drain's probe, as the engine would run it, with this dpkg line for gitlab-runner */
  const probe = async (dpkg: string) => {
    const files = (await remote.run(drain.probe.split("echo '--- runner files'; ")[1])).stdout;
    return { stdout: `${dpkg}\n--- runner files\n${files}`, code: 0 };
  };
  return { shared, drain, ctx, logs, probe, resume: resumeHandler(shared) };
}

const puts = () => gitlab.calls.filter((c) => c.method === 'PUT').map((c) => [Number(c.path.split('/').pop()), c.body]);

describe('upgrade drain', () => {
  it('nothing to do when the package does not change, or is not installed', async () => {
    const { drain, ctx, probe } = setup();
    expect(await drain.plan(await probe('17.8.0-1\tii '), ctx)).toBeNull();
    expect(await drain.plan(await probe(''), ctx)).toBeNull();
    expect(await drain.plan(await probe('17.7.1-1\trc '), ctx)).toBeNull(); // removed, config files left
    expect(puts()).toEqual([]);
  });

  it('check mode shows what it would pause and wait for, and writes nothing', async () => {
    jobs.add(runners.alpha.id);
    const { drain, probe } = setup();
    const ctx = { ...setup().ctx, check: true };
    const change = await drain.plan(await probe('17.7.1-1\tii '), ctx);
    expect(change?.summary).toBe('pause alpha, hand on GitLab and wait for running jobs (1 now, at most 20 s) before gitlab-runner 17.7.1-1 -> 17.8.0-1; alpha, hand resumed after');
    expect(change?.diff?.after).toContain('paused: true');
    expect(gitlab.calls.filter((c) => c.method !== 'GET' && c.path !== '/api/v4/runners/verify')).toEqual([]);
  });

  it('pauses the runners that were running, waits for their jobs, and the handler resumes them with their notes', async () => {
    const job = jobs.add(runners.alpha.id);
    const { drain, ctx, probe, resume } = setup();
    const change = (await drain.plan(await probe('17.7.1-1\tii '), ctx))!;
    const started = Date.now();
    setTimeout(() => jobs.finish(job.id), 1500);
    await drain.apply(change, ctx);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400); // it waited for the job
    expect(runners.alpha).toMatchObject({ paused: true, maintenance_note: expect.stringMatching(/^\[rigger drain h1 \S+\]$/) });
    expect(runners.hand).toMatchObject({ paused: true, maintenance_note: expect.stringMatching(/^\[rigger drain h1 \S+\] kept by ops$/) });
    expect(runners.byhand).toMatchObject({ paused: true, maintenance_note: 'broken disk' });
    // ... the package is upgraded here, then the role's handlers run: restart, then resume.
    await resume.run(ctx);
    expect(runners.alpha).toMatchObject({ paused: false, maintenance_note: '' });
    expect(runners.hand).toMatchObject({ paused: false, maintenance_note: 'kept by ops' });
    expect(runners.byhand).toMatchObject({ paused: true, maintenance_note: 'broken disk' }); // never touched
    expect(puts().map(([id, b]) => [id, (b as any).paused])).toEqual([
      [runners.alpha.id, true],
      [runners.hand.id, true],
      [runners.alpha.id, false],
      [runners.hand.id, false],
    ]);
  });

  it('a runner the inventory wants paused stays paused; only the drain mark goes', async () => {
    const { drain, ctx, probe, resume } = setup({ gitlab_runners: [{ name: 'alpha', executor: 'shell', paused: true }] });
    await drain.apply((await drain.plan(await probe('17.7.1-1\tii '), ctx))!, ctx);
    await resume.run(ctx);
    expect(runners.alpha).toMatchObject({ paused: true, maintenance_note: '' });
    expect(runners.hand).toMatchObject({ paused: false });
  });

  it('bounded: jobs still running at the timeout fail the upgrade, and the runners are resumed at once', async () => {
    jobs.add(runners.hand.id);
    const { drain, ctx, probe, logs } = setup({ gitlab_runner_drain_timeout: 1 });
    const change = (await drain.plan(await probe('17.7.1-1\tii '), ctx))!;
    await expect(drain.apply(change, ctx)).rejects.toThrow(
      '1 job(s) still running on hand (1) after 1 s (gitlab_runner_drain_timeout): gitlab-runner was not upgraded and its runners are resumed; run again later, or raise the timeout',
    );
    expect(runners.alpha).toMatchObject({ paused: false, maintenance_note: '' });
    expect(runners.hand).toMatchObject({ paused: false, maintenance_note: 'kept by ops' });
    expect(logs.some((l) => l.startsWith('waiting for 1 running job(s) on hand (1) before the upgrade'))).toBe(true);
  });

  it('a drain that was interrupted is recognised by its mark on GitLab and resumed by the next run', async () => {
    runners.alpha.paused = true;
    runners.alpha.maintenance_note = drainNote('h1', null);
    const { drain, ctx, probe, resume } = setup();
    const change = await drain.plan(await probe('17.8.0-1\tii '), ctx);
    expect(change?.summary).toBe('resume alpha on GitLab: paused by an upgrade drain that did not finish');
    await drain.apply(change!, ctx);
    expect(runners.alpha.paused).toBe(true); // the handler does it, after the role
    await resume.run(ctx);
    expect(runners.alpha).toMatchObject({ paused: false, maintenance_note: '' });
    expect(await drain.plan(await probe('17.8.0-1\tii '), setup().ctx)).toBeNull();
  });

  it('an upgrade without an access token is refused: it would abort running jobs', async () => {
    const { drain, ctx, probe } = setup({ gitlab_access_token: undefined });
    await expect(drain.plan(await probe('17.7.1-1\tii '), ctx)).rejects.toThrow(
      'upgrading gitlab-runner 17.7.1-1 -> 17.8.0-1 restarts it and aborts running jobs: pausing its runners first needs gitlab_access_token (the manage_runner or api scope)',
    );
  });
});
