/**
 * playbooks/switchover.ts end to end, in-process through runPlaybook, on the
 * GitLab stand-in (test/fakes/switchoverStage.ts: a trial fetcher and a group
 * with an anchors-and-comments fetcher, a plain one, one without the old tag,
 * a broken one, and the platform's runners before the move). What is asserted
 * is GitLab's state as the stand-in holds it (files, commits, runner tags,
 * pipelines and the runners their jobs ran on), not the engine's report alone.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { afterEach, describe, expect, it } from 'vitest';
import { makeRunContext } from '../../lib/engine/context.js';
import { Secret } from '../../lib/secrets.js';
import { switchoverSchema } from '../../lib/services/gitlab/switchoverVars.js';
import { switchoverPosition } from '../../lib/services/gitlab/switchover/role.js';
import switchover from '../../playbooks/switchover.js';
import { startSwitchoverStage, ANCHORS, BROKEN, CI, GROUP, NO_OLD_TAG, PLAIN, TOKEN_ENV, TRIAL, type SwitchoverStage } from '../fakes/switchoverStage.js';
import { runCaptured, type CapturedRun } from './helpers/run.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CI_FILE = '.gitlab-ci.yml';

let stage: SwitchoverStage | undefined;
afterEach(async () => {
  await stage?.close();
  stage = undefined;
});

async function start(over?: Record<string, unknown>): Promise<SwitchoverStage> {
  stage = await startSwitchoverStage();
  if (over) await stage.writeInventory(over);
  return stage;
}

function run(s: SwitchoverStage, args: string[] = []): Promise<CapturedRun> {
  return runCaptured(switchover, ['-i', s.inventory, ...args]);
}

function tasks(r: CapturedRun) {
  return r.report?.hosts.local?.tasks ?? [];
}

const tagsOf = (s: SwitchoverStage, id: number) => [...(s.gitlab.runners.get(id)?.tag_list ?? [])].sort();
const fileOf = (s: SwitchoverStage, path: string) => s.projects.file(path, CI_FILE);
const commitTitles = (s: SwitchoverStage, path: string) => [...s.projects.project(path).commits.values()].map((c) => c.message.split('\n')[0]);
const writeCalls = (s: SwitchoverStage) => s.gitlab.calls.filter((c) => c.method !== 'GET');

/** What the gitlab-runner role asks: where the switchover stands, read from GitLab. */
async function positionOf(s: SwitchoverStage): Promise<boolean[]> {
  const inv = parse(await readFile(s.inventory, 'utf8')) as any;
  const ctx = makeRunContext({ host: 'local', facts: {} as never, check: true, wantDiff: false });
  const p = await switchoverPosition(ctx, { gitlab_url: s.gitlab.url, gitlab_access_token: new Secret(s.gitlab.accessToken, 'test'), switchover: switchoverSchema.parse(inv.vars.switchover) });
  expect(p.complete).toBe(p.steps.every((d) => d.done));
  return p.steps.map((d) => d.done);
}

/** The jobs GitLab ran last for a project: name -> [tags, runner description]. */
function lastPipelineJobs(s: SwitchoverStage, path: string) {
  const pl = s.projects.pipelines.filter((p) => p.project.path_with_namespace === path).at(-1)!;
  return { status: s.projects.pipelineStatus(pl), jobs: Object.fromEntries(pl.jobs.map((j) => [j.name, [j.tag_list.join(','), s.gitlab.runners.get(j.runnerId ?? -1)?.description ?? null]])) };
}

