// The upgrade drain: before the gitlab-runner package changes version (its
// postinst restarts the service, which aborts running jobs), pause the host's
// runners on GitLab and wait, bounded, for their running jobs; after the
// role's handlers (the restart included), resume the runners it paused.
// A runner the inventory wants paused stays paused. A drain interrupted
// midway is recognised by its mark on GitLab and resumed by the next run.
import type { Change, CommonOptions, Handler, HostContext, ProbeResult, ShellResource } from '../../lib/engine/types.js';
import { objectDiff } from '../../lib/report/objectText.js';
import { isDrainNote, pauseForDrain, resumeAfterDrain, runningJobs } from '../../lib/services/gitlab/drain.js';
import type { RunnerDetails } from '../../lib/services/gitlab/runners.js';
import { parseHostConfig } from './config.js';
import { parseRunnerFiles, runnerFilesProbe } from './hostFiles.js';
import { entryLabel } from './registration.js';
import type { RunnerHost } from './runnerHost.js';

export const RESUME = 'resume gitlab-runner runners';

/** A runner of the host's file, as GitLab has it. */
export interface Drained {
  name: string;
  url: string;
  details: RunnerDetails;
  /** the inventory wants it paused: resuming only removes the drain's mark */
  stayPaused: boolean;
}

interface DrainPlan {
  /** pause these (not paused on GitLab) */
  pause: Drained[];
  /** paused by an earlier drain that was interrupted: resumed with the others */
  marked: Drained[];
  /** wait for the running jobs of these */
  wait: Drained[];
  upgrade: boolean;
}

const MARKER = '--- runner files';

export function drainResource(shared: RunnerHost, opts: CommonOptions & { version: string }): ShellResource {
  const v = shared.vars;
  return {
    id: `gitlab-runner-drain:${shared.configPath}`,
    tags: [...(opts.tags ?? [])],
    notify: opts.notify === undefined ? [] : Array.isArray(opts.notify) ? [...opts.notify] : [opts.notify],
    probe: `dpkg-query -W -f='\${Version}\\t\${db:Status-Abbrev}\\n' gitlab-runner 2>/dev/null || true; echo '${MARKER}'; ${runnerFilesProbe(shared.configPath)}`,

    async plan(current: ProbeResult, ctx: HostContext): Promise<Change<DrainPlan> | null> {
      const [pkg = '', rest = ''] = current.stdout.split(`${MARKER}\n`);
      const [installed = '', status = ''] = pkg.trim().split('\t');
      const upgrade = status[1] === 'i' && installed !== '' && installed !== opts.version;
      const files = parseRunnerFiles(rest, shared.configPath);
      const entries = (files.config.text === null ? [] : parseHostConfig(files.config.text, shared.configPath).runners).filter((h) => h.credentials);
      if (!entries.length) return null;
      if (!v.gitlab_access_token) {
        if (upgrade) throw new Error(`upgrading gitlab-runner ${installed} -> ${opts.version} restarts it and aborts running jobs: pausing its runners first needs gitlab_access_token (the manage_runner or api scope)`);
        return null;
      }
      const known: Drained[] = [];
      for (const h of entries) {
        const url = h.url ?? v.gitlab_url;
        if (!url) continue;
        const c = h.credentials!;
        const read = await shared.read(shared.gitlab(ctx, url), { id: c.id === undefined ? undefined : Number(c.id), token: c.token, url }, true);
        if (!read.accepted || !read.details) continue; // GitLab gives it no jobs
        const name = h.name ?? entryLabel(h);
        known.push({ name, url, details: read.details, stayPaused: v.gitlab_runners.some((r) => r.name === h.name && r.paused === true) });
      }
      const marked = known.filter((d) => d.details.paused && isDrainNote(d.details.maintenance_note));
      const names = (l: Drained[]) => l.map((d) => d.name).join(', ');
      if (!upgrade) {
        if (!marked.length) return null;
        return { summary: `resume ${names(marked)} on GitLab: paused by an upgrade drain that did not finish`, data: { pause: [], marked, wait: [], upgrade } };
      }
      const pause = known.filter((d) => !d.details.paused);
      let running = 0;
      for (const d of known) running += (await runningJobs(shared.gitlab(ctx, d.url), d.details.id)).length;
      if (!pause.length && !marked.length && running === 0) return null;
      const change: Change<DrainPlan> = {
        summary:
          `${pause.length ? `pause ${names(pause)} on GitLab and ` : ''}wait for running jobs (${running} now, at most ${v.gitlab_runner_drain_timeout} s) ` +
          `before gitlab-runner ${installed} -> ${opts.version}; ${names([...pause, ...marked]) || 'nothing'} resumed after`,
        data: { pause, marked, wait: known, upgrade },
      };
      if (ctx.wantDiff)
        change.diff = objectDiff(
          'gitlab:runners paused for the upgrade',
          Object.fromEntries(pause.map((d) => [d.name, { paused: false }])),
          Object.fromEntries(pause.map((d) => [d.name, { paused: true }])),
        );
      return change;
    },

    async apply(change: Change<DrainPlan>, ctx: HostContext): Promise<void> {
      const { pause, marked, wait } = change.data!;
      shared.drained = [...marked];
      if (!change.data!.upgrade) return; // the resume handler resumes them
      try {
        for (const d of pause) {
          const after = await pauseForDrain(shared.gitlab(ctx, d.url), d.details, ctx.host);
          shared.changed(after);
          shared.drained.push({ ...d, details: after });
          ctx.log(`paused ${d.name} (id ${d.details.id}) on GitLab for the upgrade`);
        }
        await waitForJobs(shared, wait, ctx);
      } catch (e) {
        // Never leave production paused by a drain that gave up: resume now, then fail.
        await resume(shared, ctx);
        throw e;
      }
    },
  };
}

