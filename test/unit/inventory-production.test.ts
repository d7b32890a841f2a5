// The production inventory itself (inventory/hosts.toml), loaded offline with
// secrets from a test environment: every host validated and rendered as the
// runner playbook would, and checked against the target state of issue 9.
// Nothing is contacted.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadInventory, type Inventory } from '../../lib/inventory/load.js';
import { hostsOfPlay } from '../../lib/inventory/patterns.js';
import { resourcesOf, type Role, type Vars } from '../../lib/engine/types.js';
import { unreadVars, validateRoleVars } from '../../lib/engine/validateVars.js';
import { redact } from '../../lib/secrets.js';
import { switchoverSchema } from '../../lib/services/gitlab/switchoverVars.js';
import runner from '../../playbooks/runner.js';
import { buildConfig, renderConfig } from '../../roles/gitlab-runner/config.js';
import type { GitlabRunnerVars } from '../../roles/gitlab-runner/vars.js';
import { resolveSettings } from '../../roles/ssh-hardening/settings.js';
import { DEBIAN12_FACTS } from './helpers/context.js';

const PATH = fileURLToPath(new URL('../../inventory/hosts.toml', import.meta.url));
const TEXT = readFileSync(PATH, 'utf8');
const ENV = {
  GITLAB_ACCESS_TOKEN: 'glpat-production-inventory-test-7d3e',
  SCW_ACCESS_KEY: 'SCWPRODTESTACCESS01',
  SCW_SECRET_KEY: '6f1d2c3b-4a59-4e8f-9b7a-1c2d3e4f5a6b',
  SCW_PROJECT_ID: '0b8c7d6e-5f4a-4b3c-8d2e-1f0a9b8c7d6e',
};

let inv: Inventory;
/** host -> role name -> validated vars, or the problems of that role */
const validated = new Map<string, Map<string, { vars?: Vars; problems: string[] }>>();
const configs = new Map<string, { text: string; doc: any; vars: GitlabRunnerVars }>();

beforeAll(async () => {
  inv = await loadInventory(PATH, { env: ENV, warn: () => {} });
  for (const play of runner.plays) {
    const members = new Set(hostsOfPlay(inv, play.hosts));
    for (const host of inv.hosts.keys()) {
      if (!members.has(host)) continue;
      for (const role of play.roles) {
        const r = validateRoleVars(role, host, inv.hosts.get(host)!.vars);
        if (!validated.has(host)) validated.set(host, new Map());
        validated.get(host)!.set(role.name, { vars: r.vars, problems: r.problems.map((p) => p.message) });
      }
    }
  }
  for (const [host, roles] of validated) {
    const v = roles.get('gitlab-runner')?.vars as GitlabRunnerVars | undefined;
    if (!v) continue;
    const text = renderConfig(buildConfig(v, new Map()));
    configs.set(host, { text, doc: parse(text), vars: v });
  }
});

const rolesOf = (host: string) => [...(validated.get(host)?.keys() ?? [])];
const problemsOf = (host: string) => [...validated.get(host)!.entries()].flatMap(([role, r]) => r.problems.map((p) => `${role}: ${p}`));
const expand = async (host: string, roleName: string) => {
  const role = runner.plays.flatMap((p) => p.roles).find((r) => r.name === roleName) as Role<any>;
  const out = await role.tasks({ host, vars: validated.get(host)!.get(roleName)!.vars!, facts: { ...DEBIAN12_FACTS, hostname: host } });
  return resourcesOf(out);
};

