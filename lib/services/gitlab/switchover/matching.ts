// GitLab's job-to-runner rule, as the gates need it: a runner takes a job when
// it is online and not paused, has ALL of the job's tags (extra runner tags are
// fine), runs untagged jobs only with run_untagged, and serves the job's
// project (group and project runners serve only their own projects).
import type { GitlabRunner } from '../projects.js';

export interface RunnerView {
  id: number;
  description: string;
  tags: string[];
  runUntagged: boolean;
  paused: boolean;
  online: boolean;
  type: string;
  groupIds: number[];
  projectIds: number[];
}

/** A project as runner scopes see it: its id and the ids of its group and that group's ancestors. */
export interface ProjectScope {
  id: number;
  groupIds: number[];
}

export function runnerView(r: GitlabRunner): RunnerView {
  return {
    id: r.id,
    description: r.description,
    tags: [...(r.tag_list ?? [])],
    runUntagged: r.run_untagged === true,
    paused: r.paused === true,
    online: r.online === true || r.status === 'online',
    type: r.runner_type,
    groupIds: (r.groups ?? []).map((g) => g.id),
    projectIds: (r.projects ?? []).map((p) => p.id),
  };
}

/** Whether `r` would take a job with these tags. Without a project, the scope is not checked. */
export function takes(r: RunnerView, tags: string[], project?: ProjectScope): boolean {
  if (r.paused || !r.online) return false;
  if (tags.length === 0 ? !r.runUntagged : !tags.every((t) => r.tags.includes(t))) return false;
  if (!project) return true;
  if (r.type === 'project_type') return r.projectIds.includes(project.id);
  if (r.type === 'group_type') return r.groupIds.some((g) => project.groupIds.includes(g));
  return true;
}

/** The tags `have` lacks of `want`. */
export function missingTags(have: string[], want: string[]): string[] {
  return want.filter((t) => !have.includes(t));
}

export function tagText(tags: string[]): string {
  return tags.length ? tags.join(', ') : '(untagged)';
}