async function waitForJobs(shared: RunnerHost, wait: Drained[], ctx: HostContext): Promise<void> {
  const timeoutMs = shared.vars.gitlab_runner_drain_timeout * 1000;
  const intervalMs = shared.vars.gitlab_runner_drain_interval * 1000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy: string[] = [];
    let jobs = 0;
    for (const d of wait) {
      const n = (await runningJobs(shared.gitlab(ctx, d.url), d.details.id)).length;
      if (n) busy.push(`${d.name} (${n})`);
      jobs += n;
    }
    if (jobs === 0) return;
    const left = deadline - Date.now();
    if (left <= 0)
      throw new Error(
        `${jobs} job(s) still running on ${busy.join(', ')} after ${shared.vars.gitlab_runner_drain_timeout} s (gitlab_runner_drain_timeout): ` +
          'gitlab-runner was not upgraded and its runners are resumed; run again later, or raise the timeout',
      );
    ctx.log(`waiting for ${jobs} running job(s) on ${busy.join(', ')} before the upgrade (${Math.ceil(left / 1000)} s left)`);
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, left)));
  }
}

/** Resume what the drain paused (and what an interrupted one left paused). */
async function resume(shared: RunnerHost, ctx: HostContext): Promise<void> {
  const failures: string[] = [];
  for (const d of shared.drained) {
    try {
      shared.changed(await resumeAfterDrain(shared.gitlab(ctx, d.url), d.details, d.stayPaused));
      ctx.log(`${d.stayPaused ? 'unmarked (stays paused, as the inventory says)' : 'resumed'} ${d.name} (id ${d.details.id}) on GitLab`);
    } catch (e) {
      failures.push(`${d.name}: ${(e as Error).message}`);
    }
  }
  shared.drained = [];
  if (failures.length) throw new Error(`could not resume runners paused for the upgrade (resume them on GitLab): ${failures.join('; ')}`);
}

/** Runs after the role's other handlers (the restart included). */
export function resumeHandler(shared: RunnerHost): Handler {
  return { name: RESUME, run: (ctx) => resume(shared, ctx) };
}
