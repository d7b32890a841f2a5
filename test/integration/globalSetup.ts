// vitest globalSetup of the `integration` project: three disposable Docker test hosts
// (h1, h2, h3 in group "test") for the whole run, removed again in teardown (also when
// tests fail). Tests get them with `inject('testhosts')` (or loadHosts() from
// test/hosts/testhosts.ts, which reads $RIGGER_TESTHOSTS_DIR/hosts.json).
//
// State folder: $RIGGER_IT_TESTHOSTS_DIR or <repo>/.testhosts/integration-<pid>: a run never
// replaces hosts a developer started by hand in .testhosts/, nor those of another vitest
// run in the same checkout. Folders (and containers) left by runs whose process died
// (killed before teardown) are removed first.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { downHosts, isAlive, readState, upHosts, type TestHostsState } from '../hosts/testhosts.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** hosts.json of the shared integration hosts (h1, h2, h3; group "test") */
    testhosts: TestHostsState;
    /** their state folder (inventory.toml, known_hosts, id_ed25519, hosts.json) */
    testhostsDir: string;
  }
}

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_HOSTS = ['h1', 'h2', 'h3'];

async function removeOrphans(parent: string): Promise<void> {
  for (const e of await fs.readdir(parent).catch(() => [] as string[])) {
    const m = /^integration-(\d+)$/.exec(e);
    if (!m || isAlive(Number(m[1]))) continue;
    const dir = path.join(parent, e);
    const state = await readState(dir).catch(() => null);
    if (state) await downHosts({ dir, runId: state.runId, log: () => {} });
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const parent = path.join(REPO, '.testhosts');
  await removeOrphans(parent);
  const dir = path.resolve(process.env.RIGGER_IT_TESTHOSTS_DIR ?? path.join(parent, `integration-${process.pid}`));
  const fixturesDir = path.join(REPO, 'test', 'fakes', 'fixtures');
  await fs.mkdir(fixturesDir, { recursive: true });

  const hosts = await upHosts({ names: SHARED_HOSTS, groups: ['test'], fixturesDir, dir });
  const { down, get: _get, ...state } = hosts;
  project.provide('testhosts', state);
  project.provide('testhostsDir', dir);
  // Workers are started after globalSetup and inherit this.
  process.env.RIGGER_TESTHOSTS_DIR = dir;
  // rigger tries ssh-agent's keys first: the developer's own agent must not take part in the
  // tests (its keys would use up the test hosts' MaxAuthTries). ssh-auth.test.ts starts its own.
  delete process.env.SSH_AUTH_SOCK;

  return async () => {
    await down();
  };
}
