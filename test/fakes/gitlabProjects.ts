/**
 * Groups, projects, repository files, commits, pipelines and jobs for the
 * GitLab stand-in (test/fakes/gitlab.ts), as a FakeGitlabExtension. Test
 * double only; it follows GitLab's public REST API (v4):
 *
 *   GET  /groups/:id                                   id or URL-encoded full path
 *   GET  /groups/:id/projects                          include_subgroups, archived, order_by (id|path|name|created_at), sort, page, per_page
 *   GET  /projects/:id                                 id or URL-encoded path_with_namespace
 *   GET  /projects/:id/repository/files/:file_path     ?ref= -> base64 content, blob_id, commit_id, last_commit_id | 404
 *   PUT  /projects/:id/repository/files/:file_path     branch, content, commit_message, encoding?, last_commit_id?
 *                                                      -> 200 {file_path, branch} | 400 when last_commit_id is stale
 *   GET  /projects/:id/repository/commits/:sha         -> commit (parent_ids, message, ...)
 *   GET  /projects/:id/repository/commits              ref_name, path
 *   POST /projects/:id/pipeline                        ref, variables -> 201 pipeline | 400 (no jobs, YAML errors)
 *   GET  /projects/:id/pipelines                       ref, sha, status, source, order_by (id|updated_at), sort
 *   GET  /projects/:id/pipelines/:pipeline_id
 *   GET  /projects/:id/pipelines/:pipeline_id/jobs     scope / scope[]
 *   GET  /projects/:id/jobs                            scope / scope[] (pending, running, success, ...)
 *   GET  /runners/:id/jobs                             status (running, success, ...)
 *
 * A commit through PUT runs a "push" pipeline, as GitLab does, unless the
 * message holds [skip ci] / [ci skip]. The jobs of a pipeline come from the
 * CI file at its commit, with tags resolved the way GitLab does (own tags,
 * `<<` merge keys, `extends`, `default`, `!reference`); independent of the
 * product's own parser, so the two check each other.
 *
 * Scheduling (run before every answer, as if runners had just polled): a
 * pending job goes to an online (contacted), unpaused runner that has ALL of
 * its tags (extra runner tags are fine); an untagged job only to a runner with
 * run_untagged; group and project runners only serve their own projects. Jobs
 * of a later stage wait until the earlier stages succeeded. Tests make jobs
 * finish with `finishJobs` or `autoFinish`. A runner's `capacity` (its
 * config.toml limit, which GitLab does not know) keeps jobs pending while it is busy.
 */
