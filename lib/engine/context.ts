// The RunContext the engine hands every resource: HTTP clients counted per
// target (read-only in check mode), the log, facts and vars.
import { HttpClient, type HttpClientOptions } from '../http/client.js';
import type { Facts, RunContext, Vars } from './types.js';

export interface ContextInput {
  host: string;
  vars?: Vars;
  facts: Facts;
  check: boolean;
  wantDiff: boolean;
  log?: (message: string) => void;
  /** for tests: the fetch every client of this context uses */
  fetch?: typeof fetch;
}

/** A RunContext plus the counter of API requests its clients made. */
export function makeRunContext(input: ContextInput): RunContext & { readonly apiRequests: number } {
  let apiRequests = 0;
  const log = input.log ?? (() => {});
  return {
    host: input.host,
    vars: input.vars ?? {},
    facts: input.facts,
    check: input.check,
    wantDiff: input.wantDiff,
    log,
    http(baseUrl: string, opts: HttpClientOptions = {}) {
      return new HttpClient(baseUrl, { fetch: input.fetch, ...opts }, { onRequest: () => apiRequests++, log, readOnly: input.check });
    },
    countApiRequests(n = 1) {
      apiRequests += n;
    },
    get apiRequests() {
      return apiRequests;
    },
  };
}
