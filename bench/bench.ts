// `npm run bench`: cost of playbooks/runner.ts on 1, 10 and 50 local test hosts
// (first converge, no-op re-run, check mode), side by side with an equivalent
// Ansible playbook on the same hosts. Prints a table, writes bench/results.json.
//
//   npm run bench -- [--sizes 1,10,50] [--runs 5] [--first-runs 1] [--ansible-runs 3] [--no-ansible]
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { upHosts, type TestHosts } from '../test/hosts/testhosts.js';
import { startRunnerStage, type RunnerStage } from '../test/fakes/runnerStage.js';
import { DEFAULT_FIXTURES_DIR } from '../test/fakes/fixtures.js';
import type { JsonReport } from '../lib/report/json.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,10,50' },
    runs: { type: 'string', default: '5' },
    'first-runs': { type: 'string', default: '1' },
    'ansible-runs': { type: 'string', default: '3' },
    'no-ansible': { type: 'boolean', default: false },
  },
});
const sizes = values.sizes!.split(',').map(Number);
const runs = Number(values.runs);
const firstRuns = Number(values['first-runs']);
const ansibleRuns = Number(values['ansible-runs']);
const ROOT = process.cwd();
const STATE = join(ROOT, '.testhosts', 'bench');

interface Sample {
  wallMs: number;
  rssMb: number;
  /** user + system CPU of rigger's (or Ansible's) processes */
  cpuMs?: number;
  /** CPU the test hosts' containers used during the run */
  hostsCpuMs?: number;
  /** CPU the whole machine used during the run (all processes, the kernel included) */
  machineCpuMs?: number;
  /** max API requests of any host */
  apiRequests?: number;
  /** max round trips of any host */
  roundTrips: number;
  exitCode: number;
  startupMs?: number;
  connectMs?: number;
  probeMs?: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

/** Runs a command, measuring wall time and (through GNU time) the peak RSS of its largest process. */
function timed(cmd: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ wallMs: number; rssMb: number; cpuMs: number; hostsCpuMs: number; machineCpuMs: number; code: number; output: string }> {
  return new Promise((resolve) => {
    const hosts0 = hostsCpuNs();
    const machine0 = machineBusyMs();
    const t0 = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '__RSS_KB=%M __CPU=%U+%S', ...cmd], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const rss = Number(/__RSS_KB=(\d+)/.exec(output)?.[1] ?? NaN) / 1024;
      const cpu = /__CPU=([\d.]+)\+([\d.]+)/.exec(output);
      const cpuMs = cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : NaN;
      resolve({ wallMs, rssMb: rss, cpuMs, hostsCpuMs: (hostsCpuNs() - hosts0) / 1e6, machineCpuMs: machineBusyMs() - machine0, code: code ?? 1, output });
    });
  });
}

/** CPU time the whole machine has spent busy (all cores, /proc/stat, 10 ms ticks), in ms. */
function machineBusyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user + nice + system + irq + softirq + (steal ?? 0)) * 10;
}

/**
 * CPU used by every Docker container so far (cgroup v1 cpuacct, else v2 cpu.stat), in ns:
 * where a run's time goes when the hosts share the control machine's cores.
 */
function hostsCpuNs(): number {
  let total = 0;
  for (const [dir, file, scale] of [
    ['/sys/fs/cgroup/cpuacct/docker', 'cpuacct.usage', 1],
    ['/sys/fs/cgroup/system.slice', 'cpu.stat', 1000],
  ] as const) {
    if (!existsSync(dir)) continue;
    for (const e of readdirSync(dir)) {
      if (dir.endsWith('system.slice') && !e.startsWith('docker-')) continue;
      try {
        const text = readFileSync(join(dir, e, file), 'utf8');
        total += file === 'cpu.stat' ? Number(/usage_usec (\d+)/.exec(text)?.[1] ?? 0) * scale : Number(text.trim());
      } catch {
        /* not a container folder */
      }
    }
  }
  return total;
}

/** How a playbook is started: the fast path the README names, or through tsx's CLI. */
type Launch = 'direct' | 'tsx';
const launcher = (launch: Launch, playbook: string) => (launch === 'direct' ? [`./playbooks/${playbook}.ts`] : ['node_modules/.bin/tsx', `playbooks/${playbook}.ts`]);

