// Which runner can take which job. GitLab gives a job only to a runner that
// has ALL of the job's tags (a runner may have more); an untagged job only to
// a runner with run_untagged; a paused runner takes nothing.
import type { RunnerInfo } from './runners.js';

export interface RouteRow {
  /** the jobs using this tag set */
  jobs: string[];
  tags: string[];
  /** runners that can take such a job */
  eligible: RunnerInfo[];
  /** runners that share at least one tag but lack others: what ANY-tag matching would wrongly add */
  missing: Array<{ runner: RunnerInfo; lacks: string[] }>;
}

export function canTake(runner: RunnerInfo, jobTags: readonly string[]): boolean {
  if (runner.paused) return false;
  if (jobTags.length === 0) return runner.runUntagged;
  return jobTags.every((t) => runner.tags.includes(t));
}

/** One row per distinct tag set (order of first use), the jobs that use it, and who can take them. */
export function routingTable(jobs: ReadonlyArray<{ name: string; tags: string[] }>, runners: readonly RunnerInfo[]): RouteRow[] {
  const rows = new Map<string, RouteRow>();
  for (const job of jobs) {
    const tags = [...new Set(job.tags)].sort();
    const key = tags.join('\0');
    const row = rows.get(key);
    if (row) {
      row.jobs.push(job.name);
      continue;
    }
    rows.set(key, {
      jobs: [job.name],
      tags,
      eligible: runners.filter((r) => canTake(r, tags)),
      missing: runners
        .filter((r) => !canTake(r, tags) && tags.some((t) => r.tags.includes(t)))
        .map((runner) => ({ runner, lacks: tags.filter((t) => !runner.tags.includes(t)) })),
    });
  }
  return [...rows.values()];
}

/** Every tag of the runners and jobs, sorted, with the runners carrying it. */
export function tagIndex(jobs: ReadonlyArray<{ tags: string[] }>, runners: readonly RunnerInfo[]): Array<{ tag: string; runners: RunnerInfo[] }> {
  const tags = new Set<string>([...runners.flatMap((r) => r.tags), ...jobs.flatMap((j) => j.tags)]);
  return [...tags].sort().map((tag) => ({ tag, runners: runners.filter((r) => r.tags.includes(tag)) }));
}
