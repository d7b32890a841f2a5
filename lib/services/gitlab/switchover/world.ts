// What the runbook reads from GitLab: the trial fetcher and the fetchers of the
// group with the state of their CI file, the runners it works on, the online
// runners. Nothing here is remembered between runs: every "done" is read.
import { retagCi, type RetagResult, type TagMapping } from '../ciTags.js';
import type { GitlabProject, GitlabProjectsApi, GitlabRunner, RepoFile } from '../projects.js';
import type { RunnerRef, SwitchoverVars } from '../switchoverVars.js';
import { runnerView, type ProjectScope, type RunnerView } from './matching.js';

/** The git trailer that marks the runbook's own commits: "Rigger-Switchover: step 2" / "rollback 2". */
export const TRAILER = 'Rigger-Switchover';

export type FetcherKind =
  /** no CI file on the branch (or an empty repository): nothing to do */
  | 'no-ci-file'
  /** the file does not parse: reported, never rewritten */
  | 'unparsable'
  /** it uses an old tag, but the tags cannot be changed safely: a person must */
  | 'unsafe'
  /** no job uses an old tag */
  | 'migrated'
  | 'to-migrate';

export interface FetcherState {
  project: GitlabProject;
  branch: string | null;
  file: RepoFile | null;
  kind: FetcherKind;
  retag?: RetagResult;
  error?: string;
}

const CONCURRENT_READS = 8;

export class Switchover {
  readonly oldTags: string[];
  readonly newTags: string[];
  readonly mapping: TagMapping;

  constructor(
    readonly api: GitlabProjectsApi,
    readonly v: SwitchoverVars,
    readonly log: (message: string) => void = () => {},
  ) {
    this.oldTags = Object.keys(v.tag_map);
    this.newTags = [...new Set(Object.values(v.tag_map).flat())];
    this.mapping = { tagMap: v.tag_map, jobExtraTags: v.job_extra_tags };
  }

  /** The same view of GitLab without memoised reads (gates that wait). */
  fresh(): Switchover {
    return new Switchover(this.api.fresh(), this.v, this.log);
  }

  trialProject(): Promise<GitlabProject> {
    return this.api.project(this.v.trial_fetcher);
  }

  async fetcherState(project: GitlabProject): Promise<FetcherState> {
    const branch = this.v.branch ?? project.default_branch;
    if (!branch) return { project, branch: null, file: null, kind: 'no-ci-file' };
    const file = await this.api.file(project.id, this.v.ci_file, branch);
    if (!file) return { project, branch, file: null, kind: 'no-ci-file' };
    const retag = retagCi(file.content, this.mapping);
    const kind: FetcherKind = retag.status === 'unparsable' ? 'unparsable' : retag.status === 'unsafe' ? 'unsafe' : retag.status === 'changed' ? 'to-migrate' : 'migrated';
    return { project, branch, file, kind, retag, error: 'error' in retag ? retag.error : undefined };
  }

  async trial(): Promise<FetcherState> {
    return this.fetcherState(await this.trialProject());
  }

  /** The group's projects that step 2 covers: not archived, not excluded (the trial fetcher included). */
  async fetcherProjects(): Promise<GitlabProject[]> {
    const all = await this.api.groupProjects(this.v.fetchers_group);
    const excluded = new Set(this.v.exclude_projects);
    return all.filter((p) => !p.archived && !excluded.has(p.path_with_namespace)).sort((a, b) => a.path_with_namespace.localeCompare(b.path_with_namespace));
  }

  async fetchers(): Promise<FetcherState[]> {
    return mapLimit(await this.fetcherProjects(), CONCURRENT_READS, (p) => this.fetcherState(p));
  }

  /** Every project of the group (for the gates: jobs of the group, excluded projects included). */
  async groupProjects(): Promise<GitlabProject[]> {
    return (await this.api.groupProjects(this.v.fetchers_group)).filter((p) => !p.archived);
  }

  /** static_runner or retired_runner on GitLab; null when GitLab has no such runner. */
  async runner(which: 'static_runner' | 'retired_runner'): Promise<GitlabRunner | null> {
    const ref: RunnerRef = this.v[which];
    const description = ref.description ?? ref.runner;
    const key = `switchover.${which}`;
    if (ref.id !== undefined) {
      const r = await this.api.runnerDetails(ref.id);
      if (r && ref.description !== undefined && r.description !== ref.description)
        throw new Error(`${key}: runner #${ref.id} on GitLab is described ${JSON.stringify(r.description)}, not ${JSON.stringify(ref.description)}: check the id`);
      return r;
    }
    const matches = (await this.api.runnerList()).filter((r) => r.description === description);
    if (matches.length > 1) throw new Error(`${key}: ${matches.length} runners on GitLab are described ${JSON.stringify(description)} (ids ${matches.map((m) => m.id).join(', ')}): set ${key}.id`);
    return matches.length ? this.api.runnerDetails(matches[0].id) : null;
  }

  async staticRunner(): Promise<GitlabRunner> {
    const r = await this.runner('static_runner');
    if (!r) {
      const ref = this.v.static_runner;
      throw new Error(`switchover.static_runner: GitLab has no runner ${ref.id !== undefined ? `#${ref.id}` : `described ${JSON.stringify(ref.description ?? ref.runner)}`} (${ref.runner} on ${ref.host}); set switchover.static_runner.id or .description`);
    }
    return r;
  }

  /** Online, unpaused runners with their tags. */
  async onlineRunners(): Promise<RunnerView[]> {
    const list = await this.api.runnerList({ status: 'online', paused: false });
    const details = await mapLimit(list, CONCURRENT_READS, (r) => this.api.runnerDetails(r.id));
    return details.filter((r): r is GitlabRunner => r !== null).map(runnerView).filter((r) => r.online && !r.paused);
  }

  /** The project and its group's ancestors, for group runners. */
  async scopeOf(project: GitlabProject): Promise<ProjectScope> {
    const groupIds: number[] = [];
    let id: number | null | undefined = project.namespace.id;
    for (let i = 0; id && i < 20; i++) {
      groupIds.push(id);
      id = (await this.api.group(id)).parent_id;
    }
    return { id: project.id, groupIds };
  }
}

export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}
