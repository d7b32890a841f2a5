// gitlab-runner role, GitLab side: matching the host's [[runners]] with the
// inventory (pure), then the role's runner resources run by the real engine
// (runHost) on a local shell in a temp dir against the GitLab stand-in
// (127.0.0.1): registration through the API resources, the hand-off of new
// tokens to config.toml, unmanaged runners kept, removals only when asked,
// machines guarding a docker+machine runner, renames and adoption, dead tokens
// registered again, the switchover's holds, scopes, check mode.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HostResult, TaskResult } from '../../lib/engine/report-types.js';
import { runHost } from '../../lib/engine/run.js';
import { defineRole } from '../../lib/engine/types.js';
import { unifiedDiff } from '../../lib/report/diff.js';
import { redact, Secret } from '../../lib/secrets.js';
import { parseHostConfig } from '../../roles/gitlab-runner/config.js';
import { runnerConfig } from '../../roles/gitlab-runner/configResource.js';
import { machinesOf, shortTokens } from '../../roles/gitlab-runner/hostFiles.js';
import { hostCredentials, lookalike, matchEntries, switchoverHolds } from '../../roles/gitlab-runner/registration.js';
import { gitlabSideResources, RunnerHost, runnerHostResource } from '../../roles/gitlab-runner/runnerHost.js';
import { varsSchema, type GitlabRunnerVars } from '../../roles/gitlab-runner/vars.js';
import { settingsDiff } from '../../lib/services/gitlab/runnerResource.js';
import { drainNote } from '../../lib/services/gitlab/drain.js';
import { startFakeGitlab, type FakeGitlab } from '../fakes/gitlab.js';
import { currentUser, LocalRemote, tempDir } from './helpers/localRemote.js';

const runner = (name: string, over: Record<string, unknown> = {}) => ({ name, executor: 'docker', tags: [name, 'docker'], docker: { image: 'alpine:3' }, ...over });
const SWITCHOVER = {
  fetchers_group: 'fetchers',
  trial_fetcher: 'fetchers/ameco',
  tag_map: { docker: ['download-convert'] },
  static_runner: { host: 'h1', runner: 'eros-docker' },
  retired_runner: { host: 'h1', runner: 'dolos-docker' },
};

describe('matching the host file with the inventory (pure)', () => {
  const v = varsSchema.parse({ gitlab_url: 'https://gitlab.example.org', gitlab_runner_version: '17.7.1', gitlab_runners: [runner('kept'), runner('new')] });
  const host = parseHostConfig(
    `[[runners]]\nname = "hand"\nurl = "https://gitlab.example.org"\nid = 1\ntoken = "glrt-hand-000001"\n\n` +
      `[[runners]]\nname = "kept"\nurl = "https://gitlab.example.org/"\nid = 2\ntoken = "glrt-kept-000002"\n\n` +
      `[[runners]]\nname = "kept"\nurl = "https://gitlab.example.org"\nid = 4\ntoken = "glrt-dup-000004"\n\n` +
      `[[runners]]\nurl = "https://gitlab.example.org"\ntoken = "glrt-noname-05"\n`,
    'config.toml',
  );

  it('names the inventory runners by their first entry; everything else is "others", never planned for deletion here', () => {
    const m = matchEntries(v, host);
    expect([...m.byName].map(([n, h]) => [n, h.credentials?.token])).toEqual([['kept', 'glrt-kept-000002']]);
    expect(m.others.map((h) => [h.name, h.credentials?.token])).toEqual([
      ['hand', 'glrt-hand-000001'],
      ['kept', 'glrt-dup-000004'],
      [undefined, 'glrt-noname-05'],
    ]);
  });

  it('a pending registration wins over the entry, unless the entry is the same runner (it may hold a rotated token)', () => {
    const entry = host.runners[1];
    const pending = { name: 'kept', url: 'https://gitlab.example.org', id: 9, token: 'glrt-pending-9', token_expires_at: null, obtained_at: '2026-12-01T10:00:00Z', file: 'f' };
    expect(hostCredentials(entry, pending)?.credentials.token).toBe('glrt-pending-9');
    expect(hostCredentials(entry, { ...pending, id: 2 })?.credentials.token).toBe('glrt-kept-000002');
    expect(hostCredentials(undefined, undefined)).toBeNull();
  });

  it('a rename is recognised by the description, or by the same non-empty tags', () => {
    expect(lookalike({ description: 'alpha', tag_list: ['x'] }, { description: 'alpha', tag_list: [] })).toBe('its description "alpha"');
    expect(lookalike({ description: 'alpha', tag_list: ['b', 'a'] }, { description: 'old', tag_list: ['a', 'b'] })).toBe('its tags (a, b)');
    expect(lookalike({ description: 'alpha', tag_list: [] }, { description: 'old', tag_list: [] })).toBeNull();
  });

  it('the switchover holds the static runner tags and the retired runner existence, on their host only', () => {
    const sv = varsSchema.parse({ gitlab_runner_version: '17.7.1', switchover: SWITCHOVER });
    expect(switchoverHolds(sv, 'h1', 'eros-docker')).toEqual({ tags: 'by the switchover' });
    expect(switchoverHolds(sv, 'h1', 'dolos-docker')).toMatchObject({ existence: expect.stringContaining('retired runner'), paused: 'by the switchover' });
    expect(switchoverHolds(sv, 'h2', 'eros-docker')).toEqual({});
    expect(switchoverHolds(v, 'h1', 'eros-docker')).toEqual({});
  });

  it('short tokens as gitlab-runner names machines (current and older releases), lowercased', () => {
    expect(shortTokens('glrt-AbCdEfGhIjKlMn')).toEqual(['abcdefghi']);
    expect(shortTokens('glrt-t1_AbCdEfGhIjK')).toEqual(['abcdefghi', 't1_abcdef']);
    expect(shortTokens('x1y2z3w4v5u6')).toEqual(['x1y2z3w4v', 'x1y2z3w4']);
    const store = ['runner-abcdefghi-fetch-1', 'runner-abcdefghi-fetch-2', 'runner-zzzzzzzzz-fetch-1', 'other'];
    expect(machinesOf('glrt-AbCdEfGhIjKlMn', store)).toEqual(['runner-abcdefghi-fetch-1', 'runner-abcdefghi-fetch-2']);
  });

  it('settings: one line per difference, tags as sets, holds left out with their reason, a drain mark holds paused', () => {
    const have = { id: 3, description: 'r', tag_list: ['docker'], paused: false, locked: false, run_untagged: true, access_level: 'not_protected' as const, maximum_timeout: null, maintenance_note: null, runner_type: 'instance_type' as const };
    const d = settingsDiff({ description: 'r', tag_list: ['download-convert', 'stateful'], run_untagged: false }, have);
    expect(d.lines).toEqual(['tags: docker -> download-convert, stateful', 'run_untagged: true -> false']);
    expect(d.fields).toEqual({ tag_list: ['download-convert', 'stateful'], run_untagged: false });
    expect(settingsDiff({ tag_list: ['docker'] }, { ...have, tag_list: ['docker'] }).lines).toEqual([]);
    const held = settingsDiff({ tag_list: ['download-convert'], paused: false }, { ...have, paused: true }, { tags: 'by the switchover' });
    expect(held.lines).toEqual(['paused: true -> false']);
    expect(held.held).toEqual(['tags held by the switchover (GitLab: docker; inventory: download-convert)']);
    const drained = settingsDiff({ paused: false, maintenance_note: 'x' }, { ...have, paused: true, maintenance_note: drainNote('h1', 'x') });
    expect(drained.lines).toEqual([]);
    expect(drained.held[0]).toMatch(/^paused held by an upgrade drain/);
  });
});

