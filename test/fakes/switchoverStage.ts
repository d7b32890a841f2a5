// A local stage for playbooks/switchover.ts: the GitLab stand-in with the
// platform's runners as they are before the switchover, a group of fetchers
// (a trial fetcher, one with anchors and comments, one with plain lists, one
// without the old tag, one whose YAML is broken) and an inventory whose
// gitlab_url is the stand-in. The product only sees that URL.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import type { FakeGitlab, FakeGitlabExtension } from './gitlab.js';
import { startFakeGitlabWithProjects, type FakeGitlabProjects } from './gitlabProjects.js';

export const GROUP = 'dbnomics-fetchers';
export const TRIAL = `${GROUP}/ameco-fetcher`;
export const ANCHORS = `${GROUP}/insee-fetcher`;
export const PLAIN = `${GROUP}/eurostat-fetcher`;
export const NO_OLD_TAG = `${GROUP}/documentation`;
export const BROKEN = `${GROUP}/broken-fetcher`;

export const CI = {
  trial: `stages:
  - download
  - convert

download:
  stage: download
  tags:
    - docker
  script:
    - python download.py
convert:
  stage: convert
  tags:
    - docker
  script:
    - python convert.py
`,
  anchors: `# INSEE fetcher: download then convert.
variables:
  PROVIDER_SLUG: insee   # used by the scripts

stages: [download, convert]

.job_template: &job_template
  image: python:3.11-slim
  tags:
    - docker        # the runners that have Docker
  before_script:
    - pip install -r requirements.txt

download:
  <<: *job_template
  stage: download
  script: python download.py   # writes source-data

convert:
  <<: *job_template
  stage: convert
  script: python convert.py
`,
  plain: `stages: [download, convert]
download: {stage: download, tags: ["docker"], script: ./download.sh}
convert:
  stage: convert
  tags: ['docker']
  script: ./convert.sh
`,
  noOldTag: `pages:
  tags: [stateful]
  script: mkdocs build
`,
  broken: `download:
  tags: [docker
  script: x
`,
};

export interface StageRunner {
  id: number;
  description: string;
}

export interface SwitchoverStage {
  gitlab: FakeGitlab;
  projects: FakeGitlabProjects;
  inventory: string;
  dir: string;
  runners: { mania: StageRunner; eros: StageRunner; dolos: StageRunner; index: StageRunner };
  /** a test's own handler, tried before every endpoint (a fault, someone else's commit, a hang) */
  intercept: FakeGitlabExtension | null;
  /** rewrite the inventory with other switchover settings */
  writeInventory(over?: Record<string, unknown>): Promise<string>;
  writes(): number;
  close(): Promise<void>;
}

export const TOKEN_ENV = 'SWITCHOVER_STAGE_GITLAB_TOKEN';

/** Runners as the platform has them before the switchover, created and verified (online) through the API. */
async function addRunner(gl: FakeGitlab, description: string, tags: string[], o: { run_untagged?: boolean } = {}): Promise<StageRunner> {
  const res = await fetch(`${gl.url}/api/v4/user/runners`, {
    method: 'POST',
    headers: { 'PRIVATE-TOKEN': gl.accessToken, 'Content-Type': 'application/json' },
    body: JSON.stringify({ runner_type: 'instance_type', description, tag_list: tags, run_untagged: o.run_untagged ?? false }),
  });
  const { id, token } = (await res.json()) as { id: number; token: string };
  await fetch(`${gl.url}/api/v4/runners/verify`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
  return { id, description };
}

export async function startSwitchoverStage(): Promise<SwitchoverStage> {
  const self: { stage?: SwitchoverStage } = {};
  const hook: FakeGitlabExtension = (req) => self.stage?.intercept?.(req);
  const { gitlab, projects } = await startFakeGitlabWithProjects({ before: [hook] });
  const dir = await mkdtemp(join(tmpdir(), 'rigger-switchover-'));
  const runners = {
    mania: await addRunner(gitlab, 'download-convert-autoscale', ['download-convert', 'autoscale']),
    eros: await addRunner(gitlab, 'download-convert-stateful', ['docker', 'stateful']),
    dolos: await addRunner(gitlab, 'dolos-docker', ['docker']),
    index: await addRunner(gitlab, 'index', ['index']),
  };
  projects.addProject(TRIAL, { files: { '.gitlab-ci.yml': CI.trial } });
  projects.addProject(ANCHORS, { files: { '.gitlab-ci.yml': CI.anchors } });
  projects.addProject(PLAIN, { files: { '.gitlab-ci.yml': CI.plain } });
  projects.addProject(NO_OLD_TAG, { files: { '.gitlab-ci.yml': CI.noOldTag } });
  projects.addProject(BROKEN, { files: { '.gitlab-ci.yml': CI.broken } });
  projects.addProject('other-group/website', { files: { '.gitlab-ci.yml': 'build:\n  tags: [docker]\n  script: make\n' } });
  projects.autoFinish = 'success';
  process.env[TOKEN_ENV] = gitlab.accessToken;
  const inventory = join(dir, 'inventory.toml');
  const base = {
    fetchers_group: GROUP,
    trial_fetcher: TRIAL,
    tag_map: { docker: ['download-convert'] },
    job_extra_tags: { download: ['autoscale'] },
    static_runner: { host: 'eros', runner: 'download-convert-stateful' },
    retired_runner: { host: 'dolos', runner: 'docker', id: runners.dolos.id },
    keep_served: [['index']],
    gate_timeout: 2,
    gate_poll_interval: 0.05,
  };
  const writeInventory = async (over: Record<string, unknown> = {}) => {
    const inv = {
      hosts: {},
      vars: { gitlab_url: gitlab.url, gitlab_access_token: { secret: TOKEN_ENV }, switchover: { ...base, ...over } },
    };
    await writeFile(inventory, stringify(inv));
    return inventory;
  };
  await writeInventory();
  const stage: SwitchoverStage = {
    intercept: null,
    gitlab,
    projects,
    inventory,
    dir,
    runners,
    writeInventory,
    writes: () => gitlab.calls.filter((c) => c.method !== 'GET' && c.method !== 'HEAD').length,
    close: async () => {
      await gitlab.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  self.stage = stage;
  return stage;
}
