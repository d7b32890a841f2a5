// The wiki page resource against the GitLab stand-in with its wikis
// extension (test/fakes/gitlabWiki.ts), the stand-in's own contract, and the
// docs playbook on the control machine alone (`--limit local`: nothing
// measured): publish, publish again (no write), --check after a change.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeRunContext } from '../../lib/engine/context.js';
import type { Change } from '../../lib/engine/types.js';
import { runPlaybook } from '../../lib/playbook.js';
import { Secret } from '../../lib/secrets.js';
import { titleForSlug, wikiPage, wikiPagePath, type WikiData } from '../../lib/services/gitlab/wikiPage.js';
import docs from '../../playbooks/docs.js';
import { startFakeGitlab, type FakeGitlab } from '../fakes/gitlab.js';
import { fakeGitlabWiki, type FakeGitlabWiki } from '../fakes/gitlabWiki.js';
import { DEBIAN12_FACTS } from './helpers/context.js';
import { productionLikeText } from './helpers/docs.js';

const PROJECT = 'dbnomics-fetchers/documentation';
let gitlab: FakeGitlab;
let wiki: FakeGitlabWiki;
let dir: string;

beforeAll(async () => {
  wiki = fakeGitlabWiki([{ id: 42, path: PROJECT }]);
  gitlab = await startFakeGitlab({ extensions: [wiki.extension] });
  dir = await mkdtemp(join(tmpdir(), 'rigger-wiki-'));
});
afterAll(async () => {
  await gitlab?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  for (const p of wiki.projects) p.pages.clear();
  gitlab.calls.length = 0;
});

const writes = () => gitlab.calls.filter((c) => c.path.includes('/wikis') && c.method !== 'GET');

