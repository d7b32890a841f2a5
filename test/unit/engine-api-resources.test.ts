// The resource contract for API objects: async reads run concurrently beside
// the shell probes, plan/apply/check/diff/--json/--render work as for host
// resources, and the HTTP layer retries, paginates, masks and refuses writes
// in check mode. Driven against an in-process HTTP stand-in on 127.0.0.1.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHost, type HostRunOptions, type RoleRun } from '../../lib/engine/run.js';
import { defineRole, type ApiResource, type Change, type RunContext } from '../../lib/engine/types.js';
import { HttpClient, HttpError } from '../../lib/http/client.js';
import { objectDiff } from '../../lib/report/objectText.js';
import { buildJsonReport } from '../../lib/report/json.js';
import { unifiedDiff } from '../../lib/report/diff.js';
import { runPlaybook, type PlaybookDef } from '../../lib/playbook.js';
import { Secret, clearSecretsForTests } from '../../lib/secrets.js';
import { LocalRemote } from './helpers/localRemote.js';

/** A tiny key/value API: GET/PUT /items/:name, GET /items (paginated), scripted failures. */
interface Stand {
  url: string;
  items: Map<string, Record<string, unknown>>;
  methods: string[];
  /** status codes to answer before the real answer, per path */
  failures: Map<string, number[]>;
  inFlight: number;
  maxInFlight: number;
  delayMs: number;
  close(): Promise<void>;
}

async function startStand(): Promise<Stand> {
  const stand = { items: new Map(), methods: [], failures: new Map(), inFlight: 0, maxInFlight: 0, delayMs: 0 } as unknown as Stand;
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      stand.methods.push(`${req.method} ${url.pathname}`);
      stand.inFlight++;
      stand.maxInFlight = Math.max(stand.maxInFlight, stand.inFlight);
      let body = '';
      for await (const chunk of req) body += chunk;
      if (stand.delayMs) await new Promise((r) => setTimeout(r, stand.delayMs));
      stand.inFlight--;
      const send = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { ...(json === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers });
        res.end(json === undefined ? undefined : JSON.stringify(json));
      };
      const fail = stand.failures.get(url.pathname);
      if (fail?.length) return send(fail.shift()!, { message: 'try again' });
      if (url.pathname === '/items' && req.method === 'GET') {
        const all = [...stand.items.keys()].sort();
        const page = Number(url.searchParams.get('page') ?? 1);
        const per = Number(url.searchParams.get('per_page') ?? 20);
        const slice = all.slice((page - 1) * per, page * per).map((name) => ({ name }));
        const next = page * per < all.length ? String(page + 1) : '';
        return send(200, slice, { 'X-Next-Page': next });
      }
      const m = /^\/items\/([^/]+)$/.exec(url.pathname);
      if (m && req.method === 'GET') {
        const it = stand.items.get(m[1]);
        return it ? send(200, it) : send(404, { message: '404 Item Not Found' });
      }
      if (m && req.method === 'PUT') {
        stand.items.set(m[1], JSON.parse(body));
        return send(200, stand.items.get(m[1]));
      }
      send(404, { message: '404 Not Found' });
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stand.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stand.close = () => new Promise((r) => server.close(() => r()));
  return stand;
}

/** An API resource: the item `name` should hold `want`. */
function item(stand: Stand, name: string, want: Record<string, unknown>, tags: string[] = []): ApiResource<Record<string, unknown> | null, Record<string, unknown>> {
  const client = (ctx: RunContext) => ctx.http(stand.url, { name: 'Items API', backoffMs: 1 });
  return {
    id: `item:${name}`,
    tags,
    notify: [],
    async read(ctx) {
      const res = await client(ctx).request<Record<string, unknown>>('GET', `/items/${name}`, { accept: [200, 404] });
      return res.status === 404 ? null : res.json;
    },
    plan(current, ctx): Change<Record<string, unknown>> | null {
      if (current && JSON.stringify(current) === JSON.stringify(want)) return null;
      const changed = Object.keys(want).filter((k) => JSON.stringify(current?.[k]) !== JSON.stringify(want[k]));
      return { summary: current ? `update ${changed.join(', ')}` : 'create', data: want, ...(ctx.wantDiff ? { diff: objectDiff(`items:${name}`, current, want) } : {}) };
    },
    async apply(change, ctx) {
      await client(ctx).request('PUT', `/items/${name}`, { body: change.data });
    },
    render: () => ({ api: { name: `items/${name}`, state: want } }),
  };
}

