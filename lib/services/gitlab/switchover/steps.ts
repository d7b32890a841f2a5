// The five steps of the switchover and the rollbacks of steps 1-4, each as
// "prepare" (reads only: is it done, is the way clear, what would change) and
// the `run` its apply calls. Every "done" is read from GitLab:
//
//   1 trial fetcher migrated   its CI file has no job with an old tag
//   2 fetchers migrated        no fetcher of the group has one (unparsable files do not count: reported)
//   3 static runner widened    it has every new tag
//   4 static runner narrowed   it has no old tag
//   5 retired runner deleted   GitLab has no such runner
//
// A step runs only when every earlier step is done and its gate passes:
//   before 2: the trial gate (a pipeline running the new file succeeded on the right runners)
//   before 3: no pending job of the group without a runner (also checked right after step 2)
//   before 4: no pending or running job needs an old tag (waits for them)
//   before 5: keep_served still served and no job stranded without the retired
//             runner; the runner is paused, then its running jobs drain
// Rollbacks undo in reverse order (4, 3, 2, 1) behind the same gates mirrored:
//   undo 4: the static runner gets the old tags back (strands nothing)
//   undo 3: it loses the new tags, only if no pending job of the group is left without a runner
//   undo 2/1: the runbook's own commits are reverted (the file as it was before them),
//             only if the restored jobs' tags have an online runner; afterwards the
//             stuck-jobs gate (2) or the trial gate (1).
import { readJobTags, type JobChange } from '../ciTags.js';
import type { TextDiff } from '../../../engine/types.js';
import { objectDiff } from '../../../report/objectText.js';
import type { GitlabRunner } from '../projects.js';
import { excerptDiff, migrationMessage, revertState, rollbackMessage, type RevertState } from './fetchers.js';
import {
  awaitOldTagsGate,
  awaitRetireGate,
  awaitTrialGate,
  checkOldTagsGate,
  checkRetireGate,
  checkStrandedGate,
  checkStuckGate,
  checkTrialGate,
  describeOldTagsGate,
  describeRetireGate,
  describeStuckGate,
  describeTrialGate,
  GateError,
  listText,
  unservedTagSets,
  type GateCheck,
} from './gates.js';
import { tagText } from './matching.js';
import { mapLimit, type FetcherState, type Switchover } from './world.js';

export type StepNo = 1 | 2 | 3 | 4 | 5;
export type RollbackNo = 1 | 2 | 3 | 4;

export type Selection = { kind: 'next' } | { kind: 'step'; n: StepNo } | { kind: 'through'; n: StepNo } | { kind: 'rollback'; n: RollbackNo };

export interface Done {
  done: boolean;
  why: string;
}

/** What a step would do now. `done`: nothing to do (and why). */
export interface Prepared {
  done?: string;
  summary?: string;
  diff?: TextDiff;
  run?: () => Promise<void>;
}

export interface PrepareOptions {
  check: boolean;
  /** earlier steps of this same run: in check mode they count as done ("after step k") */
  inRun: Set<number>;
}

const union = (a: string[], b: string[]) => [...a, ...b.filter((t) => !a.includes(t))];
const minus = (a: string[], b: string[]) => a.filter((t) => !b.includes(t));
const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((t) => b.includes(t));

export function stepTitle(w: Switchover, n: StepNo): string {
  const v = w.v;
  const sr = v.static_runner.description ?? v.static_runner.runner;
  return {
    1: `step 1 (trial fetcher ${v.trial_fetcher})`,
    2: `step 2 (fetchers of ${v.fetchers_group})`,
    3: `step 3 (runner ${sr} on ${v.static_runner.host} gets ${w.newTags.join(', ')})`,
    4: `step 4 (runner ${sr} on ${v.static_runner.host} loses ${w.oldTags.join(', ')})`,
    5: `step 5 (runner ${v.retired_runner.description ?? v.retired_runner.runner} on ${v.retired_runner.host} deleted on GitLab)`,
  }[n];
}

// ---------- where the switchover stands ----------

