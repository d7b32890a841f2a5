/**
 * A local stand-in for the parts of GitLab's REST API (v4) that runner
 * management uses. Test double only: the product talks to whatever GitLab URL
 * it is configured with, and tests configure it with this server's URL.
 *
 * Contract followed (see /work/shared/reference/gitlab-runner.md and GitLab's
 * public "Runners API" documentation):
 *
 *   POST   /api/v4/user/runners                 create a runner (access token)   -> 201 {id, token: "glrt-...", token_expires_at}
 *   POST   /api/v4/runners/verify               {token, system_id?}              -> 200 {id, token, token_expires_at} | 403
 *   POST   /api/v4/runners/reset_authentication_token {token}                    -> 201 {token, token_expires_at} | 403
 *   DELETE /api/v4/runners/:id                  (access token)                   -> 204 | 404
 *   DELETE /api/v4/runners                      {token}                          -> 204 | 403
 *   GET    /api/v4/runners/:id                  (access token)                   -> 200 details | 404
 *   PUT    /api/v4/runners/:id                  (access token)                   -> 200 details | 400 | 404
 *   GET    /api/v4/runners/all                  (access token) tag_list, type, status, paused, page, per_page
 *   GET    /api/v4/runners                      (access token) same filters (the fake has one, admin, user)
 *   POST   /api/v4/runners                      legacy: {token: registration token, ...} -> 201 {id, token, token_expires_at} | 403 | 410
 *
 * Authentication: `PRIVATE-TOKEN: <token>`, `Authorization: Bearer <token>` or
 * a `private_token` query parameter;
 * missing or wrong -> 401 {"message":"401 Unauthorized"}. Every error body is
 * JSON `{"message": "..."}` (except the scope refusal below); every body is
 * served with `Content-Type: application/json` exactly (no charset suffix).
 *
 * Scopes, as GitLab checks them: an access token carries scopes (the main one
 * `api` unless told otherwise; more with `addAccessToken(scopes)`). `api`
 * allows everything, `read_api` every GET, `create_runner` only
 * `POST /user/runners`, `manage_runner` (GitLab >= 17.1) every `/runners`
 * endpoint that takes an access token (read, update, delete, list, jobs).
 * A token without a needed scope -> 403 `{"error":"insufficient_scope",
 * "error_description":"The request requires higher privileges than provided by
 * the access token.","scope":"api manage_runner"}` with a `WWW-Authenticate`
 * header, as GitLab's API guard answers.
 *
 * Request bodies may be JSON or application/x-www-form-urlencoded (`tag_list`
 * as an array, `tag_list[]=a&tag_list[]=b`, or a comma-separated string); as in
 * GitLab, query-string parameters are accepted as well, the body wins.
 *
 * Like the real list endpoints, `GET /runners/all` returns the short runner
 * representation (no tag_list): fetch `GET /runners/:id` for details.
 *
 * `calls` records every request (method, path, query, body, status). Token
 * values in recorded bodies and queries are replaced by "[REDACTED]", and
 * auth headers are not recorded at all, so printing `calls` never leaks one.
 *
 * CLI: `tsx test/fakes/gitlab.ts [--port 0] [--access-token T]
 *      [--registration-token T] [--legacy] [--verbose]` prints the base URL
 * on the first line of stdout, then serves until SIGINT/SIGTERM. Tokens can
 * also come from FAKE_GITLAB_ACCESS_TOKEN / FAKE_GITLAB_REGISTRATION_TOKEN.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

export type RunnerType = 'instance_type' | 'group_type' | 'project_type';
export type AccessLevel = 'not_protected' | 'ref_protected';

export interface FakeRunner {
  id: number;
  /** Current authentication token (glrt-... for the current flow). */
  token: string;
  token_expires_at: string | null;
  /** 'authentication_token' (POST /user/runners) or 'registration_token' (legacy POST /runners). */
  created_via: 'authentication_token' | 'registration_token';
  runner_type: RunnerType;
  group_id?: number;
  project_id?: number;
  description: string;
  tag_list: string[];
  run_untagged: boolean;
  locked: boolean;
  paused: boolean;
  access_level: AccessLevel;
  maximum_timeout: number | null;
  maintenance_note: string | null;
  created_at: string;
  /** system_id values seen by /runners/verify (a runner manager registers itself there). */
  system_ids: string[];
  contacted_at: string | null;
}

