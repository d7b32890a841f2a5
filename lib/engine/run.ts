// Runs the roles of a playbook on one host: connect, facts, expand roles,
// probe in batches, plan, apply (unless check), handlers. Never throws for
// host problems: they become a failed or unreachable HostResult.
import { InterruptedError, asHostError, errorKind, isHostKeyError, isInterrupted, isTimeout, isUnreachable, type HostError, type Phase } from '../errors.js';
import { makeRunContext } from './context.js';
import { expandRoles, type Item, type RoleRun } from './expand.js';
import { gatherFacts } from './facts.js';
import { managedDirs, sweepScript } from './leftovers.js';
import { probeWithPrelude } from './probe.js';
import { isApiResource, type Change, type Facts, type HostContext, type Remote, type Resource , type RoleInput } from './types.js';
import { linkGate } from './links.js';
import type { HostResult, TaskResult } from './report-types.js';
import { comparePlans, planOf, type HostPlan } from './confirm.js';

/** A resource (or handler) starting on a host: its state is read (probe), then the host is changed (apply). */
export interface TaskStart {
  role: string;
  resource: string;
  phase: 'probe' | 'apply';
}

export type { RoleRun } from './expand.js';

export interface Session extends Remote {
  roundTrips: number;
  close(): void;
  /** stop the running command: it gets `graceMs` to finish, then it is killed on the host (see SshSession) */
  stop?(failure: Error, graceMs?: number): Promise<void>;
}

/** A remote command may run this long unless the resource, --timeout or the inventory say otherwise. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 3600_000;

export interface HostRunOptions {
  /** handed to every role's tasks() (RoleInput.inventory) */
  inventory?: RoleInput['inventory'];
  check: boolean;
  wantDiff: boolean;
  tags: string[];
  skipTags: string[];
  onTask?: (host: string, task: TaskResult) => void;
  onLog?: (host: string, message: string) => void;
  /** a resource or handler starts reading its state (probe) or changing the host (apply) */
  onTaskStart?: (host: string, task: TaskStart) => void;
  /** what the running resource is doing (HostContext.progress) */
  onProgress?: (host: string, note: string) => void;
  /** for tests: the fetch the HTTP clients of API resources use */
  fetch?: typeof fetch;
  /** API reads of one batch in flight at once (default 8) */
  apiConcurrency?: number;
  /** how long one remote command may run, unless its resource sets `timeout` (default 1 hour) */
  commandTimeoutMs?: number;
  /** aborted on SIGINT/SIGTERM: no new resource starts; the running command gets `interruptGraceMs`, then it is killed */
  signal?: AbortSignal;
  /** default 10 s */
  interruptGraceMs?: number;
  /** aborted on a second signal: the running command is killed at once */
  hurry?: AbortSignal;
  /**
   * --confirm: the plan shown and approved for this host (its check run's
   * tasks). Before anything is changed the host is planned again as that
   * check run planned it; a different plan changes nothing and is returned
   * as `drift`.
   */
  expectedPlan?: HostPlan;
}