export async function forwardDone(w: Switchover, n: StepNo): Promise<Done> {
  const v = w.v;
  switch (n) {
    case 1: {
      const t = await w.trial();
      if (t.kind === 'migrated') return { done: true, why: `no job of ${v.trial_fetcher} uses ${w.oldTags.join(', ')}` };
      if (t.kind === 'to-migrate') return { done: false, why: `${jobsText(t)} of ${v.trial_fetcher} still use ${w.oldTags.join(', ')}` };
      throw new Error(`${v.trial_fetcher}: ${fetcherProblem(w, t)}`);
    }
    case 2: {
      const left = (await w.fetchers()).filter((f) => f.kind === 'to-migrate' || f.kind === 'unsafe');
      if (!left.length) return { done: true, why: `no fetcher of ${v.fetchers_group} uses ${w.oldTags.join(', ')}` };
      return { done: false, why: `${left.length} fetcher(s) still use ${w.oldTags.join(', ')}: ${listText(left.map((f) => f.project.path_with_namespace))}` };
    }
    case 3: {
      const r = await w.staticRunner();
      const lacks = minus(w.newTags, r.tag_list);
      return lacks.length ? { done: false, why: `${r.description} lacks ${lacks.join(', ')}` } : { done: true, why: `${r.description} has ${w.newTags.join(', ')}` };
    }
    case 4: {
      const r = await w.staticRunner();
      const has = r.tag_list.filter((t) => w.oldTags.includes(t));
      return has.length ? { done: false, why: `${r.description} still has ${has.join(', ')}` } : { done: true, why: `${r.description} has none of ${w.oldTags.join(', ')}` };
    }
    case 5: {
      const r = await w.runner('retired_runner');
      return r ? { done: false, why: `${r.description} (#${r.id}) is still on GitLab` } : { done: true, why: `GitLab has no runner ${retiredName(w)} any more` };
    }
  }
}

/** Whether step n is undone (nothing of it left to roll back). */
export async function rollbackDone(w: Switchover, n: RollbackNo): Promise<Done> {
  switch (n) {
    case 4: {
      const r = await w.staticRunner();
      const lacks = minus(w.oldTags, r.tag_list);
      return lacks.length ? { done: false, why: `${r.description} lacks ${lacks.join(', ')}` } : { done: true, why: `${r.description} has ${w.oldTags.join(', ')}` };
    }
    case 3: {
      const r = await w.staticRunner();
      const has = r.tag_list.filter((t) => w.newTags.includes(t));
      return has.length ? { done: false, why: `${r.description} still has ${has.join(', ')}` } : { done: true, why: `${r.description} has none of ${w.newTags.join(', ')}` };
    }
    case 2:
    case 1: {
      const states = await revertStates(w, n);
      const left = states.filter((s) => s.kind !== 'nothing');
      if (!left.length) return { done: true, why: `no ${w.v.ci_file} holds a commit of step ${n} any more` };
      return { done: false, why: `${left.length} ${w.v.ci_file} still hold the step ${n} commit: ${listText(left.map((s) => s.f.project.path_with_namespace))}` };
    }
  }
}

/** Every forward step's state, in order. */
export async function position(w: Switchover): Promise<Done[]> {
  const out: Done[] = [];
  for (const n of [1, 2, 3, 4, 5] as StepNo[]) out.push(await forwardDone(w, n));
  return out;
}

// ---------- forward ----------

export async function prepareNext(w: Switchover, o: PrepareOptions): Promise<Prepared> {
  for (const n of [1, 2, 3, 4, 5] as StepNo[]) {
    const d = await forwardDone(w, n);
    if (!d.done) return prepareForward(w, n, o);
    w.log(`${stepTitle(w, n)} is done: ${d.why}`);
  }
  return { done: 'the switchover is complete: every step is done' };
}

