// The switchover's inventory data (a global var, so the control machine's
// `local` play and every host see the same): which fetchers move, which tags
// map to which, and which runners the switchover owns while it is under way.
//
// Shared by playbooks/switchover.ts (which runs the steps) and the
// gitlab-runner role (which must not run ahead of them: while the switchover
// is not complete, it leaves the tags of `static_runner` and the existence of
// `retired_runner` to the switchover).
import { z } from 'zod';

/** A runner of the inventory: the host it is on and its name in that host's gitlab_runners. */
const runnerRef = z.object({
  host: z.string().min(1, 'expected an inventory host name'),
  runner: z.string().min(1, 'expected the runner name of that host'),
  // How the runbook (on the control machine) finds the runner on GitLab: by id
  // when given, else by its description, which defaults to `runner` (the
  // gitlab-runner role registers runners with description = name).
  /** the runner's id on GitLab (Admin area > Runners); makes "deleted" certain for retired_runner */
  id: z.number().int().positive().optional(),
  /** the runner's description on GitLab, when it is not `runner` */
  description: z.string().min(1).optional(),
});

export type RunnerRef = z.output<typeof runnerRef>;

export const switchoverSchema = z.object({
  /** project path of the group holding the fetchers, e.g. "dbnomics-fetchers" */
  fetchers_group: z.string().min(1),
  /** project path of the trial fetcher (step 1), e.g. "dbnomics-fetchers/ameco-fetcher" */
  trial_fetcher: z.string().regex(/^[^/\s]+(\/[^/\s]+)+$/, 'expected a project path like "group/project"'),
  ci_file: z.string().default('.gitlab-ci.yml'),
  /** branch the fetchers' CI files are edited on; default: each project's default branch */
  branch: z.string().optional(),
  /** old job tag -> the tags that replace it, e.g. { docker = ["download-convert"] } */
  tag_map: z.record(z.string(), z.array(z.string().min(1)).min(1)),
  /** jobs (by name) that must go to the autoscaled runner get these tags too, e.g. { download = ["autoscale"] } */
  job_extra_tags: z.record(z.string(), z.array(z.string().min(1))).default({}),
  /** steps 3-4: the static runner that gains the new tag, then loses the old one */
  static_runner: runnerRef,
  /** step 5: the runner deleted on GitLab (its host keeps the gitlab-runner package) */
  retired_runner: runnerRef,
  /** tags of the jobs that must still find a runner after step 5 (the Solr index job) */
  keep_served: z.array(z.array(z.string().min(1))).default([]),
  /** how long a gate waits for a pipeline / a drain before it fails, seconds */
  gate_timeout: z.number().int().min(0).default(1800),
  /** seconds between two looks at GitLab while a gate waits */
  gate_poll_interval: z.number().positive().default(10),
  /** variables of the pipeline the runbook triggers for the trial fetcher (when no pipeline ran its new file) */
  trial_pipeline_variables: z.record(z.string(), z.string()).default({}),
  /** projects of the group (paths) that step 2 leaves alone */
  exclude_projects: z.array(z.string().min(1)).default([]),
});

export type SwitchoverVars = z.output<typeof switchoverSchema>;
