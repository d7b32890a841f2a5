// Runs the roles of a playbook on one host: connect, facts, expand roles,
// probe in batches, plan, apply (unless check), handlers. Never throws for
// host problems: they become a failed or unreachable HostResult.
import { isApiResource, resourcesOf, type Change, type Handler, type HostContext, type Remote, type Resource, type Role, type RoleInput, type Vars } from './types.js';
import { makeRunContext } from './context.js';
import { gatherFacts } from './facts.js';
import { probeAll } from './probe.js';
import { selectedByTags } from './tags.js';
import type { HostResult, TaskResult } from './report-types.js';

export interface Session extends Remote {
  roundTrips: number;
  close(): void;
}

export interface RoleRun {
  role: Role<any>;
  /** vars already validated by the role's schema */
  vars: Vars;
}

export interface HostRunOptions {
  check: boolean;
  wantDiff: boolean;
  tags: string[];
  skipTags: string[];
  onTask?: (host: string, task: TaskResult) => void;
  onLog?: (host: string, message: string) => void;
  /** for tests: the fetch the HTTP clients of API resources use */
  fetch?: typeof fetch;
  /** API reads of one batch in flight at once (default 8) */
  apiConcurrency?: number;
  /** handed to every role's tasks() (RoleInput.inventory) */
  inventory?: RoleInput['inventory'];
}

interface Item {
  role: string;
  resource: Resource;
  selected: boolean;
  /** last resource of its role: the role's notified handlers run after it */
  roleEnd: boolean;
  handlers: Map<string, Handler>;
}

export async function runHost(host: string, connect: () => Promise<Session>, roles: RoleRun[], opts: HostRunOptions): Promise<HostResult> {
  const started = Date.now();
  const result: HostResult = { status: 'ok', counts: { ok: 0, changed: 0, failed: 0, skipped: 0 }, remoteCommands: 0, apiRequests: 0, tasks: [], durationMs: 0, phases: { connectMs: 0, factsMs: 0, convergeMs: 0, probeMs: 0 } };
  const record = (t: TaskResult) => {
    result.tasks.push(t);
    result.counts[t.status]++;
    opts.onTask?.(host, t);
  };
  let session: Session;
  let apiCount = () => 0;
  try {
    session = await connect();
    result.phases.connectMs = Date.now() - started;
  } catch (e: any) {
    result.status = e?.name === 'HostKeyError' || e?.constructor?.name === 'HostKeyError' ? 'failed' : 'unreachable';
    result.error = e?.message ?? String(e);
    result.durationMs = Date.now() - started;
    return result;
  }
  try {
    const factsStarted = Date.now();
    const facts = await gatherFacts(session);
    result.phases.factsMs = Date.now() - factsStarted;
    const run = makeRunContext({ host, facts, check: opts.check, wantDiff: opts.wantDiff, log: (m) => opts.onLog?.(host, m), fetch: opts.fetch });
    apiCount = () => run.apiRequests;
    const ctx: HostContext = { host, vars: {}, facts, check: opts.check, wantDiff: opts.wantDiff, log: run.log, http: run.http, countApiRequests: run.countApiRequests, remote: session, state: new Map() };
    const items = await expandRoles(roles, { host, facts }, opts);
    result.phases.probeMs = await converge(items, ctx, opts, record);
    result.phases.convergeMs = Date.now() - factsStarted - result.phases.factsMs;
  } catch (e: any) {
    result.error = e?.message ?? String(e);
    result.counts.failed++;
  } finally {
    result.remoteCommands = session.roundTrips;
    result.apiRequests = apiCount();
    session.close();
  }
  if (result.counts.failed > 0) result.status = 'failed';
  else if (result.counts.changed > 0) result.status = 'changed';
  result.durationMs = Date.now() - started;
  return result;
}

async function expandRoles(roles: RoleRun[], input: { host: string; facts: HostContext['facts'] }, opts: HostRunOptions): Promise<Item[]> {
  const items: Item[] = [];
  for (const { role, vars } of roles) {
    const out = await role.tasks({ ...input, vars, inventory: opts.inventory });
    const resources = resourcesOf(out);
    const handlers = new Map((out.handlers ?? []).map((h) => [h.name, h]));
    for (const r of resources) {
      for (const n of r.notify) if (!handlers.has(n)) throw new Error(`role ${role.name}: ${r.id} notifies unknown handler "${n}"`);
      const tags = r.tags.includes(role.name) ? r.tags : [role.name, ...r.tags];
      r.tags = tags;
      items.push({ role: role.name, resource: r, selected: selectedByTags(tags, opts.tags, opts.skipTags), roleEnd: false, handlers });
    }
    if (items.length) items[items.length - 1].roleEnd = true;
  }
  return items;
}