export async function prepareForward(w: Switchover, n: StepNo, o: PrepareOptions): Promise<Prepared> {
  const simulated: number[] = [];
  for (let k = 1; k < n; k++) {
    const d = await forwardDone(w, k as StepNo);
    if (d.done) continue;
    if (o.check && o.inRun.has(k)) simulated.push(k);
    else throw new GateError(`${stepTitle(w, n)} waits for step ${k}: ${d.why}; run it first (--step ${k}, or no flag)`);
  }
  const self = await forwardDone(w, n);
  if (self.done) return { done: self.why };

  const title = stepTitle(w, n);
  const gate = gateBefore(w, n);
  let pre: GateCheck | null = null;
  let preText = '';
  if (gate) {
    const blocker = simulated.find((k) => k >= gate.after);
    if (blocker !== undefined) preText = `; gate before it: ${gate.describe} (checked once step ${blocker} is done)`;
    else {
      pre = await gate.check();
      if (pre.status === 'fail') throw new GateError(`${title} blocked by the ${gate.name} (${gate.describe}): ${pre.reason}`);
      preText = pre.status === 'pending' ? `; gate before it: ${gate.describe}: first ${pre.action}` : `; ${gate.name} passed (${pre.detail})`;
    }
  }
  const work = await forwardWork(w, n, simulated);
  const post = gateAfter(w, n);
  return {
    summary: `${title}: ${work.summary}${preText}${post ? `; gate after it: ${post.describe}` : ''}`,
    diff: work.diff,
    run: async () => {
      if (gate && pre?.status === 'pending') w.log(`${gate.name}: ${await gate.resolve()}`);
      await work.run();
      if (!post) return;
      try {
        w.log(`${post.name}: ${await post.resolve()}`);
      } catch (e) {
        // The step's own change is made; what blocks the next step is the gate.
        throw new GateError(`${title} is done, but the ${post.name} did not pass, so the next step is blocked: ${(e as Error).message}`);
      }
    },
  };
}

interface Gate {
  name: string;
  describe: string;
  /** the step after which the gate can be checked */
  after: number;
  check(): Promise<GateCheck>;
  /** apply side: wait / trigger / pause until it passes; throws GateError */
  resolve(): Promise<string>;
}

function gateBefore(w: Switchover, n: StepNo): Gate | null {
  switch (n) {
    case 1:
      return null;
    case 2:
      return { name: 'trial gate', describe: describeTrialGate(w, 'forward'), after: 1, check: () => checkTrialGate(w, 'forward'), resolve: () => awaitTrialGate(w, 'forward', { afterCommit: false }) };
    case 3:
      return stuckGate(w, 2, false);
    case 4:
      return { name: 'old-tags gate', describe: describeOldTagsGate(w), after: 2, check: () => checkOldTagsGate(w), resolve: () => awaitOldTagsGate(w) };
    case 5:
      return {
        name: 'retire gate',
        describe: describeRetireGate(w),
        after: 4,
        check: async () => {
          const r = await w.runner('retired_runner');
          return r ? checkRetireGate(w, r.id, r.paused) : { status: 'pass', detail: 'deleted already' };
        },
        resolve: async () => {
          const r = await w.runner('retired_runner');
          if (r) await awaitRetireGate(w, r.id);
          return 'paused and drained';
        },
      };
  }
}

function gateAfter(w: Switchover, n: StepNo): Gate | null {
  if (n === 1) return { name: 'trial gate', describe: describeTrialGate(w, 'forward'), after: 1, check: () => checkTrialGate(w, 'forward'), resolve: () => awaitTrialGate(w, 'forward', { afterCommit: true }) };
  if (n === 2) return stuckGate(w, 2, true);
  return null;
}

function stuckGate(w: Switchover, after: number, afterCommits: boolean, tags?: Map<number, string[]>): Gate {
  return {
    name: 'stuck-jobs gate',
    describe: describeStuckGate(w),
    after,
    check: () => checkStuckGate(w, { tags }),
    resolve: async () => {
      // GitLab creates the pipelines of fresh commits asynchronously: give it one look's time.
      if (afterCommits) await new Promise((r) => setTimeout(r, w.v.gate_poll_interval * 1000));
      const c = await checkStuckGate(w.fresh(), { tags });
      if (c.status === 'fail') throw new GateError(`stuck-jobs gate: ${c.reason}`);
      return c.status === 'pass' ? c.detail : c.action;
    },
  };
}

interface Work {
  summary: string;
  diff?: TextDiff;
  run(): Promise<void>;
}

