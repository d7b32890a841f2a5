// GitLab's Runners API, as GitLab documents it (REST v4), on the Gitlab client.
// Which scope each call needs (besides `api`): creating a runner
// `create_runner`; reading, updating, pausing, deleting by id, listing and a
// runner's jobs `manage_runner` (GitLab >= 17.1; GETs also `read_api`). The
// runner-token endpoints (verify, delete by token) need no access token.
import { HttpError } from '../../http/client.js';
import { registerSecretValue, reveal, type Secret } from '../../secrets.js';
import type { Gitlab } from './client.js';

export const CREATE_SCOPES = ['create_runner'];
export const MANAGE_SCOPES = ['manage_runner'];
const READ_SCOPES = ['read_api', 'manage_runner'];

export type RunnerType = 'instance_type' | 'group_type' | 'project_type';
export type AccessLevel = 'not_protected' | 'ref_protected';

/** The settings of a runner that live on GitLab's side (what PUT /runners/:id changes). */
export interface RunnerSettings {
  description: string;
  tag_list: string[];
  paused: boolean;
  locked: boolean;
  run_untagged: boolean;
  access_level: AccessLevel;
  maximum_timeout: number | null;
  maintenance_note: string | null;
}

export const SETTING_KEYS = ['description', 'tag_list', 'paused', 'locked', 'run_untagged', 'access_level', 'maximum_timeout', 'maintenance_note'] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/** GET /runners/:id */
export interface RunnerDetails extends RunnerSettings {
  id: number;
  runner_type: RunnerType;
  status?: string;
  online?: boolean | null;
}

export interface CreatedRunner {
  id: number;
  /** shown once; registered as a secret value at once */
  token: string;
  token_expires_at: string | null;
}

export interface CreateRunnerFields extends Partial<RunnerSettings> {
  runner_type: RunnerType;
  group_id?: number;
  project_id?: number;
}

export interface RunnerJob {
  id: number;
  status: string;
  name?: string;
  project?: { path_with_namespace?: string };
}

/** POST /user/runners: a runner with an authentication token (glrt-...). */
export async function createRunner(gl: Gitlab, fields: CreateRunnerFields): Promise<CreatedRunner> {
  const res = await gl.call('POST', '/user/runners', { body: fields, scopes: CREATE_SCOPES });
  return created(res.json, 'POST /user/runners');
}

/** Legacy POST /runners with a registration token (tag_list as a comma-separated string). */
export async function registerWithRegistrationToken(gl: Gitlab, registrationToken: Secret, fields: Partial<RunnerSettings>): Promise<CreatedRunner> {
  const body: Record<string, unknown> = { ...fields, token: reveal(registrationToken) };
  if (fields.tag_list) body.tag_list = fields.tag_list.join(',');
  try {
    const res = await gl.callAnonymous('POST', '/runners', { body });
    return created(res.json, 'POST /runners');
  } catch (e) {
    if (e instanceof HttpError && e.status === 410)
      throw new HttpError(`${e.message} (registration tokens are disabled on this GitLab: use gitlab_registration = "authentication-token")`, e.method, e.path, e.status, e.apiMessage);
    throw e;
  }
}

export type Verified = { valid: true; id?: number; token_expires_at?: string | null } | { valid: false };

/**
 * POST /runners/verify {token}: does GitLab still accept this runner token?
 * A read (no system_id is sent, so no runner manager is recorded): allowed in check mode.
 */
export async function verifyRunner(gl: Gitlab, token: string): Promise<Verified> {
  const res = await gl.callAnonymous<{ id?: number; token_expires_at?: string | null }>('POST', '/runners/verify', { body: { token }, accept: [200, 403], read: true });
  if (res.status === 403) return { valid: false };
  return { valid: true, id: typeof res.json?.id === 'number' ? res.json.id : undefined, token_expires_at: res.json?.token_expires_at ?? null };
}

/** GET /runners/:id; null when GitLab does not know it. */
export async function getRunner(gl: Gitlab, id: number): Promise<RunnerDetails | null> {
  const res = await gl.call<RunnerDetails>('GET', `/runners/${id}`, { accept: [200, 404], scopes: READ_SCOPES });
  return res.status === 404 ? null : res.json;
}

/** PUT /runners/:id with the settings to change (tag_list replaces the whole list). */
export async function updateRunner(gl: Gitlab, id: number, fields: Partial<RunnerSettings>): Promise<RunnerDetails> {
  const res = await gl.call<RunnerDetails>('PUT', `/runners/${id}`, { body: fields, scopes: MANAGE_SCOPES });
  return res.json;
}

/** DELETE /runners/:id; 'gone' when GitLab did not know it. */
export async function deleteRunner(gl: Gitlab, id: number): Promise<'deleted' | 'gone'> {
  const res = await gl.call('DELETE', `/runners/${id}`, { accept: [204, 404], scopes: MANAGE_SCOPES });
  return res.status === 204 ? 'deleted' : 'gone';
}

/** DELETE /runners {token}: the runner deletes itself; 'refused' when GitLab does not accept the token. */
export async function deleteRunnerByToken(gl: Gitlab, token: string): Promise<'deleted' | 'refused'> {
  const res = await gl.callAnonymous('DELETE', '/runners', { body: { token }, accept: [204, 403] });
  return res.status === 204 ? 'deleted' : 'refused';
}

/** GET /runners/all (administrators): the short representation, no tag_list. */
export async function listRunners(gl: Gitlab, query: Record<string, string | boolean | undefined> = {}): Promise<Array<Omit<RunnerDetails, keyof RunnerSettings> & { description: string; paused: boolean }>> {
  return gl.list('/runners/all', query, READ_SCOPES);
}

/** GET /runners/:id/jobs?status=...: the jobs of a runner (e.g. those still running before an upgrade). */
export async function runnerJobs(gl: Gitlab, id: number, status?: 'running' | 'success' | 'failed' | 'canceled'): Promise<RunnerJob[]> {
  return gl.list<RunnerJob>(`/runners/${id}/jobs`, { status }, READ_SCOPES);
}

function created(json: unknown, what: string): CreatedRunner {
  const j = json as Partial<CreatedRunner> | undefined;
  if (!j || typeof j.id !== 'number' || typeof j.token !== 'string' || j.token.length < 4) throw new HttpError(`GitLab API ${what}: unexpected answer (no id and token)`, 'POST', what, null);
  registerSecretValue(j.token);
  return { id: j.id, token: j.token, token_expires_at: j.token_expires_at ?? null };
}
