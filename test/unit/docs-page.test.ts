// The page's content comes from the inventory: on a production-shaped
// inventory every host, runner, tag and service appears where it belongs; the
// routing table follows GitLab's ALL-tags rule; a host, runner, tag, job or
// service added to the inventory shows up in every table and diagram.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { appliedRoles } from '../../lib/docs/applied.js';
import { serverKey } from '../../lib/docs/diagrams.js';
import { mermaidBlocks } from '../../lib/docs/markdown.js';
import { safeId } from '../../lib/docs/mermaid.js';
import { Measurements, parseMeasure } from '../../lib/docs/measure.js';
import { buildModel, type PageModel } from '../../lib/docs/model.js';
import { pageFingerprint, renderPage } from '../../lib/docs/page.js';
import { routingTable } from '../../lib/docs/routing.js';
import type { RunnerInfo } from '../../lib/docs/runners.js';
import type { Inventory } from '../../lib/inventory/load.js';
import { loadInventory } from '../../lib/inventory/load.js';
import runner from '../../playbooks/runner.js';
import site from '../../playbooks/site.js';
import { loadText, productionLikeText } from './helpers/docs.js';

function page(inv: Inventory, measurements?: Measurements): { md: string; model: PageModel } {
  const model = buildModel({ inventory: inv, measurements, applied: appliedRoles([site, runner], inv) });
  return { md: renderPage(model), model };
}

/** The body of the `## title` section (up to the next `## `). */
function section(md: string, title: string): string {
  const start = md.indexOf(`\n## ${title}\n`);
  expect(start, `section ${title}`).toBeGreaterThan(0);
  const end = md.indexOf('\n## ', start + 4);
  return md.slice(start, end < 0 ? undefined : end);
}

/** Table rows (cells) of a Markdown fragment whose first cell contains `first`. */
function rowsStarting(md: string, first: string): string[][] {
  return md
    .split('\n')
    .filter((l) => l.startsWith('| '))
    .map((l) => l.slice(2, -2).split(' | '))
    .filter((cells) => cells[0].includes(first));
}

const [servicesDiagram, usageDiagram] = [0, 1];