async function forwardWork(w: Switchover, n: StepNo, simulated: number[]): Promise<Work> {
  const v = w.v;
  switch (n) {
    case 1: {
      const t = await w.trial();
      if (t.retag?.status !== 'changed' || !t.file || !t.branch) throw new Error(`${v.trial_fetcher}: ${fetcherProblem(w, t)}`);
      const text = t.retag.text;
      return {
        summary: `commit ${v.ci_file} (${changesText(t.retag.changes)})`,
        diff: { path: `gitlab:${t.project.path_with_namespace}/${v.ci_file}`, before: t.file.content, after: text },
        run: async () => {
          const r = await w.api.updateFile(t.project.id, v.ci_file, { branch: t.branch!, content: text, message: migrationMessage(1, t, v), lastCommitId: t.file!.lastCommitId });
          if (r === 'stale') throw new Error(`${v.trial_fetcher}: ${v.ci_file} changed since it was read (GitLab refused the commit, nothing was written): run again to read it anew`);
          w.log(`committed ${v.ci_file} of ${v.trial_fetcher}`);
        },
      };
    }
    case 2: {
      // In check mode after a step 1 of the same run, the trial fetcher is done by then.
      const all = (await w.fetchers()).filter((f) => !(simulated.includes(1) && f.project.path_with_namespace === v.trial_fetcher));
      const by = (k: FetcherState['kind']) => all.filter((f) => f.kind === k);
      const todo = by('to-migrate');
      const unsafe = by('unsafe');
      const names = (fs: FetcherState[]) => listText(fs.map((f) => f.project.path_with_namespace));
      const alone = [
        by('migrated').length ? `${by('migrated').length} not using ${w.oldTags.join(', ')} (${names(by('migrated'))})` : '',
        by('no-ci-file').length ? `${by('no-ci-file').length} without ${v.ci_file} (${names(by('no-ci-file'))})` : '',
        by('unparsable').length ? `${by('unparsable').length} that cannot be parsed, reported, not rewritten (${listText(by('unparsable').map((f) => `${f.project.path_with_namespace}: ${f.error}`))})` : '',
      ].filter(Boolean);
      const person = unsafe.length ? `; a person must change ${unsafe.length} by hand: ${listText(unsafe.map((f) => `${f.project.path_with_namespace}: ${f.error}`))}` : '';
      if (!todo.length) throw new GateError(`${stepTitle(w, 2)}: nothing left to commit${person}`);
      return {
        summary: `commit ${v.ci_file} in ${todo.length} fetcher(s) (${names(todo)})${alone.length ? `; left alone: ${alone.join(', ')}` : ''}${person}`,
        diff: excerptDiff(
          `gitlab:${v.fetchers_group}/*/${v.ci_file}`,
          todo.map((f) => ({ label: `${f.project.path_with_namespace}/${v.ci_file}`, before: f.file!.content, after: (f.retag as { text: string }).text })),
        ),
        run: async () => {
          const refused: string[] = [];
          for (const f of todo) {
            const r = await w.api.updateFile(f.project.id, v.ci_file, { branch: f.branch!, content: (f.retag as { text: string }).text, message: migrationMessage(2, f, v), lastCommitId: f.file!.lastCommitId });
            if (r === 'stale') refused.push(f.project.path_with_namespace);
            else w.log(`committed ${v.ci_file} of ${f.project.path_with_namespace}`);
          }
          const problems = [
            refused.length ? `${refused.length} commit(s) refused because the file changed since it was read, nothing written there (${listText(refused)}): run again to read them anew` : '',
            unsafe.length ? `a person must change ${unsafe.length} by hand: ${listText(unsafe.map((f) => `${f.project.path_with_namespace}: ${f.error}`))}` : '',
          ].filter(Boolean);
          if (problems.length) throw new Error(`${stepTitle(w, 2)}: ${todo.length - refused.length} committed; ${problems.join('; ')}`);
        },
      };
    }
    case 3:
      return runnerTagsWork(w, await w.staticRunner(), (tags) => union(tags, w.newTags));
    case 4: {
      const r = await w.staticRunner();
      const before = simulated.includes(3) ? { ...r, tag_list: union(r.tag_list, w.newTags) } : r;
      return runnerTagsWork(w, before, (tags) => minus(tags, w.oldTags));
    }
    case 5: {
      const r = (await w.runner('retired_runner'))!;
      return {
        summary: `delete runner ${r.description} (#${r.id}, tags ${tagText(r.tag_list)}) on GitLab; the gitlab-runner package stays on ${v.retired_runner.host}`,
        diff: objectDiff(`gitlab:runner/${r.description}`, { id: r.id, description: r.description, paused: r.paused, tag_list: r.tag_list }, null),
        run: async () => {
          await awaitRetireGate(w, r.id);
          const res = await w.api.runnerDelete(r.id);
          w.log(`runner ${r.description} (#${r.id}) ${res === 'deleted' ? 'deleted' : 'was gone already'}`);
        },
      };
    }
  }
}