/** Returns the time spent waiting for batched probes. */
async function converge(items: Item[], ctx: HostContext, opts: HostRunOptions, record: (t: TaskResult) => void): Promise<number> {
  let probeMs = 0;
  // Probe results stay valid until something changes the host; then the rest is probed again.
  let probes = new Map<number, unknown>();
  const notified = new Set<string>();
  let failed = false;
  for (let i = 0; i < items.length && !failed; i++) {
    const { role, resource, selected } = items[i];
    if (!selected) {
      record({ role, resource: resource.id, status: 'skipped', durationMs: 0 });
    } else {
      const t0 = Date.now();
      try {
        if (!probes.has(i)) {
          const p0 = Date.now();
          probes = await probeRemaining(items, i, ctx, opts.apiConcurrency ?? 8);
          probeMs += Date.now() - p0;
        }
        const current = probes.get(i);
        if (current instanceof FailedRead) throw current.error;
        const change: Change | null = await resource.plan(current as never, ctx);
        if (!change) {
          record({ role, resource: resource.id, status: 'ok', durationMs: Date.now() - t0 });
        } else {
          if (!ctx.check) {
            await resource.apply(change, ctx);
            probes = new Map();
          }
          resource.notify.forEach((n) => notified.add(n));
          record({ role, resource: resource.id, status: 'changed', summary: change.summary, diff: change.diff, durationMs: Date.now() - t0 });
        }
      } catch (e: any) {
        failed = true;
        record({ role, resource: resource.id, status: 'failed', error: e?.message ?? String(e), durationMs: Date.now() - t0 });
      }
    }
    // Handlers run after their role, and also after a failure in it: a changed
    // but never reloaded config is the worst state to leave a host in.
    if (items[i].roleEnd || failed) {
      const handled = await runHandlers(items[i], notified, ctx, record);
      if (handled.ran) probes = new Map();
      if (handled.failed) failed = true;
      notified.clear();
    }
  }
  return probeMs;
}

/**
 * Current state of every remaining selected resource: the shell probes in one
 * round trip, the API reads concurrently (bounded) beside it. A failed read
 * fails its own resource, when its turn comes, not the batch.
 */
async function probeRemaining(items: Item[], from: number, ctx: HostContext, concurrency: number): Promise<Map<number, unknown>> {
  const shell: number[] = [];
  const api: number[] = [];
  for (let j = from; j < items.length; j++) if (items[j].selected) (isApiResource(items[j].resource) ? api : shell).push(j);
  const out = new Map<number, unknown>();
  const reads = mapLimit(api, concurrency, async (j) => {
    const r = items[j].resource;
    if (!isApiResource(r)) return;
    try {
      out.set(j, await r.read(ctx));
    } catch (e) {
      out.set(j, new FailedRead(e));
    }
  });
  const results = await probeAll(ctx.remote, shell.map((j) => items[j].resource.probe as string));
  shell.forEach((j, k) => out.set(j, results[k]));
  await reads;
  return out;
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
async function runHandlers(item: Item, notified: Set<string>, ctx: HostContext, record: (t: TaskResult) => void): Promise<{ ran: boolean; failed: boolean }> {
  let ran = false;
  for (const [name, handler] of item.handlers) {
    if (!notified.has(name)) continue;
    const t0 = Date.now();
    if (ctx.check) {
      record({ role: item.role, resource: `handler:${name}`, status: 'changed', summary: 'would run', durationMs: 0 });
      continue;
    }
    try {
      await handler.run(ctx);
      ran = true;
      record({ role: item.role, resource: `handler:${name}`, status: 'changed', summary: 'ran', durationMs: Date.now() - t0 });
    } catch (e: any) {
      record({ role: item.role, resource: `handler:${name}`, status: 'failed', error: e?.message ?? String(e), durationMs: Date.now() - t0 });
      return { ran: true, failed: true };
    }
  }
  return { ran, failed: false };
}
