// Contract tests of the GitLab REST stand-in (test/fakes/gitlab.ts): status
// codes, bodies, auth, pagination. Other tests trust this fake, so it is tested
// against the documented API, not against the product.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeGitlab, type FakeGitlab } from '../fakes/gitlab.js';
import { fakeRunnerJobs, type FakeRunnerJobs } from '../fakes/gitlabRunnerJobs.js';

const ACCESS = 'glpat-test-access-token';
const REGISTRATION = 'GR1348941-test-registration';

let gl: FakeGitlab;

beforeAll(async () => {
  gl = await startFakeGitlab({ accessToken: ACCESS, registrationToken: REGISTRATION });
});
afterAll(async () => {
  await gl.close();
});
beforeEach(() => {
  gl.runners.clear();
  gl.calls.length = 0;
  gl.setLegacyEnabled(false);
});

type Res = { status: number; headers: Headers; json: any; text: string };

async function req(
  method: string,
  path: string,
  opts: { auth?: string | null; json?: unknown; form?: string; bearer?: string } = {},
): Promise<Res> {
  const headers: Record<string, string> = {};
  const auth = opts.auth === undefined ? ACCESS : opts.auth;
  if (auth !== null) headers['PRIVATE-TOKEN'] = auth;
  if (opts.bearer) headers.Authorization = `Bearer ${opts.bearer}`;
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form !== undefined) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = opts.form;
  }
  const res = await fetch(`${gl.url}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : undefined };
}

async function create(fields: Record<string, unknown> = {}) {
  const res = await req('POST', '/api/v4/user/runners', { json: { runner_type: 'instance_type', ...fields } });
  expect(res.status).toBe(201);
  return res.json as { id: number; token: string; token_expires_at: string | null };
}

describe('server basics', () => {
  it('listens on 127.0.0.1 with a random port and answers JSON with the exact content type', async () => {
    expect(gl.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await req('GET', '/api/v4/nothing-here');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.json).toEqual({ message: '404 Not Found' });
  });

  it('rejects malformed JSON with 400 and a message', async () => {
    const res = await fetch(`${gl.url}/api/v4/user/runners`, {
      method: 'POST',
      headers: { 'PRIVATE-TOKEN': ACCESS, 'Content-Type': 'application/json' },
      body: '{nope',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(typeof ((await res.json()) as any).message).toBe('string');
  });

  it('can run two independent instances at once', async () => {
    const other = await startFakeGitlab();
    try {
      expect(other.url).not.toBe(gl.url);
      expect(other.accessToken).toMatch(/^glpat-/);
    } finally {
      await other.close();
    }
  });
});

describe('POST /api/v4/user/runners', () => {
  it('creates an instance runner: 201 {id, token glrt-..., token_expires_at null}', async () => {
    const res = await req('POST', '/api/v4/user/runners', {
      json: { runner_type: 'instance_type', description: 'mania', tag_list: ['docker', 'scaleway'], run_untagged: false },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(Object.keys(res.json).sort()).toEqual(['id', 'token', 'token_expires_at']);
    expect(res.json.token).toMatch(/^glrt-[A-Za-z0-9_-]{20,}$/);
    expect(res.json.token_expires_at).toBeNull();
    const r = gl.runners.get(res.json.id)!;
    expect(r).toMatchObject({ description: 'mania', tag_list: ['docker', 'scaleway'], run_untagged: false, runner_type: 'instance_type' });
    expect(r.token).toBe(res.json.token);
  });

  it('gives each runner its own id and token', async () => {
    const a = await create();
    const b = await create();
    expect(a.id).not.toBe(b.id);
    expect(a.token).not.toBe(b.token);
  });

  it('accepts form bodies with tag_list as a comma string or tag_list[]', async () => {
    const a = await req('POST', '/api/v4/user/runners', { form: 'runner_type=instance_type&tag_list=a,%20b&locked=true' });
    expect(a.status).toBe(201);
    expect(gl.runners.get(a.json.id)).toMatchObject({ tag_list: ['a', 'b'], locked: true });
    const b = await req('POST', '/api/v4/user/runners', { form: 'runner_type=instance_type&tag_list[]=x&tag_list[]=y' });
    expect(b.status).toBe(201);
    expect(gl.runners.get(b.json.id)!.tag_list).toEqual(['x', 'y']);
  });

  it('accepts a JSON comma string for tag_list', async () => {
    const { id } = await create({ tag_list: 'one,two' });
    expect(gl.runners.get(id)!.tag_list).toEqual(['one', 'two']);
  });

  it('applies GitLab defaults', async () => {
    const { id } = await create();
    expect(gl.runners.get(id)).toMatchObject({
      run_untagged: true,
      locked: false,
      paused: false,
      access_level: 'not_protected',
      tag_list: [],
      description: '',
    });
  });

  it('401 without a token, with a wrong token; Bearer is accepted', async () => {
    for (const auth of [null, 'wrong']) {
      const res = await req('POST', '/api/v4/user/runners', { auth, json: { runner_type: 'instance_type' } });
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ message: '401 Unauthorized' });
    }
    const ok = await req('POST', '/api/v4/user/runners', { auth: null, bearer: ACCESS, json: { runner_type: 'instance_type' } });
    expect(ok.status).toBe(201);
    expect(gl.runners.size).toBe(1);
  });

  it('400 when runner_type is missing or invalid', async () => {
    const missing = await req('POST', '/api/v4/user/runners', { json: { description: 'x' } });
    expect(missing.status).toBe(400);
    expect(missing.json.message).toMatch(/runner_type/);
    const bad = await req('POST', '/api/v4/user/runners', { json: { runner_type: 'shared' } });
    expect(bad.status).toBe(400);
    expect(gl.runners.size).toBe(0);
  });

  it('group_type needs group_id, project_type needs project_id', async () => {
    expect((await req('POST', '/api/v4/user/runners', { json: { runner_type: 'group_type' } })).status).toBe(400);
    expect((await req('POST', '/api/v4/user/runners', { json: { runner_type: 'project_type' } })).status).toBe(400);
    expect((await req('POST', '/api/v4/user/runners', { json: { runner_type: 'project_type', group_id: 3 } })).status).toBe(400);
    const g = await req('POST', '/api/v4/user/runners', { json: { runner_type: 'group_type', group_id: 7 } });
    expect(g.status).toBe(201);
    expect(gl.runners.get(g.json.id)).toMatchObject({ runner_type: 'group_type', group_id: 7 });
    const p = await req('POST', '/api/v4/user/runners', { form: 'runner_type=project_type&project_id=9' });
    expect(p.status).toBe(201);
    expect(gl.runners.get(p.json.id)).toMatchObject({ runner_type: 'project_type', project_id: 9 });
  });

  it('400 on invalid access_level or a too small maximum_timeout, and creates nothing', async () => {
    expect((await req('POST', '/api/v4/user/runners', { json: { runner_type: 'instance_type', access_level: 'x' } })).status).toBe(400);
    expect((await req('POST', '/api/v4/user/runners', { json: { runner_type: 'instance_type', maximum_timeout: 60 } })).status).toBe(400);
    expect(gl.runners.size).toBe(0);
  });
});

describe('POST /api/v4/runners/verify', () => {
  it('200 for a valid token, 403 for an unknown one, 400 without one', async () => {
    const { id, token } = await create();
    const ok = await req('POST', '/api/v4/runners/verify', { auth: null, json: { token, system_id: 's_0123456789ab' } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ id, token });
    expect(gl.runners.get(id)!.system_ids).toEqual(['s_0123456789ab']);
    const bad = await req('POST', '/api/v4/runners/verify', { auth: null, json: { token: 'glrt-nope' } });
    expect(bad.status).toBe(403);
    expect(bad.json).toEqual({ message: '403 Forbidden' });
    expect((await req('POST', '/api/v4/runners/verify', { auth: null, json: {} })).status).toBe(400);
  });

  it('after rotate(), the old token is rejected and the new one accepted', async () => {
    const { id, token } = await create();
    const fresh = gl.rotate(id);
    expect(fresh).toMatch(/^glrt-/);
    expect(fresh).not.toBe(token);
    expect((await req('POST', '/api/v4/runners/verify', { auth: null, json: { token } })).status).toBe(403);
    expect((await req('POST', '/api/v4/runners/verify', { auth: null, json: { token: fresh } })).status).toBe(200);
    expect(() => gl.rotate(999)).toThrow();
  });

  it('reset_authentication_token rotates through the API', async () => {
    const { token } = await create();
    const res = await req('POST', '/api/v4/runners/reset_authentication_token', { auth: null, json: { token } });
    expect(res.status).toBe(201);
    expect(res.json.token).toMatch(/^glrt-/);
    expect((await req('POST', '/api/v4/runners/verify', { auth: null, json: { token } })).status).toBe(403);
    expect((await req('POST', '/api/v4/runners/verify', { auth: null, json: { token: res.json.token } })).status).toBe(200);
  });
});

describe('DELETE', () => {
  it('DELETE /runners/:id: 204, then 404; 401 without access token', async () => {
    const { id } = await create();
    expect((await req('DELETE', `/api/v4/runners/${id}`, { auth: null })).status).toBe(401);
    const del = await req('DELETE', `/api/v4/runners/${id}`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect(gl.runners.has(id)).toBe(false);
    const again = await req('DELETE', `/api/v4/runners/${id}`);
    expect(again.status).toBe(404);
    expect(again.json.message).toMatch(/404/);
  });

  it('DELETE /runners {token}: 204, then 403; 400 without a token', async () => {
    const { id, token } = await create();
    expect((await req('DELETE', '/api/v4/runners', { auth: null, json: { token } })).status).toBe(204);
    expect(gl.runners.has(id)).toBe(false);
    expect((await req('DELETE', '/api/v4/runners', { auth: null, json: { token } })).status).toBe(403);
    expect((await req('DELETE', '/api/v4/runners', { auth: null, form: 'token=' })).status).toBe(400);
  });
});

describe('GET/PUT /api/v4/runners/:id', () => {
  it('returns details including tag_list, run_untagged, locked, paused/active, runner_type', async () => {
    const { id } = await create({ description: 'eros', tag_list: ['docker'], locked: true });
    const res = await req('GET', `/api/v4/runners/${id}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      id,
      description: 'eros',
      tag_list: ['docker'],
      run_untagged: true,
      locked: true,
      active: true,
      paused: false,
      is_shared: true,
      runner_type: 'instance_type',
      access_level: 'not_protected',
    });
    expect(res.text).not.toContain(gl.runners.get(id)!.token);
  });

  it('404 for an unknown id, 401 without auth', async () => {
    expect((await req('GET', '/api/v4/runners/4242')).status).toBe(404);
    const { id } = await create();
    expect((await req('GET', `/api/v4/runners/${id}`, { auth: 'bad' })).status).toBe(401);
  });

  it('PUT updates tags, description, paused (and the deprecated active)', async () => {
    const { id } = await create({ tag_list: ['a'] });
    const res = await req('PUT', `/api/v4/runners/${id}`, { json: { tag_list: ['b', 'c'], description: 'new', paused: true } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ tag_list: ['b', 'c'], description: 'new', paused: true, active: false });
    const again = await req('PUT', `/api/v4/runners/${id}`, { form: 'active=true&tag_list=z' });
    expect(again.json).toMatchObject({ paused: false, active: true, tag_list: ['z'] });
  });

  it('PUT with an invalid value is 400 and changes nothing', async () => {
    const { id } = await create({ description: 'keep' });
    const res = await req('PUT', `/api/v4/runners/${id}`, { json: { description: 'changed', access_level: 'bogus' } });
    expect(res.status).toBe(400);
    expect(gl.runners.get(id)!.description).toBe('keep');
    expect((await req('PUT', '/api/v4/runners/777', { json: { description: 'x' } })).status).toBe(404);
  });
});