/** Set a runner's tags to f(its tags), read again just before the write (PUT replaces the whole list). */
function runnerTagsWork(w: Switchover, r: GitlabRunner, f: (tags: string[]) => string[]): Work {
  const after = f(r.tag_list);
  return {
    summary: `tags ${tagText(r.tag_list)} -> ${tagText(after)}`,
    diff: objectDiff(`gitlab:runner/${r.description}`, { tag_list: r.tag_list }, { tag_list: after }),
    run: async () => {
      const now = await w.api.fresh().runnerDetails(r.id);
      if (!now) throw new Error(`runner ${r.description} (#${r.id}) is gone from GitLab`);
      const next = f(now.tag_list);
      if (!sameSet(next, now.tag_list)) await w.api.runnerUpdate(r.id, { tag_list: next });
      w.log(`runner ${r.description} (#${r.id}): tags ${tagText(now.tag_list)} -> ${tagText(next)}`);
    },
  };
}

// ---------- rollback ----------

export async function prepareRollback(w: Switchover, n: RollbackNo, o: PrepareOptions): Promise<Prepared> {
  const title = `rollback of step ${n}`;
  const simulated: number[] = [];
  for (let k = 4; k > n; k--) {
    const d = await rollbackDone(w, k as RollbackNo);
    if (d.done) continue;
    if (o.check && o.inRun.has(k)) simulated.push(k);
    else throw new GateError(`${title} waits for the rollback of step ${k}: ${d.why}; roll it back first (--rollback ${k})`);
  }
  const self = await rollbackDone(w, n);
  if (self.done) return { done: self.why };

  // The static runner's tags as they will be when this rollback runs.
  const staticTags = async (): Promise<Map<number, string[]>> => {
    const r = await w.staticRunner();
    let tags = r.tag_list;
    if (simulated.includes(4)) tags = union(tags, w.oldTags);
    if (simulated.includes(3)) tags = minus(tags, w.newTags);
    return new Map([[r.id, tags]]);
  };

  if (n === 4) {
    const r = await w.staticRunner();
    const work = runnerTagsWork(w, r, (tags) => union(tags, w.oldTags));
    return { summary: `${title} (runner ${r.description} gets ${w.oldTags.join(', ')} back): ${work.summary}`, diff: work.diff, run: work.run };
  }
  if (n === 3) {
    const r = await w.staticRunner();
    const before = simulated.includes(4) ? { ...r, tag_list: union(r.tag_list, w.oldTags) } : r;
    const after = new Map([[r.id, minus(before.tag_list, w.newTags)]]);
    const gate = await checkStrandedGate(w, { tags: after });
    if (gate.status === 'fail') throw new GateError(`${title} blocked by the stuck-jobs gate (${describeStuckGate(w)} once ${r.description} loses ${w.newTags.join(', ')}): ${gate.reason}`);
    const work = runnerTagsWork(w, before, (tags) => minus(tags, w.newTags));
    return {
      summary: `${title} (runner ${r.description} loses ${w.newTags.join(', ')}): ${work.summary}; stuck-jobs gate passed (${describeStuckGate(w)} once it has)`,
      diff: work.diff,
      run: async () => {
        const again = await checkStrandedGate(w.fresh(), { tags: new Map([[r.id, minus((await w.api.fresh().runnerDetails(r.id))?.tag_list ?? [], w.newTags)]]) });
        if (again.status === 'fail') throw new GateError(`${title}: ${again.reason}`);
        await work.run();
      },
    };
  }

  // Steps 2 and 1: revert the runbook's own commits.
  const states = await revertStates(w, n);
  const reverts = states.filter((s): s is Extract<RevertState, { kind: 'revert' }> => s.kind === 'revert');
  const changed = states.filter((s): s is Extract<RevertState, { kind: 'changed-since' }> => s.kind === 'changed-since');
  const person = changed.length
    ? `a person must put the tags back in ${changed.length} file(s) changed after the runbook's commit: ${listText(changed.map((s) => `${s.f.project.path_with_namespace} (after ${s.forward.short_id})`))}`
    : '';
  if (!reverts.length) throw new GateError(`${title}: ${person}`);
  // Gate before: the restored jobs' tags must have a runner.
  const override = { tags: await staticTags() };
  const unserved: string[] = [];
  for (const s of reverts) {
    const jobs = readJobTags(s.restored);
    if (!jobs.ok) continue;
    const sets = jobs.jobs.map((j) => j.tags).filter((t): t is string[] => t !== null);
    const missing = await unservedTagSets(w, dedupeSets(sets), override, await w.scopeOf(s.f.project));
    if (missing.length) unserved.push(`${s.f.project.path_with_namespace}: [${missing.map(tagText).join('], [')}]`);
  }
  if (unserved.length) throw new GateError(`${title} blocked: no online runner would take the restored jobs of ${listText(unserved)}; roll back the runner steps first or bring such a runner online`);
  const post = n === 2 ? describeStuckGate(w) : describeTrialGate(w, 'rollback');
  return {
    summary: `${title}: restore ${w.v.ci_file} of ${reverts.length} fetcher(s) as before the runbook's step ${n} commit (${listText(reverts.map((s) => s.f.project.path_with_namespace))}); the restored jobs' tags have runners; gate after it: ${post}${person ? `; ${person}` : ''}`,
    diff:
      n === 1
        ? { path: `gitlab:${reverts[0].f.project.path_with_namespace}/${w.v.ci_file}`, before: reverts[0].f.file!.content, after: reverts[0].restored }
        : excerptDiff(`gitlab:${w.v.fetchers_group}/*/${w.v.ci_file}`, reverts.map((s) => ({ label: `${s.f.project.path_with_namespace}/${w.v.ci_file}`, before: s.f.file!.content, after: s.restored }))),
    run: async () => {
      const refused: string[] = [];
      for (const s of reverts) {
        const r = await w.api.updateFile(s.f.project.id, w.v.ci_file, { branch: s.f.branch!, content: s.restored, message: rollbackMessage(n, s.forward, w.v), lastCommitId: s.forward.id });
        if (r === 'stale') refused.push(s.f.project.path_with_namespace);
        else w.log(`restored ${w.v.ci_file} of ${s.f.project.path_with_namespace}`);
      }
      if (n === 2) w.log(`stuck-jobs gate: ${await stuckGate(w, 2, true).resolve()}`);
      else w.log(`trial gate: ${await awaitTrialGate(w, 'rollback', { afterCommit: true })}`);
      const problems = [refused.length ? `${refused.length} commit(s) refused because the file changed since it was read (${listText(refused)}): run again` : '', person].filter(Boolean);
      if (problems.length) throw new Error(`${title}: ${reverts.length - refused.length} restored; ${problems.join('; ')}`);
    },
  };
}