const OPTS: HostRunOptions = { check: false, wantDiff: true, tags: [], skipTags: [] };
const roleOf = (name: string, resources: unknown[]): RoleRun => ({ role: defineRole({ name, tasks: () => ({ resources: resources as ApiResource[] }) }), vars: {} });

let stand: Stand;
beforeEach(async () => {
  stand = await startStand();
});
afterEach(async () => {
  await stand.close();
});

describe('API resources in the engine', () => {
  it('reads concurrently, applies, and a second run changes nothing with zero writes', async () => {
    stand.delayMs = 50;
    const resources = Array.from({ length: 12 }, (_, i) => item(stand, `i${i}`, { n: i }));
    const s = new LocalRemote();
    const first = await runHost('h', async () => s, [roleOf('items', resources)], OPTS);
    expect(first.status).toBe('changed');
    expect(first.counts.changed).toBe(12);
    // the first batch of 12 reads ran up to 8 at a time (the default bound)
    expect(stand.maxInFlight).toBeGreaterThan(1);
    expect(stand.maxInFlight).toBeLessThanOrEqual(8);
    expect(stand.items.get('i3')).toEqual({ n: 3 });
    expect(first.apiRequests).toBe(stand.methods.length);

    stand.methods.length = 0;
    const second = await runHost('h', async () => new LocalRemote(), [roleOf('items', resources)], OPTS);
    expect(second.status).toBe('ok');
    expect(stand.methods.filter((m) => !m.startsWith('GET'))).toEqual([]);
    expect(second.apiRequests).toBe(12);
    // API reads cost no round trip: facts only (no shell resource to probe)
    expect(second.remoteCommands).toBe(1);
  });

  it('check mode shows a readable diff of the fields and makes no write request', async () => {
    stand.items.set('runner', { tags: ['docker'], paused: false });
    const r = item(stand, 'runner', { tags: ['download-convert', 'stateful'], paused: false });
    const result = await runHost('h', async () => new LocalRemote(), [roleOf('gitlab', [r])], { ...OPTS, check: true });
    expect(result.status).toBe('changed');
    expect(stand.methods).toEqual(['GET /items/runner']);
    const task = result.tasks[0];
    expect(task.summary).toBe('update tags');
    const diff = unifiedDiff(task.diff!);
    expect(diff).toContain('-  - docker');
    expect(diff).toContain('+  - download-convert');
    expect(diff).toContain('+  - stateful');
    expect(stand.items.get('runner')).toEqual({ tags: ['docker'], paused: false });
  });

  it('a check-mode client refuses a write even when a resource tries one', async () => {
    const sneaky: ApiResource = {
      id: 'item:sneaky',
      tags: [],
      notify: [],
      async read(ctx) {
        await ctx.http(stand.url).request('PUT', '/items/x', { body: { evil: true } });
        return null;
      },
      plan: () => null,
      apply: async () => {},
    };
    const result = await runHost('h', async () => new LocalRemote(), [roleOf('r', [sneaky])], { ...OPTS, check: true });
    expect(result.status).toBe('failed');
    expect(result.tasks[0].error).toMatch(/refused, a check run makes no write request/);
    expect(stand.methods).toEqual([]);
    expect(stand.items.has('x')).toBe(false);
  });

  it('a failed read fails its own resource; earlier resources are kept', async () => {
    stand.failures.set('/items/bad', [403, 403]);
    const result = await runHost('h', async () => new LocalRemote(), [roleOf('r', [item(stand, 'good', { a: 1 }), item(stand, 'bad', { a: 2 })])], OPTS);
    expect(result.tasks.map((t) => `${t.resource} ${t.status}`), JSON.stringify(result.tasks)).toEqual(['item:good changed', 'item:bad failed']);
    expect(result.tasks[1].error).toMatch(/Items API GET .*\/items\/bad answered 403: try again/);
  });

  it('tags select API resources like host resources', async () => {
    const result = await runHost('h', async () => new LocalRemote(), [roleOf('r', [item(stand, 'a', { a: 1 }, ['fleet']), item(stand, 'b', { b: 1 })])], { ...OPTS, tags: ['fleet'] });
    expect(result.tasks.map((t) => `${t.resource} ${t.status}`)).toEqual(['item:a changed', 'item:b skipped']);
    expect(stand.methods).toEqual(['GET /items/a', 'PUT /items/a']);
  });

  it('diffs and the JSON report mask secrets inside API objects', async () => {
    clearSecretsForTests();
    const token = new Secret('canary-api-secret-93f1', 'TOKEN');
    stand.items.set('cfg', { token: 'canary-api-secret-93f1', old: true });
    const r = item(stand, 'cfg', { token: token.reveal() });
    const result = await runHost('h', async () => new LocalRemote(), [roleOf('r', [r])], { ...OPTS, check: true });
    const report = JSON.stringify(buildJsonReport('check', 1, new Map([['h', result]])));
    expect(report).not.toContain('canary-api-secret-93f1');
    expect(report).toContain('********');
    expect(unifiedDiff(result.tasks[0].diff!)).not.toContain('canary-api-secret-93f1');
  });
});

