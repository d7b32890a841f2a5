/**
 * The GitLab stand-in's jobs of a runner: `GET /api/v4/runners/:id/jobs`
 * (GitLab's "List runner's jobs"), as a FakeGitlabExtension. Test double only.
 *
 *   GET /api/v4/runners/:id/jobs?status=running|success|failed|canceled
 *       (access token: api, read_api or manage_runner) -> 200 [job...] paginated | 400 bad status | 404 unknown runner
 *
 * A job: { id, status, name, stage, ref, created_at, started_at, finished_at,
 * project: { id, name, path_with_namespace } }, newest first (GitLab's default
 * order_by=id, sort=desc). Tests put jobs on runners with `add()` and end them
 * with `finish()`, e.g. while a drain waits.
 */
import { fakeGitlabError, paginated, type FakeGitlabExtension } from './gitlab.js';

export type JobStatus = 'running' | 'success' | 'failed' | 'canceled';
const STATUSES: readonly JobStatus[] = ['running', 'success', 'failed', 'canceled'];

export interface FakeJob {
  id: number;
  runnerId: number;
  status: JobStatus;
  name: string;
  stage: string;
  ref: string;
  created_at: string;
  started_at: string;
  finished_at: string | null;
  project: { id: number; name: string; path_with_namespace: string };
}

export interface FakeRunnerJobs {
  extension: FakeGitlabExtension;
  jobs: Map<number, FakeJob>;
  /** a job on that runner, running unless told otherwise */
  add(runnerId: number, fields?: Partial<Omit<FakeJob, 'id' | 'runnerId'>>): FakeJob;
  /** end a job (success by default) */
  finish(jobId: number, status?: Exclude<JobStatus, 'running'>): void;
}

export function fakeRunnerJobs(): FakeRunnerJobs {
  const jobs = new Map<number, FakeJob>();
  let nextId = 1000;
  const extension: FakeGitlabExtension = (req) => {
    const m = /^\/api\/v4\/runners\/(\d+)\/jobs$/.exec(req.path);
    if (!m || req.method !== 'GET') return undefined;
    req.requireScope(['manage_runner']);
    const runnerId = Number(m[1]);
    if (!req.runners.has(runnerId)) throw fakeGitlabError(404, '404 Runner Not Found');
    const status = req.params.status;
    if (status !== undefined && !(typeof status === 'string' && (STATUSES as readonly string[]).includes(status)))
      throw fakeGitlabError(400, '400 Bad request - status does not have a valid value');
    const list = [...jobs.values()].filter((j) => j.runnerId === runnerId && (status === undefined || j.status === status)).sort((a, b) => b.id - a.id);
    return paginated(req.url, list.map(({ runnerId: _r, ...j }) => j));
  };
  return {
    extension,
    jobs,
    add(runnerId, fields = {}) {
      const now = new Date().toISOString();
      const id = nextId++;
      const job: FakeJob = {
        id,
        runnerId,
        status: 'running',
        name: 'download',
        stage: 'build',
        ref: 'main',
        created_at: now,
        started_at: now,
        finished_at: null,
        project: { id: 1, name: 'fetcher', path_with_namespace: 'fetchers/fetcher' },
        ...fields,
      };
      jobs.set(id, job);
      return job;
    },
    finish(jobId, status = 'success') {
      const j = jobs.get(jobId);
      if (!j) throw new Error(`fake gitlab: no job ${jobId}`);
      j.status = status;
      j.finished_at = new Date().toISOString();
    },
  };
}
