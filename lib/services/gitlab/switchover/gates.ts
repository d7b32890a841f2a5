// The gates between the steps: real checks against GitLab. A check reads only
// (it runs in plan, also in check mode); when a gate needs time or an action
// (a pipeline to trigger or finish, jobs to drain, a runner to pause) the step's
// apply does it, waiting at most gate_timeout, and fails with a message that
// says what to do.
import type { GitlabJob, GitlabPipeline, GitlabProject } from '../projects.js';
import { missingTags, tagText, takes, type ProjectScope, type RunnerView } from './matching.js';
import { mapLimit, type Switchover } from './world.js';

/** A gate refused: the step stops here (the run exits 2). */
export class GateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GateError';
  }
}

export type GateCheck =
  | { status: 'pass'; detail: string }
  | { status: 'fail'; reason: string }
  /** not yet: apply does `action` (waits, triggers) and checks again */
  | { status: 'pending'; action: string };

const RUNNING = new Set(['created', 'waiting_for_resource', 'preparing', 'pending', 'running', 'scheduled']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Look again every gate_poll_interval until `probe` is satisfied or gate_timeout has passed. */
export async function waitUntil<T>(w: Switchover, what: string, probe: (fresh: Switchover) => Promise<{ ok: true; value: T } | { ok: false; why: string }>): Promise<T> {
  const deadline = Date.now() + w.v.gate_timeout * 1000;
  for (;;) {
    const r = await probe(w.fresh());
    if (r.ok) return r.value;
    if (Date.now() >= deadline) throw new GateError(`${what}: ${r.why} (after waiting ${w.v.gate_timeout} s; run again to wait more, nothing is undone)`);
    w.log(`${what}: ${r.why}; looking again in ${w.v.gate_poll_interval} s`);
    await sleep(w.v.gate_poll_interval * 1000);
  }
}

const jobText = (j: GitlabJob, project?: string) => `${project ?? j.project?.path_with_namespace ?? '?'} job ${j.name} #${j.id} (${j.status}, tags ${tagText(j.tag_list)})`;
const hasAny = (tags: string[], any: string[]) => tags.some((t) => any.includes(t));

// ---------- after step 1: a pipeline of the trial fetcher ----------

export type TrialMode = 'forward' | 'rollback';

export function describeTrialGate(w: Switchover, mode: TrialMode): string {
  return `a pipeline of ${w.v.trial_fetcher} running its ${mode === 'rollback' ? 'restored' : 'new'} ${w.v.ci_file} succeeds, each job on a runner that has all its tags${mode === 'forward' ? ' (not the retired runner)' : ''}`;
}

type PipelineState = { kind: 'none'; why: string } | { kind: 'running'; pipeline: GitlabPipeline } | { kind: 'done'; check: GateCheck };

/** The newest pipeline of the trial fetcher's branch that runs its CI file as it is now. */
async function trialPipeline(w: Switchover, mode: TrialMode): Promise<PipelineState> {
  const t = await w.trial();
  if (!t.file || !t.branch) return { kind: 'done', check: { status: 'fail', reason: `${w.v.trial_fetcher} has no ${w.v.ci_file}` } };
  const project = t.project;
  const pipelines = await w.api.pipelines(project.id, t.branch);
  for (const p of pipelines.slice(0, 10)) {
    const same = p.sha === t.file.commitId || p.sha === t.file.lastCommitId || (await w.api.file(project.id, w.v.ci_file, p.sha))?.content === t.file.content;
    if (!same) continue;
    if (RUNNING.has(p.status)) return { kind: 'running', pipeline: p };
    if (p.status !== 'success') return { kind: 'done', check: { status: 'fail', reason: `pipeline #${p.id} ${p.status}${p.web_url ? ` (${p.web_url})` : ''}: look at its jobs, retry them in GitLab, then run again` } };
    return { kind: 'done', check: await jobsOnExpectedRunners(w, project, p, mode) };
  }
  return { kind: 'none', why: `no pipeline of ${t.branch} has run the current ${w.v.ci_file} yet` };
}

async function jobsOnExpectedRunners(w: Switchover, project: GitlabProject, p: GitlabPipeline, mode: TrialMode): Promise<GateCheck> {
  const jobs = await w.api.pipelineJobs(project.id, p.id);
  const ran = jobs.filter((j) => j.status === 'success');
  if (!ran.length) return { status: 'fail', reason: `pipeline #${p.id} succeeded but no job of it ran` };
  const retired = mode === 'forward' ? await w.runner('retired_runner') : null;
  const where: string[] = [];
  for (const j of ran) {
    if (!j.runner) return { status: 'fail', reason: `job ${j.name} of pipeline #${p.id} has no runner` };
    if (mode === 'forward' && hasAny(j.tag_list, w.oldTags)) return { status: 'fail', reason: `job ${j.name} of pipeline #${p.id} still has tags ${tagText(j.tag_list)}` };
    const r = await w.api.runnerDetails(j.runner.id);
    if (!r) return { status: 'fail', reason: `job ${j.name} of pipeline #${p.id} ran on runner #${j.runner.id}, which GitLab no longer knows` };
    const missing = missingTags(r.tag_list, j.tag_list);
    if (missing.length) return { status: 'fail', reason: `job ${j.name} (tags ${tagText(j.tag_list)}) ran on ${r.description} (#${r.id}), which lacks ${missing.join(', ')}` };
    if (retired && r.id === retired.id) return { status: 'fail', reason: `job ${j.name} of pipeline #${p.id} ran on the retired runner ${r.description} (#${r.id})` };
    where.push(`${j.name} on ${r.description} (#${r.id})`);
  }
  return { status: 'pass', detail: `pipeline #${p.id} succeeded: ${where.join(', ')}` };
}

export async function checkTrialGate(w: Switchover, mode: TrialMode): Promise<GateCheck> {
  const s = await trialPipeline(w, mode);
  if (s.kind === 'done') return s.check;
  if (s.kind === 'running') return { status: 'pending', action: `wait for pipeline #${s.pipeline.id} (${s.pipeline.status}) of ${w.v.trial_fetcher}` };
  return { status: 'pending', action: `${s.why}: trigger one and wait for it` };
}

/**
 * Apply side of the trial gate: wait for the pipeline (after a commit, a little
 * for GitLab's own push pipeline first), trigger one when none runs the file.
 */
export async function awaitTrialGate(w: Switchover, mode: TrialMode, o: { afterCommit: boolean }): Promise<string> {
  let triggered = false;
  let graceLeft = o.afterCommit ? 2 : 0;
  return waitUntil(w, `gate after step 1 (${w.v.trial_fetcher})`, async (fresh) => {
    const s = await trialPipeline(fresh, mode);
    if (s.kind === 'done') {
      if (s.check.status === 'fail') throw new GateError(`gate: ${s.check.reason}`);
      if (s.check.status === 'pass') return { ok: true, value: s.check.detail };
    }
    if (s.kind === 'running') return { ok: false, why: `pipeline #${s.pipeline.id} is ${s.pipeline.status}` };
    if (graceLeft-- > 0) return { ok: false, why: 'waiting for the pipeline GitLab runs for the commit' };
    if (triggered) return { ok: false, why: 'waiting for the triggered pipeline to appear' };
    const t = await fresh.trial();
    const res = await fresh.api.createPipeline(t.project.id, t.branch!, w.v.trial_pipeline_variables);
    if ('refused' in res) throw new GateError(`gate: GitLab runs no pipeline of ${w.v.trial_fetcher} for an API trigger (${res.refused}); run one by hand (e.g. the fetcher's trigger script), then run again`);
    triggered = true;
    w.log(`triggered pipeline #${res.id} of ${w.v.trial_fetcher}`);
    return { ok: false, why: `pipeline #${res.id} triggered` };
  });
}

// ---------- after step 2: no job of the group stuck ----------

export function describeStuckGate(w: Switchover): string {
  return `no pending job of ${w.v.fetchers_group} lacks an online runner with all its tags`;
}

export interface RunnerOverride {
  /** runners left out (e.g. the one about to be deleted) */
  exclude?: number[];
  /** tags a runner will have instead of its current ones */
  tags?: Map<number, string[]>;
}

function applyOverride(runners: RunnerView[], o: RunnerOverride): RunnerView[] {
  return runners.filter((r) => !o.exclude?.includes(r.id)).map((r) => (o.tags?.has(r.id) ? { ...r, tags: o.tags.get(r.id)! } : r));
}

/** Pending jobs of the group that no online runner would take (with the runners as `o` says they will be). */
export async function stuckJobs(w: Switchover, o: RunnerOverride = {}): Promise<string[]> {
  const runners = applyOverride(await w.onlineRunners(), o);
  const perProject = await mapLimit(await w.groupProjects(), 8, async (p) => {
    const pending = await w.api.projectJobs(p.id, ['pending']);
    if (!pending.length) return [];
    const scope = await w.scopeOf(p);
    return pending.filter((j) => !runners.some((r) => takes(r, j.tag_list, scope))).map((j) => jobText(j, p.path_with_namespace));
  });
  return perProject.flat();
}

/** Pending jobs that some runner would take now but none would once the runners are as `o` says. */
export async function strandedJobs(w: Switchover, o: RunnerOverride): Promise<string[]> {
  const now = new Set(await stuckJobs(w));
  return (await stuckJobs(w, o)).filter((j) => !now.has(j));
}

export async function checkStrandedGate(w: Switchover, o: RunnerOverride): Promise<GateCheck> {
  const stranded = await strandedJobs(w, o);
  if (stranded.length) return { status: 'fail', reason: `${stranded.length} pending job(s) would be left without a runner that has all their tags: ${listText(stranded)}` };
  return { status: 'pass', detail: 'no pending job would be left without a runner' };
}

export async function checkStuckGate(w: Switchover, o: RunnerOverride = {}): Promise<GateCheck> {
  const stuck = await stuckJobs(w, o);
  if (stuck.length) return { status: 'fail', reason: `${stuck.length} pending job(s) without a runner that has all their tags: ${listText(stuck)}` };
  return { status: 'pass', detail: `no pending job of ${w.v.fetchers_group} lacks a runner` };
}

// ---------- before step 4: nothing needs the old tags ----------

export function describeOldTagsGate(w: Switchover): string {
  return `no pending or running job needs ${w.oldTags.join(', ')}`;
}

/** Pending and running jobs of the group, and running jobs of the static and retired runners, that have an old tag. */
export async function jobsNeedingOldTags(w: Switchover): Promise<string[]> {
  const seen = new Map<number, string>();
  const perProject = await mapLimit(await w.groupProjects(), 8, async (p) => ({ p, jobs: await w.api.projectJobs(p.id, ['pending', 'running']) }));
  for (const { p, jobs } of perProject) for (const j of jobs) if (hasAny(j.tag_list, w.oldTags)) seen.set(j.id, jobText(j, p.path_with_namespace));
  const runners = [await w.staticRunner(), await w.runner('retired_runner')].filter((r) => r !== null);
  for (const r of runners) for (const j of await w.api.runnerJobs(r.id, 'running')) if (hasAny(j.tag_list, w.oldTags)) seen.set(j.id, jobText(j));
  return [...seen.values()];
}

export async function checkOldTagsGate(w: Switchover): Promise<GateCheck> {
  const jobs = await jobsNeedingOldTags(w);
  if (!jobs.length) return { status: 'pass', detail: `no pending or running job needs ${w.oldTags.join(', ')}` };
  return { status: 'pending', action: `wait for ${jobs.length} job(s) that need ${w.oldTags.join(', ')} to finish (up to ${w.v.gate_timeout} s): ${listText(jobs)}` };
}

export async function awaitOldTagsGate(w: Switchover): Promise<string> {
  return waitUntil(w, 'gate before step 4', async (fresh) => {
    const jobs = await jobsNeedingOldTags(fresh);
    return jobs.length ? { ok: false, why: `${jobs.length} job(s) still need ${w.oldTags.join(', ')}: ${listText(jobs)}` } : { ok: true, value: 'no job needs the old tags' };
  });
}

// ---------- tag sets that must keep a runner ----------

/** The tag sets no online runner (but the excluded ones) would take. */
export async function unservedTagSets(w: Switchover, sets: string[][], o: RunnerOverride = {}, scope?: ProjectScope): Promise<string[][]> {
  const runners = applyOverride(await w.onlineRunners(), o);
  return sets.filter((s) => !runners.some((r) => takes(r, s, scope)));
}

// ---------- before step 5: the retired runner ----------

export function describeRetireGate(w: Switchover): string {
  const keep = w.v.keep_served.map((s) => `[${tagText(s)}]`).join(', ');
  const r = w.v.retired_runner;
  return `the retired runner (${r.runner} on ${r.host}) paused first, then without running jobs; no pending job left without a runner${keep ? `; ${keep} still served by another runner` : ''}`;
}

/** What must stay true without the retired runner: keep_served tags served, no group job stranded. */
export async function retireProblems(w: Switchover, retiredId: number): Promise<string | null> {
  const unserved = await unservedTagSets(w, w.v.keep_served, { exclude: [retiredId] });
  if (unserved.length) return `no other online runner takes jobs tagged ${unserved.map((s) => `[${tagText(s)}]`).join(', ')} (switchover.keep_served): keep the retired runner until one does`;
  const stranded = await strandedJobs(w, { exclude: [retiredId] });
  if (stranded.length) return `${stranded.length} pending job(s) would have no runner without it: ${listText(stranded)}`;
  return null;
}

export async function checkRetireGate(w: Switchover, retiredId: number, paused: boolean): Promise<GateCheck> {
  const problem = await retireProblems(w, retiredId);
  if (problem) return { status: 'fail', reason: problem };
  const running = await w.api.runnerJobs(retiredId, 'running');
  const todo = [...(paused ? [] : ['pause it']), ...(running.length ? [`wait for its ${running.length} running job(s)`] : [])];
  return todo.length ? { status: 'pending', action: todo.join(', then ') } : { status: 'pass', detail: 'paused, no running job' };
}

/** Pause the runner (GitLab gives it no new job), then wait until its running jobs are done. */
export async function awaitRetireGate(w: Switchover, retiredId: number): Promise<void> {
  const r = await w.api.fresh().runnerDetails(retiredId);
  if (r && !r.paused) {
    await w.api.runnerUpdate(retiredId, { paused: true });
    w.log(`paused runner ${r.description} (#${retiredId})`);
  }
  await waitUntil(w, 'gate before step 5', async (fresh) => {
    const running = await fresh.api.runnerJobs(retiredId, 'running');
    return running.length ? { ok: false, why: `the runner is paused and still runs ${running.length} job(s): ${listText(running.map((j) => jobText(j)))}` } : { ok: true, value: undefined };
  });
  const problem = await retireProblems(w.fresh(), retiredId);
  if (problem) throw new GateError(`gate before step 5: ${problem} (the runner stays paused)`);
}

export function listText(items: string[], max = 5): string {
  return items.length <= max ? items.join('; ') : `${items.slice(0, max).join('; ')}; and ${items.length - max} more`;
}
