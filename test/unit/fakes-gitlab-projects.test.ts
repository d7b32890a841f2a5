// Contract tests of the stand-in's projects extension (test/fakes/gitlabProjects.ts):
// the switchover's tests trust it, so it is checked against GitLab's documented
// API here, ALL-tag matching first.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeGitlab } from '../fakes/gitlab.js';
import { createFakeProjects, startFakeGitlabWithProjects, type FakeGitlabProjects } from '../fakes/gitlabProjects.js';

let gl: FakeGitlab;
let pj: FakeGitlabProjects;

beforeAll(async () => {
  ({ gitlab: gl, projects: pj } = await startFakeGitlabWithProjects({ accessToken: 'glpat-projects-test' }));
});
afterAll(async () => {
  await gl.close();
});
beforeEach(() => {
  gl.runners.clear();
  pj.projects.clear();
  pj.groups.clear();
  pj.pipelines.length = 0;
  pj.jobs.length = 0;
  pj.autoFinish = null;
  pj.capacity.clear();
});

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${gl.url}/api/v4${path}`, {
    method,
    headers: { 'PRIVATE-TOKEN': gl.accessToken, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

async function runner(description: string, tags: string[], o: { online?: boolean; run_untagged?: boolean; paused?: boolean; runner_type?: string; group_id?: number; project_id?: number } = {}): Promise<number> {
  const created = await api('POST', '/user/runners', { runner_type: o.runner_type ?? 'instance_type', description, tag_list: tags, run_untagged: o.run_untagged ?? false, paused: o.paused ?? false, group_id: o.group_id, project_id: o.project_id });
  if (o.online !== false) await fetch(`${gl.url}/api/v4/runners/verify`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: created.json.token }) });
  return created.json.id;
}

const enc = encodeURIComponent;

describe('job-to-runner matching', () => {
  it('gives a job to a runner that has ALL its tags, never to one that has only some (the planning document’s X/Y question)', async () => {
    const x = await runner('X', ['a', 'b']);
    const y = await runner('Y', ['a', 'c']);
    pj.addProject('g/p', { files: { '.gitlab-ci.yml': 'job:\n  tags: [a, b]\n  script: x\nother:\n  tags: [a, c]\n  script: y\n' } });
    const pl = pj.createPipeline('g/p');
    const byName = Object.fromEntries(pl.jobs.map((j) => [j.name, j.runnerId]));
    expect(byName).toEqual({ job: x, other: y });
  });

  it('leaves a job pending when no online, unpaused runner has all its tags; untagged jobs need run_untagged', async () => {
    await runner('offline', ['a', 'b'], { online: false });
    await runner('paused', ['a', 'b'], { paused: true });
    await runner('some', ['a']);
    pj.addProject('g/p', { files: { '.gitlab-ci.yml': 'job:\n  tags: [a, b]\n  script: x\nuntagged:\n  script: y\n' } });
    const pl = pj.createPipeline('g/p');
    expect(pl.jobs.map((j) => [j.name, j.status, j.runnerId])).toEqual([
      ['job', 'pending', null],
      ['untagged', 'pending', null],
    ]);
    const any = await runner('any', [], { run_untagged: true });
    pj.schedule();
    expect(pl.jobs.find((j) => j.name === 'untagged')).toMatchObject({ status: 'running', runnerId: any });
    expect(pl.jobs.find((j) => j.name === 'job')!.status).toBe('pending');
  });

  it('group and project runners serve only their own projects (subgroups included)', async () => {
    const p1 = pj.addProject('top/sub/p1', { files: { '.gitlab-ci.yml': 'j:\n  tags: [t]\n  script: x\n' } });
    const p2 = pj.addProject('elsewhere/p2', { files: { '.gitlab-ci.yml': 'j:\n  tags: [t]\n  script: x\n' } });
    const top = [...pj.groups.values()].find((g) => g.full_path === 'top')!;
    const groupRunner = await runner('group', ['t'], { runner_type: 'group_type', group_id: top.id });
    const a = pj.createPipeline('top/sub/p1');
    const b = pj.createPipeline('elsewhere/p2');
    expect(a.jobs[0]).toMatchObject({ status: 'running', runnerId: groupRunner });
    expect(b.jobs[0].status).toBe('pending');
    const projectRunner = await runner('project', ['t'], { runner_type: 'project_type', project_id: p2.id });
    pj.schedule();
    expect(b.jobs[0]).toMatchObject({ status: 'running', runnerId: projectRunner });
    void p1;
  });

  it('opens stages in order and skips later ones after a failure', async () => {
    await runner('r', ['t']);
    pj.addProject('g/p', { files: { '.gitlab-ci.yml': 'stages: [a, b]\nfirst:\n  stage: a\n  tags: [t]\n  script: x\nsecond:\n  stage: b\n  tags: [t]\n  script: y\n' } });
    const pl = pj.createPipeline('g/p');
    expect(pl.jobs.map((j) => j.status)).toEqual(['running', 'created']);
    pj.finishJobs({ pipelineId: pl.id });
    expect(pl.jobs.map((j) => j.status)).toEqual(['success', 'running']);
    pj.finishJobs({ pipelineId: pl.id });
    expect(pj.pipelineStatus(pl)).toBe('success');
    const failing = pj.createPipeline('g/p');
    pj.finishJobs({ pipelineId: failing.id }, 'failed');
    expect(failing.jobs.map((j) => j.status)).toEqual(['failed', 'skipped']);
    expect(pj.pipelineStatus(failing)).toBe('failed');
  });

  it('resolves tags as GitLab does: merge keys, extends, default, !reference', () => {
    const fake = createFakeProjects();
    fake.addProject('g/p', {
      files: {
        '.gitlab-ci.yml': `default:
  tags: [d]
