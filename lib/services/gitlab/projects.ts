// The GitLab REST calls the tag switchover needs (groups, projects, repository
// files, commits, pipelines, jobs), on the engine's HttpClient: counted per
// target, read-only in check mode, retried and masked by that layer.
//
// Reads are memoised until the next write through any view of the same client:
// the resources of one runbook read the same files and runners, and the engine
// reads them again after every change anyway. Polling uses `fresh()`.
//
// The few runner calls at the end are the switchover's own minimal ones
// (prefixed `runner`); the gitlab-runner role has its own client.
import { HttpError, type HttpClient } from '../../http/client.js';
import type { RunContext } from '../../engine/types.js';
import { reveal, type Secret } from '../../secrets.js';

export interface GitlabGroup {
  id: number;
  full_path: string;
  parent_id: number | null;
}

export interface GitlabProject {
  id: number;
  path_with_namespace: string;
  /** null for an empty repository */
  default_branch: string | null;
  archived: boolean;
  namespace: { id: number; full_path: string; parent_id?: number | null };
  web_url?: string;
}

export interface RepoFile {
  /** decoded text */
  content: string;
  /** the commit that last changed this file: what a PUT must name as last_commit_id */
  lastCommitId: string;
  /** the commit the ref points to */
  commitId: string;
}

export interface GitlabCommit {
  id: string;
  short_id: string;
  title: string;
  message: string;
  parent_ids: string[];
  web_url?: string;
}

export interface GitlabPipeline {
  id: number;
  sha: string;
  ref: string;
  status: string;
  source?: string;
  web_url?: string;
}

export interface GitlabJob {
  id: number;
  name: string;
  status: string;
  tag_list: string[];
  runner: { id: number; description: string } | null;
  pipeline?: { id: number; project_id?: number; sha?: string };
  project?: { id: number; path_with_namespace: string };
  web_url?: string;
}

export interface GitlabRunner {
  id: number;
  description: string;
  paused: boolean;
  online: boolean;
  status: string;
  runner_type: string;
  tag_list: string[];
  run_untagged: boolean;
  groups: Array<{ id: number }>;
  projects: Array<{ id: number }>;
}

export type UpdateResult = 'committed' | 'stale';

const enc = (idOrPath: number | string) => encodeURIComponent(String(idOrPath));

export class GitlabProjectsApi {
  private constructor(
    readonly http: HttpClient,
    private readonly memo: Map<string, Promise<unknown>> | null,
    private readonly shared: { memo: Map<string, Promise<unknown>> },
  ) {}

  static create(http: HttpClient): GitlabProjectsApi {
    const memo = new Map<string, Promise<unknown>>();
    return new GitlabProjectsApi(http, memo, { memo });
  }

  /** A client on the RunContext for `gitlabUrl` (the instance, without /api/v4). */
  static forContext(ctx: RunContext, gitlabUrl: string, token?: Secret): GitlabProjectsApi {
    const headers: Record<string, string> = token ? { 'PRIVATE-TOKEN': reveal(token) } : {};
    return GitlabProjectsApi.create(ctx.http(`${gitlabUrl.replace(/\/+$/, '')}/api/v4`, { name: 'GitLab API', headers }));
  }

  /** The same client without memoised reads (for polling); its writes still clear the memo. */
  fresh(): GitlabProjectsApi {
    return new GitlabProjectsApi(this.http, null, this.shared);
  }

  /** Forget memoised reads (after a write, or when someone else may have changed GitLab). */
  invalidate(): void {
    this.shared.memo.clear();
  }