async function api(method: string, path: string, body?: unknown, token: string | null = gitlab.accessToken) {
  const res = await fetch(gitlab.url + path, { method, headers: { ...(token ? { 'PRIVATE-TOKEN': token } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, json: res.status === 204 ? null : await res.json() };
}

describe('the wikis stand-in follows the Wikis API', () => {
  it('creates from a title, reads by encoded path or id, updates, moves on a new title, deletes', async () => {
    expect((await api('GET', wikiPagePath(PROJECT, 'x'), undefined, null)).status).toBe(401);
    expect((await api('GET', wikiPagePath('nobody/nothing', 'x'))).json).toEqual({ message: '404 Project Not Found' });
    expect(await api('GET', wikiPagePath(PROJECT, 'ci-jobs-and-runners'))).toEqual({ status: 404, json: { message: '404 Wiki Page Not Found' } });
    expect(await api('POST', wikiPagePath(PROJECT), { title: 'ci jobs and runners', content: 'hello' })).toEqual({ status: 201, json: { slug: 'ci-jobs-and-runners', title: 'ci jobs and runners', format: 'markdown', content: 'hello', encoding: 'UTF-8' } });
    expect((await api('POST', wikiPagePath(42), { title: 'ci jobs and runners', content: 'again' })).status).toBe(400);
    expect((await api('POST', wikiPagePath(42), { title: 't' })).json).toEqual({ message: '400 Bad request - content is missing' });
    expect((await api('POST', wikiPagePath(42), { title: 't', content: 'c', format: 'docx' })).status).toBe(400);
    expect((await api('GET', wikiPagePath(42, 'ci-jobs-and-runners'))).json.content).toBe('hello');
    expect((await api('PUT', wikiPagePath(PROJECT, 'ci-jobs-and-runners'), { content: 'v2' })).json).toMatchObject({ slug: 'ci-jobs-and-runners', content: 'v2' });
    expect((await api('PUT', wikiPagePath(PROJECT, 'ci-jobs-and-runners'), { title: 'Runners' })).json).toMatchObject({ slug: 'Runners', content: 'v2' });
    expect((await api('GET', wikiPagePath(PROJECT, 'ci-jobs-and-runners'))).status).toBe(404);
    expect((await api('GET', `${wikiPagePath(PROJECT)}?with_content=1`)).json).toEqual([{ slug: 'Runners', title: 'Runners', format: 'markdown', content: 'v2', encoding: 'UTF-8' }]);
    expect((await api('DELETE', wikiPagePath(PROJECT, 'Runners'))).status).toBe(204);
  });

  it('keeps pages in folders: dir/page', async () => {
    await api('POST', wikiPagePath(PROJECT), { title: 'ops/ci jobs', content: 'x' });
    expect((await api('GET', wikiPagePath(PROJECT, 'ops/ci-jobs'))).json).toMatchObject({ slug: 'ops/ci-jobs', title: 'ci jobs' });
    expect(gitlab.calls.at(-1)!.path).toBe('/api/v4/projects/dbnomics-fetchers%2Fdocumentation/wikis/ops%2Fci-jobs');
  });
});

describe('the wiki page resource', () => {
  const token = new Secret('glpat-wiki-canary-0000000', 'GITLAB_ACCESS_TOKEN');
  const ctx = (check = false) => makeRunContext({ host: 'local', facts: DEBIAN12_FACTS, check, wantDiff: true });
  const resource = (content: string, slug = 'ci-jobs-and-runners') => wikiPage({ gitlabUrl: gitlab.url, token: new Secret(gitlab.accessToken, 'T'), project: PROJECT, slug, content: () => content, fingerprint: (c) => c.replace(/as of \S+/g, '') });

  it('creates a missing page with the title its slug stands for, then leaves it alone', async () => {
    const r = resource('# page\nas of 2026-12-01\n');
    const c = ctx();
    const change = (await r.plan(await r.read(c), c)) as Change<WikiData>;
    expect(change.summary).toBe(`create wiki page ${PROJECT}/ci-jobs-and-runners`);
    expect(change.diff).toEqual({ path: `gitlab:wiki/${PROJECT}/ci-jobs-and-runners.md`, before: '', after: '# page\nas of 2026-12-01\n' });
    await r.apply(change, c);
    expect(writes().map((w) => [w.method, w.path, (w.body as { title?: string }).title])).toEqual([['POST', `/api/v4/projects/${encodeURIComponent(PROJECT)}/wikis`, titleForSlug('ci-jobs-and-runners')]]);
    expect(wiki.page(PROJECT, 'ci-jobs-and-runners')?.content).toBe('# page\nas of 2026-12-01\n');
    // the same page another day: nothing to write
    const again = resource('# page\nas of 2026-12-09\n');
    expect(await again.plan(await again.read(c), c)).toBeNull();
  });

  it('updates a changed page with PUT, without a title (which would move it)', async () => {
    wiki.projects[0].pages.set('ci-jobs-and-runners', { slug: 'ci-jobs-and-runners', content: 'old\n', format: 'markdown' });
    const r = resource('new\n');
    const c = ctx();
    const change = (await r.plan(await r.read(c), c)) as Change<WikiData>;
    expect(change.summary).toBe(`update wiki page ${PROJECT}/ci-jobs-and-runners`);
    expect(change.diff!.before).toBe('old\n');
    await r.apply(change, c);
    expect(writes().map((w) => [w.method, w.body])).toEqual([['PUT', { content: 'new\n', format: 'markdown' }]]);
    expect([...wiki.projects[0].pages.keys()]).toEqual(['ci-jobs-and-runners']);
  });

  it('rewrites a page kept in another format', async () => {
    wiki.projects[0].pages.set('ci-jobs-and-runners', { slug: 'ci-jobs-and-runners', content: 'new\n', format: 'asciidoc' });
    const r = resource('new\n');
    const c = ctx();
    expect(((await r.plan(await r.read(c), c)) as Change).summary).toBe(`update (format asciidoc -> markdown) wiki page ${PROJECT}/ci-jobs-and-runners`);
  });

  it('in check mode reads, and its client refuses to write', async () => {
    const r = resource('x\n');
    const c = ctx(true);
    const change = (await r.plan(await r.read(c), c)) as Change<WikiData>;
    await expect(r.apply(change, c)).rejects.toThrow(/refused, a check run makes no write request/);
    expect(writes()).toEqual([]);
  });

  it('names the request and status when GitLab refuses, never the token', async () => {
    const r = wikiPage({ gitlabUrl: gitlab.url, token, project: PROJECT, slug: 'p', content: () => 'x' });
    const err = await r.read(ctx()).catch((e: Error) => e);
    expect(String(err)).toMatch(/GitLab API GET .*\/wikis\/p answered 401: 401 Unauthorized/);
    expect(String(err)).not.toContain(token.reveal());
  });

  it('renders its desired state for --render', () => {
    expect(resource('body\n').render!()).toEqual({ api: { name: 'gitlab-wiki-dbnomics-fetchers_documentation-ci-jobs-and-runners', state: { project: PROJECT, slug: 'ci-jobs-and-runners', format: 'markdown', content: 'body\n' } } });
  });
});

describe('playbooks/docs.ts on the control machine alone', () => {
  const CANARIES = { SCW_ACCESS_KEY: 'SCWCANARYACCESS00001', SCW_SECRET_KEY: 'scw-secret-canary-2f6b1d' };
  async function inventory(extra = ''): Promise<string> {
    const text = (await productionLikeText(extra)).replace('gitlab_url = "https://git.example.org"', `gitlab_url = "${gitlab.url}"`);
    const path = join(dir, 'hosts.toml');
    await writeFile(path, text);
    return path;
  }
  async function run(...argv: string[]) {
    let out = '';
    const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (out += t), colour: false };
    Object.assign(process.env, { GITLAB_ACCESS_TOKEN: gitlab.accessToken, ...CANARIES });
    try {
      return { ...(await runPlaybook(docs, argv, io)), out };
    } finally {
      for (const k of ['GITLAB_ACCESS_TOKEN', ...Object.keys(CANARIES)]) delete process.env[k];
    }
  }

  it('publishes the offline page, writes nothing the second time, and --check shows an inventory change', async () => {
    const inv = await inventory();
    const first = await run('-i', inv, '--limit', 'local');
    expect(first.exitCode, first.out).toBe(0);
    expect(first.out).toMatch(/changed local \[docs-wiki\] gitlab-wiki:dbnomics-fetchers\/documentation\/ci-jobs-and-runners: create wiki page/);
    const page = wiki.page(PROJECT, 'ci-jobs-and-runners')!;
    expect(page.content).toContain('**Offline:** this version was generated from the inventory alone');
    for (const secret of [gitlab.accessToken, ...Object.values(CANARIES)]) {
      expect(page.content).not.toContain(secret);
      expect(first.out).not.toContain(secret);
    }

    gitlab.calls.length = 0;
    const second = await run('-i', inv, '--limit', 'local', '--detailed-exitcode');
    expect(second.exitCode, second.out).toBe(0);
    expect(writes()).toEqual([]);
    expect(second.report!.hosts.local.apiRequests).toBe(1);

    await inventory('[hosts.hermes]\nhost = "hermes.example.org"\ngroups = ["autoscale_runners"]\n');
    const check = await run('-i', inv, '--limit', 'local', '--check', '--detailed-exitcode');
    expect(check.exitCode, check.out).toBe(3);
    expect(check.out).toMatch(/would +local \[docs-wiki\] .*: update wiki page/);
    expect(check.out).toContain(`--- a/gitlab:wiki/${PROJECT}/ci-jobs-and-runners.md`);
    expect(check.out).toContain('+| **hermes** |');
    expect(writes()).toEqual([]);
    expect(wiki.page(PROJECT, 'ci-jobs-and-runners')!.content).toBe(page.content);
  });

  it('--out writes the page from the inventory alone', async () => {
    const out = join(dir, 'page.md');
    const r = await run('-i', await inventory(), '--out', out);
    expect(r.exitCode, r.out).toBe(0);
    expect(r.out).toMatch(/wrote .*page\.md \(\d+ characters; offline: nothing was measured\)/);
    expect(gitlab.calls).toEqual([]);
  });

  it('--list-tasks: one measuring probe per server, then the page on the control machine', async () => {
    const r = await run('-i', await inventory(), '--list-tasks');
    expect(r.out).toContain('dolos:\n  [docs-measure] measure:dolos\n');
    expect(r.out).toContain('local:\n  [docs-wiki] gitlab-wiki:dbnomics-fetchers/documentation/ci-jobs-and-runners\n');
  });

  it('bad docs data exits 1 naming the file and key, before connecting', async () => {
    const inv = await inventory();
    await writeFile(inv, (await productionLikeText()).replace('listen = "local", description = "search index"', 'listen = "loopback", description = "search index"'));
    const r = await run('-i', inv);
    expect(r.exitCode).toBe(1);
    expect(r.out).toMatch(/hosts\.toml: host dolos, role docs-measure: server\.services\[2\]\.listen: expected "public" or "local"/);
    expect(gitlab.calls).toEqual([]);
  });
});