async function rigger(stage: RunnerStage, forks: number, extra: string[], launch: Launch = 'direct', playbook = 'runner'): Promise<Sample> {
  const json = join(STATE, 'report.json');
  const r = await timed([...launcher(launch, playbook), '-i', stage.inventory, '--forks', String(forks), '--json', json, ...extra], { ...process.env, NO_COLOR: '1' });
  const report = JSON.parse(await readFile(json, 'utf8')) as JsonReport;
  const hosts = Object.values(report.hosts);
  if (r.code !== 0) process.stderr.write(r.output.slice(-3000));
  return {
    wallMs: r.wallMs,
    rssMb: r.rssMb,
    cpuMs: r.cpuMs,
    hostsCpuMs: r.hostsCpuMs,
    machineCpuMs: r.machineCpuMs,
    exitCode: r.code,
    roundTrips: Math.max(...hosts.map((h) => h.remoteCommands)),
    apiRequests: Math.max(...hosts.map((h) => h.apiRequests ?? 0)),
    startupMs: report.startupMs,
    connectMs: median(hosts.map((h) => h.phases.connectMs)),
    probeMs: median(hosts.map((h) => h.phases.factsMs + h.phases.convergeMs)),
  };
}

/** Files the Ansible playbook copies: exactly what rigger wrote; config.toml per host (each runner's own token). */
async function prepareAnsible(hosts: TestHosts, stage: RunnerStage): Promise<string> {
  const dir = join(STATE, 'ansible');
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'files'), { recursive: true });
  const first = hosts.hosts[0];
  const files: Record<string, string> = {
    timezone: '/etc/timezone',
    '90-rigger-admins': '/etc/sudoers.d/90-rigger-admins',
    '20auto-upgrades': '/etc/apt/apt.conf.d/20auto-upgrades',
    '00-rigger-hardening.conf': '/etc/ssh/sshd_config.d/00-rigger-hardening.conf',
    'runner_gitlab-runner.gpg': '/etc/apt/keyrings/runner_gitlab-runner.gpg',
    'runner_gitlab-runner.sources': '/etc/apt/sources.list.d/runner_gitlab-runner.sources',
  };
  const copies = Object.entries(files).map(([name, path]) => ({ id: first.containerId, path, name }));
  for (const h of hosts.hosts) copies.push({ id: h.containerId, path: '/etc/gitlab-runner/config.toml', name: `config.toml.${h.name}` });
  for (const { id, path, name } of copies) {
    const r = await timed(['docker', 'cp', `${id}:${path}`, join(dir, 'files', name)]);
    if (r.code !== 0) throw new Error(`docker cp ${path}: ${r.output}`);
  }
  const inventory = hosts.hosts.map((h) => `${h.name} ansible_host=127.0.0.1 ansible_port=${h.port} ansible_user=root`).join('\n');
  await writeFile(join(dir, 'hosts.ini'), `[all]\n${inventory}\n`);
  const fx = stage.fixtures;
  await writeFile(
    join(dir, 'vars.json'),
    JSON.stringify({
      docker_machine_url: fx.inHost.dockerMachineUrl,
      docker_machine_sha256: fx.downloads.dockerMachine.sha256,
      driver_url: fx.inHost.scalewayDriverUrl,
      driver_sha256: fx.downloads.scalewayDriver.sha256,
      files_dir: join(dir, 'files'),
    }),
  );
  return dir;
}

async function ansible(dir: string, hosts: TestHosts, stage: RunnerStage, forks: number, playbook = 'runner', extra: string[] = []): Promise<Sample> {
  const r = await timed(
    [
      'ansible-playbook',
      '-i', join(dir, 'hosts.ini'),
      '--private-key', hosts.privateKey,
      '--ssh-common-args', `-o UserKnownHostsFile=${hosts.knownHosts} -o StrictHostKeyChecking=yes`,
      '-e', `@${join(dir, 'vars.json')}`,
      '--forks', String(forks),
      ...extra,
      join(ROOT, 'bench', 'ansible', `${playbook}.yml`),
    ],
    { ...process.env, ANSIBLE_CONFIG: join(ROOT, 'bench', 'ansible', 'ansible.cfg'), RUNNER_VERSION: stage.fixtures.apt.version, ANSIBLE_NOCOLOR: '1' },
  );
  const changed = [...r.output.matchAll(/changed=(\d+)/g)].map((m) => Number(m[1]));
  if (r.code !== 0 || changed.some((c) => c > 0)) process.stderr.write(`ansible: exit ${r.code}, changed=${changed.join(',')}\n${r.output.slice(-3000)}\n`);
  return { wallMs: r.wallMs, rssMb: r.rssMb, cpuMs: r.cpuMs, hostsCpuMs: r.hostsCpuMs, machineCpuMs: r.machineCpuMs, exitCode: r.code, roundTrips: NaN };
}