describe('the production inventory', () => {
  it('has dolos, eros and mania, each in the plays it belongs to', () => {
    expect([...inv.hosts.keys()]).toEqual(['dolos', 'eros', 'mania']);
    expect(rolesOf('dolos')).toEqual(['common', 'ssh-hardening', 'gitlab-runner']);
    expect(rolesOf('eros')).toEqual(['common', 'ssh-hardening', 'gitlab-runner', 'docker-cleanup']);
    expect(rolesOf('mania')).toEqual(['common', 'ssh-hardening', 'docker-machine-scaleway', 'gitlab-runner']);
  });

  it('is valid for every role; the download of mania\'s driver is blocked until it is pinned', async () => {
    expect(problemsOf('dolos')).toEqual([]);
    expect(problemsOf('eros')).toEqual([]);
    expect(problemsOf('mania')).toEqual([]);
    const blocked = (await expand('mania', 'docker-machine-scaleway')).filter((r) => r.blocked);
    expect(blocked.map((r) => r.id)).toEqual(['download:/usr/local/bin/docker-machine-driver-scaleway-v2']);
    expect(blocked[0].blocked).toMatch(/^driver scaleway-v2 v2\.0\.0-5cfe31f has no verified download yet \(linka-cloud publishes no binary release/);
  });

  it('sets no var that no role of the runner playbook reads (switchover is read by other playbooks)', () => {
    const roles = new Set(runner.plays.flatMap((p) => p.roles));
    expect(unreadVars(roles, new Map([...inv.hosts].map(([h, x]) => [h, x.vars])))).toEqual([]);
  });

  it('keeps gitlab_url, the access token and the switchover in the global vars (what the local play sees)', () => {
    const raw = parse(TEXT) as any;
    expect(raw.vars.gitlab_url).toBe('https://git.nomics.world');
    expect(raw.vars.gitlab_access_token).toEqual({ secret: 'GITLAB_ACCESS_TOKEN' });
    expect(raw.vars.timezone).toBeUndefined();
    const s = switchoverSchema.parse(raw.vars.switchover);
    expect(s).toMatchObject({
      fetchers_group: 'dbnomics-fetchers',
      trial_fetcher: 'dbnomics-fetchers/ameco-fetcher',
      tag_map: { docker: ['download-convert'] },
      static_runner: { host: 'eros', runner: 'download-convert-stateful' },
      retired_runner: { host: 'dolos' },
      keep_served: [['index']],
    });
    // The static runner is eros's runner; the tags it will serve are the ones the switchover gives it.
    expect(configs.get('eros')!.vars.gitlab_runners.map((r) => r.name)).toContain(s.static_runner.runner);
    // keep_served: some runner still has every tag of each kept tag set.
    for (const tags of s.keep_served) expect([...configs.values()].some((c) => c.vars.gitlab_runners.some((r) => tags.every((t) => r.tags.includes(t))))).toBe(true);
  });

  it('uses every secret its header promises, and promises every secret it uses', () => {
    const header = TEXT.slice(0, TEXT.indexOf('[defaults]'));
    const promised = [...header.matchAll(/^#\s+([A-Z][A-Z0-9_]+)\s/gm)].map((m) => m[1]).sort();
    const used = [...new Set([...TEXT.matchAll(/secret = "([A-Z0-9_]+)"/g)].map((m) => m[1]))].sort();
    expect(promised).toEqual(used);
    expect(used).toEqual(Object.keys(ENV).sort());
  });
});

describe('mania: the docker+machine runner', () => {
  const runnerOf = () => configs.get('mania')!.doc.runners;

  it('one runner, on git.nomics.world, tags download-convert and autoscale, no untagged jobs', () => {
    const { doc, vars } = configs.get('mania')!;
    expect(doc.concurrent).toBe(5);
    expect(runnerOf()).toHaveLength(1);
    expect(runnerOf()[0]).toMatchObject({ name: 'download-convert-autoscale', url: 'https://git.nomics.world', executor: 'docker+machine' });
    expect(vars.gitlab_runners[0]).toMatchObject({ tags: ['download-convert', 'autoscale'], run_untagged: false });
  });

  it('at most 5 machines, no idle machine at night, a small idle pool in working hours', () => {
    const r = runnerOf()[0];
    expect(r.limit).toBeGreaterThanOrEqual(1);
    expect(r.limit).toBeLessThanOrEqual(5);
    expect(configs.get('mania')!.doc.concurrent).toBeGreaterThanOrEqual(r.limit);
    expect(r.machine).toMatchObject({ IdleCount: 0, IdleTime: 600, MaxBuilds: 10, MachineDriver: 'scaleway-v2' });
    expect(r.machine.MachineName).toContain('%s');
    expect(r.machine.autoscaling).toEqual([{ Periods: ['* * 8-18 * * mon-fri *'], Timezone: 'Europe/Paris', IdleCount: 1, IdleTime: 1800 }]);
    expect(r.machine.autoscaling.every((a: any) => a.IdleCount <= 2)).toBe(true);
  });

  it('machines: DEV1-S, a zone, Debian, a local root volume, the project and keys from secrets', () => {
    expect(runnerOf()[0].machine.MachineOptions).toEqual([
      'scaleway-commercial-type=DEV1-S',
      'scaleway-zone=fr-par-1',
      'scaleway-image=debian_bookworm',
      'scaleway-root-volume-type=local',
      'scaleway-root-volume-size=20',
      `scaleway-project-id=${ENV.SCW_PROJECT_ID}`,
      `scaleway-accesskey=${ENV.SCW_ACCESS_KEY}`,
      `scaleway-secretkey=${ENV.SCW_SECRET_KEY}`,
    ]);
    // Every option is one the chosen driver has.
    const driver = (inv.hosts.get('mania')!.vars.docker_machine_driver as { options: string[] }).options;
    for (const o of runnerOf()[0].machine.MachineOptions) expect(driver).toContain(o.split('=')[0]);
  });

  it('no distributed cache, as the inventory decides and explains', () => {
    expect(runnerOf()[0].cache).toBeUndefined();
    expect(TEXT).toMatch(/^# No distributed cache, on purpose:/m);
  });

  it('the rendered file shows no secret once masked', () => {
    const shown = redact(configs.get('mania')!.text);
    for (const v of [ENV.SCW_SECRET_KEY, ENV.SCW_ACCESS_KEY, ENV.SCW_PROJECT_ID]) expect(shown).not.toContain(v);
  });

  it('docker-machine is pinned to a real release and checksum; the timezone is set (a new server)', async () => {
    expect(inv.hosts.get('mania')!.vars.docker_machine).toEqual({
      version: 'v0.16.2-gitlab.30',
      url: 'https://gitlab-docker-machine-downloads.s3.amazonaws.com/v0.16.2-gitlab.30/docker-machine-Linux-x86_64',
      sha256: 'b4163ac73e6f331d8fee8ea838fc490323d73a27a3bc88f981f2a9d2ab2b0dd8',
    });
    expect((await expand('mania', 'common')).map((r) => r.id)).toEqual(expect.arrayContaining(['link:/etc/localtime', 'file:/etc/timezone']));
  });
});

describe('eros and dolos', () => {
  it('eros: the static Docker runner for download/convert jobs, with docker-cleanup', () => {
    const { doc, vars } = configs.get('eros')!;
    expect(doc.runners.map((r: any) => [r.name, r.executor, r.url])).toEqual([['download-convert-stateful', 'docker', 'https://git.nomics.world']]);
    expect(doc.runners[0].machine).toBeUndefined();
    expect(doc.runners[0].docker.image).toBeTruthy();
    expect(vars.gitlab_runners[0].tags).toContain('download-convert');
    expect(vars.gitlab_runners[0].tags).not.toContain('docker');
  });

  it('dolos: only the Solr index runner, and the gitlab-runner package stays', async () => {
    const { doc, vars } = configs.get('dolos')!;
    expect(doc.runners.map((r: any) => [r.name, r.executor, r.limit])).toEqual([['index', 'shell', 1]]);
    expect(vars.gitlab_runners[0]).toMatchObject({ tags: ['index'], run_untagged: false });
    const ids = (await expand('dolos', 'gitlab-runner')).map((r) => r.id);
    expect(ids).toContain('apt:gitlab-runner,gitlab-runner-helper-images');
    expect(vars.gitlab_runner_version).toBe('19.3.0-1');
  });

  it('the cron jobs of dolos and eros do not move: no timezone resource there', async () => {
    for (const host of ['dolos', 'eros']) expect((await expand(host, 'common')).map((r) => r.id).filter((id) => /localtime|timezone/.test(id)), host).toEqual([]);
  });

  it('TCP forwarding is allowed on dolos only (Solr tunnels), as local forwarding', () => {
    const forwarding = (host: string) => resolveSettings(validated.get(host)!.get('ssh-hardening')!.vars!).settings.get('AllowTcpForwarding');
    expect([forwarding('dolos'), forwarding('eros'), forwarding('mania')]).toEqual(['local', 'no', 'no']);
  });
});