describe('GET /api/v4/runners/all', () => {
  it('filters by tag_list (runner has all listed tags) and by type', async () => {
    const a = await create({ tag_list: ['docker', 'scaleway'] });
    const b = await create({ tag_list: ['docker'] });
    await create({ tag_list: ['shell'] });
    const g = await req('POST', '/api/v4/user/runners', { json: { runner_type: 'group_type', group_id: 1, tag_list: ['docker'] } });

    const docker = await req('GET', '/api/v4/runners/all?tag_list=docker');
    expect(docker.status).toBe(200);
    expect(docker.json.map((r: any) => r.id)).toEqual([a.id, b.id, g.json.id]);
    const both = await req('GET', '/api/v4/runners/all?tag_list=docker,scaleway');
    expect(both.json.map((r: any) => r.id)).toEqual([a.id]);
    const groups = await req('GET', '/api/v4/runners/all?type=group_type');
    expect(groups.json.map((r: any) => r.id)).toEqual([g.json.id]);
    expect((await req('GET', '/api/v4/runners/all?type=bogus')).status).toBe(400);
  });

  it('list items use the short representation (no tags, no token)', async () => {
    const { token } = await create({ tag_list: ['docker'], description: 'd' });
    const res = await req('GET', '/api/v4/runners/all');
    expect(res.json[0]).toMatchObject({ description: 'd', active: true, paused: false, runner_type: 'instance_type' });
    expect(res.json[0]).not.toHaveProperty('tag_list');
    expect(res.text).not.toContain(token);
  });

  it('paginates with X-Page, X-Per-Page, X-Total, X-Total-Pages, X-Next-Page, X-Prev-Page and Link', async () => {
    for (let i = 0; i < 45; i++) await create({ description: `r${i}` });

    const p1 = await req('GET', '/api/v4/runners/all');
    expect(p1.json).toHaveLength(20); // GitLab's default per_page
    expect(p1.headers.get('x-page')).toBe('1');
    expect(p1.headers.get('x-per-page')).toBe('20');
    expect(p1.headers.get('x-total')).toBe('45');
    expect(p1.headers.get('x-total-pages')).toBe('3');
    expect(p1.headers.get('x-next-page')).toBe('2');
    expect(p1.headers.get('x-prev-page')).toBe('');
    expect(p1.headers.get('link')).toContain('rel="next"');

    const last = await req('GET', '/api/v4/runners/all?page=3&per_page=20');
    expect(last.json.map((r: any) => r.description)).toEqual(['r40', 'r41', 'r42', 'r43', 'r44']);
    expect(last.headers.get('x-next-page')).toBe('');
    expect(last.headers.get('x-prev-page')).toBe('2');
    expect(last.headers.get('link')).not.toContain('rel="next"');
    expect(last.headers.get('link')).toContain(`<${gl.url}/api/v4/runners/all?page=2&per_page=20>; rel="prev"`);

    const beyond = await req('GET', '/api/v4/runners/all?page=9');
    expect(beyond.status).toBe(200);
    expect(beyond.json).toEqual([]);

    // Walking X-Next-Page visits every runner exactly once.
    const seen: number[] = [];
    let page = '1';
    while (page !== '') {
      const res = await req('GET', `/api/v4/runners/all?per_page=7&page=${page}`);
      seen.push(...res.json.map((r: any) => r.id));
      page = res.headers.get('x-next-page') ?? '';
    }
    expect(seen).toEqual([...gl.runners.keys()]);

    const capped = await req('GET', '/api/v4/runners/all?per_page=1000');
    expect(capped.headers.get('x-per-page')).toBe('100');
    expect(capped.json).toHaveLength(45);
  });

  it('filter and pagination combine (X-Total counts filtered runners)', async () => {
    for (let i = 0; i < 5; i++) await create({ tag_list: i % 2 ? ['odd'] : ['even'] });
    const res = await req('GET', '/api/v4/runners/all?tag_list=even&per_page=2');
    expect(res.headers.get('x-total')).toBe('3');
    expect(res.headers.get('x-next-page')).toBe('2');
    expect(res.json).toHaveLength(2);
  });

  it('401 without auth', async () => {
    expect((await req('GET', '/api/v4/runners/all', { auth: null })).status).toBe(401);
  });
});