describe('vars of the registration block', () => {
  const base = { gitlab_url: 'https://gitlab.example.org', gitlab_runner_version: '17.7.1' };
  const problems = (v: Record<string, unknown>) => {
    const r = varsSchema.safeParse({ ...base, ...v });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  it('defaults, and a runner cannot be both wanted and absent, nor adopt another wanted runner', () => {
    const v = varsSchema.parse(base);
    expect([v.gitlab_runners_absent, v.gitlab_runners_exclusive, v.gitlab_runner_drain_timeout, v.gitlab_runner_machine_store]).toEqual([[], false, 1800, '/root/.docker/machine']);
    expect(problems({ gitlab_runners: [runner('a')], gitlab_runners_absent: ['a'] })).toEqual(['gitlab_runners_absent.0: "a" is also in gitlab_runners: a runner is either wanted or absent']);
    expect(problems({ gitlab_runners: [runner('a', { adopt: 'b' }), runner('b')] })).toEqual(['gitlab_runners.0.adopt: "b" is another runner of gitlab_runners, not an entry to take over']);
    expect(problems({ gitlab_runners: [runner('a', { adopt: 3 })] })[0]).toMatch(/^gitlab_runners\.0\.adopt: expected true or the name/);
    expect(problems({ switchover: { ...SWITCHOVER, static_runner: { host: 'h1' } } })[0]).toMatch(/^switchover\.static_runner\.runner/);
  });
});

describe('the runner resources, run by the engine, against the GitLab stand-in', () => {
  let gitlab: FakeGitlab;
  let dir: string;
  let cleanup: () => void;
  let path: string;
  let store: string;
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
    store = join(dir, 'machine');
    gitlab.calls.length = 0;
    gitlab.runners.clear();
  });
  afterEach(() => cleanup());

  const vars = (over: Record<string, unknown> = {}): GitlabRunnerVars =>
    varsSchema.parse({
      gitlab_url: gitlab.url,
      gitlab_access_token: new Secret(gitlab.accessToken, 'test'),
      gitlab_runner_version: '17.7.1',
      gitlab_runner_config_path: path,
      gitlab_runner_machine_store: store,
      concurrent: 4,
      gitlab_runners: [runner('alpha'), runner('beta', { tags: [], run_untagged: true, locked: true, description: 'Beta runner' })],
      ...over,
    });

  // The role's GitLab-side resources and config.toml, owned by the test's user.
  const role = defineRole<GitlabRunnerVars>({
    name: 'gitlab-runner',
    vars: varsSchema,
    tasks: ({ host, vars: v }) => {
      const shared = new RunnerHost(v, host, v.gitlab_runner_config_path);
      return { resources: [runnerHostResource(shared), ...gitlabSideResources(shared), runnerConfig({ vars: v, shared, owner: me.owner, group: me.group })] };
    },
  });

  interface Run {
    result: HostResult;
    session: LocalRemote;
    logs: string[];
    calls: FakeGitlab['calls'];
    task(id: string): TaskResult | undefined;
  }

  async function run(v: GitlabRunnerVars, o: { check?: boolean; fetch?: typeof fetch } = {}): Promise<Run> {
    const session = new LocalRemote();
    const logs: string[] = [];
    const before = gitlab.calls.length;
    const result = await runHost('h1', async () => session, [{ role, vars: v }], { check: o.check ?? false, wantDiff: true, tags: [], skipTags: [], onLog: (_h, m) => logs.push(m), fetch: o.fetch });
    return { result, session, logs, calls: gitlab.calls.slice(before), task: (id) => result.tasks.find((t) => t.resource === id) };
  }

  const CONFIG = () => `gitlab-runner-config:${path}`;
  /** requests that change something on GitLab (verify is a read) */
  const writes = (calls: FakeGitlab['calls']) => calls.filter((c) => c.method !== 'GET' && c.path !== '/api/v4/runners/verify').map((c) => `${c.method} ${c.path} ${c.status}`);
  const changed = (r: Run) => r.result.tasks.filter((t) => t.status === 'changed').map((t) => `${t.resource}: ${t.summary}`);
  const hostDoc = () => parse(readFileSync(path, 'utf8')) as any;
  const pendingFiles = () => (existsSync(join(dir, 'gitlab-runner')) ? readdirSync(join(dir, 'gitlab-runner')).filter((f) => f.startsWith('.rigger-registered-')) : []);

  /** A runner registered by hand (not by rigger), written into the host's config.toml before the run. */
  async function handRegistered(name: string, fields: Record<string, unknown> = {}, extra = ''): Promise<{ id: number; token: string }> {
    const res = await fetch(`${gitlab.url}/api/v4/user/runners`, {
      method: 'POST',
      headers: { 'PRIVATE-TOKEN': gitlab.accessToken, 'Content-Type': 'application/json' },
      body: JSON.stringify({ runner_type: 'instance_type', description: name, ...fields }),
    });
    const created = (await res.json()) as { id: number; token: string };
    mkdirSync(join(dir, 'gitlab-runner'), { recursive: true });
    const text = existsSync(path) ? readFileSync(path, 'utf8') : 'concurrent = 2\n';
    writeFileSync(
      path,
      `${text}\n[[runners]]\n  name = "${name}"\n  url = "${gitlab.url}"\n  id = ${created.id}\n  token = "${created.token}"\n  token_obtained_at = 2026-01-02T03:04:05.123456789Z\n  token_expires_at = 0001-01-01T00:00:00Z\n  executor = "docker"\n${extra}`,
      { mode: 0o600 },
    );
    gitlab.calls.length = 0;
    return created;
  }

  it('check mode on a fresh host: each registration is its own line with a diff, and no write request reaches GitLab', async () => {
    const r = await run(vars(), { check: true });
    expect(r.result.status).toBe('changed');
    expect(changed(r)).toEqual([
      `gitlab-runner:alpha: register on ${gitlab.url} (tags: alpha, docker)`,
      `gitlab-runner:beta: register on ${gitlab.url} (tags: (none))`,
      `${CONFIG()}: create (mode 0600); add alpha, beta`,
    ]);
    const diff = unifiedDiff(r.task('gitlab-runner:alpha')!.diff!);
    expect(diff).toContain('gitlab:runner/alpha');
    expect(diff).toContain('+description: alpha');
    expect(diff).toContain('+runner_type: instance_type');
    expect(r.task(CONFIG())!.diff!.after).toContain('name = "alpha"');
    expect(r.task(CONFIG())!.diff!.after).not.toMatch(/^token = /m);
    expect(writes(r.calls)).toEqual([]);
    expect(existsSync(path)).toBe(false);
  });

  it('registers through the API resources, hands the tokens to config.toml (0600), then converges in 2 round trips', async () => {
    const v = vars();
    const first = await run(v);
    expect(first.result.status, JSON.stringify(first.result.tasks)).toBe('changed');
    const posts = first.calls.filter((c) => c.method === 'POST');
    expect(posts.map((c) => [c.path, c.status])).toEqual([
      ['/api/v4/user/runners', 201],
      ['/api/v4/user/runners', 201],
    ]);
    expect(posts[0].body).toEqual({ runner_type: 'instance_type', description: 'alpha', tag_list: ['alpha', 'docker'] });
    expect(posts[1].body).toEqual({ runner_type: 'instance_type', description: 'Beta runner', tag_list: [], run_untagged: true, locked: true });
    const fake = [...gitlab.runners.values()];
    const doc = hostDoc();
    expect(doc.runners.map((x: any) => [x.name, x.id, x.token])).toEqual([
      ['alpha', fake[0].id, fake[0].token],
      ['beta', fake[1].id, fake[1].token],
    ]);
    expect(doc.runners[0].token_obtained_at).toBeInstanceOf(Date);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(pendingFiles()).toEqual([]); // merged, then removed
    expect(redact(readFileSync(path, 'utf8'))).not.toContain('glrt-');
    expect(first.result.apiRequests).toBe(first.calls.length);

    const second = await run(v);
    expect(second.result.status).toBe('ok');
    expect(second.result.counts.changed).toBe(0);
    expect(writes(second.calls)).toEqual([]);
    expect(second.result.remoteCommands).toBe(2); // facts + one batch of probes
    // per runner: POST /runners/verify (its token still works?) and GET /runners/:id (its settings)
    expect(second.result.apiRequests).toBe(4);
    expect(second.calls.map((c) => `${c.method} ${c.path.replace(/\d+$/, 'N')}`).sort()).toEqual(['GET /api/v4/runners/N', 'GET /api/v4/runners/N', 'POST /api/v4/runners/verify', 'POST /api/v4/runners/verify']);
  });

  it('GitLab-side changes are their own lines: settings updated by PUT, config.toml untouched', async () => {
    await run(vars({ gitlab_runners: [runner('alpha')] }));
    const id = hostDoc().runners[0].id;
    const before = readFileSync(path, 'utf8');
    const check = await run(vars({ gitlab_runners: [runner('alpha', { tags: ['docker', 'big'], paused: true, maximum_timeout: 3600 })] }), { check: true });
    expect(changed(check)).toEqual(['gitlab-runner:alpha: tags: alpha, docker -> docker, big; paused: false -> true; maximum_timeout: null -> 3600']);
    const diff = unifiedDiff(check.task('gitlab-runner:alpha')!.diff!);
    expect(diff).toContain('-  - alpha');
    expect(diff).toContain('+  - big');
    expect(diff).toContain('-paused: false\n');
    expect(diff).toContain('+paused: true\n');
    expect(writes(check.calls)).toEqual([]);
    const r = await run(vars({ gitlab_runners: [runner('alpha', { tags: ['docker', 'big'], paused: true, maximum_timeout: 3600 })] }));
    expect(r.calls.filter((c) => c.method === 'PUT').map((c) => [c.path, c.body])).toEqual([[`/api/v4/runners/${id}`, { tag_list: ['docker', 'big'], paused: true, maximum_timeout: 3600 }]]);
    expect(gitlab.runners.get(id)).toMatchObject({ tag_list: ['docker', 'big'], paused: true, maximum_timeout: 3600 });
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect((await run(vars({ gitlab_runners: [runner('alpha', { tags: ['big', 'docker'], paused: true, maximum_timeout: 3600 })] }))).result.counts.changed).toBe(0);
  });

  it('keeps a token the runner rotated, and never registers it again', async () => {
    const v = vars({ gitlab_runners: [runner('alpha')] });
    await run(v);
    const [fr] = [...gitlab.runners.values()];
    const oldToken = hostDoc().runners[0].token;
    const rotated = gitlab.rotate(fr.id);
    writeFileSync(path, readFileSync(path, 'utf8').replace(oldToken, rotated).replace(/^token_obtained_at = .*$/m, 'token_obtained_at = 2026-03-04T05:06:07.123456789Z'));
    const r = await run(v);
    expect(r.result.counts.changed).toBe(0);
    expect(writes(r.calls)).toEqual([]);
    const again = await run(vars({ gitlab_runners: [runner('alpha')], concurrent: 7 }));
    expect(changed(again)).toEqual([`${CONFIG()}: content`]);
    expect(hostDoc().runners[0].token).toBe(rotated);
    expect(readFileSync(path, 'utf8')).toContain('token_obtained_at = 2026-03-04T05:06:07.123456789Z');
  });

  it('re-merges when the runner rewrites the file between plan and apply', async () => {
    const v = vars({ gitlab_runners: [runner('alpha')] });
    await run(v);
    const [fr] = [...gitlab.runners.values()];
    const shared = new RunnerHost(vars({ gitlab_runners: [runner('alpha')], concurrent: 9 }), 'h1', path);
    const r = runnerConfig({ vars: shared.vars, shared, owner: me.owner, group: me.group });
    const remote = new LocalRemote();
    const logs: string[] = [];
    const ctx = { ...(await import('./helpers/context.js')).makeCtx(remote), log: (m: string) => logs.push(m) };
    const change = await r.plan((await remote.run(r.probe)) as never, ctx);
    expect(change?.summary).toBe('content');
    const rotated = gitlab.rotate(fr.id);
    writeFileSync(path, readFileSync(path, 'utf8').replace(hostDoc().runners[0].token, rotated));
    await r.apply(change!, ctx);
    expect(hostDoc().runners[0].token).toBe(rotated);
    expect(hostDoc().concurrent).toBe(9);
    expect(logs.some((l) => l.includes('changed on the host since it was read'))).toBe(true);
  });

  it('a hand-registered runner the inventory does not name is kept as it is and reported, on GitLab and in config.toml', async () => {
    const hand = await handRegistered('hand-made', { tag_list: ['legacy'] }, '  [runners.machine]\n    IdleScaleFactor = 1.0\n');
    const r = await run(vars({ gitlab_runners: [runner('alpha')] }));
    expect(r.result.status, JSON.stringify(r.result.tasks)).toBe('changed');
    expect(writes(r.calls)).toEqual(['POST /api/v4/user/runners 201']);
    expect(r.task(CONFIG())?.summary).toBe('add alpha; keep unmanaged hand-made');
    expect(r.logs).toContain(`unmanaged: hand-made in ${path} (a registered runner) is not in gitlab_runners: left as it is (list it in gitlab_runners_absent to delete it)`);
    expect(gitlab.runners.has(hand.id)).toBe(true);
    const text = readFileSync(path, 'utf8');
    const doc = parse(text) as any;
    expect(doc.runners.map((x: any) => x.name)).toEqual(['hand-made', 'alpha']);
    expect(doc.runners[0]).toMatchObject({ id: hand.id, token: hand.token, executor: 'docker', url: gitlab.url });
    expect(text).toContain('token_obtained_at = 2026-01-02T03:04:05.123456789Z');
    expect(text).toMatch(/^IdleScaleFactor = 1\.0$/m);
    // An empty inventory list deletes nothing either.
    const none = await run(vars({ gitlab_runners: [] }));
    expect(writes(none.calls)).toEqual([]);
    expect(parse(readFileSync(path, 'utf8')).runners).toHaveLength(2);
    expect((await run(vars({ gitlab_runners: [] }))).result.counts.changed).toBe(0);
  });

  it('gitlab_runners_absent deletes on GitLab and drops the entry; check mode shows it first and writes nothing', async () => {
    await run(vars());
    const beta = hostDoc().runners[1];
    const v = vars({ gitlab_runners: [runner('alpha')], gitlab_runners_absent: ['beta'] });
    const check = await run(v, { check: true });
    expect(changed(check)).toEqual([`gitlab-runner:beta: delete runner ${beta.id} on ${gitlab.url}`, `${CONFIG()}: drop beta`]);
    expect(unifiedDiff(check.task('gitlab-runner:beta')!.diff!)).toContain('-description: Beta runner');
    const shown = unifiedDiff(check.task(CONFIG())!.diff!);
    expect(shown).toContain('-token = "[earlier secret]"');
    expect(shown).not.toContain(beta.token);
    expect(writes(check.calls)).toEqual([]);
    expect(gitlab.runners.has(beta.id)).toBe(true);

    const r = await run(v);
    expect(writes(r.calls)).toEqual(['DELETE /api/v4/runners 204']);
    expect(gitlab.runners.has(beta.id)).toBe(false);
    expect(hostDoc().runners.map((x: any) => x.name)).toEqual(['alpha']);
    expect((await run(v)).result.counts.changed).toBe(0);
  });

  it('deletes by id with the access token when the runner token is refused but GitLab still has it', async () => {
    await run(vars());
    const beta = hostDoc().runners[1];
    gitlab.rotate(beta.id); // the host's token no longer works
    const r = await run(vars({ gitlab_runners: [runner('alpha')], gitlab_runners_absent: ['beta'] }));
    expect(writes(r.calls)).toEqual(['DELETE /api/v4/runners 403', `DELETE /api/v4/runners/${beta.id} 204`]);
    expect(gitlab.runners.has(beta.id)).toBe(false);
  });

  it('a docker+machine runner with machines in its store is never removed: refused, listing them; removed once they are gone', async () => {
    await run(vars());
    const beta = hostDoc().runners[1];
    const [short] = shortTokens(beta.token);
    for (const m of [`runner-${short}-fetch-1`, `runner-${short}-fetch-2`, 'runner-other000-fetch-1']) mkdirSync(join(store, 'machines', m), { recursive: true });
    const before = readFileSync(path, 'utf8');
    const v = vars({ gitlab_runners: [runner('alpha')], gitlab_runners_absent: ['beta'] });
    for (const check of [true, false]) {
      const r = await run(v, { check });
      const t = r.task('gitlab-runner:beta')!;
      expect(t.status).toBe('failed');
      expect(t.error).toContain(`beta must go, but deleting it now would orphan what is named after its token: docker-machine's store (${store}) still holds 2 machine(s) named after its token: runner-${short}-fetch-1, runner-${short}-fetch-2.`);
      expect(r.result.status).toBe('failed');
      expect(writes(r.calls)).toEqual([]);
      expect(readFileSync(path, 'utf8')).toBe(before);
    }
    expect(gitlab.runners.has(beta.id)).toBe(true);
    for (const m of [1, 2]) (await import('node:fs')).rmSync(join(store, 'machines', `runner-${short}-fetch-${m}`), { recursive: true });
    const r = await run(v);
    expect(r.result.status).toBe('changed');
    expect(gitlab.runners.has(beta.id)).toBe(false);
  });

  it('gitlab_runners_exclusive deletes every other registered runner of the file', async () => {
    const hand = await handRegistered('hand-made');
    await handRegistered('another', { tag_list: ['x'] });
    const v = vars({ gitlab_runners: [runner('alpha')], gitlab_runners_exclusive: true });
    const check = await run(v, { check: true });
    expect(check.task(`gitlab-runners-exclusive:${path}`)?.summary).toBe(`hand-made: delete runner ${hand.id} on ${gitlab.url}; another: delete runner ${hand.id + 1} on ${gitlab.url}`);
    expect(writes(check.calls)).toEqual([]);
    const r = await run(v);
    expect(r.result.status, JSON.stringify(r.result.tasks)).toBe('changed');
    expect(writes(r.calls).sort()).toEqual(['DELETE /api/v4/runners 204', 'DELETE /api/v4/runners 204', 'POST /api/v4/user/runners 201']);
    expect(hostDoc().runners.map((x: any) => x.name)).toEqual(['alpha']);
    expect((await run(v)).result.counts.changed).toBe(0);
  });

  it('a rename is never a silent re-registration: refused, then adopt = true takes the entry over with its token', async () => {
    const old = await handRegistered('old-name', { description: 'alpha', tag_list: ['legacy'] });
    const refused = await run(vars({ gitlab_runners: [runner('alpha')] }));
    const t = refused.task('gitlab-runner:alpha')!;
    expect(t.status).toBe('failed');
    expect(t.error).toBe(
      `alpha is not in ${path}, but old-name (id ${old.id}, its description "alpha") looks like it on GitLab: renamed? ` +
        'Set adopt = true on alpha to take it over (its token is kept), or list it in gitlab_runners_absent to replace it with a new registration',
    );
    expect(writes(refused.calls)).toEqual([]);

    const v = vars({ gitlab_runners: [runner('alpha', { adopt: true })] });
    const check = await run(v, { check: true });
    expect(changed(check)).toEqual([`gitlab-runner:alpha: adopt old-name (id ${old.id}); tags: legacy -> alpha, docker`, `${CONFIG()}: rename old-name -> alpha (adopted)`]);
    const r = await run(v);
    expect(writes(r.calls)).toEqual([`PUT /api/v4/runners/${old.id} 200`]);
    const doc = hostDoc();
    expect(doc.runners.map((x: any) => [x.name, x.id, x.token])).toEqual([['alpha', old.id, old.token]]);
    expect(readFileSync(path, 'utf8')).toContain('token_obtained_at = 2026-01-02T03:04:05.123456789Z');
    expect((await run(v)).result.counts.changed).toBe(0); // adopt stays harmless once done
  });

  it('adopt = "<name>" takes over that entry whatever its settings', async () => {
    const old = await handRegistered('legacy-runner', { description: 'something else' });
    const r = await run(vars({ gitlab_runners: [runner('alpha', { adopt: 'legacy-runner' })] }));
    expect(writes(r.calls)).toEqual([`PUT /api/v4/runners/${old.id} 200`]);
    expect(hostDoc().runners.map((x: any) => [x.name, x.token])).toEqual([['alpha', old.token]]);
    const missing = await run(vars({ gitlab_runners: [runner('gamma', { adopt: 'nope' })] }));
    expect(missing.task('gitlab-runner:gamma')?.error).toBe(`gamma: adopt = "nope", but ${path} has no runner nope with a token`);
  });

  it('a runner whose token GitLab no longer accepts (deleted in the admin area) is registered again, with a line saying why', async () => {
    await run(vars({ gitlab_runners: [runner('alpha')] }));
    const old = hostDoc().runners[0];
    gitlab.runners.delete(old.id);
    const check = await run(vars({ gitlab_runners: [runner('alpha')] }), { check: true });
    expect(changed(check)).toEqual([
      `gitlab-runner:alpha: register again: GitLab no longer accepts its token (POST /runners/verify answered 403; runner ${old.id} is gone from GitLab)`,
      `${CONFIG()}: new token for alpha (registered again)`,
    ]);
    const r = await run(vars({ gitlab_runners: [runner('alpha')] }));
    expect(writes(r.calls)).toEqual(['POST /api/v4/user/runners 201']);
    const now = hostDoc().runners[0];
    expect(now.id).not.toBe(old.id);
    expect(gitlab.runners.get(now.id)?.token).toBe(now.token);
    expect((await run(vars({ gitlab_runners: [runner('alpha')] }))).result.counts.changed).toBe(0);
  });

  it('a registration failure midway keeps what GitLab issued on the host; the next run registers only the missing one', async () => {
    let posts = 0;
    const failSecond: typeof fetch = async (input, init) => {
      if (init?.method === 'POST' && String(input).endsWith('/user/runners') && ++posts === 2) return new Response(JSON.stringify({ message: `500 boom ${gitlab.accessToken}` }), { status: 500 });
      return fetch(input, init);
    };
    const first = await run(vars(), { fetch: failSecond });
    const t = first.task('gitlab-runner:beta')!;
    expect(t.status).toBe('failed');
    expect(t.error).toBe(`GitLab API POST ${gitlab.url}/api/v4/user/runners answered 500: 500 boom ********`);
    // alpha's token is on the host already (0600), though config.toml was never reached
    expect(pendingFiles()).toEqual(['.rigger-registered-alpha.json']);
    expect(statSync(join(dir, 'gitlab-runner', '.rigger-registered-alpha.json')).mode & 0o777).toBe(0o600);
    const second = await run(vars());
    expect(writes(second.calls)).toEqual(['POST /api/v4/user/runners 201']);
    expect(changed(second)).toEqual([`gitlab-runner:beta: register on ${gitlab.url} (tags: (none))`, `${CONFIG()}: create (mode 0600); add alpha, beta`]);
    expect(hostDoc().runners.map((x: any) => x.name)).toEqual(['alpha', 'beta']);
    expect(pendingFiles()).toEqual([]);
    expect(gitlab.runners.size).toBe(2);
  });

  it('when the new token cannot be kept on the host, the registration is rolled back on GitLab', async () => {
    writeFileSync(join(dir, 'gitlab-runner'), 'not a directory\n'); // the config directory cannot be created
    const r = await run(vars({ gitlab_runners: [runner('alpha')] }));
    expect(r.task('gitlab-runner:alpha')?.status).toBe('failed');
    expect(writes(r.calls)).toEqual(['POST /api/v4/user/runners 201', 'DELETE /api/v4/runners 204']);
    expect(gitlab.runners.size).toBe(0);
    expect(r.logs).toContain('rolled back the registration of alpha');
  });

  it('while the switchover is set: the static runner tags are held, the retired runner is neither deleted nor registered again', async () => {
    const names = { gitlab_runners: [runner('eros-docker', { tags: ['docker'] }), runner('dolos-docker', { tags: ['docker'] })] };
    await run(vars(names));
    const [eros, dolos] = hostDoc().runners;
    const sw = vars({ gitlab_runners: [runner('eros-docker', { tags: ['download-convert', 'stateful'], run_untagged: false }), runner('dolos-docker', { tags: ['docker'] })], switchover: SWITCHOVER });
    const r = await run(sw);
    expect(changed(r)).toEqual(['gitlab-runner:eros-docker: run_untagged: true -> false; tags held by the switchover (GitLab: docker; inventory: download-convert, stateful)']);
    expect(gitlab.runners.get(eros.id)).toMatchObject({ tag_list: ['docker'], run_untagged: false });
    expect(r.logs).toContain('eros-docker: tags held by the switchover (GitLab: docker; inventory: download-convert, stateful)');
    // Once GitLab has the inventory's tags (the switchover's step 4), nothing is held back any more.
    gitlab.runners.get(eros.id)!.tag_list = ['download-convert', 'stateful'];
    expect((await run(sw)).result.counts.changed).toBe(0);

    // The switchover's step 5 deletes the retired runner on GitLab: the role does not bring it back.
    gitlab.runners.delete(dolos.id);
    const after = await run(sw);
    expect(writes(after.calls)).toEqual([]);
    expect(after.result.counts.changed).toBe(0);
    expect(after.logs.some((l) => l.startsWith('dolos-docker: GitLab no longer accepts its token') && l.includes("switchover's retired runner"))).toBe(true);
    // Nor does gitlab_runners_absent delete it while the switchover is under way.
    await handRegistered('dolos-docker2');
    const retiredAbsent = await run(vars({ ...sw, gitlab_runners: [runner('eros-docker', { tags: ['download-convert', 'stateful'] })], gitlab_runners_absent: ['dolos-docker'], switchover: SWITCHOVER }));
    expect(writes(retiredAbsent.calls)).toEqual([]);
  });

  it('scopes: create_runner alone registers but cannot read the runner back; manage_runner alone cannot register', async () => {
    const createOnly = new Secret(gitlab.addAccessToken(['create_runner']), 'test');
    const first = await run(vars({ gitlab_access_token: createOnly, gitlab_runners: [runner('alpha')] }));
    expect(first.result.status).toBe('changed'); // POST /user/runners is what create_runner allows
    const second = await run(vars({ gitlab_access_token: createOnly, gitlab_runners: [runner('alpha')] }));
    const t = second.task('gitlab-runner:alpha')!;
    expect(t.status).toBe('failed');
    expect(t.error).toMatch(/^GitLab API GET .*\/api\/v4\/runners\/\d+ answered 403: The request requires higher privileges than provided by the access token\. \(gitlab_access_token lacks a scope: this call needs the api, read_api or manage_runner scope\)$/);

    const manageOnly = new Secret(gitlab.addAccessToken(['manage_runner']), 'test');
    const third = await run(vars({ gitlab_access_token: manageOnly, gitlab_runners: [runner('alpha'), runner('delta')] }));
    expect(third.result.counts.failed).toBe(1);
    expect(third.task('gitlab-runner:delta')?.error).toMatch(/answered 403: .* \(gitlab_access_token lacks a scope: this call needs the api or create_runner scope\)$/);
    expect(third.task('gitlab-runner:alpha')?.status).toBe('ok'); // reading with manage_runner works
  });

  it('without an access token, a runner to register fails its plan (check mode too), before any request', async () => {
    const r = await run(vars({ gitlab_access_token: undefined }), { check: true });
    expect(r.task('gitlab-runner:alpha')?.error).toBe(`alpha must be registered on ${gitlab.url}, which needs gitlab_access_token (an access token with the create_runner or api scope)`);
    expect(r.calls).toEqual([]);
  });

  it('legacy registration-token flow: POST /runners with tags as a comma-separated string; deleted with its own token', async () => {
    gitlab.setLegacyEnabled(true);
    try {
      const v = vars({ gitlab_registration: 'registration-token', gitlab_registration_token: new Secret(gitlab.registrationToken, 'test'), gitlab_access_token: undefined, gitlab_runners: [runner('legacy')] });
      const r = await run(v);
      const post = r.calls.find((c) => c.method === 'POST' && c.path === '/api/v4/runners')!;
      expect(post.body).toEqual({ description: 'legacy', tag_list: 'legacy,docker', token: '[REDACTED]' });
      expect(post.status).toBe(201);
      expect((await run(v)).result.counts.changed).toBe(0);
      const gone = await run({ ...v, gitlab_runners: [], gitlab_runners_absent: ['legacy'] });
      expect(writes(gone.calls)).toEqual(['DELETE /api/v4/runners 204']);
      expect(hostDoc().runners).toBeUndefined();
    } finally {
      gitlab.setLegacyEnabled(false);
    }
  });

  it('API errors are redacted and never echo the request body', async () => {
    const r = await run(vars({ gitlab_access_token: new Secret('glpat-wrong-token-xyz', 'test'), gitlab_runners: [runner('alpha')] }));
    const t = r.task('gitlab-runner:alpha')!;
    expect(t.error).toBe(`GitLab API POST ${gitlab.url}/api/v4/user/runners answered 401: 401 Unauthorized (GitLab does not accept gitlab_access_token: expired, revoked or mistyped?)`);
    expect(JSON.stringify(r.result)).not.toContain('glpat-wrong-token-xyz');
    expect(t.error).not.toContain('tag_list');
    expect(existsSync(path)).toBe(false);
  });

  it('a host file that is not TOML fails before any GitLab request, without quoting the file', async () => {
    mkdirSync(join(dir, 'gitlab-runner'));
    writeFileSync(path, '[[runners]]\ntoken = "glrt-in-a-broken-file"\nname =\n');
    const r = await run(vars());
    const t = r.task(`gitlab-runner-host:${path}`)!;
    expect(t.error).toMatch(/config\.toml on the host is not valid TOML \(line 3, column \d+\)/);
    expect(t.error).not.toContain('glrt-in-a-broken-file');
    expect(r.calls).toEqual([]);
  });

  it('fixes mode and owner without rewriting or calling GitLab to write', async () => {
    await run(vars({ gitlab_runners: [runner('alpha')] }));
    const before = readFileSync(path, 'utf8');
    chmodSync(path, 0o644);
    const r = await run(vars({ gitlab_runners: [runner('alpha')] }));
    expect(changed(r)).toEqual([`${CONFIG()}: mode 644 -> 600`]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(writes(r.calls)).toEqual([]);
  });
});