describe('HttpClient', () => {
  const client = (o: ConstructorParameters<typeof HttpClient>[1] = {}) => new HttpClient(stand.url, { name: 'Items API', backoffMs: 1, ...o });

  it('retries a 503 then succeeds', async () => {
    stand.items.set('a', { v: 1 });
    stand.failures.set('/items/a', [503, 502]);
    const res = await client().get('/items/a');
    expect(res.json).toEqual({ v: 1 });
    expect(stand.methods).toEqual(['GET /items/a', 'GET /items/a', 'GET /items/a']);
  });

  it('does not retry a 404 and names method, path, status and the API message', async () => {
    const err = await client().get('/items/nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(404);
    expect((err as HttpError).message).toBe(`Items API GET ${stand.url}/items/nope answered 404: 404 Item Not Found`);
    expect(stand.methods).toEqual(['GET /items/nope']);
  });

  it('gives up after its retries, and never puts the request body in the error', async () => {
    stand.failures.set('/items/x', [500, 500, 500]);
    const err = (await client({ retries: 2 }).request('PUT', '/items/x', { body: { password: 'body-canary' } }).catch((e: unknown) => e)) as HttpError;
    expect(err.status).toBe(500);
    expect(err.message).not.toContain('body-canary');
    expect(stand.methods).toHaveLength(3);
  });

  it('does not retry a POST on a 5xx (it may have been processed), but does on 429', async () => {
    stand.failures.set('/items/p', [500]);
    await expect(client().request('POST', '/items/p', { body: {} })).rejects.toThrow(/answered 500/);
    expect(stand.methods).toHaveLength(1);
    stand.failures.set('/items/q', [429]);
    await expect(client().request('POST', '/items/q', { body: {} })).rejects.toThrow(/answered 404/);
    expect(stand.methods).toHaveLength(3);
  });

  it('retries network errors, then reports them', async () => {
    // a port that was just free: nothing listens there
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const dead = new HttpClient(`http://127.0.0.1:${port}`, { name: 'Dead API', backoffMs: 1, retries: 1 });
    await expect(dead.get('/x')).rejects.toThrow(`Dead API GET http://127.0.0.1:${port}/x: request failed (ECONNREFUSED)`);
  });

  it('times out a silent server', async () => {
    stand.delayMs = 500;
    await expect(client({ timeoutMs: 50, retries: 0 }).get('/items/a')).rejects.toThrow(/timed out after 50 ms/);
  });

  it('paginates with X-Next-Page', async () => {
    for (let i = 0; i < 45; i++) stand.items.set(`k${String(i).padStart(2, '0')}`, {});
    const all = await client().paginate<{ name: string }>('/items', {}, 20);
    expect(all).toHaveLength(45);
    expect(all[44].name).toBe('k44');
    expect(stand.methods).toHaveLength(3);
  });

  it('logs one line per request with tokens masked', async () => {
    clearSecretsForTests();
    const secret = new Secret('glpat-canary-log-7731', 'T');
    const lines: string[] = [];
    stand.items.set('a', {});
    const c = new HttpClient(stand.url, { name: 'GitLab API', headers: { 'PRIVATE-TOKEN': secret.reveal() } }, { log: (l) => lines.push(l) });
    await c.get('/items/a', { query: { private_token: 'plain-token-in-query' } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^GitLab API: GET .*\/items\/a\?private_token=\*{8} -> 200 \(\d+ ms\)$/);
    expect(lines.join('')).not.toContain('plain-token-in-query');
  });
});

describe('plays on the control machine and --render', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rigger-local-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const io = () => {
    const out: string[] = [];
    return { out, io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void out.push(t), colour: false } };
  };

  function inventory(): string {
    const inv = join(dir, 'inv.toml');
    writeFileSync(inv, `[hosts]\n\n[vars]\nitem_value = 7\n`);
    return inv;
  }

  const def = (): PlaybookDef => ({
    name: 'items',
    plays: [
      {
        hosts: 'local',
        roles: [defineRole({ name: 'items', tasks: ({ vars }) => ({ resources: [item(stand, 'local-item', { v: vars.item_value })] }) })],
      },
    ],
  });

  it('runs a local play without SSH, with the global vars, counting API requests', async () => {
    const inv = inventory();
    const { out, io: o } = io();
    const json = join(dir, 'report.json');
    const res = await runPlaybook(def(), ['-i', inv, '--json', json], o);
    expect(res.exitCode).toBe(0);
    expect(stand.items.get('local-item')).toEqual({ v: 7 });
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.hosts.local.status).toBe('changed');
    expect(report.hosts.local.apiRequests).toBe(2);
    expect(out.join('')).toMatch(/local\s+: ok=0 changed=1 .* api=2/);
  });

  it('--limit without "local" leaves the control machine out', async () => {
    const inv = join(dir, 'inv2.toml');
    writeFileSync(inv, `[hosts]\nweb = { host = "127.0.0.1" }\n`);
    const { out, io: o } = io();
    const res = await runPlaybook(def(), ['-i', inv, '--limit', 'web'], o);
    expect(res.exitCode).toBe(1);
    expect(out.join('')).toMatch(/no play of items applies/);
    expect(stand.methods).toEqual([]);
  });

  it('--render writes the desired API state, contacts nothing, and is byte-identical twice', async () => {
    const inv = inventory();
    const a = join(dir, 'render-a');
    const b = join(dir, 'render-b');
    for (const out of [a, b]) expect((await runPlaybook(def(), ['-i', inv, '--render', out], io().io)).exitCode).toBe(0);
    expect(stand.methods).toEqual([]);
    const state = readFileSync(join(a, 'local', 'api', 'items', 'local-item.json'), 'utf8');
    expect(JSON.parse(state)).toEqual({ v: 7 });
    const list = (d: string) => readdirSync(d, { recursive: true }).map(String).sort();
    expect(list(a)).toEqual(list(b));
    for (const f of list(a).filter((f) => f.endsWith('.json') || f.endsWith('.txt'))) expect(readFileSync(join(a, f))).toEqual(readFileSync(join(b, f)));
  });

  it('--render refuses to replace a folder it did not write', async () => {
    const inv = inventory();
    const out = join(dir, 'mine');
    const precious = join(out, 'local');
    rmSync(out, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(precious, { recursive: true }));
    writeFileSync(join(precious, 'notes.txt'), 'keep me\n');
    const { out: text, io: o } = io();
    expect((await runPlaybook(def(), ['-i', inv, '--render', out], o)).exitCode).toBe(1);
    expect(text.join('')).toMatch(/was not written by --render/);
    expect(readFileSync(join(precious, 'notes.txt'), 'utf8')).toBe('keep me\n');
  });
});
