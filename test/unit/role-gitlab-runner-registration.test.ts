// gitlab-runner role: registration planning, the GitLab client, and the config.toml
// resource end to end against the GitLab fake (127.0.0.1) and a local shell (temp dir).
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { redact, Secret } from '../../lib/secrets.js';
import { unifiedDiff } from '../../lib/report/diff.js';
import { startFakeGitlab, type FakeGitlab } from '../fakes/gitlab.js';
import { parseHostConfig } from '../../roles/gitlab-runner/config.js';
import { runnerConfig } from '../../roles/gitlab-runner/configResource.js';
import { GitlabApiError, GitlabClient, planRegistration } from '../../roles/gitlab-runner/registration.js';
import { varsSchema, type GitlabRunnerVars } from '../../roles/gitlab-runner/vars.js';
import { makeCtx } from './helpers/context.js';
import { currentUser, LocalRemote, probeAndPlan, tempDir } from './helpers/localRemote.js';

const runner = (name: string, over: Record<string, unknown> = {}) => ({ name, executor: 'docker', tags: [name, 'docker'], docker: { image: 'alpine:3' }, ...over });

describe('planRegistration (pure)', () => {
  const v = varsSchema.parse({
    gitlab_url: 'https://gitlab.example.org',
    gitlab_runner_version: '17.7.1',
    gitlab_runners: [runner('kept'), runner('new'), runner('moved', { url: 'https://other.example.org' }), runner('tokenless')],
  });
  const host = parseHostConfig(
    `[[runners]]\nname = "gone"\nurl = "https://gitlab.example.org"\nid = 1\ntoken = "glrt-gone-0001"\n\n` +
      `[[runners]]\nname = "kept"\nurl = "https://gitlab.example.org/"\nid = 2\ntoken = "glrt-kept-0002"\n\n` +
      `[[runners]]\nname = "moved"\nurl = "https://gitlab.example.org"\nid = 3\ntoken = "glrt-moved-0003"\n\n` +
      `[[runners]]\nname = "kept"\nurl = "https://gitlab.example.org"\nid = 4\ntoken = "glrt-dup-0004"\n\n` +
      `[[runners]]\nname = "tokenless"\nurl = "https://gitlab.example.org"\n`,
    'config.toml',
  );

  it('keeps registered runners (by name and URL), registers the others, deletes the rest', () => {
    const p = planRegistration(v, host);
    expect(p.keep.map((k) => [k.runner.name, k.credentials.token])).toEqual([['kept', 'glrt-kept-0002']]);
    expect(p.register.map((r) => [r.runner.name, r.url])).toEqual([
      ['new', 'https://gitlab.example.org'],
      ['moved', 'https://other.example.org'],
      ['tokenless', 'https://gitlab.example.org'],
    ]);
    expect(p.remove.map((r) => [r.name, r.credentials.token, r.reason])).toEqual([
      ['kept', 'glrt-dup-0004', 'duplicate entry'],
      ['moved', 'glrt-moved-0003', 'moved to https://other.example.org'],
      ['gone', 'glrt-gone-0001', 'not in the inventory'],
    ]);
  });

  it('an empty inventory list removes every registered runner', () => {
    const p = planRegistration(varsSchema.parse({ gitlab_runner_version: '17.7.1' }), host);
    expect(p.keep).toEqual([]);
    expect(p.register).toEqual([]);
    expect(p.remove.map((r) => r.name).sort()).toEqual(['gone', 'kept', 'kept', 'moved']);
  });
});