interface SizeResult {
  hosts: number;
  firstConverge: Sample[];
  noop: Sample[];
  /** the same no-op run started through tsx's CLI (the `npx tsx` path without npx) */
  noopTsx: Sample[];
  check: Sample[];
  /** playbooks/site.ts (common + ssh-hardening), no-op, and its Ansible equivalent */
  site: Sample[];
  /** each Ansible run (runner no-op, its check, site no-op) beside a rigger run of the same playbook made just before it: [rigger, Ansible] */
  pairs: { noop: [Sample, Sample][]; check: [Sample, Sample][]; site: [Sample, Sample][] };
}

async function benchSize(n: number, withAnsible: boolean): Promise<SizeResult> {
  const out: SizeResult = { hosts: n, firstConverge: [], noop: [], noopTsx: [], check: [], site: [], pairs: { noop: [], check: [], site: [] } };
  const log = (m: string) => process.stderr.write(`[bench ${n}] ${m}\n`);
  for (let rep = 0; rep < firstRuns; rep++) {
    log(`starting ${n} fresh host(s)`);
    const hosts = await upHosts({ count: n, namePrefix: 'b', fixturesDir: DEFAULT_FIXTURES_DIR, dir: join(STATE, 'hosts'), log: () => {} });
    const stage = await startRunnerStage({ stateDir: hosts.dir, hosts: hosts.hosts.map((h) => ({ name: h.name, port: h.port, kind: 'autoscale' as const })) });
    try {
      log('first converge');
      out.firstConverge.push(await rigger(stage, n, []));
      if (rep < firstRuns - 1) continue;
      for (let i = 0; i < runs; i++) out.noop.push(await rigger(stage, n, []));
      log(`no-op x${runs}: median ${median(out.noop.map((s) => s.wallMs)).toFixed(0)} ms`);
      for (let i = 0; i < runs; i++) out.noopTsx.push(await rigger(stage, n, [], 'tsx'));
      for (let i = 0; i < runs; i++) out.check.push(await rigger(stage, n, ['--check']));
      for (let i = 0; i < runs; i++) out.site.push(await rigger(stage, n, [], 'direct', 'site'));
      log(`site no-op x${runs}: median ${median(out.site.map((s) => s.wallMs)).toFixed(0)} ms`);
      if (withAnsible) {
        const dir = await prepareAnsible(hosts, stage);
        // Each Ansible run right after a rigger run of the same playbook, and the
        // ratio taken pair by pair: a drift of the machine's speed (this VM's
        // varies by half from one minute to the next) hits both sides alike.
        const pair = async (kind: keyof SizeResult['pairs'], mine: () => Promise<Sample>, theirs: () => Promise<Sample>) => {
          const r = await mine();
          out.pairs[kind].push([r, await theirs()]);
        };
        for (let i = 0; i < ansibleRuns; i++) {
          await pair('noop', () => rigger(stage, n, []), () => ansible(dir, hosts, stage, n));
          await pair('site', () => rigger(stage, n, [], 'direct', 'site'), () => ansible(dir, hosts, stage, n, 'site'));
          await pair('check', () => rigger(stage, n, ['--check']), () => ansible(dir, hosts, stage, n, 'runner', ['--check']));
        }
        const ansibleMedian = (kind: keyof SizeResult['pairs']) => median(ansibleOf(out.pairs[kind]).map((s) => s.wallMs)).toFixed(0);
        log(`ansible no-op x${ansibleRuns}: median ${ansibleMedian('noop')} ms, site ${ansibleMedian('site')} ms`);
      }
    } finally {
      await stage.close();
      await hosts.down();
    }
  }
  return out;
}

function summary(samples: Sample[]) {
  return samples.length
    ? {
        runs: samples.length,
        wallMs: Math.round(median(samples.map((s) => s.wallMs))),
        roundTripsPerHost: median(samples.map((s) => s.roundTrips)),
        peakRssMb: Math.round(Math.max(...samples.map((s) => s.rssMb))),
        cpuMs: Math.round(median(samples.map((s) => s.cpuMs ?? NaN))),
        hostsCpuMs: Math.round(median(samples.map((s) => s.hostsCpuMs ?? NaN))),
        machineCpuMs: Math.round(median(samples.map((s) => s.machineCpuMs ?? NaN))),
        apiRequestsPerHost: median(samples.map((s) => s.apiRequests ?? NaN)),
        startupMs: Math.round(median(samples.map((s) => s.startupMs ?? NaN))),
        connectMs: Math.round(median(samples.map((s) => s.connectMs ?? NaN))),
        factsAndRolesMs: Math.round(median(samples.map((s) => s.probeMs ?? NaN))),
        allExit0: samples.every((s) => s.exitCode === 0),
      }
    : null;
}

