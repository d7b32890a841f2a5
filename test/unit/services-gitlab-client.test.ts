// lib/services/gitlab: the GitLab client on the engine's HTTP layer and the
// Runners API, against the stand-in (127.0.0.1): which identity each call
// uses, scope hints, check mode's read-only client, counted requests.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeRunContext } from '../../lib/engine/context.js';
import { Secret } from '../../lib/secrets.js';
import { Gitlab, scopeText } from '../../lib/services/gitlab/client.js';
import { createRunner, deleteRunner, deleteRunnerByToken, getRunner, listRunners, runnerJobs, updateRunner, verifyRunner } from '../../lib/services/gitlab/runners.js';
import { startFakeGitlab, type FakeGitlab } from '../fakes/gitlab.js';
import { fakeRunnerJobs, type FakeRunnerJobs } from '../fakes/gitlabRunnerJobs.js';
import { DEBIAN12_FACTS } from './helpers/context.js';

let gitlab: FakeGitlab;
let jobs: FakeRunnerJobs;
const TOKEN = 'glpat-client-unit-0001';

beforeAll(async () => {
  jobs = fakeRunnerJobs();
  gitlab = await startFakeGitlab({ accessToken: TOKEN, extensions: [jobs.extension] });
});
afterAll(async () => {
  await gitlab.close();
});
beforeEach(() => {
  gitlab.calls.length = 0;
  gitlab.runners.clear();
});

const ctx = (check = false) => makeRunContext({ host: 'h1', facts: DEBIAN12_FACTS, check, wantDiff: false });

describe('Gitlab client and Runners API', () => {
  it('the whole life of a runner; every request counted for the target', async () => {
    const c = ctx();
    const gl = new Gitlab(c, `${gitlab.url}/`, { accessToken: new Secret(TOKEN, 'test') });
    const created = await createRunner(gl, { runner_type: 'instance_type', description: 'r1', tag_list: ['a'] });
    expect(created.token).toMatch(/^glrt-/);
    expect(await verifyRunner(gl, created.token)).toEqual({ valid: true, id: created.id, token_expires_at: null });
    expect(await verifyRunner(gl, 'glrt-not-a-token-000')).toEqual({ valid: false });
    expect((await getRunner(gl, created.id))?.tag_list).toEqual(['a']);
    expect((await updateRunner(gl, created.id, { tag_list: ['b'], paused: true })).paused).toBe(true);
    expect((await listRunners(gl)).map((r) => r.id)).toEqual([created.id]);
    jobs.add(created.id);
    expect(await runnerJobs(gl, created.id, 'running')).toHaveLength(1);
    expect(await deleteRunner(gl, created.id)).toBe('deleted');
    expect(await deleteRunner(gl, created.id)).toBe('gone');
    expect(await getRunner(gl, created.id)).toBeNull();
    expect(c.apiRequests).toBe(gitlab.calls.length);
    expect(c.apiRequests).toBe(10);
  });

  it('the access token goes only where GitLab asks for it; runner-token calls carry none', async () => {
    const seen: Array<[string, boolean]> = [];
    const spy: typeof fetch = async (input, init) => {
      seen.push([new URL(String(input)).pathname, Boolean((init?.headers as Record<string, string>)['PRIVATE-TOKEN'])]);
      return fetch(input, init);
    };
    const gl = new Gitlab(makeRunContext({ host: 'h1', facts: DEBIAN12_FACTS, check: false, wantDiff: false, fetch: spy }), gitlab.url, { accessToken: new Secret(TOKEN, 'test') });
    const { token } = await createRunner(gl, { runner_type: 'instance_type' });
    await verifyRunner(gl, token);
    expect(await deleteRunnerByToken(gl, token)).toBe('deleted');
    expect(await deleteRunnerByToken(gl, token)).toBe('refused');
    expect(seen).toEqual([
      ['/api/v4/user/runners', true],
      ['/api/v4/runners/verify', false],
      ['/api/v4/runners', false],
      ['/api/v4/runners', false],
    ]);
  });

  it('check mode: reads and verify go through, a write throws before it is sent', async () => {
    const gl = new Gitlab(ctx(), gitlab.url, { accessToken: new Secret(TOKEN, 'test') });
    const { id, token } = await createRunner(gl, { runner_type: 'instance_type' });
    gitlab.calls.length = 0;
    const ro = new Gitlab(ctx(true), gitlab.url, { accessToken: new Secret(TOKEN, 'test') });
    expect((await verifyRunner(ro, token)).valid).toBe(true);
    expect(await getRunner(ro, id)).not.toBeNull();
    await expect(updateRunner(ro, id, { paused: true })).rejects.toThrow(/refused, a check run makes no write request/);
    await expect(createRunner(ro, { runner_type: 'instance_type' })).rejects.toThrow(/refused, a check run makes no write request/);
    await expect(deleteRunnerByToken(ro, token)).rejects.toThrow(/refused/);
    expect(gitlab.calls.map((c) => c.method)).toEqual(['POST', 'GET']); // verify, get: nothing else reached GitLab
  });

  it('errors say what to do: a missing token, a missing scope, an unknown token; never the request body', async () => {
    const none = new Gitlab(ctx(), gitlab.url);
    await expect(getRunner(none, 1)).rejects.toThrow(`GitLab API GET ${gitlab.url}/api/v4/runners/1: needs gitlab_access_token (an access token with the api, read_api or manage_runner scope)`);
    const createOnly = new Gitlab(ctx(), gitlab.url, { accessToken: new Secret(gitlab.addAccessToken(['create_runner']), 'test') });
    await expect(updateRunner(createOnly, 1, { description: 'secret-ish body' })).rejects.toThrow(
      `GitLab API PUT ${gitlab.url}/api/v4/runners/1 answered 403: The request requires higher privileges than provided by the access token. (gitlab_access_token lacks a scope: this call needs the api or manage_runner scope)`,
    );
    const wrong = new Gitlab(ctx(), gitlab.url, { accessToken: new Secret('glpat-unknown-0000', 'test') });
    const err = await createRunner(wrong, { runner_type: 'instance_type', description: 'body text' }).catch((e: Error) => e);
    expect((err as Error).message).toBe(`GitLab API POST ${gitlab.url}/api/v4/user/runners answered 401: 401 Unauthorized (GitLab does not accept gitlab_access_token: expired, revoked or mistyped?)`);
    expect(scopeText([])).toBe('the api scope');
  });

  it('an unreachable GitLab: the method, the URL and the reason', async () => {
    const { createServer } = await import('node:net');
    const srv = createServer();
    await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
    const port = (srv.address() as { port: number }).port;
    await new Promise((ok) => srv.close(ok));
    const gl = new Gitlab(makeRunContext({ host: 'h1', facts: DEBIAN12_FACTS, check: false, wantDiff: false }), `http://127.0.0.1:${port}`);
    const err = await verifyRunner(gl, 'glrt-whatever-00000').catch((e: Error) => e);
    expect((err as Error).message).toMatch(new RegExp(`^GitLab API POST http://127\\.0\\.0\\.1:${port}/api/v4/runners/verify: request failed \\(ECONNREFUSED\\)$`));
  }, 20_000);
});