describe('legacy POST /api/v4/runners (registration token)', () => {
  it('410 when registration tokens are disabled (the default), 403 for a wrong token', async () => {
    const gone = await req('POST', '/api/v4/runners', { auth: null, json: { token: REGISTRATION } });
    expect(gone.status).toBe(410);
    expect(gone.json.message).toMatch(/410/);
    expect((await req('POST', '/api/v4/runners', { auth: null, json: { token: 'nope' } })).status).toBe(403);
    expect(gl.runners.size).toBe(0);
  });

  it('201 {id, token} when enabled; tag_list as a comma string; the token verifies', async () => {
    gl.setLegacyEnabled(true);
    const res = await req('POST', '/api/v4/runners', {
      auth: null,
      form: `token=${REGISTRATION}&description=old&tag_list=a,b&run_untagged=false&locked=false`,
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ id: expect.any(Number), token: expect.any(String) });
    expect(gl.runners.get(res.json.id)).toMatchObject({ tag_list: ['a', 'b'], run_untagged: false, created_via: 'registration_token' });
    expect((await req('POST', '/api/v4/runners/verify', { auth: null, json: { token: res.json.token } })).status).toBe(200);
    expect((await req('POST', '/api/v4/runners', { auth: null, json: { token: 'nope' } })).status).toBe(403);
  });

  it('startFakeGitlab({ legacyEnabled: true }) enables it from the start', async () => {
    const other = await startFakeGitlab({ registrationToken: 'rt', legacyEnabled: true });
    try {
      const res = await fetch(`${other.url}/api/v4/runners`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: 'rt' }),
      });
      expect(res.status).toBe(201);
    } finally {
      await other.close();
    }
  });
});

