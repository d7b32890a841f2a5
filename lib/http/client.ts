// The one HTTP client layer for the APIs rigger talks to (GitLab, and anything
// an SDK does not cover): timeouts, bounded retries with backoff, pagination,
// a user agent, -v request lines with tokens masked, and errors that name the
// method, the path, the status and the API's own message, never a request body.
//
// In check mode the engine hands out read-only clients: a write request
// (anything but GET/HEAD, unless marked `read: true`) throws before it is sent,
// so a check run cannot write to an API even through a resource's bug.
import { redact } from '../secrets.js';

export const USER_AGENT = 'rigger/0.1 (+https://github.com/rigger)';

export interface HttpClientOptions {
  /** shown in errors and -v lines, e.g. "GitLab API" */
  name?: string;
  /** sent with every request; values are masked in every output */
  headers?: Record<string, string>;
  /** per attempt, default 30 s */
  timeoutMs?: number;
  /** retries after the first attempt, default 3 */
  retries?: number;
  /** first backoff delay, doubled each retry (with jitter), default 250 ms */
  backoffMs?: number;
  /** for tests */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | string[] | undefined>;
  body?: unknown;
  /** statuses that are not errors (default: 2xx) */
  accept?: number[];
  headers?: Record<string, string>;
  /** a POST that reads (e.g. GitLab's /runners/verify): allowed in check mode */
  read?: boolean;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Headers;
  json: T;
  text: string;
}

/** Hooks the engine wires per target: request counting, -v lines, check mode. */
export interface HttpHooks {
  onRequest?: () => void;
  log?: (line: string) => void;
  readOnly?: boolean;
}

export class HttpError extends Error {
  constructor(
    message: string,
    readonly method: string,
    readonly path: string,
    /** null: no answer (network error, timeout, refused by check mode) */
    readonly status: number | null,
    readonly apiMessage?: string,
  ) {
    super(redact(message));
    this.name = 'HttpError';
  }
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const MAX_PAGES = 1000;

export class HttpClient {
  readonly base: string;
  readonly name: string;
  constructor(
    baseUrl: string,
    readonly opts: HttpClientOptions = {},
    readonly hooks: HttpHooks = {},
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
    this.name = opts.name ?? 'API';
  }

  /** The same client with other hooks (the engine's per-target counters). */
  withHooks(hooks: HttpHooks): HttpClient {
    return new HttpClient(this.base, this.opts, hooks);
  }

  get<T = unknown>(path: string, o: Omit<RequestOptions, 'body'> = {}): Promise<HttpResponse<T>> {
    return this.request<T>('GET', path, o);
  }

  async request<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<HttpResponse<T>> {
    const url = this.url(path, o.query);
    const shown = `${method} ${maskUrl(url)}`;
    const isRead = method === 'GET' || method === 'HEAD' || o.read === true;
    if (this.hooks.readOnly && !isRead) throw new HttpError(`${this.name} ${shown}: refused, a check run makes no write request`, method, path, null);
    const retries = this.opts.retries ?? 3;
    // A POST that failed on the network or with a 5xx may have been processed:
    // only idempotent requests (and reads) are retried then; 429 means "not processed".
    const retryable = (status: number | null) => (status === 429 ? true : IDEMPOTENT.has(method) || isRead ? status === null || status >= 500 : false);
    for (let attempt = 0; ; attempt++) {
      const t0 = Date.now();
      let res: Response;
      try {
        this.hooks.onRequest?.();
        res = await (this.opts.fetch ?? fetch)(url, {
          method,
          headers: {
            Accept: 'application/json',
            'User-Agent': USER_AGENT,
            ...(o.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
            ...this.opts.headers,
            ...o.headers,
          },
          body: o.body === undefined ? undefined : JSON.stringify(o.body),
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
          redirect: 'error',
        });
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        const why = err.name === 'TimeoutError' ? `timed out after ${this.opts.timeoutMs ?? 30_000} ms` : `request failed (${err.cause?.code ?? err.cause?.message ?? err.message})`;
        this.log(`${shown} -> ${why}`);
        if (attempt < retries && retryable(null)) {
          await this.backoff(attempt);
          continue;
        }
        throw new HttpError(`${this.name} ${shown}: ${why}`, method, path, null);
      }
      const text = await res.text().catch(() => '');
      this.log(`${shown} -> ${res.status} (${Date.now() - t0} ms)`);
      const ok = o.accept ? o.accept.includes(res.status) : res.status >= 200 && res.status < 300;
      if (!ok && attempt < retries && retryable(res.status)) {
        await this.backoff(attempt, res.headers.get('retry-after'));
        continue;
      }
      let json: unknown = undefined;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON */
      }
      if (!ok) {
        const apiMessage = apiMessageOf(json, text);
        throw new HttpError(`${this.name} ${shown} answered ${res.status}${apiMessage ? `: ${apiMessage}` : ''}`, method, path, res.status, apiMessage);
      }
      return { status: res.status, headers: res.headers, json: json as T, text };
    }
  }

