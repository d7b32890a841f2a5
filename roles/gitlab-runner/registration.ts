// Runner registration through GitLab's REST API, from the control machine.
// planRegistration is pure; GitlabClient does the HTTP. No error message ever
// contains a request body, and every message is passed through redact().
import { redact, reveal, type Secret } from '../../lib/secrets.js';
import { sameUrl, type Credentials, type HostConfig, type HostRunner } from './config.js';
import { normaliseUrl, runnerUrl, type GitlabRunnerVars, type RunnerVars } from './vars.js';

export interface KeptRunner {
  runner: RunnerVars;
  url: string;
  credentials: Credentials;
}

export interface NewRunner {
  runner: RunnerVars;
  url: string;
}

export interface RemovedRunner {
  /** name in the host's file (may be missing) */
  name: string;
  url?: string;
  credentials: Credentials;
  reason: string;
}

export interface RunnerUpdate {
  runner: RunnerVars;
  url: string;
  id: number;
  /** fields for PUT /runners/:id */
  fields: Record<string, unknown>;
  /** "tags a -> a,b" style notes */
  what: string[];
}

export interface RegistrationPlan {
  keep: KeptRunner[];
  register: NewRunner[];
  remove: RemovedRunner[];
  update: RunnerUpdate[];
}

/**
 * Which runners of the inventory are registered on the host already (matched by
 * name, on the same GitLab URL), which need registering, and which registered
 * runners of the host are no longer in the inventory.
 */
export function planRegistration(vars: GitlabRunnerVars, host: Pick<HostConfig, 'runners'>): RegistrationPlan {
  const plan: RegistrationPlan = { keep: [], register: [], remove: [], update: [] };
  const byName = new Map<string, HostRunner>();
  const label = (h: HostRunner) => h.name ?? `runners[${h.index}] (no name)`;
  for (const h of host.runners) {
    if (h.name !== undefined && !byName.has(h.name)) byName.set(h.name, h);
    else if (h.credentials) plan.remove.push({ name: label(h), url: h.url, credentials: h.credentials, reason: h.name === undefined ? 'entry without a name' : 'duplicate entry' });
  }
  const wanted = new Set(vars.gitlab_runners.map((r) => r.name));
  for (const r of vars.gitlab_runners) {
    const url = runnerUrl(vars, r);
    const h = byName.get(r.name);
    if (h?.credentials && sameUrl(h.url, url)) plan.keep.push({ runner: r, url, credentials: h.credentials });
    else {
      if (h?.credentials) plan.remove.push({ name: r.name, url: h.url, credentials: h.credentials, reason: `moved to ${url}` });
      plan.register.push({ runner: r, url });
    }
  }
  for (const [name, h] of byName) if (!wanted.has(name) && h.credentials) plan.remove.push({ name, url: h.url, credentials: h.credentials, reason: 'not in the inventory' });
  return plan;
}

/** The settings of a runner that live on GitLab's side, as the inventory wants them. */
export function registrationFields(r: RunnerVars): Record<string, unknown> {
  const f: Record<string, unknown> = { description: r.description ?? r.name, tag_list: [...r.tags] };
  for (const k of ['run_untagged', 'locked', 'paused', 'access_level', 'maximum_timeout', 'maintenance_note'] as const) if (r[k] !== undefined) f[k] = r[k];
  return f;
}

/** Fields of `want` that differ from GitLab's runner details (tags compared as sets). */
export function settingsDiff(want: Record<string, unknown>, have: Record<string, unknown>): { fields: Record<string, unknown>; what: string[] } {
  const fields: Record<string, unknown> = {};
  const what: string[] = [];
  for (const [k, v] of Object.entries(want)) {
    const h = have[k];
    if (k === 'tag_list') {
      const a = [...(v as string[])].sort();
      const b = Array.isArray(h) ? [...(h as string[])].sort() : [];
      if (a.join(',') !== b.join(',')) {
        fields[k] = v;
        what.push(`tags ${b.join(',') || '(none)'} -> ${a.join(',') || '(none)'}`);
      }
    } else if (h !== v && !(h == null && v == null)) {
      fields[k] = v;
      what.push(`${k} ${JSON.stringify(h ?? null)} -> ${JSON.stringify(v)}`);
    }
  }
  return { fields, what };
}

export class GitlabApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(redact(message));
    this.name = 'GitlabApiError';
  }
}

export interface Created {
  id: number;
  token: string;
  token_expires_at?: string | null;
}