import { createHash, randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { fakeGitlabError, startFakeGitlab, type FakeGitlab, type FakeGitlabExtension, type FakeGitlabOptions, type FakeGitlabReply, type FakeGitlabRequest, type FakeRunner } from './gitlab.js';

export type JobStatus = 'created' | 'pending' | 'running' | 'success' | 'failed' | 'canceled' | 'skipped' | 'manual';

export interface FakeGroup {
  id: number;
  name: string;
  path: string;
  full_path: string;
  parent_id: number | null;
}

export interface FakeCommit {
  id: string;
  message: string;
  parent_ids: string[];
  created_at: string;
  author_name: string;
  /** the whole tree at this commit: path -> content */
  tree: Map<string, string>;
  /** paths this commit changed */
  changed: string[];
}

export interface FakeProject {
  id: number;
  name: string;
  path: string;
  path_with_namespace: string;
  namespace: FakeGroup;
  default_branch: string;
  archived: boolean;
  /** branch -> head commit id */
  branches: Map<string, string>;
  commits: Map<string, FakeCommit>;
}

export interface FakeJob {
  id: number;
  name: string;
  stage: string;
  stageIndex: number;
  status: JobStatus;
  tag_list: string[];
  runnerId: number | null;
  project: FakeProject;
  pipeline: FakePipeline;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface FakePipeline {
  id: number;
  iid: number;
  project: FakeProject;
  sha: string;
  ref: string;
  source: 'push' | 'api' | 'web' | 'trigger' | 'schedule';
  created_at: string;
  variables: Array<{ key: string; value: string }>;
  jobs: FakeJob[];
  /** set when the CI file could not be read: the pipeline failed without jobs */
  yaml_errors: string | null;
}

export interface FakeGitlabProjects {
  extension: FakeGitlabExtension;
  groups: Map<number, FakeGroup>;
  projects: Map<number, FakeProject>;
  pipelines: FakePipeline[];
  jobs: FakeJob[];
  /** status jobs get as soon as a runner takes them; null: they stay running until finishJobs */
  autoFinish: 'success' | 'failed' | null;
  /** runner id -> jobs it runs at once (its config.toml `limit`, which GitLab does not know); default unlimited */
  capacity: Map<number, number>;
  addGroup(fullPath: string): FakeGroup;
  addProject(pathWithNamespace: string, opts?: { files?: Record<string, string>; defaultBranch?: string; archived?: boolean }): FakeProject;
  project(pathWithNamespace: string): FakeProject;
  /** a commit made by someone else (not through the API); returns its id. No pipeline. */
  commit(pathWithNamespace: string, filePath: string, content: string, message?: string, branch?: string): string;
  /** a file's content at a ref (branch or commit id), undefined when absent */
  file(pathWithNamespace: string, filePath: string, ref?: string): string | undefined;
  createPipeline(pathWithNamespace: string, opts?: { ref?: string; source?: FakePipeline['source'] }): FakePipeline;
  /** a job outside any CI file (e.g. a long job that was already running), optionally on a given runner */
  addJob(pathWithNamespace: string, opts: { name?: string; tags: string[]; status?: 'pending' | 'running'; runnerId?: number }): FakeJob;
  /** running (and, with `pending: true`, pending) jobs matching the filter end with `status` */
  finishJobs(filter?: { project?: string; pipelineId?: number; runnerId?: number; pending?: boolean }, status?: 'success' | 'failed' | 'canceled'): number;
  pipelineStatus(p: FakePipeline): string;
  /** assign pending jobs now (also done before every answer) */
  schedule(): void;
  /** the runners the extension serves (set by bind or by the first request) */
  bind(gitlab: FakeGitlab): void;
}

const now = () => new Date().toISOString();
const sha = () => randomBytes(20).toString('hex');
const gitBlobId = (content: string) => createHash('sha1').update(`blob ${Buffer.byteLength(content)}\0`).update(content).digest('hex');
const STALE_MESSAGE = 'You are attempting to update a file that has changed since you started editing it.';
const DEFAULT_STAGES = ['.pre', 'build', 'test', 'deploy', '.post'];
const GLOBAL_KEYWORDS = new Set(['default', 'include', 'stages', 'variables', 'workflow', 'image', 'services', 'cache', 'before_script', 'after_script', 'spec']);

// ---------- CI file -> jobs (GitLab's view) ----------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => Boolean(v) && typeof v === 'object' && !Array.isArray(v);

const referenceTag = {
  tag: '!reference',
  collection: 'seq' as const,
  resolve(seq: { items: Array<{ value?: unknown }>; toJSON?: unknown }) {
    seq.toJSON = () => ({ $reference: seq.items.map((i) => i.value) });
    return seq;
  },
};

export interface CiJob {
  name: string;
  stage: string;
  tags: string[];
  manual: boolean;
}

/** The jobs GitLab would create from a CI file, or an error like GitLab's "yaml invalid". */
export function jobsOfCiFile(text: string): { jobs: CiJob[]; stages: string[] } | { error: string } {
  let data: unknown;
  try {
    data = parseYaml(text, { merge: true, customTags: [referenceTag as never], uniqueKeys: true, prettyErrors: false });
  } catch (e) {
    return { error: `(${(e as Error).message.split('\n')[0]}): could not parse YAML` };
  }
  if (!isObj(data)) return { error: 'Invalid configuration format' };
  const root = data;
  const deref = (v: unknown, depth = 0): unknown => {
    if (isObj(v) && Array.isArray(v.$reference) && depth < 10) {
      let cur: unknown = root;
      for (const k of v.$reference as string[]) cur = isObj(cur) ? cur[k] : undefined;
      return deref(cur, depth + 1);
    }
    return v;
  };
  // extends: deep merge of hashes, arrays replaced, later templates win, the job's own keys win.
  const expand = (name: string, depth: number): Obj => {
    const job = root[name];
    if (!isObj(job)) throw new Error(`${name}: unknown keys in \`extends\` (${name})`);
    if (depth > 11) throw new Error(`${name}: nesting too deep`);
    const ext = job.extends === undefined ? [] : Array.isArray(job.extends) ? (job.extends as string[]) : [String(job.extends)];
    let base: Obj = {};
    for (const t of ext) {
      if (!isObj(root[t])) throw new Error(`${name}: unknown keys in \`extends\` (${t})`);
      base = deepMerge(base, expand(t, depth + 1));
    }
    return deepMerge(base, job);
  };
  const stages = Array.isArray(root.stages) ? ['.pre', ...(root.stages as string[]), '.post'] : DEFAULT_STAGES;
  const jobs: CiJob[] = [];
  try {
    for (const name of Object.keys(root)) {
      if (GLOBAL_KEYWORDS.has(name) || name.startsWith('.') || !isObj(root[name])) continue;
      const job = expand(name, 0);
      let tags = deref(job.tags);
      if (tags === undefined) {
        const inherit = isObj(job.inherit) ? job.inherit.default : true;
        const inheritsTags = inherit === undefined || inherit === true || (Array.isArray(inherit) && inherit.includes('tags'));
        if (inheritsTags && isObj(root.default)) tags = deref(root.default.tags);
      }
      if (tags !== undefined && tags !== null && (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string'))) throw new Error(`jobs:${name}:tags config should be an array of strings`);
      const stage = typeof job.stage === 'string' ? job.stage : 'test';
      if (!stages.includes(stage)) throw new Error(`${name} job: chosen stage ${stage} does not exist; available stages are ${stages.join(', ')}`);
      jobs.push({ name, stage, tags: (tags as string[] | undefined) ?? [], manual: job.when === 'manual' });
    }
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (jobs.length === 0) return { error: 'jobs config should contain at least one visible job' };
  return { jobs, stages };
}

function deepMerge(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObj(v) && isObj(out[k]) ? deepMerge(out[k] as Obj, v) : v;
  return out;
}

// ---------- matching ----------

/** Whether GitLab would give this job to this runner: ALL the job's tags, untagged only with run_untagged, scope. */
export function runnerCanTake(r: FakeRunner, job: { tag_list: string[]; project: FakeProject }, ancestors: number[]): boolean {
  if (r.paused || r.contacted_at === null) return false;
  if (job.tag_list.length === 0 ? !r.run_untagged : !job.tag_list.every((t) => r.tag_list.includes(t))) return false;
  if (r.runner_type === 'project_type') return r.project_id === job.project.id;
  if (r.runner_type === 'group_type') return r.group_id !== undefined && ancestors.includes(r.group_id);
  return true;
}

// ---------- the extension ----------

export function createFakeProjects(): FakeGitlabProjects {
  const groups = new Map<number, FakeGroup>();
  const projects = new Map<number, FakeProject>();
  const pipelines: FakePipeline[] = [];
  const jobs: FakeJob[] = [];
  let runners: Map<number, FakeRunner> = new Map();
  let nextGroup = 100;
  let nextProject = 1000;
  let nextPipeline = 5000;
  let nextJob = 90000;

  const self: FakeGitlabProjects = {
    extension: (req) => route(req),
    groups,
    projects,
    pipelines,
    jobs,
    autoFinish: null,
    capacity: new Map(),
    addGroup,
    addProject,
    project: projectByPath,
    commit: (path, filePath, content, message = `Update ${filePath}`, branch) => {
      const p = projectByPath(path);
      return commitFile(p, branch ?? p.default_branch, filePath, content, message, 'Someone Else').id;
    },
    file: (path, filePath, ref) => {
      const p = projectByPath(path);
      return commitAt(p, ref ?? p.default_branch)?.tree.get(filePath);
    },
    createPipeline: (path, opts = {}) => {
      const p = projectByPath(path);
      const result = newPipeline(p, opts.ref ?? p.default_branch, opts.source ?? 'web', []);
      if ('error' in result) throw new Error(`fake gitlab: no pipeline for ${path}: ${result.error}`);
      schedule();
      return result;
    },
    addJob: (path, opts) => {
      const p = projectByPath(path);
      const head = p.branches.get(p.default_branch)!;
      const pipeline: FakePipeline = { id: nextPipeline++, iid: pipelinesOf(p).length + 1, project: p, sha: head, ref: p.default_branch, source: 'web', created_at: now(), variables: [], jobs: [], yaml_errors: null };
      pipelines.push(pipeline);
      const job: FakeJob = { id: nextJob++, name: opts.name ?? 'job', stage: 'test', stageIndex: 0, status: opts.status ?? 'pending', tag_list: [...opts.tags], runnerId: opts.runnerId ?? null, project: p, pipeline, created_at: now(), started_at: opts.status === 'running' ? now() : null, finished_at: null };
      if (job.status === 'running' && job.runnerId === null) throw new Error('fake gitlab: a running job needs a runnerId');
      pipeline.jobs.push(job);
      jobs.push(job);
      return job;
    },
    finishJobs: (filter = {}, status = 'success') => {
      let n = 0;
      for (const j of jobs) {
        if (j.status !== 'running' && !(filter.pending && j.status === 'pending')) continue;
        if (filter.project && j.project.path_with_namespace !== filter.project) continue;
        if (filter.pipelineId !== undefined && j.pipeline.id !== filter.pipelineId) continue;
        if (filter.runnerId !== undefined && j.runnerId !== filter.runnerId) continue;
        j.status = status;
        j.finished_at = now();
        n++;
      }
      schedule();
      return n;
    },
    pipelineStatus,
    schedule,
    bind(gitlab) {
      runners = gitlab.runners;
    },
  };

  function addGroup(fullPath: string): FakeGroup {
    const existing = [...groups.values()].find((g) => g.full_path === fullPath);
    if (existing) return existing;
    const parts = fullPath.split('/');
    const parent = parts.length > 1 ? addGroup(parts.slice(0, -1).join('/')) : null;
    const g: FakeGroup = { id: nextGroup++, name: parts[parts.length - 1], path: parts[parts.length - 1], full_path: fullPath, parent_id: parent?.id ?? null };
    groups.set(g.id, g);
    return g;
  }

  function addProject(pathWithNamespace: string, opts: { files?: Record<string, string>; defaultBranch?: string; archived?: boolean } = {}): FakeProject {
    const parts = pathWithNamespace.split('/');
    if (parts.length < 2) throw new Error(`fake gitlab: a project path needs a group: ${pathWithNamespace}`);
    const namespace = addGroup(parts.slice(0, -1).join('/'));
    const branch = opts.defaultBranch ?? 'main';
    const root: FakeCommit = { id: sha(), message: 'Initial commit', parent_ids: [], created_at: now(), author_name: 'Fetcher Author', tree: new Map(Object.entries(opts.files ?? {})), changed: Object.keys(opts.files ?? {}) };
    const p: FakeProject = {
      id: nextProject++,
      name: parts[parts.length - 1],
      path: parts[parts.length - 1],
      path_with_namespace: pathWithNamespace,
      namespace,
      default_branch: branch,
      archived: opts.archived ?? false,
      branches: new Map([[branch, root.id]]),
      commits: new Map([[root.id, root]]),
    };
    projects.set(p.id, p);
    return p;
  }

  function projectByPath(path: string): FakeProject {
    const p = [...projects.values()].find((x) => x.path_with_namespace === path);
    if (!p) throw new Error(`fake gitlab: no project ${path}`);
    return p;
  }

  function commitAt(p: FakeProject, ref: string): FakeCommit | undefined {
    const id = p.branches.get(ref) ?? ref;
    return p.commits.get(id) ?? [...p.commits.values()].find((c) => id.length >= 7 && c.id.startsWith(id));
  }

  /** The newest commit reachable from `head` (first parents) that changed the file. */
  function lastCommitOf(p: FakeProject, head: FakeCommit, filePath: string): FakeCommit {
    let c: FakeCommit | undefined = head;
    while (c) {
      if (c.changed.includes(filePath)) return c;
      c = c.parent_ids.length ? p.commits.get(c.parent_ids[0]) : undefined;
    }
    return head;
  }

  function commitFile(p: FakeProject, branch: string, filePath: string, content: string, message: string, author: string): FakeCommit {
    const head = commitAt(p, branch)!;
    const tree = new Map(head.tree);
    tree.set(filePath, content);
    const c: FakeCommit = { id: sha(), message, parent_ids: [head.id], created_at: now(), author_name: author, tree, changed: [filePath] };
    p.commits.set(c.id, c);
    p.branches.set(branch, c.id);
    return c;
  }

  function pipelinesOf(p: FakeProject): FakePipeline[] {
    return pipelines.filter((x) => x.project === p);
  }

  function newPipeline(p: FakeProject, ref: string, source: FakePipeline['source'], variables: FakePipeline['variables']): FakePipeline | { error: string } {
    const commit = commitAt(p, ref);
    if (!commit) return { error: 'Reference not found' };
    const ci = commit.tree.get('.gitlab-ci.yml');
    if (ci === undefined) return { error: 'Missing CI config file' };
    const parsed = jobsOfCiFile(ci);
    const pipeline: FakePipeline = { id: nextPipeline++, iid: pipelinesOf(p).length + 1, project: p, sha: commit.id, ref, source, created_at: now(), variables, jobs: [], yaml_errors: null };
    if ('error' in parsed) {
      // A push with a broken file still shows a failed pipeline; an API call is refused.
      if (source !== 'push') return parsed;
      pipeline.yaml_errors = parsed.error;
      pipelines.push(pipeline);
      return pipeline;
    }
    for (const j of parsed.jobs) {
      const stageIndex = parsed.stages.indexOf(j.stage);
      const job: FakeJob = { id: nextJob++, name: j.name, stage: j.stage, stageIndex, status: j.manual ? 'manual' : 'created', tag_list: j.tags, runnerId: null, project: p, pipeline, created_at: now(), started_at: null, finished_at: null };
      pipeline.jobs.push(job);
      jobs.push(job);
    }
    pipelines.push(pipeline);
    return pipeline;
  }

  function pipelineStatus(pl: FakePipeline): string {
    if (pl.yaml_errors) return 'failed';
    const s = pl.jobs.map((j) => j.status);
    if (s.includes('running')) return 'running';
    if (s.includes('pending')) return 'pending';
    if (s.includes('failed')) return 'failed';
    if (s.includes('created')) return 'created';
    if (s.includes('canceled')) return 'canceled';
    if (s.length && s.every((x) => x === 'skipped')) return 'skipped';
    if (s.includes('manual') && !s.includes('success')) return 'manual';
    return 'success';
  }

  function ancestorsOf(p: FakeProject): number[] {
    const out: number[] = [];
    for (let g: FakeGroup | undefined = p.namespace; g; g = g.parent_id === null ? undefined : groups.get(g.parent_id)) out.push(g.id);
    return out;
  }

  /** Stages open in order; pending jobs go to runners that can take them. */
  function schedule(): void {
    for (let round = 0; round < 100; round++) {
      let moved = false;
      for (const pl of pipelines) {
        const open = pl.jobs.filter((j) => j.status === 'created');
        if (!open.length) continue;
        const failed = pl.jobs.some((j) => j.status === 'failed' || j.status === 'canceled');
        for (const j of open) {
          const before = pl.jobs.filter((x) => x.stageIndex < j.stageIndex && x.status !== 'manual');
          if (failed && before.some((x) => x.status === 'failed' || x.status === 'canceled')) {
            j.status = 'skipped';
            moved = true;
          } else if (before.every((x) => x.status === 'success' || x.status === 'skipped')) {
            j.status = 'pending';
            moved = true;
          }
        }
      }
      for (const j of jobs) {
        if (j.status !== 'pending') continue;
        const ancestors = ancestorsOf(j.project);
        const busy = (r: FakeRunner) => jobs.filter((x) => x.status === 'running' && x.runnerId === r.id).length;
        const candidates = [...runners.values()].filter((r) => runnerCanTake(r, j, ancestors) && busy(r) < (self.capacity.get(r.id) ?? Infinity));
        if (!candidates.length) continue;
        candidates.sort((a, b) => busy(a) - busy(b) || a.id - b.id);
        j.runnerId = candidates[0].id;
        j.status = 'running';
        j.started_at = now();
        const r = candidates[0];
        r.contacted_at = now();
        if (self.autoFinish) {
          j.status = self.autoFinish;
          j.finished_at = now();
        }
        moved = true;
      }
      if (!moved) return;
    }
  }

  // ---------- representations ----------

  const webBase = (req: FakeGitlabRequest) => `${req.url.protocol}//${req.url.host}`;
  const groupView = (g: FakeGroup, req: FakeGitlabRequest) => ({ id: g.id, name: g.name, path: g.path, full_path: g.full_path, full_name: g.full_path.split('/').join(' / '), parent_id: g.parent_id, web_url: `${webBase(req)}/groups/${g.full_path}` });
  const projectView = (p: FakeProject, req: FakeGitlabRequest) => ({
    id: p.id,
    name: p.name,
    path: p.path,
    path_with_namespace: p.path_with_namespace,
    name_with_namespace: p.path_with_namespace.split('/').join(' / '),
    default_branch: p.default_branch,
    archived: p.archived,
    namespace: { id: p.namespace.id, name: p.namespace.name, path: p.namespace.path, kind: 'group', full_path: p.namespace.full_path, parent_id: p.namespace.parent_id },
    web_url: `${webBase(req)}/${p.path_with_namespace}`,
  });
  const commitView = (p: FakeProject, c: FakeCommit, req: FakeGitlabRequest) => ({
    id: c.id,
    short_id: c.id.slice(0, 8),
    title: c.message.split('\n')[0],
    message: c.message,
    parent_ids: [...c.parent_ids],
    author_name: c.author_name,
    author_email: `${c.author_name.toLowerCase().replace(/\s+/g, '.')}@example.org`,
    authored_date: c.created_at,
    committed_date: c.created_at,
    created_at: c.created_at,
    web_url: `${webBase(req)}/${p.path_with_namespace}/-/commit/${c.id}`,
  });
  const pipelineView = (pl: FakePipeline, req: FakeGitlabRequest) => ({
    id: pl.id,
    iid: pl.iid,
    project_id: pl.project.id,
    sha: pl.sha,
    ref: pl.ref,
    status: pipelineStatus(pl),
    source: pl.source,
    created_at: pl.created_at,
    updated_at: pl.created_at,
    web_url: `${webBase(req)}/${pl.project.path_with_namespace}/-/pipelines/${pl.id}`,
    ...(pl.yaml_errors ? { yaml_errors: pl.yaml_errors } : {}),
  });
  const runnerShort = (id: number | null) => {
    if (id === null) return null;
    const r = runners.get(id);
    if (!r) return { id, description: '(deleted runner)', active: false, paused: true, is_shared: false, runner_type: 'instance_type', name: null, online: false, status: 'offline' };
    return { id: r.id, description: r.description, active: !r.paused, paused: r.paused, is_shared: r.runner_type === 'instance_type', runner_type: r.runner_type, name: null, online: r.contacted_at !== null, status: r.paused ? 'paused' : r.contacted_at !== null ? 'online' : 'never_contacted' };
  };
  const jobView = (j: FakeJob, req: FakeGitlabRequest) => ({
    id: j.id,
    name: j.name,
    stage: j.stage,
    status: j.status,
    ref: j.pipeline.ref,
    tag_list: [...j.tag_list],
    created_at: j.created_at,
    started_at: j.started_at,
    finished_at: j.finished_at,
    pipeline: { id: j.pipeline.id, project_id: j.project.id, ref: j.pipeline.ref, sha: j.pipeline.sha, status: pipelineStatus(j.pipeline) },
    runner: runnerShort(j.runnerId),
    project: { id: j.project.id, name: j.project.name, path: j.project.path, path_with_namespace: j.project.path_with_namespace },
    web_url: `${webBase(req)}/${j.project.path_with_namespace}/-/jobs/${j.id}`,
  });

  // ---------- routing ----------

  function paged<T>(req: FakeGitlabRequest, list: T[]): FakeGitlabReply {
    const page = Math.max(1, Number(req.params.page ?? 1) || 1);
    const perPage = Math.min(100, Math.max(1, Number(req.params.per_page ?? 20) || 20));
    const totalPages = Math.max(1, Math.ceil(list.length / perPage));
    const pageUrl = (n: number) => {
      const u = new URL(req.url.toString());
      u.searchParams.set('page', String(n));
      u.searchParams.set('per_page', String(perPage));
      return u.toString();
    };
    const links = [`<${pageUrl(1)}>; rel="first"`, `<${pageUrl(totalPages)}>; rel="last"`];
    if (page < totalPages) links.unshift(`<${pageUrl(page + 1)}>; rel="next"`);
    return {
      status: 200,
      body: list.slice((page - 1) * perPage, page * perPage),
      headers: { 'X-Page': String(page), 'X-Per-Page': String(perPage), 'X-Total': String(list.length), 'X-Total-Pages': String(totalPages), 'X-Next-Page': page < totalPages ? String(page + 1) : '', 'X-Prev-Page': page > 1 ? String(page - 1) : '', Link: links.join(', ') },
    };
  }

  const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  const scopes = (p: Record<string, unknown>, key: string): string[] | undefined => {
    const v = p[key];
    if (v === undefined) return undefined;
    return (Array.isArray(v) ? v : [v]).map(String);
  };

  function findGroup(idText: string): FakeGroup {
    const id = decodeURIComponent(idText);
    const g = /^\d+$/.test(id) ? groups.get(Number(id)) : [...groups.values()].find((x) => x.full_path === id);
    if (!g) throw fakeGitlabError(404, '404 Group Not Found');
    return g;
  }

  function findProject(idText: string): FakeProject {
    const id = decodeURIComponent(idText);
    const p = /^\d+$/.test(id) ? projects.get(Number(id)) : [...projects.values()].find((x) => x.path_with_namespace === id);
    if (!p) throw fakeGitlabError(404, '404 Project Not Found');
    return p;
  }

  function route(req: FakeGitlabRequest): FakeGitlabReply | undefined {
    const { method, path } = req;
    const api = '/api/v4';
    if (!path.startsWith(`${api}/groups/`) && !path.startsWith(`${api}/projects/`) && !/^\/api\/v4\/runners\/\d+\/jobs$/.test(path)) return undefined;
    req.requireAuth();
    runners = req.runners;
    schedule();
    const p = req.params;

    let m = /^\/api\/v4\/runners\/(\d+)\/jobs$/.exec(path);
    if (m && method === 'GET') {
      const id = Number(m[1]);
      if (!runners.has(id)) throw fakeGitlabError(404, '404 Runner Not Found');
      const status = str(p.status);
      const list = jobs.filter((j) => j.runnerId === id && (status === undefined || j.status === status)).sort((a, b) => b.id - a.id);
      return paged(req, list.map((j) => jobView(j, req)));
    }

    m = /^\/api\/v4\/groups\/([^/]+)$/.exec(path);
    if (m && method === 'GET') return { status: 200, body: groupView(findGroup(m[1]), req) };

    m = /^\/api\/v4\/groups\/([^/]+)\/projects$/.exec(path);
    if (m && method === 'GET') {
      const g = findGroup(m[1]);
      const sub = p.include_subgroups === true || p.include_subgroups === 'true';
      const inGroup = (x: FakeProject) => x.namespace.id === g.id || (sub && (x.namespace.full_path + '/').startsWith(g.full_path + '/'));
      let list = [...projects.values()].filter(inGroup);
      const archived = str(p.archived);
      if (archived !== undefined) list = list.filter((x) => x.archived === (archived === 'true'));
      const orderBy = str(p.order_by) ?? 'created_at';
      const key = (x: FakeProject): string | number => (orderBy === 'path' ? x.path : orderBy === 'name' ? x.name : x.id);
      list.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
      if ((str(p.sort) ?? (orderBy === 'created_at' || orderBy === 'id' ? 'desc' : 'asc')) === 'desc') list.reverse();
      return paged(req, list.map((x) => projectView(x, req)));
    }

    m = /^\/api\/v4\/projects\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) throw fakeGitlabError(404, '404 Not Found');
    const project = findProject(m[1]);
    const rest = m[2] ?? '';

    if (rest === '' && method === 'GET') return { status: 200, body: projectView(project, req) };

    m = /^\/repository\/files\/([^/]+)$/.exec(rest);
    if (m) {
      const filePath = decodeURIComponent(m[1]);
      if (method === 'GET') {
        const ref = str(p.ref);
        if (!ref) throw fakeGitlabError(400, '400 Bad request - ref is missing');
        const c = commitAt(project, ref);
        const content = c?.tree.get(filePath);
        if (!c || content === undefined) throw fakeGitlabError(404, '404 File Not Found');
        return {
          status: 200,
          body: {
            file_name: filePath.split('/').pop(),
            file_path: filePath,
            size: Buffer.byteLength(content),
            encoding: 'base64',
            content: Buffer.from(content).toString('base64'),
            content_sha256: createHash('sha256').update(content).digest('hex'),
            ref,
            blob_id: gitBlobId(content),
            commit_id: c.id,
            last_commit_id: lastCommitOf(project, c, filePath).id,
          },
        };
      }
      if (method === 'PUT') {
        const branch = str(p.branch);
        if (!branch) throw fakeGitlabError(400, '400 Bad request - branch is missing');
        if (p.content === undefined) throw fakeGitlabError(400, '400 Bad request - content is missing');
        const message = str(p.commit_message);
        if (!message) throw fakeGitlabError(400, '400 Bad request - commit_message is missing');
        if (project.archived) throw fakeGitlabError(403, '403 Forbidden');
        const head = commitAt(project, branch);
        if (!head || !project.branches.has(branch)) throw fakeGitlabError(400, 'You can only create or edit files when you are on a branch');
        if (!head.tree.has(filePath)) throw fakeGitlabError(400, "A file with this name doesn't exist");
        const last = lastCommitOf(project, head, filePath).id;
        const given = str(p.last_commit_id);
        if (given !== undefined && given !== last) throw fakeGitlabError(400, STALE_MESSAGE);
        const encoding = str(p.encoding) ?? 'text';
        const content = encoding === 'base64' ? Buffer.from(String(p.content), 'base64').toString('utf8') : String(p.content);
        commitFile(project, branch, filePath, content, message, 'Rigger Bot');
        if (!/\[(skip ci|ci skip)\]/i.test(message)) {
          newPipeline(project, branch, 'push', []);
          schedule();
        }
        return { status: 200, body: { file_path: filePath, branch } };
      }
    }

    m = /^\/repository\/commits\/([^/]+)$/.exec(rest);
    if (m && method === 'GET') {
      const c = commitAt(project, decodeURIComponent(m[1]));
      if (!c) throw fakeGitlabError(404, '404 Commit Not Found');
      return { status: 200, body: commitView(project, c, req) };
    }
    if (rest === '/repository/commits' && method === 'GET') {
      const head = commitAt(project, str(p.ref_name) ?? project.default_branch);
      const filePath = str(p.path);
      const list: FakeCommit[] = [];
      for (let c = head; c; c = c.parent_ids.length ? project.commits.get(c.parent_ids[0]) : undefined) if (!filePath || c.changed.includes(filePath)) list.push(c);
      return paged(req, list.map((c) => commitView(project, c, req)));
    }

    if (rest === '/pipeline' && method === 'POST') {
      const ref = str(p.ref);
      if (!ref) throw fakeGitlabError(400, '400 Bad request - ref is missing');
      const vars = Array.isArray(p.variables) ? (p.variables as Array<{ key: string; value: string }>).map((v) => ({ key: String(v.key), value: String(v.value) })) : [];
      const result = newPipeline(project, ref, 'api', vars);
      if ('error' in result) return { status: 400, body: { message: { base: [result.error] } } };
      schedule();
      return { status: 201, body: pipelineView(result, req) };
    }
    if (rest === '/pipelines' && method === 'GET') {
      let list = pipelinesOf(project);
      const ref = str(p.ref);
      const s = str(p.sha);
      const status = str(p.status);
      const source = str(p.source);
      if (ref) list = list.filter((x) => x.ref === ref);
      if (s) list = list.filter((x) => x.sha === s);
      if (status) list = list.filter((x) => pipelineStatus(x) === status);
      if (source) list = list.filter((x) => x.source === source);
      list = [...list].sort((a, b) => a.id - b.id);
      if ((str(p.sort) ?? 'desc') === 'desc') list.reverse();
      return paged(req, list.map((x) => pipelineView(x, req)));
    }
    m = /^\/pipelines\/(\d+)(\/jobs)?$/.exec(rest);
    if (m && method === 'GET') {
      const pl = pipelinesOf(project).find((x) => x.id === Number(m![1]));
      if (!pl) throw fakeGitlabError(404, '404 Not found');
      if (!m[2]) return { status: 200, body: pipelineView(pl, req) };
      const scope = scopes(p, 'scope');
      const list = pl.jobs.filter((j) => !scope || scope.includes(j.status));
      return paged(req, list.map((j) => jobView(j, req)));
    }
    if (rest === '/jobs' && method === 'GET') {
      const scope = scopes(p, 'scope');
      const list = jobs.filter((j) => j.project === project && (!scope || scope.includes(j.status))).sort((a, b) => b.id - a.id);
      return paged(req, list.map((j) => jobView(j, req)));
    }
    throw fakeGitlabError(404, '404 Not Found');
  }

  return self;
}

/** The GitLab stand-in with projects, pipelines and jobs. */
export async function startFakeGitlabWithProjects(
  opts: Omit<FakeGitlabOptions, 'extensions'> & { extensions?: FakeGitlabExtension[]; before?: FakeGitlabExtension[] } = {},
): Promise<{ gitlab: FakeGitlab; projects: FakeGitlabProjects }> {
  const projects = createFakeProjects();
  const gitlab = await startFakeGitlab({ ...opts, extensions: [...(opts.before ?? []), projects.extension, ...(opts.extensions ?? [])] });
  projects.bind(gitlab);
  return { gitlab, projects };
}