export interface FakeGitlabCall {
  method: string;
  /** URL pathname, e.g. /api/v4/runners/3 */
  path: string;
  /** query-string parameters (tokens redacted) */
  query: Record<string, string | string[]>;
  /** parsed request body (tokens redacted), or null when there was none */
  body: unknown;
  status: number;
}

export interface FakeGitlabOptions {
  /** Token accepted in PRIVATE-TOKEN / Authorization: Bearer. Default: random glpat-... */
  accessToken?: string;
  /** Scopes of `accessToken`. Default ["api"]. */
  accessTokenScopes?: string[];
  /** Legacy registration token. Default: random GR1348941... */
  registrationToken?: string;
  /** Accept legacy registration (POST /api/v4/runners). Default false, as in GitLab >= 17.0. */
  legacyEnabled?: boolean;
  /** Port on 127.0.0.1; default 0 (a random free port). */
  port?: number;
  /** Log one redacted line per request to stderr. */
  verbose?: boolean;
  /**
   * More endpoints, each in its own module (projects and pipelines, wikis...):
   * tried in order before the runner endpoints; return undefined to pass.
   */
  extensions?: FakeGitlabExtension[];
}

/** What an extension gets: the request, its merged parameters, auth and error helpers, the runners. */
export interface FakeGitlabRequest {
  method: string;
  /** pathname without trailing slash, e.g. /api/v4/projects/3/wikis/home */
  path: string;
  url: URL;
  params: Record<string, unknown>;
  /** throws the 401 GitLab answers when the access token is missing or wrong, the 403 when it lacks api (read_api for a GET) */
  requireAuth(): void;
  /** the same, with the scopes this endpoint accepts besides api (e.g. ["manage_runner"]) */
  requireScope(anyOf: string[]): void;
  runners: Map<number, FakeRunner>;
}

export interface FakeGitlabReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type FakeGitlabExtension = (req: FakeGitlabRequest) => FakeGitlabReply | undefined | Promise<FakeGitlabReply | undefined>;

/** Throw from an extension to answer `status` with GitLab's `{"message": ...}` body. */
export function fakeGitlabError(status: number, message: string): Error {
  return new HttpError(status, message);
}

export interface FakeGitlab {
  /** Base URL without trailing slash, e.g. http://127.0.0.1:41234 */
  url: string;
  accessToken: string;
  registrationToken: string;
  runners: Map<number, FakeRunner>;
  calls: FakeGitlabCall[];
  /** Another access token with these scopes (e.g. ["create_runner"]); returns its value. */
  addAccessToken(scopes: string[], token?: string): string;
  /** Simulate the runner rotating its token: the old token stops working. Returns the new token. */
  rotate(id: number): string;
  /** Toggle legacy registration at run time (GitLab admin setting). */
  setLegacyEnabled(enabled: boolean): void;
  close(): Promise<void>;
}

const REDACTED = '[REDACTED]';
const TOKEN_KEYS = new Set(['token', 'private_token', 'access_token', 'registration_token']);
const RUNNER_TYPES: readonly RunnerType[] = ['instance_type', 'group_type', 'project_type'];
const ACCESS_LEVELS: readonly AccessLevel[] = ['not_protected', 'ref_protected'];
const MAX_BODY = 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** a body other than {"message": ...} and extra headers (the scope refusal) */
    readonly reply?: { body: unknown; headers: Record<string, string> },
  ) {
    super(message);
  }
}

const INSUFFICIENT_SCOPE = 'The request requires higher privileges than provided by the access token.';

/** GitLab's answer to a valid access token without the scope an endpoint needs. */
function insufficientScope(accepted: string[]): HttpError {
  const scope = accepted.join(' ');
  return new HttpError(403, INSUFFICIENT_SCOPE, {
    body: { error: 'insufficient_scope', error_description: INSUFFICIENT_SCOPE, scope },
    headers: { 'WWW-Authenticate': `Bearer realm="", error="insufficient_scope", error_description="${INSUFFICIENT_SCOPE}", scope="${scope}"` },
  });
}

const randomToken = (bytes: number) => randomBytes(bytes).toString('base64url');

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = TOKEN_KEYS.has(k) ? REDACTED : redact(v);
    return out;
  }
  return value;
}