export interface ClientOptions {
  accessToken?: Secret;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class GitlabClient {
  readonly base: string;
  constructor(
    url: string,
    readonly opts: ClientOptions = {},
  ) {
    this.base = normaliseUrl(url);
  }

  /** POST /api/v4/user/runners (runner authentication token flow). */
  async createRunner(r: RunnerVars): Promise<Created> {
    const body: Record<string, unknown> = { runner_type: r.runner_type, ...registrationFields(r) };
    if (r.runner_type === 'group_type') body.group_id = r.group_id;
    if (r.runner_type === 'project_type') body.project_id = r.project_id;
    const res = await this.#call('POST', '/user/runners', { body, auth: 'required' });
    return created(res.json, `POST ${this.base}/api/v4/user/runners`);
  }

  /** Legacy: POST /api/v4/runners with a registration token (tag_list as a comma-separated string). */
  async registerWithRegistrationToken(r: RunnerVars, registrationToken: Secret): Promise<Created> {
    const f = registrationFields(r);
    const body = { ...f, token: registrationToken.reveal(), tag_list: (f.tag_list as string[]).join(',') };
    const res = await this.#call('POST', '/runners', { body, auth: 'none' });
    return created(res.json, `POST ${this.base}/api/v4/runners`);
  }

  /**
   * Delete a runner GitLab knows by this token (DELETE /runners {token}); when the token
   * is refused and an id and access token are known, DELETE /runners/:id.
   * 'gone' when GitLab no longer has it.
   */
  async deleteRunner(c: Credentials): Promise<'deleted' | 'gone'> {
    const r = await this.#call('DELETE', '/runners', { body: { token: c.token }, auth: 'none', accept: [204, 403] });
    if (r.status === 204) return 'deleted';
    if (c.id === undefined || !this.opts.accessToken) return 'gone';
    const byId = await this.#call('DELETE', `/runners/${c.id}`, { auth: 'required', accept: [204, 404] });
    return byId.status === 204 ? 'deleted' : 'gone';
  }

  /** GET /api/v4/runners/:id; null when GitLab does not know it. */
  async getRunner(id: number | bigint): Promise<Record<string, unknown> | null> {
    const r = await this.#call('GET', `/runners/${id}`, { auth: 'required', accept: [200, 404] });
    return r.status === 404 ? null : (r.json as Record<string, unknown>);
  }

  /** PUT /api/v4/runners/:id */
  async updateRunner(id: number | bigint, fields: Record<string, unknown>): Promise<void> {
    await this.#call('PUT', `/runners/${id}`, { body: fields, auth: 'required' });
  }

  async #call(
    method: string,
    path: string,
    o: { body?: unknown; auth: 'required' | 'none'; accept?: number[] },
  ): Promise<{ status: number; json: unknown }> {
    const url = `${this.base}/api/v4${path}`;
    const what = `GitLab API ${method} ${url}`;
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (o.auth === 'required') {
      if (!this.opts.accessToken) throw new GitlabApiError(`${what}: needs gitlab_access_token (a token with the create_runner / manage_runner scope)`, null);
      headers['PRIVATE-TOKEN'] = reveal(this.opts.accessToken);
    }
    if (o.body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await (this.opts.fetch ?? fetch)(url, {
        method,
        headers,
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
        redirect: 'error',
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why = err.cause?.code ?? err.cause?.message ?? err.message;
      throw new GitlabApiError(`${what}: ${err.name === 'TimeoutError' ? 'timed out' : `request failed (${why})`}`, null);
    }
    const text = await res.text().catch(() => '');
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    const ok = o.accept ? o.accept.includes(res.status) : res.status >= 200 && res.status < 300;
    if (!ok) throw new GitlabApiError(`${what} answered ${res.status}${describeError(json, text)}${hint(res.status)}`, res.status);
    return { status: res.status, json };
  }
}

function created(json: unknown, what: string): Created {
  const j = json as Partial<Created> | undefined;
  if (!j || typeof j.id !== 'number' || typeof j.token !== 'string' || j.token.length < 4) throw new GitlabApiError(`${what}: unexpected answer (no id and token)`, null);
  return { id: j.id, token: j.token, token_expires_at: j.token_expires_at ?? null };
}

/** GitLab's error message ({"message": ...} or {"error": ...}), short; never the request. */
function describeError(json: unknown, text: string): string {
  let msg: unknown = undefined;
  if (json && typeof json === 'object') msg = (json as Record<string, unknown>).message ?? (json as Record<string, unknown>).error;
  else if (text && text.length < 200 && !/[<>]/.test(text)) msg = text.trim();
  if (msg === undefined || msg === '') return '';
  const s = typeof msg === 'string' ? msg : JSON.stringify(msg);
  return `: ${s.length > 300 ? `${s.slice(0, 297)}...` : s}`;
}

function hint(status: number): string {
  if (status === 401) return ' (check gitlab_access_token)';
  if (status === 410) return ' (registration tokens are disabled on this GitLab: use gitlab_registration = "authentication-token")';
  return '';
}