.t: &t
  tags: [from-anchor]
.e:
  tags: [from-extends]
a:
  <<: *t
  script: x
b:
  extends: .e
  script: x
c:
  script: x
e:
  tags: !reference [.e, tags]
  script: x
`,
      },
    });
    const pl = fake.createPipeline('g/p');
    expect(Object.fromEntries(pl.jobs.map((j) => [j.name, j.tag_list]))).toEqual({ a: ['from-anchor'], b: ['from-extends'], c: ['d'], e: ['from-extends'] });
  });
});

describe('groups, projects, files, commits', () => {
  it('lists a group’s projects with subgroups, archived ones filtered, paginated', async () => {
    for (let i = 0; i < 25; i++) pj.addProject(`fetchers/f${String(i).padStart(2, '0')}`);
    pj.addProject('fetchers/sub/deep');
    pj.addProject('fetchers/old', { archived: true });
    pj.addProject('other/x');
    const first = await api('GET', `/groups/fetchers/projects?include_subgroups=true&archived=false&order_by=path&sort=asc`);
    expect(first.status).toBe(200);
    expect(first.json).toHaveLength(20);
    expect(first.headers.get('x-total')).toBe('26');
    expect(first.headers.get('x-next-page')).toBe('2');
    const second = await api('GET', `/groups/fetchers/projects?include_subgroups=true&archived=false&order_by=path&sort=asc&page=2`);
    const all = [...first.json, ...second.json].map((p: any) => p.path_with_namespace);
    expect(all).toHaveLength(26);
    expect(all).toContain('fetchers/sub/deep');
    expect(all).not.toContain('fetchers/old');
    expect(all).not.toContain('other/x');
    expect((await api('GET', '/groups/fetchers/projects')).json).toHaveLength(20);
    expect((await api('GET', '/groups/fetchers/projects?per_page=100')).json.map((p: any) => p.path)).not.toContain('deep');
    expect((await api('GET', '/groups/nope/projects')).status).toBe(404);
  });

  it('serves files as base64 with last_commit_id, and refuses a PUT whose last_commit_id is stale with 400', async () => {
    const p = pj.addProject('g/p', { files: { '.gitlab-ci.yml': 'a: 1\n', 'README.md': 'hi\n' } });
    const f = await api('GET', `/projects/${enc('g/p')}/repository/files/${enc('.gitlab-ci.yml')}?ref=main`);
    expect(f.status).toBe(200);
    expect(Buffer.from(f.json.content, 'base64').toString()).toBe('a: 1\n');
    expect(f.json).toMatchObject({ encoding: 'base64', file_path: '.gitlab-ci.yml', ref: 'main' });
    const readmeCommit = pj.commit('g/p', 'README.md', 'hello\n');
    const again = await api('GET', `/projects/${p.id}/repository/files/${enc('.gitlab-ci.yml')}?ref=main`);
    expect(again.json.commit_id).toBe(readmeCommit);
    expect(again.json.last_commit_id).toBe(f.json.last_commit_id); // another file changed, not this one

    const put = await api('PUT', `/projects/${p.id}/repository/files/${enc('.gitlab-ci.yml')}`, { branch: 'main', content: Buffer.from('a: 2\n').toString('base64'), encoding: 'base64', commit_message: 'two', last_commit_id: f.json.last_commit_id });
    expect(put).toMatchObject({ status: 200, json: { file_path: '.gitlab-ci.yml', branch: 'main' } });
    const stale = await api('PUT', `/projects/${p.id}/repository/files/${enc('.gitlab-ci.yml')}`, { branch: 'main', content: 'a: 3\n', commit_message: 'three', last_commit_id: f.json.last_commit_id });
    expect(stale).toMatchObject({ status: 400, json: { message: 'You are attempting to update a file that has changed since you started editing it.' } });
    expect(pj.file('g/p', '.gitlab-ci.yml')).toBe('a: 2\n');

    const head = await api('GET', `/projects/${p.id}/repository/files/${enc('.gitlab-ci.yml')}?ref=main`);
    const commit = await api('GET', `/projects/${p.id}/repository/commits/${head.json.last_commit_id}`);
    expect(commit.json).toMatchObject({ title: 'two', message: 'two', parent_ids: [readmeCommit] });
    const atParent = await api('GET', `/projects/${p.id}/repository/files/${enc('.gitlab-ci.yml')}?ref=${readmeCommit}`);
    expect(Buffer.from(atParent.json.content, 'base64').toString()).toBe('a: 1\n');
    const history = await api('GET', `/projects/${p.id}/repository/commits?ref_name=main&path=${enc('.gitlab-ci.yml')}`);
    expect(history.json.map((c: any) => c.title)).toEqual(['two', 'Initial commit']);
    expect((await api('GET', `/projects/${p.id}/repository/files/missing.txt?ref=main`)).status).toBe(404);
    expect((await api('PUT', `/projects/${p.id}/repository/files/missing.txt`, { branch: 'main', content: 'x', commit_message: 'm' })).status).toBe(400);
  });

  it('needs the access token', async () => {
    pj.addProject('g/p');
    const res = await fetch(`${gl.url}/api/v4/projects/${enc('g/p')}`);
    expect(res.status).toBe(401);
  });
});

describe('pipelines and jobs', () => {
  it('a commit runs a push pipeline unless [skip ci]; POST /pipeline runs one, refused with 400 when the file yields no job', async () => {
    await runner('r', ['t']);
    const p = pj.addProject('g/p', { files: { '.gitlab-ci.yml': 'j:\n  tags: [t]\n  script: x\n' } });
    const last = (await api('GET', `/projects/${p.id}/repository/files/.gitlab-ci.yml?ref=main`)).json.last_commit_id;
    await api('PUT', `/projects/${p.id}/repository/files/.gitlab-ci.yml`, { branch: 'main', content: 'j:\n  tags: [t]\n  script: y\n', commit_message: 'tweak [skip ci]', last_commit_id: last });
    expect(pj.pipelines).toHaveLength(0);
    await api('PUT', `/projects/${p.id}/repository/files/.gitlab-ci.yml`, { branch: 'main', content: 'j:\n  tags: [t]\n  script: z\n', commit_message: 'tweak' });
    expect(pj.pipelines.map((x) => x.source)).toEqual(['push']);
    const created = await api('POST', `/projects/${p.id}/pipeline`, { ref: 'main' });
    expect(created).toMatchObject({ status: 201, json: { ref: 'main', status: 'running', source: 'api' } });
    const list = await api('GET', `/projects/${p.id}/pipelines?ref=main`);
    expect(list.json.map((x: any) => x.id)).toEqual([created.json.id, pj.pipelines[0].id]); // newest first
    const jobs = await api('GET', `/projects/${p.id}/pipelines/${created.json.id}/jobs`);
    expect(jobs.json[0]).toMatchObject({ name: 'j', status: 'running', tag_list: ['t'], runner: { description: 'r' }, pipeline: { id: created.json.id } });

    pj.commit('g/p', '.gitlab-ci.yml', 'j:\n  tags: [t\n');
    const refused = await api('POST', `/projects/${p.id}/pipeline`, { ref: 'main' });
    expect(refused.status).toBe(400);
    await api('PUT', `/projects/${p.id}/repository/files/.gitlab-ci.yml`, { branch: 'main', content: 'broken: [\n', commit_message: 'oops' });
    expect(pj.pipelineStatus(pj.pipelines[pj.pipelines.length - 1])).toBe('failed'); // a push of a broken file: a failed pipeline
  });

  it('lists pending/running jobs of a project and the running jobs of a runner', async () => {
    const r = await runner('r', ['t']);
    pj.addProject('g/p', { files: { '.gitlab-ci.yml': 'a:\n  tags: [t]\n  script: x\nb:\n  tags: [nobody]\n  script: x\n' } });
    pj.createPipeline('g/p');
    const pending = await api('GET', `/projects/${enc('g/p')}/jobs?scope[]=pending`);
    expect(pending.json.map((j: any) => j.name)).toEqual(['b']);
    const both = await api('GET', `/projects/${enc('g/p')}/jobs?scope[]=pending&scope[]=running`);
    expect(both.json.map((j: any) => j.name).sort()).toEqual(['a', 'b']);
    const onRunner = await api('GET', `/runners/${r}/jobs?status=running`);
    expect(onRunner.json).toHaveLength(1);
    expect(onRunner.json[0]).toMatchObject({ name: 'a', project: { path_with_namespace: 'g/p' } });
    pj.finishJobs({ runnerId: r });
    expect((await api('GET', `/runners/${r}/jobs?status=running`)).json).toHaveLength(0);
    expect((await api('GET', `/runners/999/jobs?status=running`)).status).toBe(404);
  });

  it('a runner at its capacity leaves further jobs pending until one finishes', async () => {
    const r = await runner('r', ['t']);
    pj.capacity.set(r, 1);
    pj.addProject('g/p', { files: { '.gitlab-ci.yml': 'a:\n  tags: [t]\n  script: x\n' } });
    const first = pj.createPipeline('g/p');
    const second = pj.createPipeline('g/p');
    expect([first.jobs[0].status, second.jobs[0].status]).toEqual(['running', 'pending']);
    pj.finishJobs({ pipelineId: first.id });
    expect(second.jobs[0]).toMatchObject({ status: 'running', runnerId: r });
    pj.capacity.clear();
  });

  it('a paused runner keeps its running job but takes no new one', async () => {
    const r = await runner('r', ['t']);
    pj.addProject('g/p', { files: { '.gitlab-ci.yml': 'a:\n  tags: [t]\n  script: x\n' } });
    const first = pj.createPipeline('g/p');
    await api('PUT', `/runners/${r}`, { paused: true });
    const second = pj.createPipeline('g/p');
    expect(first.jobs[0]).toMatchObject({ status: 'running', runnerId: r });
    expect(second.jobs[0]).toMatchObject({ status: 'pending', runnerId: null });
  });
});