  /**
   * Every item of a paginated list: follows GitLab's X-Next-Page, else a
   * `Link: <...>; rel="next"` header. Bounded, so a looping API cannot hang a run.
   */
  async paginate<T = unknown>(path: string, query: RequestOptions['query'] = {}, perPage = 100): Promise<T[]> {
    const items: T[] = [];
    let next: { path: string; query: RequestOptions['query'] } | null = { path, query: { per_page: perPage, ...query } };
    for (let page = 0; next && page < MAX_PAGES; page++) {
      const res: HttpResponse<T[]> = await this.get<T[]>(next.path, { query: next.query });
      if (!Array.isArray(res.json)) throw new HttpError(`${this.name} GET ${maskUrl(this.url(next.path, next.query))}: expected a list`, 'GET', next.path, res.status);
      items.push(...res.json);
      const nextPage = res.headers.get('x-next-page');
      const link = nextLink(res.headers.get('link'));
      if (nextPage) next = { path, query: { per_page: perPage, ...query, page: nextPage } };
      else if (link && link.startsWith(this.base)) next = { path: link.slice(this.base.length), query: {} };
      else next = null;
    }
    return items;
  }

  url(path: string, query?: RequestOptions['query']): string {
    const u = new URL(this.base + (path.startsWith('/') ? path : `/${path}`));
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) u.searchParams.append(k, x);
      else u.searchParams.set(k, String(v));
    }
    return u.toString();
  }

  private log(line: string): void {
    this.hooks.log?.(redact(`${this.name}: ${line}`));
  }

  private async backoff(attempt: number, retryAfter?: string | null): Promise<void> {
    const base = this.opts.backoffMs ?? 250;
    const asked = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : 0;
    const ms = Math.min(Math.max(asked, base * 2 ** attempt * (0.75 + Math.random() / 2)), 10_000);
    await new Promise((r) => setTimeout(r, ms));
  }
}

/** Query parameters that carry credentials are masked in URLs we show. */
export function maskUrl(url: string): string {
  return redact(url.replace(/([?&](?:private_token|access_token|token|secret[^=]*)=)[^&]*/gi, '$1********'));
}

function nextLink(link: string | null): string | null {
  if (!link) return null;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1];
  }
  return null;
}

/** The API's own message ({"message": ...}, {"error": ...}, Scaleway's {"type","message"}), short. */
export function apiMessageOf(json: unknown, text: string): string | undefined {
  let msg: unknown = undefined;
  if (json && typeof json === 'object') {
    const j = json as Record<string, unknown>;
    msg = j.message ?? j.error_description ?? j.error ?? j.type;
  } else if (text && text.length < 200 && !/[<>]/.test(text)) msg = text.trim();
  if (msg === undefined || msg === '') return undefined;
  const s = redact(typeof msg === 'string' ? msg : JSON.stringify(msg));
  return s.length > 300 ? `${s.slice(0, 297)}...` : s;
}