describe('call log', () => {
  it('records every call with method, path, query, body and status, tokens redacted', async () => {
    const { token } = await create({ description: 'logged' });
    await req('POST', '/api/v4/runners/verify', { auth: null, json: { token } });
    await req('GET', '/api/v4/runners/all?tag_list=x&page=1');
    await req('GET', `/api/v4/runners/all?private_token=${ACCESS}`, { auth: null }); // query auth, as GitLab allows
    expect(gl.calls.map((c) => [c.method, c.path, c.status])).toEqual([
      ['POST', '/api/v4/user/runners', 201],
      ['POST', '/api/v4/runners/verify', 200],
      ['GET', '/api/v4/runners/all', 200],
      ['GET', '/api/v4/runners/all', 200],
    ]);
    expect(gl.calls[0].body).toEqual({ runner_type: 'instance_type', description: 'logged' });
    expect(gl.calls[1].body).toEqual({ token: '[REDACTED]' });
    expect(gl.calls[2].query).toEqual({ tag_list: 'x', page: '1' });
    const dump = JSON.stringify(gl.calls);
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(ACCESS);
  });
});

describe('access token scopes, enforced as GitLab does', () => {
  const SCOPES = {
    create: ['create_runner'],
    manage: ['manage_runner'],
    read: ['read_api'],
    user: ['read_user'],
  };
  const tokens = {} as Record<keyof typeof SCOPES, string>;
  beforeAll(() => {
    for (const [k, scopes] of Object.entries(SCOPES)) tokens[k as keyof typeof SCOPES] = gl.addAccessToken(scopes);
  });

  const expectInsufficient = (res: Res, scope: string) => {
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ error: 'insufficient_scope', error_description: 'The request requires higher privileges than provided by the access token.', scope });
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(res.headers.get('content-type')).toBe('application/json');
  };

  it('create_runner creates a runner, and nothing else', async () => {
    const res = await req('POST', '/api/v4/user/runners', { auth: tokens.create, json: { runner_type: 'instance_type', description: 'c' } });
    expect(res.status).toBe(201);
    const id = res.json.id;
    expectInsufficient(await req('GET', `/api/v4/runners/${id}`, { auth: tokens.create }), 'api read_api manage_runner');
    expectInsufficient(await req('PUT', `/api/v4/runners/${id}`, { auth: tokens.create, json: { paused: true } }), 'api manage_runner');
    expectInsufficient(await req('DELETE', `/api/v4/runners/${id}`, { auth: tokens.create }), 'api manage_runner');
    expectInsufficient(await req('GET', '/api/v4/runners/all', { auth: tokens.create }), 'api read_api manage_runner');
    expect(gl.runners.get(id)).toMatchObject({ paused: false });
  });

  it('manage_runner reads, updates and deletes by id, but cannot create', async () => {
    expectInsufficient(await req('POST', '/api/v4/user/runners', { auth: tokens.manage, json: { runner_type: 'instance_type' } }), 'api create_runner');
    const { id } = await create();
    expect((await req('GET', `/api/v4/runners/${id}`, { auth: tokens.manage })).status).toBe(200);
    expect((await req('PUT', `/api/v4/runners/${id}`, { auth: tokens.manage, json: { paused: true } })).status).toBe(200);
    expect((await req('GET', '/api/v4/runners/all', { auth: tokens.manage })).status).toBe(200);
    expect((await req('DELETE', `/api/v4/runners/${id}`, { auth: tokens.manage })).status).toBe(204);
  });

  it('read_api reads but never writes; a token of other scopes gets 403 everywhere; api does all', async () => {
    const { id } = await create();
    expect((await req('GET', `/api/v4/runners/${id}`, { auth: tokens.read })).status).toBe(200);
    expectInsufficient(await req('PUT', `/api/v4/runners/${id}`, { auth: tokens.read, json: { paused: true } }), 'api manage_runner');
    expectInsufficient(await req('GET', `/api/v4/runners/${id}`, { auth: tokens.user }), 'api read_api manage_runner');
    expect((await req('PUT', `/api/v4/runners/${id}`, { json: { paused: true } })).status).toBe(200); // the main token: api
  });

  it('runner-token endpoints need no access token at all; an unknown access token is 401, not 403', async () => {
    const { token } = await create();
    expect((await req('POST', '/api/v4/runners/verify', { auth: null, json: { token } })).status).toBe(200);
    expect((await req('GET', '/api/v4/runners/all', { auth: 'glpat-unknown' })).status).toBe(401);
  });

  it('startFakeGitlab({ accessTokenScopes }) sets the scopes of the main token', async () => {
    const other = await startFakeGitlab({ accessToken: 'glpat-only-create', accessTokenScopes: ['create_runner'] });
    try {
      const res = await fetch(`${other.url}/api/v4/runners/all`, { headers: { 'PRIVATE-TOKEN': 'glpat-only-create' } });
      expect(res.status).toBe(403);
      expect(((await res.json()) as any).error).toBe('insufficient_scope');
    } finally {
      await other.close();
    }
  });
});