describe('--render of the runner resources (no host, no GitLab)', () => {
  it('each runner renders its desired GitLab-side state; config.toml renders with tokens shown as kept on the host', async () => {
    const { expandRole } = await import('./helpers/roles.js');
    const role = (await import('../../roles/gitlab-runner/index.js')).default;
    const { resources } = await expandRole(role, {
      gitlab_url: 'https://gitlab.example.org',
      gitlab_access_token: new Secret('glpat-render-never-shown', 'test'),
      gitlab_runner_version: '17.7.1',
      gitlab_runners: [runner('alpha', { run_untagged: false })],
      gitlab_runners_absent: ['old'],
    });
    const rendered = Object.fromEntries(resources.filter((r) => r.render).map((r) => [r.id, r.render!()]));
    expect(rendered['gitlab-runner:alpha']).toEqual({
      api: { name: 'gitlab-runner/alpha', state: { url: 'https://gitlab.example.org', runner_type: 'instance_type', description: 'alpha', tag_list: ['alpha', 'docker'], run_untagged: false } },
    });
    expect(rendered['gitlab-runner:old']).toEqual({ api: { name: 'gitlab-runner/old', state: null } });
    const file = rendered['gitlab-runner-config:/etc/gitlab-runner/config.toml']!.files![0];
    expect(file.mode).toBe('0600');
    expect(String(file.content)).toContain('token = "(kept as it is on the host)"');
    expect(JSON.stringify(rendered)).not.toContain('glpat-render-never-shown');
  });
});