export async function runHost(host: string, connect: () => Promise<Session>, roles: RoleRun[], opts: HostRunOptions): Promise<HostResult> {
  const started = Date.now();
  const result: HostResult = { status: 'ok', counts: { ok: 0, changed: 0, failed: 0, skipped: 0 }, remoteCommands: 0, apiRequests: 0, tasks: [], durationMs: 0, phases: { connectMs: 0, factsMs: 0, convergeMs: 0, probeMs: 0 } };
  const record = (t: TaskResult) => {
    result.tasks.push(t);
    result.counts[t.status]++;
    opts.onTask?.(host, t);
  };
  const done = (status?: HostResult['status'], error?: HostError, failure: HostError | undefined = error) => {
    if (error) result.error = error.message;
    if (failure) result.failure = { kind: errorKind(failure) ?? 'host', ...(failure.phase ? { phase: failure.phase } : {}), ...(failure.resource ? { resource: failure.resource } : {}) };
    if (status) result.status = status;
    else if (result.counts.failed > 0) result.status = 'failed';
    else if (result.counts.changed > 0) result.status = 'changed';
    result.durationMs = Date.now() - started;
    return result;
  };
  if (opts.signal?.aborted) return done('failed', new InterruptedError(`${interruptName(opts.signal)} before this host was started; nothing was done`, { host, phase: 'connect' }));

  let session: Session;
  try {
    session = await connect();
    result.phases.connectMs = Date.now() - started;
  } catch (e) {
    const err = asHostError(e, { host, phase: 'connect' });
    return done(isHostKeyError(err) || !isUnreachable(err) ? 'failed' : 'unreachable', err);
  }

  const stopping = (graceMs: number) => () =>
    void session.stop?.(new InterruptedError(`interrupted by ${interruptName(opts.signal!)}: the running command was stopped on the host`, { host }), graceMs);
  const onAbort = stopping(opts.interruptGraceMs ?? 10_000);
  const onHurry = stopping(0);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  opts.hurry?.addEventListener('abort', onHurry, { once: true });
  let apiCount = () => 0;
  let failure: HostError | undefined;
  /** a failure that is the host's rather than one task's: shown in the recap */
  let hostLevel: HostError | undefined;
  let items: Item[] = [];
  try {
    if (opts.signal?.aborted) throw new InterruptedError(`${interruptName(opts.signal)} before this host was started; nothing was done`, { phase: 'connect' });
    const factsStarted = Date.now();
    const facts = await phase('facts', () => gatherFacts(session));
    result.phases.factsMs = Date.now() - factsStarted;
    const run = makeRunContext({ host, facts, check: opts.check, wantDiff: opts.wantDiff, log: (m) => opts.onLog?.(host, m), fetch: opts.fetch });
    apiCount = () => run.apiRequests;
    // ids of the resources that changed (check mode: would change) so far, for links
    const changed = new Set<string>();
    const ctx: HostContext = { host, vars: {}, facts, check: opts.check, wantDiff: opts.wantDiff, log: run.log, http: run.http, countApiRequests: run.countApiRequests, remote: session, changed: (id) => changed.has(id), progress: (note) => opts.onProgress?.(host, note) };
    items = await phase('plan', () => expandRoles(roles, { host, facts, inventory: opts.inventory }, { only: opts.tags, skip: opts.skipTags }));
    const again = opts.expectedPlan && !opts.check ? await planAgain(host, roles, facts, session, opts) : undefined;
    if (again) apiCount = () => run.apiRequests + again.apiRequests();
    const differences = again && !again.outcome.failure ? comparePlans(opts.expectedPlan!, planOf(again.tasks)) : [];
    let outcome: Outcome;
    if (again?.outcome.failure) {
      // the plan could not be made again: its failure is shown, nothing was changed
      for (const t of again.tasks.filter((t) => t.status === 'failed')) record(t);
      outcome = again.outcome;
    } else if (again && differences.length) {
      result.drift = { plan: planOf(again.tasks), differences };
      outcome = again.outcome;
    } else {
      outcome = await converge(items, ctx, opts, (t) => {
        if (t.status === 'changed') changed.add(t.resource);
        record(t);
      });
    }
    result.phases.probeMs = outcome.probeMs;
    result.phases.convergeMs = Date.now() - factsStarted - result.phases.factsMs;
    failure = outcome.failure;
    if (failure && (isUnreachable(failure) || isInterrupted(failure) || !outcome.recorded)) hostLevel = failure;
  } catch (e) {
    failure = hostLevel = asHostError(e, { host, phase: 'plan' });
    result.counts.failed++;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    opts.hurry?.removeEventListener('abort', onHurry);
  }
  // A stopped command may have left a temp file: remove it now rather than at the next run.
  if (failure && (isInterrupted(failure) || isTimeout(failure)) && !opts.check) await sweepLeftovers(items, session, opts, host).catch(() => undefined);
  result.remoteCommands = session.roundTrips;
  result.apiRequests = apiCount();
  session.close();
  if (failure) failure.host ??= host;
  if (failure && isUnreachable(failure)) return done('unreachable', failure);
  return done(failure ? 'failed' : undefined, hostLevel, failure);
}

/**
 * --confirm: the host planned again exactly as its check run planned it
 * (resources expanded afresh, so nothing read now leaks into the apply;
 * check semantics; one probe batch), before anything is changed.
 */
async function planAgain(host: string, roles: RoleRun[], facts: Facts, session: Session, opts: HostRunOptions): Promise<{ tasks: TaskResult[]; outcome: Outcome; apiRequests: () => number }> {
  const run = makeRunContext({ host, facts, check: true, wantDiff: true, log: (m) => opts.onLog?.(host, m), fetch: opts.fetch });
  const changed = new Set<string>();
  const ctx: HostContext = { host, vars: {}, facts, check: true, wantDiff: true, log: run.log, http: run.http, countApiRequests: run.countApiRequests, remote: session, changed: (id) => changed.has(id) };
  const items = await phase('plan', () => expandRoles(roles, { host, facts, inventory: opts.inventory }, { only: opts.tags, skip: opts.skipTags }));
  const tasks: TaskResult[] = [];
  const outcome = await converge(items, ctx, { ...opts, check: true, wantDiff: true }, (t) => {
    if (t.status === 'changed') changed.add(t.resource);
    tasks.push(t);
  });
  return { tasks, outcome, apiRequests: () => run.apiRequests };
}

