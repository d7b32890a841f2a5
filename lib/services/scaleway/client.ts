// The Scaleway SDK client rigger uses: the real SDK (Instance and Block
// Storage APIs) on a fetch of ours that counts every request toward the
// target's apiRequests, bounds each attempt with a timeout, retries reads on
// 429/5xx/network errors, and refuses any write in check mode before it is
// sent. Errors name the request, never a header or a body.
import { createAdvancedClient, withHTTPClient, withProfile, withUserAgentSuffix } from '@scaleway/sdk-client';
import { Instancev1 } from '@scaleway/sdk-instance';
import { Blockv1 } from '@scaleway/sdk-block';
import { redact } from '../../secrets.js';
import type { ScalewayCredentials } from './credentials.js';

export interface ScalewayApis {
  instance: Instancev1.API;
  block: Blockv1.API;
}

export interface ClientOptions {
  check: boolean;
  /** one call per request sent (retries included) */
  count: (n: number) => void;
  log?: (line: string) => void;
  timeoutMs: number;
  /** retries after the first attempt of a read (default 2) */
  retries?: number;
  /** first backoff delay, doubled each retry (default 250 ms) */
  backoffMs?: number;
}

/** A request the API could not answer: timeout, network error, or refused by check mode. */
export class ScalewayRequestError extends Error {
  constructor(message: string) {
    super(redact(message));
    this.name = 'ScalewayRequestError';
  }
}

const READS = new Set(['GET', 'HEAD']);
// DELETE is idempotent: repeating it after a lost answer gives 404, which the deletion code accepts.
const RETRY_ON_ERROR = new Set(['GET', 'HEAD', 'DELETE']);

export function countedFetch(opts: ClientOptions): typeof fetch {
  const retries = opts.retries ?? 2;
  const backoff = opts.backoffMs ?? 250;
  const f = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const method = request.method.toUpperCase();
    const url = new URL(request.url);
    const shown = `${method} ${url.pathname}`;
    if (opts.check && !READS.has(method)) throw new ScalewayRequestError(`Scaleway API ${shown}: refused, a check run makes no write request`);
    for (let attempt = 0; ; attempt++) {
      const t0 = Date.now();
      opts.count(1);
      let res: Response;
      try {
        res = await fetch(request.clone(), { signal: AbortSignal.timeout(opts.timeoutMs), redirect: 'error' });
      } catch (e) {
        const err = e as Error & { cause?: { code?: string } };
        const why = err.name === 'TimeoutError' ? `no answer within ${opts.timeoutMs} ms` : `request failed (${err.cause?.code ?? err.message})`;
        opts.log?.(`Scaleway API ${shown} -> ${why}`);
        if (attempt < retries && RETRY_ON_ERROR.has(method)) {
          await sleep(backoff * 2 ** attempt);
          continue;
        }
        throw new ScalewayRequestError(`Scaleway API ${shown}: ${why}${attempt ? ` (${attempt + 1} attempts)` : ''}`);
      }
      opts.log?.(`Scaleway API ${shown}${url.search ? redact(url.search) : ''} -> ${res.status} (${Date.now() - t0} ms)`);
      const retryable = res.status === 429 || (res.status >= 500 && RETRY_ON_ERROR.has(method));
      if (retryable && attempt < retries) {
        await res.body?.cancel().catch(() => {});
        await sleep(backoff * 2 ** attempt);
        continue;
      }
      return res;
    }
  };
  return f as typeof fetch;
}

/** The Instance and Block APIs on one SDK client. */
export function scalewayApis(credentials: ScalewayCredentials, opts: ClientOptions): ScalewayApis {
  const client = createAdvancedClient(
    withProfile({ accessKey: credentials.accessKey.reveal(), secretKey: credentials.secretKey.reveal(), apiURL: credentials.apiUrl }),
    withHTTPClient(countedFetch(opts)),
    withUserAgentSuffix('rigger/0.1'),
  );
  return { instance: new Instancev1.API(client), block: new Blockv1.API(client) };
}

/** What went wrong in an SDK call, as one line: the SDK's message (status, API message), never a header. */
export function describeError(e: unknown): string {
  if (e instanceof ScalewayRequestError) return e.message;
  const err = e as { name?: string; status?: number; message?: string };
  const msg = err?.message ?? String(e);
  return redact(err?.status && !msg.includes(String(err.status)) ? `${err.status}: ${msg}` : msg);
}

/** A 404 from the API: the object does not exist (any more). */
export function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; status?: number };
  return err?.name === 'ResourceNotFoundError' || err?.status === 404;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