  private cached<T>(key: string, read: () => Promise<T>): Promise<T> {
    if (!this.memo) return read();
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = read();
      this.memo.set(key, p);
      p.catch(() => this.memo?.delete(key));
    }
    return p;
  }

  private async write<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      this.invalidate();
    }
  }

  group(idOrPath: number | string): Promise<GitlabGroup> {
    return this.cached(`group:${idOrPath}`, async () => (await this.http.get<GitlabGroup>(`/groups/${enc(idOrPath)}`)).json);
  }

  /** Every project of a group and its subgroups, archived ones left out. */
  groupProjects(idOrPath: number | string): Promise<GitlabProject[]> {
    return this.cached(`group-projects:${idOrPath}`, () => this.http.paginate<GitlabProject>(`/groups/${enc(idOrPath)}/projects`, { include_subgroups: true, archived: false, order_by: 'path', sort: 'asc' }));
  }

  project(idOrPath: number | string): Promise<GitlabProject> {
    return this.cached(`project:${idOrPath}`, async () => (await this.http.get<GitlabProject>(`/projects/${enc(idOrPath)}`)).json);
  }

  /** A file at a ref (branch or commit); null when it does not exist there. */
  file(project: number | string, path: string, ref: string): Promise<RepoFile | null> {
    return this.cached(`file:${project}:${path}:${ref}`, async () => {
      const res = await this.http.get<{ content: string; encoding: string; last_commit_id: string; commit_id: string }>(`/projects/${enc(project)}/repository/files/${enc(path)}`, { query: { ref }, accept: [200, 404] });
      if (res.status === 404) return null;
      const j = res.json;
      const content = j.encoding === 'base64' ? Buffer.from(j.content, 'base64').toString('utf8') : j.content;
      return { content, lastCommitId: j.last_commit_id, commitId: j.commit_id };
    });
  }

  /**
   * One commit that replaces a file's content, refused by GitLab (400) when the
   * file changed since `lastCommitId`: then 'stale' and nothing was written.
   */
  async updateFile(project: number | string, path: string, o: { branch: string; content: string; message: string; lastCommitId: string }): Promise<UpdateResult> {
    return this.write(async () => {
      try {
        await this.http.request('PUT', `/projects/${enc(project)}/repository/files/${enc(path)}`, {
          body: { branch: o.branch, content: Buffer.from(o.content).toString('base64'), encoding: 'base64', commit_message: o.message, last_commit_id: o.lastCommitId },
        });
        return 'committed';
      } catch (e) {
        if (!(e instanceof HttpError) || e.status !== 400 || !/changed since|has been changed/i.test(e.apiMessage ?? '')) throw e;
        // A retried PUT whose first attempt went through also looks stale: the file then holds our content.
        this.invalidate();
        const now = await this.fresh().file(project, path, o.branch);
        return now?.content === o.content ? 'committed' : 'stale';
      }
    });
  }

  commit(project: number | string, sha: string): Promise<GitlabCommit | null> {
    return this.cached(`commit:${project}:${sha}`, async () => {
      const res = await this.http.get<GitlabCommit>(`/projects/${enc(project)}/repository/commits/${enc(sha)}`, { accept: [200, 404] });
      return res.status === 404 ? null : res.json;
    });
  }

  /** The newest commits of a ref that changed a file, newest first (one page). */
  fileCommits(project: number | string, path: string, ref: string, perPage = 20): Promise<GitlabCommit[]> {
    return this.cached(`file-commits:${project}:${path}:${ref}`, async () => (await this.http.get<GitlabCommit[]>(`/projects/${enc(project)}/repository/commits`, { query: { ref_name: ref, path, per_page: perPage } })).json);
  }

  /** The newest pipelines of a ref, newest first (one page). */
  pipelines(project: number | string, ref: string, perPage = 20): Promise<GitlabPipeline[]> {
    return this.cached(`pipelines:${project}:${ref}`, async () => (await this.http.get<GitlabPipeline[]>(`/projects/${enc(project)}/pipelines`, { query: { ref, order_by: 'id', sort: 'desc', per_page: perPage } })).json);
  }

  pipeline(project: number | string, id: number): Promise<GitlabPipeline> {
    return this.cached(`pipeline:${project}:${id}`, async () => (await this.http.get<GitlabPipeline>(`/projects/${enc(project)}/pipelines/${id}`)).json);
  }

  /** Run a pipeline on a ref; GitLab refuses (400) when the file yields no job for it: then its message. */
  async createPipeline(project: number | string, ref: string, variables: Record<string, string> = {}): Promise<GitlabPipeline | { refused: string }> {
    return this.write(async () => {
      try {
        const body = { ref, variables: Object.entries(variables).map(([key, value]) => ({ key, value, variable_type: 'env_var' })) };
        return (await this.http.request<GitlabPipeline>('POST', `/projects/${enc(project)}/pipeline`, { body })).json;
      } catch (e) {
        if (e instanceof HttpError && e.status === 400) return { refused: e.apiMessage ?? 'refused' };
        throw e;
      }
    });
  }

  pipelineJobs(project: number | string, pipelineId: number): Promise<GitlabJob[]> {
    return this.cached(`pipeline-jobs:${project}:${pipelineId}`, () => this.http.paginate<GitlabJob>(`/projects/${enc(project)}/pipelines/${pipelineId}/jobs`, { include_retried: false }));
  }

  /** Jobs of a project in the given states (pending, running, ...). */
  projectJobs(project: number | string, scopes: string[]): Promise<GitlabJob[]> {
    return this.cached(`project-jobs:${project}:${scopes.join(',')}`, () => this.http.paginate<GitlabJob>(`/projects/${enc(project)}/jobs`, { 'scope[]': scopes }));
  }

  // ---------- the switchover's own runner calls ----------

  /** GET /runners/all (administrator): the list items, without tags. */
  runnerList(query: { status?: string; paused?: boolean; tag_list?: string[] } = {}): Promise<Array<Pick<GitlabRunner, 'id' | 'description' | 'paused' | 'status' | 'online' | 'runner_type'>>> {
    const q = { status: query.status, paused: query.paused, tag_list: query.tag_list?.join(',') };
    return this.cached(`runners:${JSON.stringify(q)}`, () => this.http.paginate(`/runners/all`, q));
  }

  /** GET /runners/:id; null when GitLab does not know it. */
  runnerDetails(id: number): Promise<GitlabRunner | null> {
    return this.cached(`runner:${id}`, async () => {
      const res = await this.http.get<GitlabRunner>(`/runners/${id}`, { accept: [200, 404] });
      return res.status === 404 ? null : res.json;
    });
  }

  /** PUT /runners/:id (tag_list replaces the whole list). */
  async runnerUpdate(id: number, fields: { tag_list?: string[]; paused?: boolean }): Promise<void> {
    await this.write(() => this.http.request('PUT', `/runners/${id}`, { body: fields }));
  }

  /** DELETE /runners/:id; 'gone' when it did not exist any more. */
  async runnerDelete(id: number): Promise<'deleted' | 'gone'> {
    return this.write(async () => ((await this.http.request('DELETE', `/runners/${id}`, { accept: [204, 404] })).status === 204 ? 'deleted' : 'gone'));
  }

  /** GET /runners/:id/jobs?status=... */
  runnerJobs(id: number, status: string): Promise<GitlabJob[]> {
    return this.cached(`runner-jobs:${id}:${status}`, () => this.http.paginate<GitlabJob>(`/runners/${id}/jobs`, { status }));
  }
}