describe('the whole switchover on the stand-in', () => {
  it('check first (no write), then one step per run, each proven by GitLab, then nothing left to do', async () => {
    const s = await start();
    const { mania, eros, dolos, index } = s.runners;
    const before = writeCalls(s).length;

    // --check over all five steps: the diffs and the gates, no write request at all.
    const check = await run(s, ['--check', '--through', '5']);
    expect(check.exitCode, check.output).toBe(0);
    expect(writeCalls(s).length).toBe(before);
    expect(tasks(check).map((t) => [t.resource, t.status])).toEqual([1, 2, 3, 4, 5].map((n) => [`gitlab:switchover/step-${n}`, 'changed']));
    expect(check.output).toContain(`+++ b/gitlab:${TRIAL}/${CI_FILE}`);
    expect(check.output).toContain('-    - docker\n+    - download-convert\n+    - autoscale');
    expect(check.output).toContain(`### ${ANCHORS}/${CI_FILE}, line`);
    expect(check.output).toContain('+++ b/gitlab:runner/download-convert-stateful');
    expect(check.output).toMatch(/gate after it: a pipeline of dbnomics-fetchers\/ameco-fetcher/);
    expect(check.output).toMatch(/step-4: .*gate before it: no pending or running job needs docker/);
    expect(check.output).toMatch(/step-5: .*delete runner dolos-docker .*gate before it: the retired runner .*paused first/);
    expect(check.report!.hosts.local.apiRequests).toBeGreaterThan(0);

    // Step 1: the trial fetcher, and its pipeline ran on the autoscaled runner.
    let r = await run(s);
    expect(r.exitCode, r.output).toBe(0);
    expect(tasks(r)).toMatchObject([{ resource: 'gitlab:switchover/next-step', status: 'changed', summary: expect.stringMatching(/^step 1 /) }]);
    expect(fileOf(s, TRIAL)).toBe(CI.trial.replace('    - docker\n', '    - download-convert\n    - autoscale\n').replace('    - docker\n', '    - download-convert\n'));
    expect(commitTitles(s, TRIAL)).toEqual(['Initial commit', 'CI: runner tags docker -> download-convert (switchover step 1)']);
    expect([...s.projects.project(TRIAL).commits.values()].at(-1)!.message).toMatch(/download: docker -> download-convert, autoscale\nconvert: docker -> download-convert\n\nRigger-Switchover: step 1$/);
    expect(lastPipelineJobs(s, TRIAL)).toEqual({ status: 'success', jobs: { download: ['download-convert,autoscale', mania.description], convert: ['download-convert', mania.description] } });
    expect(fileOf(s, ANCHORS)).toBe(CI.anchors); // nothing else yet

    // Step 2: every fetcher, one commit each; the one without docker and the broken one left alone.
    r = await run(s);
    expect(r.exitCode, r.output).toBe(0);
    const summary = tasks(r)[0].summary!;
    expect(summary).toMatch(/^step 2 .*commit \.gitlab-ci\.yml in 2 fetcher\(s\) \(dbnomics-fetchers\/eurostat-fetcher; dbnomics-fetchers\/insee-fetcher\)/);
    expect(summary).toMatch(/not using docker \(dbnomics-fetchers\/ameco-fetcher; dbnomics-fetchers\/documentation\)/);
    expect(summary).toMatch(/1 that cannot be parsed, reported, not rewritten \(dbnomics-fetchers\/broken-fetcher: .*line 3, column 3/);
    expect(summary).toMatch(/trial gate passed \(pipeline #\d+ succeeded: download on download-convert-autoscale/);
    expect(fileOf(s, ANCHORS)).toBe(
      CI.anchors.replace('    - docker        # the runners', '    - download-convert        # the runners').replace('  <<: *job_template\n  stage: download\n', '  <<: *job_template\n  tags: [download-convert, autoscale]\n  stage: download\n'),
    );
    expect(fileOf(s, PLAIN)).toBe(CI.plain.replace('tags: ["docker"]', 'tags: ["download-convert", "autoscale"]').replace("tags: ['docker']", "tags: ['download-convert']"));
    expect(fileOf(s, NO_OLD_TAG)).toBe(CI.noOldTag);
    expect(fileOf(s, BROKEN)).toBe(CI.broken);
    for (const p of [ANCHORS, PLAIN]) expect(commitTitles(s, p)).toEqual(['Initial commit', 'CI: runner tags docker -> download-convert (switchover step 2)']);
    for (const p of [NO_OLD_TAG, BROKEN, 'other-group/website']) expect(commitTitles(s, p)).toEqual(['Initial commit']);
    expect(await positionOf(s)).toEqual([true, true, false, false, false]);
    // GitLab's own reading of the edited files: the push pipelines' jobs have no docker and ran on mania.
    expect(lastPipelineJobs(s, ANCHORS).jobs).toEqual({ download: ['download-convert,autoscale', mania.description], convert: ['download-convert', mania.description] });

    // Steps 3 and 4: eros gains download-convert, then loses docker.
    r = await run(s);
    expect(r.exitCode, r.output).toBe(0);
    expect(tagsOf(s, eros.id)).toEqual(['docker', 'download-convert', 'stateful']);
    r = await run(s);
    expect(r.exitCode, r.output).toBe(0);
    expect(tagsOf(s, eros.id)).toEqual(['download-convert', 'stateful']);

    // Step 5: dolos's runner paused, then deleted; the Solr index runner stays.
    r = await run(s);
    expect(r.exitCode, r.output).toBe(0);
    expect(s.gitlab.runners.has(dolos.id)).toBe(false);
    expect(s.gitlab.runners.has(index.id)).toBe(true);
    const onDolos = writeCalls(s).filter((c) => c.path === `/api/v4/runners/${dolos.id}`);
    expect(onDolos.map((c) => [c.method, c.body])).toEqual([
      ['PUT', { paused: true }],
      ['DELETE', null],
    ]);

    expect(await positionOf(s)).toEqual([true, true, true, true, true]);

    // Done: any further run, with or without flags, changes nothing and writes nothing.
    const done = writeCalls(s).length;
    for (const args of [[], ['--through', '5'], ['--step', '3'], ['--check'], ['-vv', '--through', '5']]) {
      const again = await run(s, args);
      expect(again.exitCode, again.output).toBe(0);
      expect(again.report!.hosts.local.counts.changed, `${args.join(' ')}\n${again.output}`).toBe(0);
      if (args[0] === '-vv') {
        expect(again.output).toMatch(/gitlab:switchover\/step-5: done \(GitLab has no runner #\d+ any more\)/);
        expect(again.output).toMatch(/GitLab API: GET http:\/\/127\.0\.0\.1:\d+\/api\/v4\/projects\/\d+\/repository\/files\/\.gitlab-ci\.yml\?ref=main -> 200/);
      }
      expect(again.output).not.toContain(s.gitlab.accessToken);
    }
    expect(writeCalls(s).length).toBe(done);
    expect(r.output + check.output).not.toContain(s.gitlab.accessToken);

    // No fight with the runner playbook: eros's tags are the production inventory's.
    const prod = parse(await readFile(`${REPO}inventory/hosts.toml`, 'utf8')) as any;
    const erosRunner = prod.groups.static_runners.vars.gitlab_runners.find((x: any) => x.name === 'download-convert-stateful');
    expect(tagsOf(s, eros.id)).toEqual([...erosRunner.tags].sort());
  });

  it('--through 5 does it all in one run', async () => {
    const s = await start();
    const r = await run(s, ['--through', '5']);
    expect(r.exitCode, r.output).toBe(0);
    expect(tasks(r).map((t) => t.status)).toEqual(['changed', 'changed', 'changed', 'changed', 'changed']);
    expect(tagsOf(s, s.runners.eros.id)).toEqual(['download-convert', 'stateful']);
    expect(s.gitlab.runners.has(s.runners.dolos.id)).toBe(false);
  });
});

describe('gates', () => {
  it('a failed trial pipeline stops the run (exit 2) and blocks step 2 until a pipeline succeeds', async () => {
    const s = await start();
    s.projects.autoFinish = 'failed';
    let r = await run(s);
    expect(r.exitCode, r.output).toBe(2);
    expect(tasks(r)[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/gate: pipeline #\d+ failed .*retry them in GitLab, then run again/) });
    expect(fileOf(s, TRIAL)).not.toContain('docker'); // step 1 itself is done

    r = await run(s, ['--through', '5']);
    expect(r.exitCode, r.output).toBe(2);
    expect(tasks(r).map((t) => t.status)).toEqual(['ok', 'failed']);
    expect(tasks(r)[1].error).toMatch(/step 2 .* blocked by the trial gate .*pipeline #\d+ failed/);
    expect(fileOf(s, ANCHORS)).toBe(CI.anchors);
    expect(fileOf(s, PLAIN)).toBe(CI.plain);

    // Someone retries the pipeline in GitLab and it passes: the run goes on.
    s.projects.autoFinish = 'success';
    s.projects.createPipeline(TRIAL);
    r = await run(s, ['--through', '2']);
    expect(r.exitCode, r.output).toBe(0);
    expect(fileOf(s, ANCHORS)).not.toContain('- docker');
  });

  it('triggers the trial pipeline itself when none ran the new file, with the inventory’s variables', async () => {
    const s = await start({ trial_pipeline_variables: { PROVIDER: 'ameco' } });
    // Step 1 done by a person with [skip ci]: no pipeline ran the new file.
    s.projects.commit(TRIAL, CI_FILE, CI.trial.replaceAll('- docker', '- download-convert'), 'by hand [skip ci]');
    const r = await run(s);
    expect(r.exitCode, r.output).toBe(0);
    expect(tasks(r)[0].summary).toMatch(/^step 2 .*gate before it: .*first no pipeline of main has run the current \.gitlab-ci\.yml yet: trigger one/);
    const posts = writeCalls(s).filter((c) => c.method === 'POST' && c.path.endsWith('/pipeline'));
    expect(posts).toHaveLength(1);
    expect(posts[0].body).toMatchObject({ ref: 'main', variables: [{ key: 'PROVIDER', value: 'ameco' }] });
    expect(fileOf(s, PLAIN)).not.toContain('"docker"');
  });

  it('a pending job without a runner that has all its tags fails the gate after step 2 and blocks step 3', async () => {
    const s = await start();
    expect((await run(s, ['--through', '1'])).exitCode).toBe(0);
    // The autoscaled runner goes offline: the fetchers' new jobs (download-convert) find no runner.
    await fetch(`${s.gitlab.url}/api/v4/runners/${s.runners.mania.id}`, { method: 'PUT', headers: { 'PRIVATE-TOKEN': s.gitlab.accessToken, 'Content-Type': 'application/json' }, body: JSON.stringify({ paused: true }) });
    let r = await run(s, ['--through', '3']);
    expect(r.exitCode, r.output).toBe(2);
    expect(tasks(r).map((t) => t.status)).toEqual(['ok', 'failed']);
    expect(tasks(r)[1].error).toMatch(/stuck-jobs gate: \d+ pending job\(s\) without a runner that has all their tags: dbnomics-fetchers\/\S+ job download/);
    expect(tagsOf(s, s.runners.eros.id)).toEqual(['docker', 'stateful']); // step 3 not done
    r = await run(s, ['--step', '3']);
    expect(r.exitCode).toBe(2);
    expect(tasks(r)[0].error).toMatch(/step 3 .* blocked by the stuck-jobs gate/);
  });

  it('before step 4 it waits for jobs that need docker, and gives up after gate_timeout', async () => {
    const s = await start({ gate_timeout: 1 });
    expect((await run(s, ['--through', '3'])).exitCode).toBe(0);
    const job = s.projects.addJob('other-group/website', { name: 'build', tags: ['docker'], status: 'running', runnerId: s.runners.eros.id });
    const check = await run(s, ['--check']);
    expect(check.exitCode).toBe(0);
    expect(tasks(check)[0].summary).toMatch(new RegExp(`first wait for 1 job\\(s\\) that need docker .*other-group/website job build #${job.id}`));
    let r = await run(s);
    expect(r.exitCode, r.output).toBe(2);
    expect(tasks(r)[0].error).toMatch(/gate before step 4: 1 job\(s\) still need docker: other-group\/website job build .*after waiting 1 s/);
    expect(tagsOf(s, s.runners.eros.id)).toContain('docker');
    s.projects.finishJobs({ runnerId: s.runners.eros.id });
    r = await run(s);
    expect(r.exitCode, r.output).toBe(0);
    expect(tagsOf(s, s.runners.eros.id)).toEqual(['download-convert', 'stateful']);
  });

  it('before step 5: the Solr index job must keep a runner; dolos is paused first and drained before it is deleted', async () => {
    const s = await start({ gate_timeout: 1 });
    expect((await run(s, ['--through', '4'])).exitCode).toBe(0);
    const { dolos, index } = s.runners;
    s.gitlab.runners.get(index.id)!.paused = true;
    let r = await run(s);
    expect(r.exitCode).toBe(2);
    expect(tasks(r)[0].error).toMatch(/blocked by the retire gate .*no other online runner takes jobs tagged \[index\]/);
    expect(s.gitlab.runners.get(dolos.id)!.paused).toBe(false); // refused before anything was done

    s.gitlab.runners.get(index.id)!.paused = false;
    s.projects.addJob(`${GROUP}/documentation`, { name: 'old-job', tags: ['docker'], status: 'running', runnerId: dolos.id });
    r = await run(s);
    expect(r.exitCode, r.output).toBe(2);
    expect(tasks(r)[0].error).toMatch(/the runner is paused and still runs 1 job\(s\)/);
    expect(s.gitlab.runners.get(dolos.id)).toMatchObject({ paused: true });

    s.projects.finishJobs({ runnerId: dolos.id });
    r = await run(s);
    expect(r.exitCode, r.output).toBe(0);
    expect(s.gitlab.runners.has(dolos.id)).toBe(false);
  });
});

describe('careful edits', () => {
  it('a commit refused because the file changed meanwhile writes nothing there; the next run commits on top of the other change', async () => {
    const s = await start();
    expect((await run(s, ['--through', '1'])).exitCode).toBe(0);
    let raced = false;
    s.intercept = (req) => {
      if (!raced && req.method === 'PUT' && req.path.startsWith(`/api/v4/projects/${s.projects.project(ANCHORS).id}/`)) {
        raced = true;
        s.projects.commit(ANCHORS, CI_FILE, CI.anchors.replace('python:3.11-slim', 'python:3.12-slim'), 'Bump Python');
      }
      return undefined;
    };
    let r = await run(s);
    expect(r.exitCode, r.output).toBe(2);
    expect(tasks(r)[0].error).toMatch(/1 committed; 1 commit\(s\) refused because the file changed since it was read, nothing written there \(dbnomics-fetchers\/insee-fetcher\)/);
    expect(fileOf(s, ANCHORS)).toBe(CI.anchors.replace('python:3.11-slim', 'python:3.12-slim'));
    expect(fileOf(s, PLAIN)).not.toContain('docker');
    r = await run(s);
    expect(r.exitCode, r.output).toBe(0);
    expect(fileOf(s, ANCHORS)).toContain('python:3.12-slim');
    expect(fileOf(s, ANCHORS)).toContain('    - download-convert        # the runners that have Docker');
    expect(commitTitles(s, ANCHORS)).toEqual(['Initial commit', 'Bump Python', 'CI: runner tags docker -> download-convert (switchover step 2)']);
  });

  it('resumes after the process is killed between steps: where it stands is read from GitLab', async () => {
    const s = await start();
    // GitLab applies step 3's tag change, then the answer never comes and the process is killed.
    let hit: () => void = () => {};
    const reached = new Promise<void>((resolve) => (hit = resolve));
    s.intercept = (req) => {
      if (req.method === 'PUT' && req.path === `/api/v4/runners/${s.runners.eros.id}`) {
        s.gitlab.runners.get(s.runners.eros.id)!.tag_list = [...(req.params.tag_list as string[])];
        hit();
        return new Promise(() => {}); // never answers
      }
      return undefined;
    };
    const child = spawn(`${REPO}node_modules/.bin/tsx`, ['playbooks/switchover.ts', '-i', s.inventory, '--through', '5'], { cwd: REPO, env: { ...process.env, [TOKEN_ENV]: s.gitlab.accessToken }, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ? null : code)));
    await Promise.race([reached, exited.then((c) => Promise.reject(new Error(`the run ended (${c}) before step 3`)))]);
    child.kill('SIGKILL');
    expect(await exited).toBeNull();
    s.intercept = null;
    expect(tagsOf(s, s.runners.eros.id)).toEqual(['docker', 'download-convert', 'stateful']);
    expect(s.gitlab.runners.has(s.runners.dolos.id)).toBe(true);

    const r = await run(s, ['--through', '5']);
    expect(r.exitCode, r.output).toBe(0);
    expect(tasks(r).map((t) => t.status)).toEqual(['ok', 'ok', 'ok', 'changed', 'changed']);
    expect(tagsOf(s, s.runners.eros.id)).toEqual(['download-convert', 'stateful']);
    expect(s.gitlab.runners.has(s.runners.dolos.id)).toBe(false);
    expect(commitTitles(s, TRIAL)).toHaveLength(2); // no second commit of step 1
  });
});

describe('rollback', () => {
  it('undoes steps 4 to 1 in reverse behind the mirrored gates, restoring every file byte-for-byte', async () => {
    const s = await start();
    expect((await run(s, ['--through', '4'])).exitCode).toBe(0);
    const { eros } = s.runners;

    const before = writeCalls(s).length;
    const check = await run(s, ['--check', '--rollback', '1']);
    expect(check.exitCode, check.output).toBe(0);
    expect(writeCalls(s).length).toBe(before);
    expect(tasks(check).map((t) => t.resource)).toEqual([4, 3, 2, 1].map((n) => `gitlab:switchover/rollback-${n}`));
    expect(check.output).toMatch(/rollback-2: rollback of step 2: restore \.gitlab-ci\.yml of 2 fetcher\(s\)/);

    const r = await run(s, ['--rollback', '1']);
    expect(r.exitCode, r.output).toBe(0);
    expect(tagsOf(s, eros.id)).toEqual(['docker', 'stateful']);
    expect(fileOf(s, TRIAL)).toBe(CI.trial);
    expect(fileOf(s, ANCHORS)).toBe(CI.anchors);
    expect(fileOf(s, PLAIN)).toBe(CI.plain);
    expect(commitTitles(s, ANCHORS).at(-1)).toBe('CI: back to the runner tags before the switchover (rollback of step 2)');
    expect([...s.projects.project(TRIAL).commits.values()].at(-1)!.message).toMatch(/Rigger-Switchover: rollback 1$/);
    // The mirrored trial gate: a pipeline of the restored file ran on a runner with docker.
    const trial = lastPipelineJobs(s, TRIAL);
    expect(trial.status).toBe('success');
    for (const [tags, runner] of Object.values(trial.jobs)) {
      expect(tags).toBe('docker');
      expect(['download-convert-stateful', 'dolos-docker']).toContain(runner);
    }

    // Rolled back: again is a no-op; forward again works.
    const after = writeCalls(s).length;
    const again = await run(s, ['--rollback', '1']);
    expect(again.report!.hosts.local.counts.changed).toBe(0);
    expect(writeCalls(s).length).toBe(after);
    expect((await run(s, ['--through', '2'])).exitCode).toBe(0);
    expect(fileOf(s, ANCHORS)).toContain('download-convert');
  });

  it('will not take the new tags from eros while a pending job would be left without a runner', async () => {
    const s = await start();
    expect((await run(s, ['--through', '4'])).exitCode).toBe(0);
    // mania is paused and eros, the only other runner with download-convert, is busy: a job waits for eros.
    s.gitlab.runners.get(s.runners.mania.id)!.paused = true;
    s.projects.capacity.set(s.runners.eros.id, 1);
    s.projects.addJob(PLAIN, { name: 'long', tags: ['stateful'], status: 'running', runnerId: s.runners.eros.id });
    s.projects.addJob(PLAIN, { name: 'convert', tags: ['download-convert'], status: 'pending' });
    const r = await run(s, ['--rollback', '3']);
    expect(r.exitCode, r.output).toBe(2);
    expect(tasks(r).map((t) => t.status)).toEqual(['changed', 'failed']);
    expect(tasks(r)[1].error).toMatch(/rollback of step 3 blocked by the stuck-jobs gate .*1 pending job\(s\) would be left without a runner .*eurostat-fetcher job convert/);
    expect(tagsOf(s, s.runners.eros.id)).toEqual(['docker', 'download-convert', 'stateful']); // step 4 undone, step 3 kept
  });
});