type Params = Record<string, unknown>;

function formToParams(sp: URLSearchParams): Params {
  const out: Params = {};
  for (const [rawKey, v] of sp) {
    if (rawKey.endsWith('[]')) {
      const key = rawKey.slice(0, -2);
      const prev = out[key];
      out[key] = Array.isArray(prev) ? [...prev, v] : [v];
    } else {
      out[rawKey] = v;
    }
  }
  return out;
}

async function readBody(req: http.IncomingMessage): Promise<Params | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, '413 Request Entity Too Large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return null;
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return formToParams(new URLSearchParams(text));
  // GitLab (Grape) parses JSON for application/json; be lenient and try JSON for anything else.
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new HttpError(400, '400 Bad request - body must be a JSON object');
    }
    return parsed as Params;
  } catch (e) {
    if (e instanceof HttpError) throw e;
    if (type === 'application/json') throw new HttpError(400, '400 Bad request - invalid JSON body');
    return formToParams(new URLSearchParams(text));
  }
}

// ---------- parameter coercion (Grape-like) ----------

function str(p: Params, key: string): string | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new HttpError(400, `400 Bad request - ${key} is invalid`);
}

function bool(p: Params, key: string): boolean | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1' || v === 1) return true;
  if (v === 'false' || v === '0' || v === 0) return false;
  throw new HttpError(400, `400 Bad request - ${key} is invalid`);
}

function int(p: Params, key: string): number | undefined {
  const v = p[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw new HttpError(400, `400 Bad request - ${key} is invalid`);
  return n;
}

function tags(p: Params, key = 'tag_list'): string[] | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  let list: string[];
  if (Array.isArray(v)) list = v.flatMap((t) => (typeof t === 'string' ? t.split(',') : [String(t)]));
  else if (typeof v === 'string') list = v.split(',');
  else throw new HttpError(400, `400 Bad request - ${key} is invalid`);
  const out: string[] = [];
  for (const t of list.map((s) => s.trim()).filter((s) => s !== '')) if (!out.includes(t)) out.push(t);
  return out;
}

function accessLevel(p: Params): AccessLevel | undefined {
  const v = str(p, 'access_level');
  if (v === undefined) return undefined;
  if (!(ACCESS_LEVELS as readonly string[]).includes(v)) {
    throw new HttpError(400, '400 Bad request - access_level does not have a valid value');
  }
  return v as AccessLevel;
}

function maximumTimeout(p: Params): number | undefined {
  const v = int(p, 'maximum_timeout');
  if (v !== undefined && v < 600) {
    throw new HttpError(400, '400 Bad request - maximum_timeout needs to be at least 10 minutes');
  }
  return v;
}

// ---------- representations ----------

function shortView(r: FakeRunner) {
  return {
    id: r.id,
    description: r.description,
    ip_address: null,
    active: !r.paused,
    paused: r.paused,
    is_shared: r.runner_type === 'instance_type',
    runner_type: r.runner_type,
    name: null,
    online: r.contacted_at !== null,
    status: r.paused ? 'paused' : r.contacted_at !== null ? 'online' : 'never_contacted',
  };
}

function detailView(r: FakeRunner) {
  return {
    ...shortView(r),
    tag_list: [...r.tag_list],
    run_untagged: r.run_untagged,
    locked: r.locked,
    maximum_timeout: r.maximum_timeout,
    access_level: r.access_level,
    maintenance_note: r.maintenance_note,
    version: null,
    revision: null,
    platform: null,
    architecture: null,
    contacted_at: r.contacted_at,
    created_at: r.created_at,
    projects: r.project_id !== undefined ? [{ id: r.project_id }] : [],
    groups: r.group_id !== undefined ? [{ id: r.group_id }] : [],
  };
}

/**
 * One page of `items` as GitLab serves lists: `page` / `per_page` (default 20,
 * at most 100) from the query, X-Page, X-Per-Page, X-Total, X-Total-Pages,
 * X-Next-Page, X-Prev-Page and a Link header. For extensions too.
 */