const haveAnsible = !values['no-ansible'] && existsSync('/usr/bin/ansible-playbook');
if (!values['no-ansible'] && !haveAnsible) process.stderr.write('ansible-playbook not found: apt-get install ansible-core to compare (skipping Ansible)\n');
await mkdir(STATE, { recursive: true });
const results = [];
for (const n of sizes) results.push(await benchSize(n, haveAnsible));

/** The Ansible samples of some pairs. */
function ansibleOf(pairs: [Sample, Sample][]): Sample[] {
  return pairs.map(([, a]) => a);
}

/** Median over the pairs of Ansible's time / rigger's time. */
const pairedRatio = (pairs: [Sample, Sample][]) => (pairs.length ? +median(pairs.map(([r, a]) => a.wallMs / r.wallMs)).toFixed(1) : null);

const table = results.map((r) => {
  const [first, noop, noopTsx, check, ans, ansCheck, site, ansSite] = [r.firstConverge, r.noop, r.noopTsx, r.check, ansibleOf(r.pairs.noop), ansibleOf(r.pairs.check), r.site, ansibleOf(r.pairs.site)].map(summary);
  return {
    hosts: r.hosts,
    first,
    noop,
    noopTsx,
    check,
    ansible: ans,
    ratio: pairedRatio(r.pairs.noop),
    ansibleCheck: ansCheck,
    checkRatio: pairedRatio(r.pairs.check),
    site,
    ansibleSite: ansSite,
    siteRatio: pairedRatio(r.pairs.site),
  };
});
const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, date: new Date().toISOString() };
await writeFile(join(ROOT, 'bench', 'results.json'), JSON.stringify({ machine, runs, firstRuns, ansibleRuns, results: table }, null, 2) + '\n');

const fmt = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(2)} s`);
const rows = [
  ['hosts', 'first converge', 'no-op', 'no-op (tsx)', 'check', 'round trips/host', 'API req/host', 'peak RSS', 'Ansible no-op', 'Ansible / rigger', 'Ansible check', 'ratio', 'site no-op', 'Ansible site', 'ratio'],
  ...table.map((t) => [
    String(t.hosts),
    fmt(t.first?.wallMs),
    fmt(t.noop?.wallMs),
    fmt(t.noopTsx?.wallMs),
    fmt(t.check?.wallMs),
    String(t.noop?.roundTripsPerHost ?? '-'),
    String(t.noop?.apiRequestsPerHost ?? '-'),
    `${Math.max(t.first?.peakRssMb ?? 0, t.noop?.peakRssMb ?? 0, t.check?.peakRssMb ?? 0)} MB`,
    fmt(t.ansible?.wallMs),
    t.ratio ? `${t.ratio}x` : '-',
    fmt(t.ansibleCheck?.wallMs),
    t.checkRatio ? `${t.checkRatio}x` : '-',
    fmt(t.site?.wallMs),
    fmt(t.ansibleSite?.wallMs),
    t.siteRatio ? `${t.siteRatio}x` : '-',
  ]),
];
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log('| ' + r.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |');
console.log(`\nno-op phases (median): ${table.map((t) => `${t.hosts} host(s): start-up to first connection ${t.noop?.startupMs} ms (tsx: ${t.noopTsx?.startupMs} ms), connect ${t.noop?.connectMs} ms, facts+roles ${t.noop?.factsAndRolesMs} ms`).join('; ')}`);
// The cores' time during a no-op run, wall x cores, split: rigger's processes, the
// hosts' containers, everything else (docker-proxy, the kernel's loopback TCP), idle.
const budget = (t: (typeof table)[number]) => {
  const n = t.noop;
  if (!n) return '-';
  const cores = machine.cpus * n.wallMs;
  const other = Math.max(0, n.machineCpuMs - n.cpuMs - n.hostsCpuMs);
  const idle = Math.max(0, cores - n.machineCpuMs);
  return `${t.hosts} host(s): wall ${n.wallMs} ms = ${machine.cpus} cores x ${n.wallMs} ms = rigger CPU ${n.cpuMs} + hosts' CPU ${n.hostsCpuMs} + other CPU ${other} + idle ${Math.round(idle)} ms`;
};
console.log(`where a no-op run's time goes (median): ${table.map(budget).join('; ')}`);
console.log(`machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memGiB} GiB, Node ${machine.node}; medians of ${runs} runs (first converge: ${firstRuns}, Ansible: ${ansibleRuns}); written to bench/results.json`);
