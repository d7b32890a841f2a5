// --confirm: the plan a person approved for one host, and whether the plan
// computed again just before applying is the same one. The comparison is on
// what was shown (status, summary and diff of every resource, in order), not
// on the raw probe output: probes may print things that move on their own
// (an apt cache's age, an API object's last contact), which would make every
// plan look stale, while anything that changes what would be done changes
// what is shown.
import type { TaskResult, TaskStatus } from './report-types.js';
import type { TextDiff } from './types.js';

/** One resource (or handler) of a host's plan, as the check run showed it. */
export interface PlannedTask {
  role: string;
  resource: string;
  status: TaskStatus;
  summary?: string;
  diff?: TextDiff;
  error?: string;
}

/** A host's plan: its check run's tasks, in order. */
export type HostPlan = PlannedTask[];

/** One way the plan computed now differs from the plan shown. */
export interface PlanDifference {
  resource: string;
  /** the task as shown (absent: it was not in the plan shown) */
  shown?: PlannedTask;
  /** the task as planned now (absent: it is not in the plan any more) */
  now?: PlannedTask;
}

/** The plan of a host, from the tasks of its check run (timings left out). */
export function planOf(tasks: readonly TaskResult[]): HostPlan {
  return tasks.map((t) => ({
    role: t.role,
    resource: t.resource,
    status: t.status,
    ...(t.summary !== undefined ? { summary: t.summary } : {}),
    ...(t.diff ? { diff: { path: t.diff.path, before: t.diff.before, after: t.diff.after } } : {}),
    ...(t.error !== undefined ? { error: t.error } : {}),
  }));
}

/** Whether applying this plan would change anything. */
export function hasChanges(plan: HostPlan): boolean {
  return plan.some((t) => t.status === 'changed');
}

/** Whether the plan could not be made completely (a probe, a plan or the host failed). */
export function hasFailures(plan: HostPlan): boolean {
  return plan.some((t) => t.status === 'failed');
}

/** What differs between the plan shown and the plan now; empty when they are the same. */
export function comparePlans(shown: HostPlan, now: HostPlan): PlanDifference[] {
  const out: PlanDifference[] = [];
  const nowById = new Map(now.map((t) => [t.resource, t]));
  const shownIds = new Set(shown.map((t) => t.resource));
  for (const [i, s] of shown.entries()) {
    const n = nowById.get(s.resource);
    // same resources in another order would apply in another order: a difference too
    if (!n || now[i]?.resource !== s.resource || !sameTask(s, n)) out.push({ resource: s.resource, shown: s, ...(n ? { now: n } : {}) });
  }
  for (const n of now) if (!shownIds.has(n.resource)) out.push({ resource: n.resource, now: n });
  return out;
}

function sameTask(a: PlannedTask, b: PlannedTask): boolean {
  return a.role === b.role && a.status === b.status && a.summary === b.summary && a.error === b.error && sameDiff(a.diff, b.diff);
}

function sameDiff(a: TextDiff | undefined, b: TextDiff | undefined): boolean {
  if (!a || !b) return a === b;
  return a.path === b.path && a.before === b.before && a.after === b.after;
}

/** One line per difference, for the console: what was shown, what would be done now. */
export function describeDifference(d: PlanDifference): string {
  const what = (t: PlannedTask | undefined) => {
    if (!t) return 'not in the plan';
    const label = t.status === 'changed' ? 'would change' : t.status === 'ok' ? 'no change' : t.status;
    const detail = t.error ?? t.summary;
    return detail ? `${label} (${detail})` : label;
  };
  const shown = what(d.shown);
  const now = what(d.now);
  // same status and summary: only the diff's text differs
  return shown === now ? `${d.resource}: ${now}, with a different diff than shown` : `${d.resource}: shown ${shown}, now ${now}`;
}