export function paginated(url: URL, items: unknown[]): FakeGitlabReply {
  const q = formToParams(url.searchParams);
  const page = Math.max(1, int(q, 'page') ?? 1);
  const perPage = Math.min(100, Math.max(1, int(q, 'per_page') ?? 20));
  const total = items.length;
  const totalPages = Math.max(1, Math.ceil(total / perPage));
  const pageUrl = (n: number) => {
    const u = new URL(url.toString());
    u.searchParams.set('page', String(n));
    u.searchParams.set('per_page', String(perPage));
    return u.toString();
  };
  const links = [`<${pageUrl(1)}>; rel="first"`, `<${pageUrl(totalPages)}>; rel="last"`];
  if (page < totalPages) links.unshift(`<${pageUrl(page + 1)}>; rel="next"`);
  if (page > 1 && page <= totalPages + 1) links.unshift(`<${pageUrl(page - 1)}>; rel="prev"`);
  return {
    status: 200,
    body: items.slice((page - 1) * perPage, page * perPage),
    headers: {
      'X-Page': String(page),
      'X-Per-Page': String(perPage),
      'X-Total': String(total),
      'X-Total-Pages': String(totalPages),
      'X-Next-Page': page < totalPages ? String(page + 1) : '',
      'X-Prev-Page': page > 1 ? String(page - 1) : '',
      Link: links.join(', '),
    },
  };
}

// ---------- server ----------

