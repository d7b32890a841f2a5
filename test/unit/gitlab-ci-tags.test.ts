// ciTags: only the tags lists of jobs change, everything else byte-for-byte;
// the effective tags are checked against the GitLab stand-in's own, separate
// reading of the file (test/fakes/gitlabProjects.ts jobsOfCiFile).
import { describe, expect, it } from 'vitest';
import { mapTags, readJobTags, retagCi, type RetagResult, type TagMapping } from '../../lib/services/gitlab/ciTags.js';
import { jobsOfCiFile } from '../fakes/gitlabProjects.js';

const M: TagMapping = { tagMap: { docker: ['download-convert'] }, jobExtraTags: { download: ['autoscale'] } };

function changed(r: RetagResult): Extract<RetagResult, { status: 'changed' }> {
  if (r.status !== 'changed') throw new Error(`expected a change, got ${r.status}${'error' in r ? `: ${r.error}` : ''}`);
  return r;
}

/** Effective tags per job as the stand-in (GitLab's rules, its own parser) sees them. */
function gitlabTags(text: string): Record<string, string[]> {
  const r = jobsOfCiFile(text);
  if ('error' in r) throw new Error(r.error);
  return Object.fromEntries(r.jobs.map((j) => [j.name, j.tags]));
}

/** Lines of `after` that are not in `before` and the other way round (a multiset difference). */
function lineDiff(before: string, after: string): { removed: string[]; added: string[] } {
  const count = (s: string) => s.split('\n').reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
  const b = count(before);
  const a = count(after);
  const removed: string[] = [];
  const added: string[] = [];
  for (const [l, n] of b) for (let i = 0; i < n - (a.get(l) ?? 0); i++) removed.push(l);
  for (const [l, n] of a) for (let i = 0; i < n - (b.get(l) ?? 0); i++) added.push(l);
  return { removed, added };
}

