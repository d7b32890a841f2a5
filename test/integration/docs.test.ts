/**
 * playbooks/docs.ts against the three shared Debian test hosts, named dolos,
 * eros and mania in a production-shaped inventory (the docs block proposed
 * for inventory/hosts.toml), and the GitLab stand-in with its wikis: each
 * server is measured in one probe round trip (a Solr stand-in listens on
 * 127.0.0.1:8983 on dolos, the declared paths hold known amounts of data),
 * then the page is published. A second run writes nothing; --check after an
 * inventory change shows the page's diff and writes nothing; an unreachable
 * server stops the publishing (barrier).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import docs from '../../playbooks/docs.js';
import { startFakeGitlab, type FakeGitlab } from '../fakes/gitlab.js';
import { fakeGitlabWiki, type FakeGitlabWiki } from '../fakes/gitlabWiki.js';
import { productionLikeText } from '../unit/helpers/docs.js';
import { dexec } from './helpers/hostState.js';
import { runCaptured } from './helpers/run.js';

const PROJECT = 'dbnomics-fetchers/documentation';
const SLUG = 'ci-jobs-and-runners';
const SECRETS = { GITLAB_ACCESS_TOKEN: '', SCW_ACCESS_KEY: 'SCWDOCSITCANARY00001', SCW_SECRET_KEY: 'scw-docs-it-secret-canary-9f3e' };
const state = inject('testhosts');
const roles = { dolos: state.hosts[0], eros: state.hosts[1], mania: state.hosts[2] };

let gitlab: FakeGitlab;
let wiki: FakeGitlabWiki;
let dir: string;
let inventory: string;

const writes = () => gitlab.calls.filter((c) => c.path.includes('/wikis') && c.method !== 'GET');
const today = () => new Date().toISOString().slice(0, 10);

async function sh(host: keyof typeof roles, script: string): Promise<string> {
  const r = await dexec(roles[host].containerId, script);
  if (r.code !== 0) throw new Error(`${host}: ${script}: ${r.stderr}`);
  return r.stdout;
}

async function writeInventory(extra = '', extraHosts = ''): Promise<void> {
  const base = (await productionLikeText(extra))
    .replace(/^\[defaults\][\s\S]*?\n\[hosts\]\n[\s\S]*?\n\n/m, '')
    .replace('gitlab_url = "https://git.example.org"', `gitlab_url = "${gitlab.url}"`);
  const hosts = Object.entries(roles)
    .map(([name, h]) => `${name} = { host = "127.0.0.1", port = ${h.port}, groups = ["${{ dolos: 'platform', eros: 'static_runners', mania: 'autoscale_runners' }[name]}"] }`)
    .join('\n');
  await writeFile(inventory, `[defaults]\nuser = "root"\nprivate_key = "${state.privateKey}"\nknown_hosts = "${state.knownHosts}"\n\n[hosts]\n${hosts}\n${extraHosts}\n\n${base}`);
}

async function run(...argv: string[]) {
  Object.assign(process.env, SECRETS, { GITLAB_ACCESS_TOKEN: gitlab.accessToken });
  try {
    return await runCaptured(docs, ['-i', inventory, ...argv]);
  } finally {
    for (const k of Object.keys(SECRETS)) delete process.env[k];
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(state.dir, 'docs-it-'));
  inventory = join(dir, 'hosts.toml');
  wiki = fakeGitlabWiki([{ id: 7, path: PROJECT }]);
  gitlab = await startFakeGitlab({ extensions: [wiki.extension] });
  // what the page should find: a Solr stand-in on localhost only, data of known sizes
  await sh('dolos', 'mkdir -p /var/solr/data /home/gitlab-runner/json-data && head -c 3145728 /dev/zero > /var/solr/data/index.bin && head -c 1048576 /dev/zero > /home/gitlab-runner/json-data/a.json');
  await sh('dolos', 'systemd-run --quiet --unit=solr python3 -m http.server --bind 127.0.0.1 8983 && for i in $(seq 50); do ss -Hltn | grep -q 127.0.0.1:8983 && exit 0; sleep 0.1; done; exit 1');
  await sh('eros', 'mkdir -p /var/lib/docker/volumes && head -c 2097152 /dev/zero > /var/lib/docker/volumes/v1');
  await sh('mania', 'mkdir -p /root/.docker/machine/machines/runner-abc-fetch-1');
  await writeInventory();
});

afterAll(async () => {
  await gitlab?.close();
  await dexec(roles.dolos.containerId, 'systemctl stop solr 2>/dev/null; rm -rf /var/solr /home/gitlab-runner');
  await dexec(roles.eros.containerId, 'rm -rf /var/lib/docker');
  await dexec(roles.mania.containerId, 'rm -rf /root/.docker');
  await rm(dir, { recursive: true, force: true });
});

describe('playbooks/docs.ts on three servers and the GitLab stand-in', () => {
  it('--check measures every server in one probe round trip and shows the page it would create', async () => {
    const r = await run('--check', '--detailed-exitcode');
    expect(r.exitCode, r.output).toBe(3);
    for (const h of Object.keys(roles)) {
      expect(r.report!.hosts[h].status, h).toBe('ok');
      // facts, then the measuring probe
      expect(r.report!.hosts[h].remoteCommands, h).toBe(2);
    }
    expect(r.output).toMatch(/would +local \[docs-wiki\] gitlab-wiki:dbnomics-fetchers\/documentation\/ci-jobs-and-runners: create wiki page/);
    expect(r.output).toContain(`+**Measured live as of ${today()}** on every server`);
    expect(writes()).toEqual([]);
    expect(wiki.page(PROJECT, SLUG)).toBeUndefined();
  });

  it('publishes the page with what it measured', async () => {
    const r = await run();
    expect(r.exitCode, r.output).toBe(0);
    expect(writes().map((w) => w.method)).toEqual(['POST']);
    const page = wiki.page(PROJECT, SLUG)!.content;
    expect(page).toContain(`**Measured live as of ${today()}** on every server`);
    const row = (first: string) => page.split('\n').find((l) => l.startsWith(`| ${first}`))!.slice(2, -2).split(' | ');
    expect(row('**solr**').slice(3)).toEqual(['local only (127.0.0.1:8983/tcp)', 'solr-data', 'running']);
    expect(row('**solr-data**')[2]).toMatch(/^3\.0\d MiB$/);
    expect(row('**json-data**')[2]).toMatch(/^1\.0\d MiB$/);
    expect(row('**docker-data**')[2]).toMatch(/^2\.0\d MiB$/);
    expect(row('**web**')[5]).toBe('**not running**');
    // sshd is not declared: it is listed as what else listens, public
    expect(page).toMatch(/Also listening \(as of \d{4}-\d{2}-\d{2}\): [^\n]*:22\/tcp sshd \(public\)/);
    const cpus = Number((await sh('dolos', 'nproc')).trim());
    expect(row('**dolos**')[3]).toBe(String(cpus));
    expect(row('**dolos**')[5]).toMatch(/^\/: [\d.]+ [GT]iB, [\d.]+ [GMT]iB used \(\d+%\)$/);
    for (const secret of Object.values(SECRETS).filter(Boolean).concat(gitlab.accessToken)) {
      expect(page).not.toContain(secret);
      expect(r.output).not.toContain(secret);
    }
  });

  it('a second run writes nothing', async () => {
    const before = wiki.page(PROJECT, SLUG)!.content;
    gitlab.calls.length = 0;
    const r = await run('--detailed-exitcode');
    expect(r.exitCode, r.output).toBe(0);
    expect(writes()).toEqual([]);
    expect(r.report!.hosts.local).toMatchObject({ status: 'ok', apiRequests: 1 });
    expect(wiki.page(PROJECT, SLUG)!.content).toBe(before);
  });

  it('--check after an inventory change shows the diff and writes nothing', async () => {
    const before = wiki.page(PROJECT, SLUG)!.content;
    await writeInventory('[host_vars.mania.server]\ndescription = "Runner manager for the autoscaled fleet."\nservices = [{ name = "node-exporter", unit = "prometheus-node-exporter.service", ports = [9100], listen = "public" }]\n');
    gitlab.calls.length = 0;
    const r = await run('--check', '--detailed-exitcode');
    expect(r.exitCode, r.output).toBe(3);
    expect(r.output).toMatch(/would +local \[docs-wiki\] .*: update wiki page/);
    expect(r.output).toContain('--- a/gitlab:wiki/dbnomics-fetchers/documentation/ci-jobs-and-runners.md');
    expect(r.output).toMatch(/^\+\| \*\*mania\*\* \| Runner manager for the autoscaled fleet\. \|/m);
    expect(r.output).toMatch(/^\+\| \*\*node-exporter\*\* \| `prometheus-node-exporter\.service` \| 9100 \| public; not listening as of \d{4}-\d{2}-\d{2} \| — \| \*\*not running\*\* \|$/m);
    expect(writes()).toEqual([]);
    expect(wiki.page(PROJECT, SLUG)!.content).toBe(before);
    await writeInventory();
  });

  it('does not publish when a server cannot be measured', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    await writeInventory('', `hermes = { host = "127.0.0.1", port = ${port}, groups = ["autoscale_runners"], connect_timeout = 3 }`);
    gitlab.calls.length = 0;
    const r = await run();
    expect(r.exitCode, r.output).toBe(2);
    expect(r.report!.hosts.hermes.status).toBe('unreachable');
    expect(r.output).toMatch(/not run: a barrier play waits for the earlier plays, which failed on hermes/);
    expect(gitlab.calls).toEqual([]);
    await writeInventory();
  });

  it('--out writes the same page offline, marked as such', async () => {
    const out = join(dir, 'page.md');
    const r = await run('--out', out);
    expect(r.exitCode, r.output).toBe(0);
    const text = await readFile(out, 'utf8');
    expect(text).toContain('**Offline:** this version was generated from the inventory alone');
    expect(text).toContain('| **solr-data** `/var/solr/data` | the Solr index | not measured |');
  });
});