describe('gitlab-runner config resource against the GitLab fake', () => {
  let gitlab: FakeGitlab;
  let dir: string;
  let cleanup: () => void;
  let path: string;
  const me = currentUser();

  beforeAll(async () => {
    gitlab = await startFakeGitlab({ accessToken: 'glpat-unit-access-token-1', registrationToken: 'GR1348941unit-registration' });
  });
  afterAll(async () => {
    await gitlab.close();
  });
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('rigger-gitlab-runner-'));
    path = join(dir, 'gitlab-runner', 'config.toml');
    gitlab.calls.length = 0;
  });
  afterEach(() => cleanup());

  const vars = (over: Record<string, unknown> = {}): GitlabRunnerVars =>
    varsSchema.parse({
      gitlab_url: gitlab.url,
      gitlab_access_token: new Secret(gitlab.accessToken, 'test'),
      gitlab_runner_version: '17.7.1',
      gitlab_runner_config_path: path,
      concurrent: 4,
      gitlab_runners: [runner('alpha'), runner('beta', { tags: [], run_untagged: true, locked: true, description: 'Beta runner' })],
      ...over,
    });
  const resource = (v: GitlabRunnerVars) => runnerConfig({ vars: v, owner: me.owner, group: me.group });
  const writes = () => gitlab.calls.filter((c) => c.method !== 'GET');
  const hostDoc = () => parse(readFileSync(path, 'utf8')) as any;

  async function converge(v: GitlabRunnerVars, over: Parameters<typeof makeCtx>[1] = {}) {
    const remote = new LocalRemote();
    const ctx = makeCtx(remote, { wantDiff: true, ...over });
    const r = resource(v);
    const change = await probeAndPlan(r, ctx);
    if (change && !ctx.check) await r.apply(change, ctx);
    return { change, ctx, remote };
  }

  it('check mode plans registrations without calling any write endpoint', async () => {
    const { change } = await converge(vars(), { check: true });
    expect(change?.summary).toBe(`register alpha, beta; create (mode 0600)`);
    expect(change?.diff?.before).toBe('');
    expect(change?.diff?.after).toContain('name = "alpha"');
    expect(change?.diff?.after).not.toMatch(/^token = /m);
    expect(writes()).toEqual([]);
    expect(() => statSync(path)).toThrow();
  });

  it('registers new runners, writes their tokens 0600, and changes nothing on the second run', async () => {
    const v = vars();
    const first = await converge(v);
    expect(first.change?.summary).toBe('register alpha, beta; create (mode 0600)');
    const posts = gitlab.calls.filter((c) => c.method === 'POST');
    expect(posts.map((c) => [c.path, c.status])).toEqual([
      ['/api/v4/user/runners', 201],
      ['/api/v4/user/runners', 201],
    ]);
    expect(posts[0].body).toEqual({ runner_type: 'instance_type', description: 'alpha', tag_list: ['alpha', 'docker'] });
    expect(posts[1].body).toEqual({ runner_type: 'instance_type', description: 'Beta runner', tag_list: [], run_untagged: true, locked: true });
    const fakeRunners = [...gitlab.runners.values()];
    expect(fakeRunners.map((r) => [r.description, r.tag_list, r.created_via])).toEqual([
      ['alpha', ['alpha', 'docker'], 'authentication_token'],
      ['Beta runner', [], 'authentication_token'],
    ]);

    const doc = hostDoc();
    expect(doc.runners.map((r: any) => [r.name, r.id, r.token])).toEqual(fakeRunners.map((r) => [r.description === 'alpha' ? 'alpha' : 'beta', r.id, r.token]));
    expect(doc.runners[0].token).toMatch(/^glrt-/);
    expect(doc.runners[0].token_obtained_at).toBeInstanceOf(Date);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // The new tokens are secret values from the moment they exist.
    expect(redact(readFileSync(path, 'utf8'))).not.toContain('glrt-');

    gitlab.calls.length = 0;
    const second = await converge(v);
    expect(second.change).toBeNull();
    expect(writes()).toEqual([]);
    expect(second.remote.roundTrips).toBe(1); // the probe only
  });

  it('keeps a token the runner rotated on the host, and never registers it again', async () => {
    const v = vars({ gitlab_runners: [runner('alpha')] });
    await converge(v);
    const [fr] = [...gitlab.runners.values()];
    const rotated = gitlab.rotate(fr.id);
    // What gitlab-runner does: rewrite its own config.toml with the new token (its own format).
    const old = readFileSync(path, 'utf8');
    const oldToken = hostDoc().runners[0].token;
    writeFileSync(path, old.replace(oldToken, rotated).replace(/^token_obtained_at = .*$/m, 'token_obtained_at = 2026-03-04T05:06:07.123456789Z'));
    gitlab.calls.length = 0;
    const { change } = await converge(v);
    expect(change).toBeNull();
    expect(writes()).toEqual([]);
    expect(redact(`x ${rotated}`)).toBe('x ********');

    // A real change (concurrent) rewrites the file: the rotated token and its exact timestamp stay.
    const again = await converge(vars({ gitlab_runners: [runner('alpha')], concurrent: 7 }));
    expect(again.change?.summary).toBe('content');
    expect(again.change?.diff?.after).toContain('concurrent = 7');
    const text = readFileSync(path, 'utf8');
    expect(hostDoc().runners[0].token).toBe(rotated);
    expect(text).toContain('token_obtained_at = 2026-03-04T05:06:07.123456789Z');
    expect(writes()).toEqual([]);
  });

  it('re-merges when the runner rewrites the file between plan and apply', async () => {
    const v = vars({ gitlab_runners: [runner('alpha')] });
    await converge(v);
    const [fr] = [...gitlab.runners.values()];
    const remote = new LocalRemote();
    const ctx = makeCtx(remote);
    const r = resource(vars({ gitlab_runners: [runner('alpha')], concurrent: 9 }));
    const change = await probeAndPlan(r, ctx);
    expect(change?.summary).toBe('content');
    const rotated = gitlab.rotate(fr.id);
    writeFileSync(path, readFileSync(path, 'utf8').replace(hostDoc().runners[0].token, rotated));
    await r.apply(change!, ctx);
    expect(hostDoc().runners[0].token).toBe(rotated);
    expect(hostDoc().concurrent).toBe(9);
    expect(ctx.logs.some((l) => l.includes('changed on the host since it was read'))).toBe(true);
  });

  it('deletes a runner removed from the inventory, on GitLab and in the file', async () => {
    await converge(vars());
    const beta = hostDoc().runners[1];
    gitlab.calls.length = 0;
    const v = vars({ gitlab_runners: [runner('alpha')] });
    const check = await converge(v, { check: true });
    expect(check.change?.summary).toBe('delete beta (not in the inventory)');
    expect(writes()).toEqual([]);
    // The diff is useful and masked: the removed entry's token line shows, its value does not.
    const shown = unifiedDiff(check.change!.diff!);
    expect(shown).toContain('-name = "beta"');
    expect(shown).toContain('-token = "********"');
    expect(shown).not.toContain(beta.token);
    expect(gitlab.runners.has(beta.id)).toBe(true);

    const { change } = await converge(v);
    expect(change?.summary).toBe('delete beta (not in the inventory)');
    expect(writes().map((c) => [c.method, c.path, c.status])).toEqual([['DELETE', '/api/v4/runners', 204]]);
    expect(gitlab.runners.has(beta.id)).toBe(false);
    expect(hostDoc().runners.map((r: any) => r.name)).toEqual(['alpha']);
  });

  it('deletes by id with the access token when the runner token is refused', async () => {
    await converge(vars());
    const beta = hostDoc().runners[1];
    // The host's token no longer works (e.g. rotated without the file being updated).
    gitlab.rotate(beta.id);
    gitlab.calls.length = 0;
    await converge(vars({ gitlab_runners: [runner('alpha')] }));
    expect(writes().map((c) => [c.method, c.path, c.status])).toEqual([
      ['DELETE', '/api/v4/runners', 403],
      ['DELETE', `/api/v4/runners/${beta.id}`, 204],
    ]);
    expect(gitlab.runners.has(beta.id)).toBe(false);
  });

  it('updates tags and settings that differ on GitLab', async () => {
    await converge(vars({ gitlab_runners: [runner('alpha')] }));
    const id = hostDoc().runners[0].id;
    gitlab.calls.length = 0;
    const { change } = await converge(vars({ gitlab_runners: [runner('alpha', { tags: ['docker', 'big'], paused: true })] }));
    expect(change?.summary).toBe('update alpha on GitLab (tags alpha,docker -> big,docker, paused false -> true)');
    expect(writes().map((c) => [c.method, c.path, c.body])).toEqual([['PUT', `/api/v4/runners/${id}`, { tag_list: ['docker', 'big'], paused: true }]]);
    expect(gitlab.runners.get(id)!.tag_list).toEqual(['docker', 'big']);
    const again = await converge(vars({ gitlab_runners: [runner('alpha', { tags: ['big', 'docker'], paused: true })] }));
    expect(again.change).toBeNull();
  });

  it('legacy registration-token flow: POST /runners with tags as a comma-separated string', async () => {
    gitlab.setLegacyEnabled(true);
    try {
      const v = vars({
        gitlab_registration: 'registration-token',
        gitlab_registration_token: new Secret(gitlab.registrationToken, 'test'),
        gitlab_access_token: undefined,
        gitlab_runners: [runner('legacy')],
      });
      await converge(v);
      const post = gitlab.calls.find((c) => c.method === 'POST')!;
      expect(post.path).toBe('/api/v4/runners');
      expect(post.body).toEqual({ description: 'legacy', tag_list: 'legacy,docker', token: '[REDACTED]' });
      expect(post.status).toBe(201);
      const token = hostDoc().runners[0].token;
      expect([...gitlab.runners.values()].some((r) => r.token === token && r.created_via === 'registration_token')).toBe(true);
      // Deleting works with the runner's own token (no access token needed).
      gitlab.calls.length = 0;
      await converge({ ...v, gitlab_runners: [] });
      expect(writes().map((c) => [c.method, c.path, c.status])).toEqual([['DELETE', '/api/v4/runners', 204]]);
      expect(hostDoc().runners).toBeUndefined();
    } finally {
      gitlab.setLegacyEnabled(false);
    }
  });

  it('API errors are redacted and never echo the request body', async () => {
    const badToken = new Secret('glpat-wrong-token-xyz', 'test');
    const v = vars({ gitlab_access_token: badToken, gitlab_runners: [runner('alpha')] });
    const remote = new LocalRemote();
    const ctx = makeCtx(remote);
    const r = resource(v);
    const change = await probeAndPlan(r, ctx);
    const err = await r.apply(change!, ctx).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toBe(`registering runner alpha: GitLab API POST ${gitlab.url}/api/v4/user/runners answered 401: 401 Unauthorized (check gitlab_access_token)`);
    expect(err?.message).not.toContain('glpat-wrong-token-xyz');
    expect(err?.message).not.toContain('tag_list');
    // Nothing registered: the file is written without the runner (a tokenless entry is useless), nothing to roll back.
    expect(hostDoc().runners).toBeUndefined();
    expect(hostDoc().concurrent).toBe(4);
  });

  it('a failure after some registrations still writes the tokens GitLab issued', async () => {
    let posts = 0;
    const failSecond: typeof fetch = async (input, init) => {
      if (init?.method === 'POST' && ++posts === 2) return new Response(JSON.stringify({ message: `500 boom ${gitlab.accessToken}` }), { status: 500 });
      return fetch(input, init);
    };
    const v = vars();
    const remote = new LocalRemote();
    const ctx = makeCtx(remote);
    const r = runnerConfig({ vars: v, owner: me.owner, group: me.group, fetch: failSecond });
    const change = await probeAndPlan(r, ctx);
    const err = await r.apply(change!, ctx).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^registering runner beta: GitLab API POST .* answered 500: 500 boom \*{8}$/);
    const doc = hostDoc();
    expect(doc.runners.map((r: any) => r.name)).toEqual(['alpha']);
    expect(doc.runners[0].token).toMatch(/^glrt-/);
    // The next run registers only the missing one.
    gitlab.calls.length = 0;
    await converge(v);
    expect(writes().map((c) => c.path)).toEqual(['/api/v4/user/runners']);
    expect(hostDoc().runners.map((r: any) => r.name)).toEqual(['alpha', 'beta']);
    expect(hostDoc().runners[1].token).toMatch(/^glrt-/);
  });

  it('without an access token, a runner to register fails the plan (check mode too)', async () => {
    const ctx = makeCtx(new LocalRemote(), { check: true });
    await expect(probeAndPlan(resource(vars({ gitlab_access_token: undefined })), ctx)).rejects.toThrow(
      'runner(s) alpha, beta must be registered, which needs gitlab_access_token (create_runner scope)',
    );
    expect(gitlab.calls).toEqual([]);
  });

  it('a host file that is not TOML fails the resource without touching GitLab or the file', async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'gitlab-runner'));
    writeFileSync(path, '[[runners]]\ntoken = "glrt-in-a-broken-file"\nname =\n');
    const ctx = makeCtx(new LocalRemote());
    const err = await probeAndPlan(resource(vars()), ctx).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/config\.toml on the host is not valid TOML \(line 3, column \d+\)/);
    expect(err?.message).not.toContain('glrt-in-a-broken-file');
    expect(gitlab.calls).toEqual([]);
  });

  it('fixes mode and owner without rewriting or calling GitLab', async () => {
    const v = vars({ gitlab_runners: [runner('alpha')] });
    await converge(v);
    const before = readFileSync(path, 'utf8');
    const { chmodSync } = await import('node:fs');
    chmodSync(path, 0o644);
    gitlab.calls.length = 0;
    const { change } = await converge(v);
    expect(change?.summary).toBe('mode 644 -> 600');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(writes()).toEqual([]);
  });
});

describe('GitlabClient', () => {
  it('reports an unreachable GitLab without details of the request', async () => {
    // A port that was free a moment ago: nothing listens there.
    const { createServer } = await import('node:net');
    const srv = createServer();
    await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
    const port = (srv.address() as { port: number }).port;
    await new Promise((ok) => srv.close(ok));
    const c = new GitlabClient(`http://127.0.0.1:${port}/`, { accessToken: new Secret('glpat-never-shown-1', 'test'), timeoutMs: 2000 });
    const err = await c.getRunner(1).then(
      () => null,
      (e: unknown) => e as GitlabApiError,
    );
    expect(err).toBeInstanceOf(GitlabApiError);
    expect(err!.message).toBe(`GitLab API GET http://127.0.0.1:${port}/api/v4/runners/1: request failed (ECONNREFUSED)`);
    expect(err!.message).not.toContain('glpat-never-shown-1');
  });

  it('refuses to call an authenticated endpoint without an access token', async () => {
    const c = new GitlabClient('https://gitlab.example.org');
    await expect(c.getRunner(1)).rejects.toThrow(/needs gitlab_access_token/);
  });
});