describe('retagCi', () => {
  it('keeps comments, anchors, key order and other jobs byte-for-byte; a template list is mapped once, a job with extra tags gets its own list', () => {
    const src = `# INSEE fetcher
variables:
  PROVIDER_SLUG: insee   # used by the scripts

.job_template: &job_template
  image: python:3.11-slim
  tags:
    - docker        # the runners that have Docker
  before_script:
    - pip install -r requirements.txt

download:
  <<: *job_template
  stage: test
  script: python download.py   # writes source-data

convert:
  <<: *job_template
  script: python convert.py

index:
  tags: [index]
  script: solr-index
`;
    const r = changed(retagCi(src, M));
    expect(r.text).toBe(`# INSEE fetcher
variables:
  PROVIDER_SLUG: insee   # used by the scripts

.job_template: &job_template
  image: python:3.11-slim
  tags:
    - download-convert        # the runners that have Docker
  before_script:
    - pip install -r requirements.txt

download:
  <<: *job_template
  tags: [download-convert, autoscale]
  stage: test
  script: python download.py   # writes source-data

convert:
  <<: *job_template
  script: python convert.py

index:
  tags: [index]
  script: solr-index
`);
    expect(gitlabTags(r.text)).toEqual({ download: ['download-convert', 'autoscale'], convert: ['download-convert'], index: ['index'] });
    expect(r.changes).toEqual([
      { job: 'download', before: ['docker'], after: ['download-convert', 'autoscale'] },
      { job: 'convert', before: ['docker'], after: ['download-convert'] },
    ]);
    // Applying it again changes nothing.
    expect(retagCi(r.text, M).status).toBe('unchanged');
  });

  it('edits block and flow lists in place, keeping each item’s quoting, its comment and the list’s other tags', () => {
    const src = `download:
  tags:
    - "docker"   # old runner
    - big
  script: x
convert: {stage: test, tags: ['docker', fast], script: y}
check:
  tags: [ docker ]
  script: z
`;
    const r = changed(retagCi(src, M));
    expect(r.text).toBe(`download:
  tags:
    - "download-convert"   # old runner
    - big
    - "autoscale"
  script: x
convert: {stage: test, tags: ['download-convert', fast], script: y}
check:
  tags: [ download-convert ]
  script: z
`);
    const d = lineDiff(src, r.text);
    expect(d.removed).toEqual(['    - "docker"   # old runner', "convert: {stage: test, tags: ['docker', fast], script: y}", '  tags: [ docker ]']);
    expect(gitlabTags(r.text)).toEqual({ download: ['download-convert', 'big', 'autoscale'], convert: ['download-convert', 'fast'], check: ['download-convert'] });
  });

  it('leaves a file without the old tag alone', () => {
    const src = 'pages:\n  tags: [stateful]\n  script: mkdocs build\n';
    const r = retagCi(src, M);
    expect(r.status).toBe('unchanged');
    expect(r.status === 'unchanged' && r.jobs).toEqual([{ job: 'pages', tags: ['stateful'], from: 'own' }]);
  });

  it('reports broken YAML with its position and never returns a text for it', () => {
    const r = retagCi('download:\n  tags: [docker\n  script: x\n', M);
    expect(r.status).toBe('unparsable');
    expect(r.status === 'unparsable' && r.error).toMatch(/line \d+, column \d+/);
    expect('text' in r).toBe(false);
    expect(retagCi('a: 1\na: 2\n', M).status).toBe('unparsable');
    expect(retagCi('- just\n- a list\n', M)).toMatchObject({ status: 'unparsable', error: expect.stringMatching(/mapping/) });
  });

  it('follows extends (later templates win) and default (unless inherit: default: false)', () => {
    const src = `default:
  tags: [docker]
.base:
  tags: [docker, big]
.other:
  image: x
download:
  extends: [.base, .other]
  script: a
convert:
  script: b
solo:
  inherit:
    default: false
  script: c
`;
    const r = changed(retagCi(src, M));
    expect(gitlabTags(r.text)).toEqual({ download: ['download-convert', 'big', 'autoscale'], convert: ['download-convert'], solo: [] });
    expect(r.text).toContain('default:\n  tags: [download-convert]\n.base:\n  tags: [download-convert, big]\n');
    expect(r.text).toContain('download:\n  extends: [.base, .other]\n  tags: [download-convert, big, autoscale]\n  script: a\n');
    expect(readJobTags(src)).toMatchObject({ ok: true, jobs: [{ job: 'download', from: 'extends .base' }, { job: 'convert', from: 'default' }, { job: 'solo', tags: [] }] });
  });

  it('follows aliases and !reference; a job that needs extra tags gets its own value instead of the shared one', () => {
    const src = `.tags: &docker_tags [docker]
.t:
  tags: [docker]
download:
  tags: *docker_tags
  script: a
convert:
  tags: !reference [.t, tags]
  script: b
`;
    const r = changed(retagCi(src, M));
    expect(r.text).toBe(`.tags: &docker_tags [download-convert]
.t:
  tags: [download-convert]
download:
  tags: [download-convert, autoscale]
  script: a
convert:
  tags: !reference [.t, tags]
  script: b
`);
    expect(gitlabTags(r.text)).toEqual({ download: ['download-convert', 'autoscale'], convert: ['download-convert'] });
  });

  it('a job whose list another job inherits through its anchor: the other job keeps the plain mapping', () => {
    const src = `download: &dl
  tags: [docker]
  script: a
download-again:
  <<: *dl
  script: b
`;
    const r = changed(retagCi(src, M));
    expect(gitlabTags(r.text)).toEqual({ download: ['download-convert', 'autoscale'], 'download-again': ['download-convert'] });
    expect(r.text).toBe(`download: &dl
  tags: [download-convert, autoscale]
  script: a
download-again:
  <<: *dl
  tags: [download-convert]
  script: b
`);
  });

  it('lists jobs whose tags come from an included template and leaves them alone', () => {
    const src = `include:
  - project: dbnomics/ci-templates
    file: fetcher.yml
download:
  extends: .fetcher-download
  script: a
convert:
  tags: [docker]
  script: b
`;
    const r = changed(retagCi(src, M));
    expect(r.notes).toEqual(['job download: tags unknown (extends .fetcher-download, which is not in this file (included?)), left alone']);
    expect(r.text).toBe(src.replace('tags: [docker]', 'tags: [download-convert]'));
  });

  it('refuses what it cannot edit safely instead of guessing', () => {
    expect(retagCi('download:\n  tags: [docker, {a: 1}]\n  script: x\n', M)).toMatchObject({ status: 'unsafe' });
    // a job that is an alias of another job's mapping cannot get tags of its own
    expect(retagCi('build: &b\n  tags: [docker]\n  script: x\ndownload: *b\n', M)).toMatchObject({ status: 'unsafe', error: expect.stringMatching(/alias/) });
    const multi = 'convert:\n  tags: [docker,\n    # the big one\n    download-convert]\n  script: x\n';
    expect(retagCi(multi, M)).toMatchObject({ status: 'unsafe', error: expect.stringMatching(/several lines/) });
    expect(retagCi('convert:\n  tags: docker\n  script: x\n', M)).toMatchObject({ status: 'unchanged', notes: [expect.stringMatching(/tags is not a list/)] });
  });

  it('handles a spec: header document, several old tags and an empty file', () => {
    const src = 'spec:\n  inputs:\n    stage: {default: test}\n---\nbuild:\n  tags: [docker, shell-old]\n  script: make\n';
    const r = changed(retagCi(src, { tagMap: { docker: ['download-convert'], 'shell-old': ['download-convert', 'shell'] } }));
    expect(r.text).toBe(src.replace('[docker, shell-old]', '[download-convert, shell]'));
    expect(retagCi('', M).status).toBe('unchanged');
    expect(retagCi('# only a comment\n', M).status).toBe('unchanged');
  });

  it('mapTags keeps the order, puts the new tags where the old one was, without duplicates', () => {
    expect(mapTags(['a', 'docker', 'b'], M)).toEqual(['a', 'download-convert', 'b']);
    expect(mapTags(['download-convert', 'docker'], M)).toEqual(['download-convert']);
    expect(mapTags(['x'], M)).toEqual(['x']);
  });
});