describe('GET /api/v4/runners/:id/jobs (extension)', () => {
  let withJobs: FakeGitlab;
  let jobs: FakeRunnerJobs;
  beforeAll(async () => {
    jobs = fakeRunnerJobs();
    withJobs = await startFakeGitlab({ accessToken: ACCESS, extensions: [jobs.extension] });
  });
  afterAll(async () => {
    await withJobs.close();
  });
  const get = async (path: string, auth = ACCESS) => {
    const res = await fetch(`${withJobs.url}${path}`, { headers: { 'PRIVATE-TOKEN': auth } });
    return { status: res.status, headers: res.headers, json: (await res.json()) as any };
  };

  it('lists a runner jobs newest first, filtered by status; finish() ends one', async () => {
    const created = await fetch(`${withJobs.url}/api/v4/user/runners`, { method: 'POST', headers: { 'PRIVATE-TOKEN': ACCESS, 'Content-Type': 'application/json' }, body: JSON.stringify({ runner_type: 'instance_type' }) });
    const { id } = (await created.json()) as { id: number };
    const a = jobs.add(id);
    const b = jobs.add(id, { name: 'convert' });
    jobs.add(id, { status: 'success' });
    const running = await get(`/api/v4/runners/${id}/jobs?status=running`);
    expect(running.status).toBe(200);
    expect(running.json.map((j: any) => [j.id, j.name, j.status])).toEqual([
      [b.id, 'convert', 'running'],
      [a.id, 'download', 'running'],
    ]);
    expect(running.headers.get('x-total')).toBe('2');
    expect(running.json[0]).toMatchObject({ project: { path_with_namespace: 'fetchers/fetcher' }, finished_at: null });
    expect(running.json[0].runnerId).toBeUndefined();
    jobs.finish(a.id);
    expect((await get(`/api/v4/runners/${id}/jobs?status=running`)).json.map((j: any) => j.id)).toEqual([b.id]);
    expect((await get(`/api/v4/runners/${id}/jobs`)).json).toHaveLength(3);
    expect((await get(`/api/v4/runners/${id}/jobs?status=bogus`)).status).toBe(400);
    expect((await get('/api/v4/runners/999/jobs')).status).toBe(404);
    const manage = withJobs.addAccessToken(['manage_runner']);
    expect((await get(`/api/v4/runners/${id}/jobs`, manage)).status).toBe(200);
    const create = withJobs.addAccessToken(['create_runner']);
    expect((await get(`/api/v4/runners/${id}/jobs`, create)).status).toBe(403);
  });
});