/** Run one phase; whatever it throws names the phase. */
async function phase<T>(name: Phase, fn: () => Promise<T>, resource?: string): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw asHostError(e, { phase: name, resource });
  }
}

function interruptName(signal: AbortSignal): string {
  const reason = signal.reason;
  return typeof reason === 'string' ? reason : 'a signal';
}

/** The timeout of one remote command of `r` (its own, else the run's). */
function timeoutOf(r: Resource | undefined, opts: HostRunOptions): number {
  return r?.timeout !== undefined ? r.timeout * 1000 : (opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
}

/** The host context a resource sees: its remote commands get its timeout. */
function scoped(ctx: HostContext, timeoutMs: number): HostContext {
  const remote = ctx.remote;
  return {
    ...ctx,
    remote: {
      run: (script, o = {}) => remote.run(script, { timeoutMs, ...o }),
      upload: (path, content, o = {}) => remote.upload(path, content, { timeoutMs, ...o }),
      verifyNewConnection: () => remote.verifyNewConnection(),
    },
  };
}

interface Outcome {
  /** time spent waiting for batched probes */
  probeMs: number;
  failure?: HostError;
  /** the failure is in the tasks (a resource or handler failed), not only the host's */
  recorded: boolean;
}

/**
 * Probe results stay valid until something changes the host. After a change
 * the remaining resources must be probed again, but not all of them at once:
 * the next batch is half the size of the batch the change came in (at least
 * one), a batch used up without a change doubles the next. A first run where
 * every resource changes thus costs O(N) probes, not N²/2; a run that
 * changes nothing stays at one batch; one change near the start costs about
 * one extra batch, as before.
 */
async function converge(items: Item[], ctx: HostContext, opts: HostRunOptions, record: (t: TaskResult) => void): Promise<Outcome> {
  let probeMs = 0;
  let probes = new Map<number, unknown>();
  let lastBatch = Infinity;
  let invalidated = false;
  let first = true;
  const invalidate = () => {
    probes = new Map();
    invalidated = true;
  };
  const notified = new Set<string>();
  let failure: HostError | undefined;
  let recorded = true;
  for (let i = 0; i < items.length && !failure; i++) {
    if (opts.signal?.aborted) {
      failure = interrupted(items, i, notified, opts.signal);
      recorded = false;
      break;
    }
    const { role, resource, selected } = items[i];
    if (!selected) {
      record({ role, resource: resource.id, status: 'skipped', durationMs: 0 });
    } else {
      const t0 = Date.now();
      opts.onTaskStart?.(ctx.host, { role, resource: resource.id, phase: 'probe' });
      const rctx = scoped(ctx, timeoutOf(resource, opts));
      let step: Phase = 'probe';
      try {
        if (!probes.has(i)) {
          const window = first ? Infinity : invalidated ? Math.max(1, Math.ceil(lastBatch / 2)) : lastBatch * 2;
          const p0 = Date.now();
          const batch = await probeBatch(items, i, window, ctx, opts, first && !ctx.check);
          probeMs += Date.now() - p0;
          probes = batch.results;
          lastBatch = batch.size;
          invalidated = false;
          first = false;
        }
        const current = probes.get(i);
        if (current instanceof FailedRead) throw current.error;
        step = 'plan';
        const gate = linkGate(resource.links, ctx.changed, ctx.check);
        const change: Change | null = gate ? null : await resource.plan(current as never, rctx);
        if (gate) {
          record({ role, resource: resource.id, status: 'skipped', summary: gate, durationMs: 0 });
        } else if (!change) {
          record({ role, resource: resource.id, status: 'ok', durationMs: Date.now() - t0 });
        } else {
          if (!ctx.check) {
            step = 'apply';
            opts.onTaskStart?.(ctx.host, { role, resource: resource.id, phase: 'apply' });
            await resource.apply(change, rctx);
            invalidate();
          }
          resource.notify.forEach((n) => notified.add(n));
          record({ role, resource: resource.id, status: 'changed', summary: change.summary, diff: change.diff, durationMs: Date.now() - t0 });
        }
      } catch (e) {
        failure = asHostError(e, { phase: step, resource: resource.id });
        record({ role, resource: resource.id, status: 'failed', error: failure.message, durationMs: Date.now() - t0 });
      }
    }
    // Handlers run after their role, and also after a failure in it: a changed
    // but never reloaded config is the worst state to leave a host in. Not
    // when the host is gone or the run is being stopped.
    if ((items[i].roleEnd || failure) && !(failure && (isUnreachable(failure) || isInterrupted(failure)))) {
      const handled = await runHandlers(items[i], notified, scoped(ctx, timeoutOf(undefined, opts)), record, (t) => opts.onTaskStart?.(ctx.host, t));
      if (handled.ran) invalidate();
      if (handled.failure) failure ??= handled.failure;
      notified.clear();
    }
  }
  return { probeMs, failure, recorded };
}

function interrupted(items: Item[], from: number, notified: Set<string>, signal: AbortSignal): HostError {
  const left = items.slice(from).filter((it) => it.selected).length;
  const handlers = notified.size ? `; notified handlers not run: ${[...notified].join(', ')}` : '';
  return new InterruptedError(`interrupted by ${interruptName(signal)}: ${left} resource(s) not run${handlers}`, { phase: 'apply', resource: items[from]?.resource.id });
}

/**
 * Current state of up to `window` selected resources from `from` on: the
 * shell probes in one round trip, the API reads concurrently (bounded)
 * beside it. A failed read fails its own resource, when its turn comes, not
 * the batch. The first batch of an apply run also removes leftover temp files.
 */
async function probeBatch(items: Item[], from: number, window: number, ctx: HostContext, opts: HostRunOptions, sweep: boolean): Promise<{ results: Map<number, unknown>; size: number }> {
  const shell: number[] = [];
  const api: number[] = [];
  for (let j = from; j < items.length && shell.length + api.length < window; j++) if (items[j].selected) (isApiResource(items[j].resource) ? api : shell).push(j);
  const out = new Map<number, unknown>();
  const reads = mapLimit(api, opts.apiConcurrency ?? 8, async (j) => {
    const r = items[j].resource;
    if (!isApiResource(r)) return;
    try {
      out.set(j, await r.read(ctx));
    } catch (e) {
      out.set(j, new FailedRead(e));
    }
  });
  const prelude = sweep ? sweepScript(managedDirs(items.map((it) => it.resource))) : '';
  const timeoutMs = Math.max(...shell.map((j) => timeoutOf(items[j].resource, opts)), timeoutOf(undefined, opts));
  const probed = await probeWithPrelude(ctx.remote, shell.map((j) => items[j].resource.probe as string), { prelude, timeoutMs });
  logRemoved(probed.prelude, ctx.log);
  shell.forEach((j, k) => out.set(j, probed.results[k]));
  await reads;
  return { results: out, size: shell.length + api.length };
}

async function sweepLeftovers(items: Item[], session: Session, opts: HostRunOptions, host: string): Promise<void> {
  const script = sweepScript(managedDirs(items.map((it) => it.resource)));
  if (!script) return;
  const r = await session.run(script, { check: false, timeoutMs: 30_000 });
  logRemoved(r.stdout, (m) => opts.onLog?.(host, m));
}

function logRemoved(stdout: string, log: (m: string) => void): void {
  for (const path of stdout.split('\n').filter(Boolean)) log(`removed ${path}, a temp file left by an interrupted run`);
}

/** A read that failed: thrown again when its resource is planned. */
class FailedRead {
  constructor(readonly error: unknown) {}
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

/** Run the handlers of this item's role that were notified. */
async function runHandlers(item: Item, notified: Set<string>, ctx: HostContext, record: (t: TaskResult) => void, start: (t: TaskStart) => void): Promise<{ ran: boolean; failure?: HostError }> {
  let ran = false;
  for (const [name, handler] of item.handlers) {
    if (!notified.has(name)) continue;
    const t0 = Date.now();
    if (ctx.check) {
      record({ role: item.role, resource: `handler:${name}`, status: 'changed', summary: 'would run', durationMs: 0 });
      continue;
    }
    try {
      start({ role: item.role, resource: `handler:${name}`, phase: 'apply' });
      await handler.run(ctx);
      ran = true;
      record({ role: item.role, resource: `handler:${name}`, status: 'changed', summary: 'ran', durationMs: Date.now() - t0 });
    } catch (e) {
      const failure = asHostError(e, { phase: 'handler', resource: `handler:${name}` });
      record({ role: item.role, resource: `handler:${name}`, status: 'failed', error: failure.message, durationMs: Date.now() - t0 });
      return { ran: true, failure };
    }
  }
  return { ran, failure: undefined };
}