async function revertStates(w: Switchover, n: 1 | 2): Promise<RevertState[]> {
  const fetchers = n === 1 ? [await w.trial()] : await w.fetchers();
  return mapLimit(fetchers, 8, (f) => revertState(w, f, n));
}

function dedupeSets(sets: string[][]): string[][] {
  const seen = new Set<string>();
  return sets.filter((s) => {
    const k = [...s].sort().join('\0');
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

function retiredName(w: Switchover): string {
  const r = w.v.retired_runner;
  return r.id !== undefined ? `#${r.id}` : JSON.stringify(r.description ?? r.runner);
}

function changesText(changes: JobChange[]): string {
  return listText(changes.map((c) => `${c.job}: ${tagText(c.before)} -> ${tagText(c.after)}`), 4);
}

function jobsText(f: FetcherState): string {
  const n = f.retag?.status === 'changed' ? f.retag.changes.length : 0;
  return n ? `${n} job(s)` : 'tags lists';
}

function fetcherProblem(w: Switchover, f: FetcherState): string {
  switch (f.kind) {
    case 'no-ci-file':
      return `no ${w.v.ci_file} on ${f.branch ?? 'its default branch (empty repository)'}`;
    case 'unparsable':
      return `${w.v.ci_file} cannot be parsed (${f.error}): it is left as it is; fix it first`;
    case 'unsafe':
      return `the tags of ${w.v.ci_file} cannot be changed safely (${f.error}): change them by hand, then run again`;
    default:
      return `${w.v.ci_file} has nothing to change`;
  }
}