export async function startFakeGitlab(opts: FakeGitlabOptions = {}): Promise<FakeGitlab> {
  const accessToken = opts.accessToken ?? `glpat-${randomToken(15)}`;
  const registrationToken = opts.registrationToken ?? `GR1348941${randomToken(15)}`;
  let legacyEnabled = opts.legacyEnabled ?? false;
  const runners = new Map<number, FakeRunner>();
  const calls: FakeGitlabCall[] = [];
  let nextId = 1;
  let baseUrl = 'http://127.0.0.1';

  const findByToken = (token: string | undefined) => {
    if (!token) return undefined;
    for (const r of runners.values()) if (r.token === token) return r;
    return undefined;
  };

  const newRunner = (
    via: FakeRunner['created_via'],
    fields: Partial<FakeRunner> & Pick<FakeRunner, 'runner_type'>,
  ): FakeRunner => {
    const r: FakeRunner = {
      id: nextId++,
      token: via === 'authentication_token' ? `glrt-${randomToken(18)}` : randomToken(15),
      token_expires_at: null,
      created_via: via,
      description: '',
      tag_list: [],
      run_untagged: true,
      locked: false,
      paused: false,
      access_level: 'not_protected',
      maximum_timeout: null,
      maintenance_note: null,
      created_at: new Date().toISOString(),
      system_ids: [],
      contacted_at: null,
      ...fields,
    };
    runners.set(r.id, r);
    return r;
  };

  const tokens = new Map<string, string[]>([[accessToken, opts.accessTokenScopes ?? ['api']]]);

  /** 401 for a missing or unknown token; 403 insufficient_scope when it has none of api, `extra` (read_api too for a GET). */
  const requireScope = (req: http.IncomingMessage, url: URL, extra: string[]) => {
    const header = req.headers['private-token'];
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const given = (Array.isArray(header) ? header[0] : header) ?? bearer ?? url.searchParams.get('private_token');
    const scopes = given === null || given === undefined ? undefined : tokens.get(given);
    if (!scopes) throw new HttpError(401, '401 Unauthorized');
    const accepted = ['api', ...(req.method === 'GET' || req.method === 'HEAD' ? ['read_api'] : []), ...extra];
    if (!accepted.some((s) => scopes.includes(s))) throw insufficientScope(accepted);
  };
  const requireAuth = (req: http.IncomingMessage, url: URL) => requireScope(req, url, []);
  const RUNNER_SCOPES = ['manage_runner'];

  const runnerById = (idText: string) => {
    const r = runners.get(Number(idText));
    if (!r) throw new HttpError(404, '404 Runner Not Found');
    return r;
  };

  const requireToken = (p: Params) => {
    const token = str(p, 'token');
    if (!token) throw new HttpError(400, '400 Bad request - token is missing');
    return token;
  };

  type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

  const applyUpdatable = (r: FakeRunner, p: Params) => {
    const description = str(p, 'description');
    if (description !== undefined) r.description = description;
    const t = tags(p);
    if (t !== undefined) r.tag_list = t;
    const ru = bool(p, 'run_untagged');
    if (ru !== undefined) r.run_untagged = ru;
    const locked = bool(p, 'locked');
    if (locked !== undefined) r.locked = locked;
    const al = accessLevel(p);
    if (al !== undefined) r.access_level = al;
    const mt = maximumTimeout(p);
    if (mt !== undefined) r.maximum_timeout = mt;
    const note = str(p, 'maintenance_note');
    if (note !== undefined) r.maintenance_note = note;
    const paused = bool(p, 'paused');
    const active = bool(p, 'active'); // deprecated inverse of paused
    if (paused !== undefined) r.paused = paused;
    else if (active !== undefined) r.paused = !active;
  };

  const listRunners = (url: URL): Reply => {
    const q = formToParams(url.searchParams);
    let list = [...runners.values()];
    const type = str(q, 'type');
    if (type !== undefined) {
      if (!(RUNNER_TYPES as readonly string[]).includes(type)) {
        throw new HttpError(400, '400 Bad request - type does not have a valid value');
      }
      list = list.filter((r) => r.runner_type === type);
    }
    const paused = bool(q, 'paused');
    if (paused !== undefined) list = list.filter((r) => r.paused === paused);
    const status = str(q, 'status');
    if (status !== undefined) list = list.filter((r) => shortView(r).status === status);
    const wanted = tags(q);
    if (wanted !== undefined && wanted.length > 0) {
      list = list.filter((r) => wanted.every((t) => r.tag_list.includes(t)));
    }
    return paginated(url, list.map(shortView));
  };

  const route = async (req: http.IncomingMessage, url: URL, body: Params | null): Promise<Reply> => {
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    // Parameters: query string, overridden by the body (as Grape merges them).
    const p: Params = { ...formToParams(url.searchParams), ...(body ?? {}) };
    for (const ext of opts.extensions ?? []) {
      const reply = await ext({ method, path, url, params: p, requireAuth: () => requireAuth(req, url), requireScope: (anyOf) => requireScope(req, url, anyOf), runners });
      if (reply) return reply;
    }

    if (path === '/api/v4/user/runners' && method === 'POST') {
      requireScope(req, url, ['create_runner']);
      const rt = str(p, 'runner_type');
      if (rt === undefined) throw new HttpError(400, '400 Bad request - runner_type is missing');
      if (!(RUNNER_TYPES as readonly string[]).includes(rt)) {
        throw new HttpError(400, '400 Bad request - runner_type does not have a valid value');
      }
      const groupId = int(p, 'group_id');
      const projectId = int(p, 'project_id');
      if (rt === 'group_type' && groupId === undefined) {
        throw new HttpError(400, '400 Bad request - group_id is missing');
      }
      if (rt === 'project_type' && projectId === undefined) {
        throw new HttpError(400, '400 Bad request - project_id is missing');
      }
      const r = newRunner('authentication_token', {
        runner_type: rt as RunnerType,
        ...(rt === 'group_type' ? { group_id: groupId } : {}),
        ...(rt === 'project_type' ? { project_id: projectId } : {}),
      });
      try {
        applyUpdatable(r, p);
      } catch (e) {
        runners.delete(r.id);
        throw e;
      }
      return { status: 201, body: { id: r.id, token: r.token, token_expires_at: r.token_expires_at } };
    }

    if (path === '/api/v4/runners/verify' && method === 'POST') {
      const token = requireToken(p);
      const r = findByToken(token);
      if (!r) throw new HttpError(403, '403 Forbidden');
      const systemId = str(p, 'system_id');
      if (systemId && !r.system_ids.includes(systemId)) r.system_ids.push(systemId);
      r.contacted_at = new Date().toISOString();
      return { status: 200, body: { id: r.id, token: r.token, token_expires_at: r.token_expires_at } };
    }

    if (path === '/api/v4/runners/reset_authentication_token' && method === 'POST') {
      const r = findByToken(requireToken(p));
      if (!r) throw new HttpError(403, '403 Forbidden');
      const token = rotate(r.id);
      return { status: 201, body: { token, token_expires_at: r.token_expires_at } };
    }

    if (path === '/api/v4/runners' && method === 'DELETE') {
      const r = findByToken(requireToken(p));
      if (!r) throw new HttpError(403, '403 Forbidden');
      runners.delete(r.id);
      return { status: 204 };
    }

    if (path === '/api/v4/runners' && method === 'POST') {
      const token = requireToken(p);
      if (token !== registrationToken) throw new HttpError(403, '403 Forbidden');
      if (!legacyEnabled) throw new HttpError(410, '410 Gone - runner registration disallowed');
      const r = newRunner('registration_token', { runner_type: 'instance_type' });
      try {
        applyUpdatable(r, p);
      } catch (e) {
        runners.delete(r.id);
        throw e;
      }
      return { status: 201, body: { id: r.id, token: r.token, token_expires_at: r.token_expires_at } };
    }

    if ((path === '/api/v4/runners/all' || path === '/api/v4/runners') && method === 'GET') {
      requireScope(req, url, RUNNER_SCOPES);
      return listRunners(url);
    }

    const m = /^\/api\/v4\/runners\/([^/]+)$/.exec(path);
    if (m && ['GET', 'PUT', 'DELETE'].includes(method)) {
      requireScope(req, url, RUNNER_SCOPES);
      if (!/^\d+$/.test(m[1])) throw new HttpError(400, '400 Bad request - id is invalid');
      const r = runnerById(m[1]);
      if (method === 'GET') return { status: 200, body: detailView(r) };
      if (method === 'DELETE') {
        runners.delete(r.id);
        return { status: 204 };
      }
      const copy = structuredClone(r);
      applyUpdatable(copy, p); // validate everything before changing anything
      Object.assign(r, copy);
      return { status: 200, body: detailView(r) };
    }

    throw new HttpError(404, '404 Not Found');
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', baseUrl);
      let body: Params | null = null;
      let reply: Reply;
      try {
        body = await readBody(req);
        reply = await route(req, url, body);
      } catch (e) {
        if (e instanceof HttpError) reply = { status: e.status, body: e.reply?.body ?? { message: e.message }, headers: e.reply?.headers };
        else reply = { status: 500, body: { message: '500 Internal Server Error' } };
      }
      const call: FakeGitlabCall = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: redact(formToParams(url.searchParams)) as FakeGitlabCall['query'],
        body: redact(body ?? null),
        status: reply.status,
      };
      calls.push(call);
      if (opts.verbose) process.stderr.write(`fake-gitlab: ${call.method} ${call.path} -> ${call.status}\n`);
      const headers: Record<string, string> = { ...(reply.headers ?? {}) };
      if (reply.status === 204 || reply.body === undefined) {
        res.writeHead(reply.status, headers);
        res.end();
        return;
      }
      const text = JSON.stringify(reply.body);
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(text));
      res.writeHead(reply.status, headers);
      res.end(text);
    })();
  });

  function rotate(id: number): string {
    const r = runners.get(id);
    if (!r) throw new Error(`fake gitlab: no runner ${id}`);
    r.token = r.created_via === 'authentication_token' ? `glrt-${randomToken(18)}` : randomToken(15);
    return r.token;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    accessToken,
    registrationToken,
    runners,
    calls,
    addAccessToken(scopes: string[], token = `glpat-${randomToken(15)}`) {
      tokens.set(token, [...scopes]);
      return token;
    },
    rotate,
    setLegacyEnabled(enabled: boolean) {
      legacyEnabled = enabled;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

// ---------- CLI ----------

async function main(argv: string[]) {
  const o: FakeGitlabOptions = {
    accessToken: process.env.FAKE_GITLAB_ACCESS_TOKEN || undefined,
    registrationToken: process.env.FAKE_GITLAB_REGISTRATION_TOKEN || undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--port') o.port = Number(value());
    else if (a === '--access-token') o.accessToken = value();
    else if (a === '--registration-token') o.registrationToken = value();
    else if (a === '--legacy') o.legacyEnabled = true;
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else {
      process.stderr.write(
        'usage: tsx test/fakes/gitlab.ts [--port N] [--access-token T] [--registration-token T] [--legacy] [--verbose]\n',
      );
      process.exit(a === '--help' || a === '-h' ? 0 : 1);
    }
  }
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port >= 0 && o.port < 65536)) {
    throw new Error('--port must be an integer between 0 and 65535');
  }
  const fake = await startFakeGitlab(o);
  process.stdout.write(`${fake.url}\n`);
  const stop = () => {
    void fake.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`fake-gitlab: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