describe('the page of a production-shaped inventory', async () => {
  const inv = await loadText(await productionLikeText());
  const { md, model } = page(inv);
  const diagrams = mermaidBlocks(md);

  it('has the two diagrams', () => {
    expect(diagrams).toHaveLength(2);
  });

  it('lists every server with its role, address and size', () => {
    const servers = section(md, 'Servers');
    for (const h of inv.hosts.values()) {
      const [row] = rowsStarting(servers, `**${h.name}**`);
      expect(row, h.name).toBeDefined();
      expect(row[1]).toBe(h.vars.server && (h.vars.server as { description: string }).description);
      expect(row[2]).toBe(`\`${h.address}\``);
    }
    // offline: sizes are the inventory's or unknown, and the page says so
    expect(rowsStarting(servers, '**dolos**')[0].slice(3, 6)).toEqual(['not measured', 'not measured', '1 TB (inventory)']);
    expect(md).toMatch(/\*\*Offline:\*\* this version was generated from the inventory alone/);
    expect(md).not.toMatch(/as of \d{4}/);
  });

  it('names the rigger roles the playbooks apply to each server', () => {
    const servers = section(md, 'Servers');
    expect(rowsStarting(servers, '**eros**')[0][7]).toBe('common, ssh-hardening, gitlab-runner, docker-cleanup');
    expect(rowsStarting(servers, '**mania**')[0][7]).toBe('common, ssh-hardening, docker-machine-scaleway, gitlab-runner');
  });

  it('puts every service under its server, local only or public, with its dependencies', () => {
    const services = section(md, 'Services');
    for (const s of model.servers) {
      const from = services.indexOf(`### ${s.name}\n`);
      const to = services.indexOf('\n### ', from + 1);
      const sub = services.slice(from, to < 0 ? undefined : to);
      for (const svc of s.services) expect(sub, `${s.name}/${svc.name}`).toContain(`| **${svc.name}**`);
      for (const p of s.paths) expect(sub, `${s.name}/${p.name}`).toContain(`| **${p.name}** \`${p.path}\``);
      // and in the diagram, inside the server's box
      const box = diagrams[servicesDiagram].slice(diagrams[servicesDiagram].indexOf(`subgraph grp_${s.name}`));
      for (const svc of s.services) expect(box.slice(0, box.indexOf('\n  end'))).toContain(`svc_${s.name}_${safeId(svc.name)}(`);
    }
    const [solr] = rowsStarting(services, '**solr**');
    expect(solr.slice(1, 5)).toEqual(['`solr.service`', '8983', 'local only', 'solr-data']);
    expect(rowsStarting(services, '**web**')[0][3]).toBe('public');
    expect(rowsStarting(services, '**api**')[0][4]).toBe('solr, json-data');
    expect(diagrams[servicesDiagram]).toContain('svc_dolos_solr("solr<br/>solr.service<br/>:8983 local only"):::local');
    expect(diagrams[servicesDiagram]).toContain('svc_dolos_api --> svc_dolos_solr');
    // gitlab-runner is implied by each server's runners, with what it needs
    expect(rowsStarting(services, '**gitlab-runner**: GitLab Runner: download-convert-autoscale')[0][4]).toBe('GitLab (git.example.org), Scaleway Instance API');
    expect(diagrams[servicesDiagram]).toContain('svc_mania_gitlab_runner --> ext_scaleway');
    expect(diagrams[servicesDiagram]).toContain('svc_eros_gitlab_runner --> svc_eros_docker');
  });

  it('lists every runner with its server, executor, tags, limits, idle policy and machines', () => {
    const runners = section(md, 'Runners');
    expect(rowsStarting(runners, '**index**')[0]).toEqual(['**index**', 'dolos', '`shell`', '`index`', 'no', '1 / 1', 'static: always there', 'the server itself (dolos)']);
    expect(rowsStarting(runners, '**download-convert-stateful**')[0].slice(1, 6)).toEqual(['eros', '`docker`', '`download-convert`, `stateful`', 'no', '4 / 4']);
    const [auto] = rowsStarting(runners, '**download-convert-autoscale**');
    expect(auto.slice(1, 6)).toEqual(['mania', '`docker+machine`', '`download-convert`, `autoscale`', 'no', '10 / 5']);
    expect(auto[6]).toBe('0 idle machines, removed after 30 min idle<br>`* * 8-18 * * mon-fri *` (Europe/Paris): 1 idle machine, removed after 1 h idle; a machine is removed after 10 jobs');
    expect(auto[7]).toBe('DEV1-S, fr-par-1, driver `scaleway`');
  });

  it('routes each job tag set to the runners that have ALL its tags', () => {
    const routing = section(md, 'Which runner takes which job');
    expect(routing).toContain('has **ALL** of the job\'s tags');
    const row = (job: string) => rowsStarting(routing, job)[0];
    expect(row('download')).toEqual(['download', '`autoscale`, `download-convert`', '**download-convert-autoscale** (mania)', 'download-convert-stateful (eros) lacks `autoscale`']);
    expect(row('convert')[2]).toBe('**download-convert-stateful** (eros), **download-convert-autoscale** (mania)');
    expect(row('download or convert needing local state')[2]).toBe('**download-convert-stateful** (eros)');
    expect(row('Solr index')[2]).toBe('**index** (dolos)');
    expect(row('not switched over yet')[2]).toBe('**none: the job stays pending**');
    // every tag of a runner or a job, with who carries it
    for (const t of ['autoscale', 'docker', 'download-convert', 'index', 'stateful']) expect(rowsStarting(routing, `\`${t}\``), t).toHaveLength(1);
    expect(rowsStarting(routing, '`docker`')[0][1]).toBe('**no runner**');
  });

  it('draws jobs -> runners -> servers and machines -> data -> the Solr index on dolos', () => {
    const d = diagrams[usageDiagram];
    for (const h of inv.hosts.keys()) expect(d.match(new RegExp(`^  ${safeId(serverKey(h))}\\[\\[`, 'gm')), h).toHaveLength(1);
    for (const r of model.runners) expect(d).toContain(`run_${r.host}_${safeId(r.name)}[`);
    expect(d).toContain('job_0 -->|"tags match"| run_mania_download_convert_autoscale');
    expect(d).not.toContain('job_0 -->|"tags match"| run_eros');
    expect(d).toContain('run_mania_download_convert_autoscale -->|"managed by"| srv_mania');
    expect(d).toContain('srv_mania -->|"creates"| fleet_mania_download_convert_autoscale');
    expect(d).toContain('fleet_mania_download_convert_autoscale ==>|"download writes"| ext_source_data');
    expect(d).toContain('ext_json_data -.->|"read by"| job_3');
    expect(d).toContain('srv_dolos ==>|"Solr index writes"| svc_dolos_solr');
    expect(d).toMatch(/job_4\(\["not switched over yet<br\/>tags: docker<br\/>no runner can take it"\]\):::stuck/);
  });

  it('prices the fleet from the last known prices, marked as such', () => {
    const fleet = section(md, 'Autoscaled fleet');
    expect(fleet).toContain('**last known prices** from the inventory (Scaleway pricing page, fr-par-1, checked on 2025-06-01): the Scaleway API was not consulted');
    expect(fleet).toContain('**Cap:** at most 5 machines (`limit`); at most 10 jobs at once on mania (`concurrent`); at most 2 machines being created at a time.');
    // 1 idle machine Mon-Fri 08:00-18:59 = 55 machine-hours a week; 55 * 0.01368 * 730 / 168
    expect(rowsStarting(fleet, 'Idle machines kept')[0]).toEqual(['Idle machines kept over a week', '55 machine-hours a week', '—', '3.27 EUR']);
    expect(rowsStarting(fleet, 'Every machine of the cap')[0]).toEqual(['Every machine of the cap running', '5', '0.0684 EUR', '49.93 EUR']);
    // 20 GB * 0.086 + 2.92
    expect(rowsStarting(fleet, 'One stopped machine')[0][3]).toBe('4.64 EUR');
  });

  it('answers the planning questions from the configuration', () => {
    const a = section(md, 'Answers to the planning questions');
    expect(a.match(/^### /gm)).toHaveLength(7);
    expect(a).toContain('= **4.64 EUR a month** stopped, against 0.0137 EUR an hour (9.99 EUR a month) while it runs');
    expect(a).toContain('the original `scaleway` driver (used by `download-convert-autoscale`)');
    expect(a).toContain('`MaxBuilds = 10` removes a machine after 10 jobs');
    expect(a).toContain('On eros, rigger\'s docker-cleanup runs `*/15 * * * *` and, once free space falls to 15%');
    expect(a).toContain('`limit = 5` on `download-convert-autoscale` caps the machines');
    expect(a).toContain('removed in GitLab 20.0 (May 2027), and `download-convert-autoscale` on mania uses it');
    expect(a).toContain('`download-convert-stateful` on eros has `download-convert` but not `autoscale`');
    expect(a).toContain('`runner-<token prefix>-fetch-<id>`');
  });

  it('shows the one inventory line that adds a runner server, per runner group', () => {
    const add = section(md, 'Adding another runner server');
    expect(add).toContain('- `autoscale_runners` (download-convert-autoscale): `new-runner = { host = "new-runner.example.org", groups = ["autoscale_runners"] }`');
    expect(add).toContain('- `static_runners` (download-convert-stateful)');
  });
});

describe('a change to the inventory shows up everywhere it belongs', () => {
  it('a host added with one line: tables, diagrams, routing, fleet', async () => {
    const inv = await loadText(await productionLikeText('[hosts.hermes]\nhost = "hermes.example.org"\ngroups = ["autoscale_runners"]\n'));
    const { md } = page(inv);
    const [services, usage] = mermaidBlocks(md);
    expect(rowsStarting(section(md, 'Servers'), '**hermes**')[0].slice(1, 3)).toEqual(['Runner manager: runs download and convert jobs on Scaleway machines it creates and removes.', '`hermes.example.org`']);
    expect(section(md, 'Services')).toContain('### hermes\n');
    expect(services).toContain('subgraph grp_hermes[');
    expect(services).toContain('srv_hermes[[');
    expect(services).toContain('svc_hermes_gitlab_runner --> ext_gitlab');
    expect(usage).toContain('srv_hermes[[');
    expect(usage).toContain('run_hermes_download_convert_autoscale -->|"managed by"| srv_hermes');
    expect(rowsStarting(section(md, 'Runners'), '**download-convert-autoscale**').map((r) => r[1])).toEqual(['mania', 'hermes']);
    expect(rowsStarting(section(md, 'Which runner takes which job'), 'download')[0][2]).toBe('**download-convert-autoscale** (mania), **download-convert-autoscale** (hermes)');
    expect(section(md, 'Autoscaled fleet')).toContain('### download-convert-autoscale (hermes)');
  });

  it('a new runner, tag, job and service', async () => {
    const extra = `
[host_vars.eros]
gitlab_runners = [
  { name = "download-convert-stateful", executor = "docker", tags = ["download-convert", "stateful"], docker = { image = "debian:bookworm-slim" } },
  { name = "big-memory", executor = "docker", tags = ["download-convert", "bigmem"], docker = { image = "debian:bookworm-slim" } },
]
[host_vars.eros.server]
description = "Static Docker runner."
services = [{ name = "docker", unit = "docker.service" }, { name = "metrics", unit = "node-exporter.service", ports = [9100], listen = "public" }]
`;
    const text = (await productionLikeText(extra)).replace('{ name = "not switched over yet", tags = ["docker"] },', '{ name = "not switched over yet", tags = ["docker"] },\n  { name = "INSEE convert", tags = ["bigmem", "download-convert"] },');
    const { md } = page(await loadText(text));
    const [services, usage] = mermaidBlocks(md);
    expect(rowsStarting(section(md, 'Runners'), '**big-memory**')[0].slice(1, 4)).toEqual(['eros', '`docker`', '`download-convert`, `bigmem`']);
    expect(rowsStarting(section(md, 'Which runner takes which job'), 'INSEE convert')[0][2]).toBe('**big-memory** (eros)');
    expect(rowsStarting(section(md, 'Which runner takes which job'), '`bigmem`')[0][1]).toBe('big-memory (eros)');
    expect(rowsStarting(section(md, 'Services'), '**metrics**')[0].slice(1, 4)).toEqual(['`node-exporter.service`', '9100', 'public']);
    expect(services).toContain('svc_eros_metrics(');
    expect(usage).toContain('job_5 -->|"tags match"| run_eros_big_memory');
  });
});

describe('routing follows ALL-tag matching', () => {
  const r = (name: string, tags: string[], over: Partial<RunnerInfo> = {}): RunnerInfo => ({ host: 'h', name, executor: 'docker', tags, runUntagged: false, paused: false, concurrent: 1, ...over });

  it("the planning document's example: X has a, b; Y has a, c; a job tagged a, b goes to X only", () => {
    const [row] = routingTable([{ name: 'job', tags: ['a', 'b'] }], [r('X', ['a', 'b']), r('Y', ['a', 'c'])]);
    expect(row.eligible.map((x) => x.name)).toEqual(['X']);
    expect(row.missing.map((x) => [x.runner.name, x.lacks])).toEqual([['Y', ['b']]]);
  });

  it('extra runner tags are fine; untagged jobs need run_untagged; paused runners take nothing; same tag sets share a row', () => {
    const runners = [r('wide', ['a', 'b', 'c']), r('untagged', [], { runUntagged: true }), r('paused', ['a'], { paused: true })];
    const rows = routingTable(
      [
        { name: 'j1', tags: ['a'] },
        { name: 'j2', tags: [] },
        { name: 'j3', tags: ['a'] },
      ],
      runners,
    );
    expect(rows.map((x) => [x.jobs, x.eligible.map((y) => y.name)])).toEqual([
      [['j1', 'j3'], ['wide']],
      [['j2'], ['untagged']],
    ]);
  });
});

describe('measured pages', async () => {
  const inv = await loadText(await productionLikeText());
  const measured = (date: string, solrBytes: number) => {
    const m = new Measurements();
    for (const h of ['dolos', 'eros', 'mania']) {
      const out = [
        'cpus\t4',
        'mem_kb\t16384000',
        'fs\t/\t1000000000000\t600000000000',
        'unit\tcron.service',
        'unit\tssh.service',
        ...(h === 'dolos' ? ['unit\tsolr.service', 'listen\ttcp\t127.0.0.1:8983\tusers:(("java",pid=7,fd=3))', 'listen\ttcp\t0.0.0.0:443\tusers:(("nginx",pid=8,fd=6))', `path\t0\t${solrBytes}`, 'path\t1\tmissing'] : []),
        'listen\ttcp\t0.0.0.0:22\tusers:(("sshd",pid=1,fd=3))',
        ...(h === 'dolos' ? [] : ['path\t0\ttimeout']),
      ].join('\n');
      const paths = ((inv.hosts.get(h)!.vars.server as { paths: Array<{ path: string }> }).paths ?? []).map((p) => p.path);
      m.set(parseMeasure(h, out, paths, date));
    }
    return m;
  };

  it('say "as of <date>" and show what was measured', () => {
    const { md } = page(inv, measured('2026-12-02', 118 * 2 ** 30));
    expect(md).toContain('**Measured live as of 2026-12-02** on every server');
    expect(rowsStarting(section(md, 'Servers'), '**dolos**')[0].slice(3, 6)).toEqual(['4', '15.6 GiB', '/: 931 GiB, 559 GiB used (60%)']);
    const services = section(md, 'Services');
    expect(rowsStarting(services, '**solr**')[0].slice(3)).toEqual(['local only (127.0.0.1:8983/tcp)', 'solr-data', 'running']);
    expect(rowsStarting(services, '**web**')[0][5]).toBe('**not running**');
    expect(rowsStarting(services, '**solr-data**')[0][2]).toBe('118 GiB');
    expect(rowsStarting(services, '**json-data**')[0][2]).toBe('missing');
    expect(rowsStarting(services, '**docker-data**')[0][2]).toBe('du did not finish in time');
    expect(services).toContain('Also listening (as of 2026-12-02): 0.0.0.0:22/tcp sshd (public).');
    expect(services).toContain('Other running services (as of 2026-12-02): cron, ssh.');
  });

  it('flag a local-only service that listens on every address', () => {
    const m = measured('2026-12-02', 1);
    m.get('dolos')!.listeners.push({ proto: 'tcp', address: '0.0.0.0', port: 8983, local: false });
    expect(rowsStarting(section(page(inv, m).md, 'Services'), '**solr**')[0][3]).toBe('local only (127.0.0.1:8983/tcp, 0.0.0.0:8983/tcp) ⚠ declared local only but reachable from outside');
  });

  it('have the same fingerprint on another day with the same figures, another one when a figure changes', () => {
    const a = page(inv, measured('2026-12-02', 118 * 2 ** 30)).md;
    const b = page(inv, measured('2026-12-09', 118 * 2 ** 30 + 4096)).md;
    const c = page(inv, measured('2026-12-09', 130 * 2 ** 30)).md;
    expect(a).not.toBe(b);
    expect(pageFingerprint(a)).toBe(pageFingerprint(b));
    expect(pageFingerprint(a)).not.toBe(pageFingerprint(c));
  });
});

describe('the real inventory', () => {
  it('inventory/hosts.toml with the proposed docs block: every host and runner is on the page', async () => {
    const path = fileURLToPath(new URL('../../inventory/hosts.toml', import.meta.url));
    let text = await readFile(path, 'utf8');
    if (!/^\[vars\.docs\]/m.test(text)) text += '\n' + (await readFile(fileURLToPath(new URL('./fixtures/docs/hosts-docs-block.toml', import.meta.url)), 'utf8'));
    const inv = await loadText(text);
    const { md, model } = page(inv);
    expect(model.servers.map((s) => s.name)).toEqual([...(await loadInventory(path, { resolveSecrets: false, warn: () => {} })).hosts.keys()]);
    for (const s of model.servers) expect(rowsStarting(section(md, 'Servers'), `**${s.name}**`), s.name).toHaveLength(1);
    expect(model.runners.length).toBeGreaterThan(0);
    for (const r of model.runners) expect(rowsStarting(section(md, 'Runners'), `**${r.name}**`).map((x) => x[1]), r.name).toContain(r.host);
  });
});

describe('bad docs data', async () => {
  it('names the file, the key and what was expected', async () => {
    const text = (await productionLikeText()).replace('depends_on = ["solr-data"]', 'depends_on = ["solr-dta", "nohost:x"]').replace('listen = "public", description = "web UI', 'listen = "open", description = "web UI');
    const inv = await loadText(text, 'bad.toml');
    expect(() => buildModel({ inventory: inv })).toThrow(/bad\.toml: invalid docs data:\n {2}host dolos: server\.services\[0\]\.listen: expected "public" or "local"/);
    const fixedListen = await loadText(text.replace('listen = "open"', 'listen = "public"'), 'bad.toml');
    expect(() => buildModel({ inventory: fixedListen })).toThrow(
      /host dolos: server\.services\[2\]\.depends_on\[0\]: "solr-dta": expected a service or path of dolos, "host:name", or a name of docs\.external[^\n]*\n {2}host dolos: server\.services\[2\]\.depends_on\[1\]: "nohost:x": no host nohost in the inventory/,
    );
  });

  it('asks for the docs settings when there are none', async () => {
    const inv = await loadText(await readFile(fileURLToPath(new URL('./fixtures/docs/production-like.toml', import.meta.url)), 'utf8'), 'nodocs.toml');
    expect(() => buildModel({ inventory: inv })).toThrow('nodocs.toml: vars.docs: expected the docs page\'s settings ([vars.docs] with wiki = { project, slug }), found none');
  });
});
