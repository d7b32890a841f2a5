// The first run of the production inventory (inventory/hosts.toml, loaded
// offline, secrets from a test environment) against hosts as they are before
// the migration: each host's config.toml already holds runners registered by
// hand that the inventory does not name. The gitlab-runner role's GitLab side
// and config.toml run for real (the engine, a local shell in a temp dir, the
// GitLab stand-in on 127.0.0.1 in place of the inventory's GitLab): nothing is
// deleted on GitLab, and every hand-registered entry stays in config.toml.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../lib/inventory/load.js';
import { runHost } from '../../lib/engine/run.js';
import { defineRole } from '../../lib/engine/types.js';
import { validateRoleVars } from '../../lib/engine/validateVars.js';
import gitlabRunner from '../../roles/gitlab-runner/index.js';
import { runnerConfig } from '../../roles/gitlab-runner/configResource.js';
import { gitlabSideResources, RunnerHost, runnerHostResource } from '../../roles/gitlab-runner/runnerHost.js';
import { varsSchema, type GitlabRunnerVars } from '../../roles/gitlab-runner/vars.js';
import { startFakeGitlab, type FakeGitlab } from '../fakes/gitlab.js';
import { currentUser, LocalRemote, tempDir } from './helpers/localRemote.js';

const INVENTORY = 'inventory/hosts.toml';
let gitlab: FakeGitlab;
let tmp: { dir: string; cleanup: () => void };

beforeAll(async () => {
  gitlab = await startFakeGitlab({ accessToken: 'glpat-first-run-unit-0001' });
  tmp = tempDir('rigger-first-run-');
});
afterAll(async () => {
  await gitlab.close();
  tmp.cleanup();
});

/** Every secret the inventory names, with a canary value (the production secrets file is not here). */
function testSecrets(): Record<string, string> {
  const names = [...readFileSync(INVENTORY, 'utf8').matchAll(/secret\s*=\s*"([A-Za-z0-9_]+)"/g)].map((m) => m[1]);
  return Object.fromEntries(names.map((n) => [n, n === 'GITLAB_ACCESS_TOKEN' ? gitlab.accessToken : `canary-${n.toLowerCase()}-first-run`]));
}

const me = currentUser();
const role = defineRole<GitlabRunnerVars>({
  name: 'gitlab-runner',
  vars: varsSchema,
  tasks: ({ host, vars }) => {
    const shared = new RunnerHost(vars, host, vars.gitlab_runner_config_path);
    return { resources: [runnerHostResource(shared), ...gitlabSideResources(shared), runnerConfig({ vars, shared, owner: me.owner, group: me.group })] };
  },
});

describe('first run of inventory/hosts.toml against hosts that have hand-registered runners', () => {
  it('deletes nothing on GitLab and keeps every entry the inventory does not name', async () => {
    const inv = await loadInventory(INVENTORY, { env: { ...testSecrets(), HOME: tmp.dir }, warn: () => {} });
    // Every host the gitlab-runner role applies to (its vars are valid there), with or without runners of its own.
    const hosts = [...inv.hosts.values()].filter((h) => validateRoleVars(gitlabRunner, h.name, h.vars).vars);
    expect(hosts.map((h) => h.name).sort()).toEqual(expect.arrayContaining(['dolos', 'eros', 'mania']));

    for (const h of hosts) {
      const path = join(tmp.dir, h.name, 'gitlab-runner', 'config.toml');
      // What the servers have today: runners registered by hand, under names the inventory does not use.
      const legacy: Array<{ name: string; id: number; token: string }> = [];
      for (const name of [`${h.name}-docker`, `${h.name}-legacy-shell`]) {
        const res = await fetch(`${gitlab.url}/api/v4/user/runners`, {
          method: 'POST',
          headers: { 'PRIVATE-TOKEN': gitlab.accessToken, 'Content-Type': 'application/json' },
          body: JSON.stringify({ runner_type: 'instance_type', description: `hand-made ${name}`, tag_list: ['docker', `legacy-${h.name}`] }),
        });
        legacy.push({ name, ...((await res.json()) as { id: number; token: string }) });
      }
      mkdirSync(join(tmp.dir, h.name, 'gitlab-runner'), { recursive: true });
      writeFileSync(path, `concurrent = 4\n${legacy.map((l) => `\n[[runners]]\nname = "${l.name}"\nurl = "${gitlab.url}"\nid = ${l.id}\ntoken = "${l.token}"\nexecutor = "docker"\n[runners.docker]\nimage = "alpine:3"\n`).join('')}`, { mode: 0o600 });

      // The inventory's vars, pointed at the stand-in and the temp dir instead of the real GitLab and /etc.
      const raw: Record<string, unknown> = { ...h.vars, gitlab_url: gitlab.url, gitlab_runner_config_path: path, gitlab_runner_machine_store: join(tmp.dir, h.name, 'machine') };
      raw.gitlab_runners = ((raw.gitlab_runners ?? []) as Array<Record<string, unknown>>).map(({ url: _url, ...r }) => r);
      const { vars, problems } = validateRoleVars(role, h.name, raw);
      expect(problems, h.name).toEqual([]);
      const before = gitlab.calls.length;
      const result = await runHost(h.name, async () => new LocalRemote(), [{ role, vars: vars! }], { check: false, wantDiff: false, tags: [], skipTags: [] });
      const calls = gitlab.calls.slice(before);

      expect(result.counts.failed, `${h.name}: ${JSON.stringify(result.tasks.filter((t) => t.status === 'failed'))}`).toBe(0);
      expect(calls.filter((c) => c.method === 'DELETE'), h.name).toEqual([]);
      expect(calls.filter((c) => c.method === 'PUT'), h.name).toEqual([]); // no hand-made runner touched either
      for (const l of legacy) expect(gitlab.runners.get(l.id)?.token, `${h.name}: ${l.name} on GitLab`).toBe(l.token);
      const doc = parse(readFileSync(path, 'utf8')) as { runners: Array<{ name: string; token: string }> };
      const names = doc.runners.map((r) => r.name);
      expect(names.slice(0, 2), h.name).toEqual(legacy.map((l) => l.name));
      expect(doc.runners.slice(0, 2).map((r) => r.token)).toEqual(legacy.map((l) => l.token));
      // ...beside the inventory's runners, registered on this first run.
      expect(names.slice(2)).toEqual((vars!.gitlab_runners as Array<{ name: string }>).map((r) => r.name));
    }
  });
});
