// A client for GitLab's REST API (v4) on the engine's HTTP layer: requests are
// counted per target, read-only in check mode, retried, and their errors name
// the method, path, status and GitLab's message, plus what to do about it.
//
// Two identities: the access token (PRIVATE-TOKEN) for the endpoints that need
// one, and none for the runner-token endpoints (verify, delete by token), so
// the access token is only sent where GitLab asks for it. Each call names the
// scopes GitLab accepts for it (besides `api`), so a refusal says which scope
// the token lacks.
import type { RunContext } from '../../engine/types.js';
import { HttpError, type HttpClient, type HttpResponse, type RequestOptions } from '../../http/client.js';
import { reveal, type Secret } from '../../secrets.js';

export interface GitlabOptions {
  /** personal, group or project access token */
  accessToken?: Secret;
  /** what to call the access token in messages (default gitlab_access_token) */
  tokenName?: string;
}

export interface GitlabRequest extends RequestOptions {
  /** scopes GitLab accepts for this endpoint besides `api` (e.g. ["manage_runner"]) */
  scopes: string[];
}

const INSUFFICIENT = /insufficient_scope|higher privileges/i;

export class Gitlab {
  readonly url: string;
  readonly hasToken: boolean;
  private readonly authed?: HttpClient;
  private readonly anonymous: HttpClient;
  private readonly tokenName: string;

  constructor(ctx: Pick<RunContext, 'http'>, url: string, opts: GitlabOptions = {}) {
    this.url = url.replace(/\/+$/, '');
    const base = `${this.url}/api/v4`;
    this.tokenName = opts.tokenName ?? 'gitlab_access_token';
    this.hasToken = opts.accessToken !== undefined;
    this.anonymous = ctx.http(base, { name: 'GitLab API' });
    if (opts.accessToken) this.authed = ctx.http(base, { name: 'GitLab API', headers: { 'PRIVATE-TOKEN': reveal(opts.accessToken) } });
  }

  /** A request with the access token. */
  async call<T = unknown>(method: string, path: string, o: GitlabRequest): Promise<HttpResponse<T>> {
    const { scopes, ...rest } = o;
    if (!this.authed) throw new HttpError(`GitLab API ${method} ${this.url}/api/v4${path}: needs ${this.tokenName} (an access token with ${scopeText(scopes)})`, method, path, null);
    try {
      return await this.authed.request<T>(method, path, rest);
    } catch (e) {
      throw this.explain(e, scopes);
    }
  }

  /** Every item of a paginated list, with the access token. */
  async list<T = unknown>(path: string, query: RequestOptions['query'], scopes: string[]): Promise<T[]> {
    if (!this.authed) throw new HttpError(`GitLab API GET ${this.url}/api/v4${path}: needs ${this.tokenName} (an access token with ${scopeText(scopes)})`, 'GET', path, null);
    try {
      return await this.authed.paginate<T>(path, query);
    } catch (e) {
      throw this.explain(e, scopes);
    }
  }

  /** A request that authenticates itself (a runner token in the body): no access token sent. */
  async callAnonymous<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<HttpResponse<T>> {
    return this.anonymous.request<T>(method, path, o);
  }

  /** The same error, with what the user can do about a 401 or a missing scope. */
  private explain(e: unknown, scopes: string[]): unknown {
    if (!(e instanceof HttpError)) return e;
    let hint = '';
    if (e.status === 401) hint = ` (GitLab does not accept ${this.tokenName}: expired, revoked or mistyped?)`;
    else if (e.status === 403 && INSUFFICIENT.test(e.apiMessage ?? e.message)) hint = ` (${this.tokenName} lacks a scope: this call needs ${scopeText(scopes)})`;
    return hint ? new HttpError(e.message + hint, e.method, e.path, e.status, e.apiMessage) : e;
  }
}

/** "api or manage_runner" */
export function scopeText(scopes: string[]): string {
  const all = ['api', ...scopes.filter((s) => s !== 'api')];
  return all.length === 1 ? `the ${all[0]} scope` : `the ${all.slice(0, -1).join(', ')} or ${all[all.length - 1]} scope`;
}
