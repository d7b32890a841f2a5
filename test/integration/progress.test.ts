/**
 * Progress against a real host (one disposable Docker test host of this
 * file's own, with the fake apt repository mounted at /srv/fixtures):
 *
 * - a real playbook process (helpers/faultPlaybook.ts) under a pseudo-terminal
 *   (util-linux `script`): while a 3 s command runs, the terminal shows its
 *   live line (host, resource, elapsed seconds), read as it arrives; then the
 *   result line;
 * - the same run on plain pipes: no live line, no escape sequence; with
 *   `--json -`, stdout is the JSON report alone;
 * - an apt install over SSH: the notes apt's status lines turn into arrive
 *   while apt-get runs (output streamed from the persistent shell).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHost } from '../../lib/engine/run.js';
import { defineRole } from '../../lib/engine/types.js';
import { aptPackages, aptRepository } from '../../lib/resources/index.js';
import { SshSession } from '../../lib/transport/ssh.js';
import { prepareFixtures, type Fixtures } from '../fakes/fixtures.js';
import { upHosts, type TestHosts } from '../hosts/testhosts.js';
import { sh } from './helpers/hostState.js';

const HOST = 'prog1';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSX_LOADER = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const CHILD = fileURLToPath(new URL('./helpers/faultPlaybook.ts', import.meta.url));
const FIXTURES_DIR = join(tmpdir(), 'rigger-it-progress-fixtures');

let hosts: TestHosts;
let stateDir: string;
let fixtures: Fixtures;
let n = 0;

interface Chunk {
  /** ms since the process started */
  at: number;
  text: string;
}

/** Runs the playbook process (under a pseudo-terminal when `pty`), collecting its output as it arrives. */
function runChild(args: string[], opts: { pty: boolean; sleep: number }): Promise<{ code: number | null; chunks: Chunk[]; stdout: string; stderr: string }> {
  const dir = `/opt/rigger-it-progress-${process.pid}-${n++}`;
  const plan = { dir, commands: [{ name: 'slow', run: `sleep ${opts.sleep}; touch ${dir}/done`, creates: `${dir}/done` }] };
  const argv = [process.execPath, '--import', TSX_LOADER, CHILD, ...args];
  const { FORCE_COLOR: _, ...inherited } = process.env;
  const env = { ...inherited, NO_COLOR: '1', TERM: 'xterm', RIGGER_IT_PLAN: JSON.stringify(plan) };
  // script(1) runs the command on a new pseudo-terminal and copies what it writes to its own stdout
  const child = opts.pty
    ? spawn('script', ['-qec', argv.map(shellWord).join(' '), '/dev/null'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(argv[0], argv.slice(1), { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const t0 = Date.now();
  const chunks: Chunk[] = [];
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    chunks.push({ at: Date.now() - t0, text: d.toString() });
    stdout += d;
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, chunks, stdout, stderr })));
}

function shellWord(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

describe('progress against a real host', () => {
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'rigger-it-progress-'));
    fixtures = await prepareFixtures(FIXTURES_DIR);
    hosts = await upHosts({ names: [HOST], fixturesDir: fixtures.dir, dir: stateDir, log: () => {} });
    // apt reads only the fake repository: no test contacts anything but 127.0.0.1
    await sh(hosts.get(HOST).containerId, 'rm -f /etc/apt/sources.list');
  }, 900_000);

  afterAll(async () => {
    await hosts?.down();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  }, 120_000);

  it('under a pseudo-terminal: the running resource and its elapsed seconds show while it runs, then its result line', async () => {
    const r = await runChild(['-i', hosts.inventory], { pty: true, sleep: 3 });
    const out = r.stdout.replace(/\r/g, '');
    expect(r.code, out + r.stderr).toBe(0);
    const result = r.chunks.findIndex((c) => /changed prog1 \[faults\] command:slow/.test(c.text));
    expect(result, out).toBeGreaterThan(0);
    // live lines of the running command, with its seconds counting up, before its result line arrived
    const live = r.chunks.slice(0, result).map((c) => c.text.replace(/\r/g, '')).join('');
    // (each redraw starts with the erase of the one before)
    const seconds = [...live.matchAll(/ {2}prog1 {2}faults {2}command:slow {2}(\d+)s {2}applying$/gm)].map((m) => Number(m[1]));
    expect(seconds, live).toContain(1);
    expect(seconds, live).toContain(2);
    expect(live).toContain('\x1b[1A\x1b[J');
    // the block is erased before the recap
    expect(out).toContain('\x1b[1A\x1b[J\nRECAP');
  }, 120_000);

  it('on plain pipes: result lines only, no live line and no escape sequence', async () => {
    const r = await runChild(['-i', hosts.inventory], { pty: false, sleep: 2 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^changed prog1 \[faults\] command:slow: /m);
    expect(r.stdout + r.stderr).not.toContain('\x1b');
    expect(r.stdout).not.toMatch(/applying|connecting/);
  }, 120_000);

  it('--json - under a pseudo-terminal too: stdout carries the report alone, no live line', async () => {
    // script(1) joins stdout and stderr on the terminal: run the JSON case on pipes, the TTY case checks the flag turns progress off
    const piped = await runChild(['-i', hosts.inventory, '--json', '-'], { pty: false, sleep: 1 });
    expect(piped.code, piped.stderr).toBe(0);
    const report = JSON.parse(piped.stdout);
    expect(report.hosts[HOST].tasks.map((t: { resource: string }) => t.resource)).toContain('command:slow');
    expect(piped.stderr).toMatch(/RECAP/);
    const tty = await runChild(['-i', hosts.inventory, '--json', '-'], { pty: true, sleep: 2 });
    expect(tty.code).toBe(0);
    expect(tty.stdout).not.toContain('\x1b[');
    expect(tty.stdout).not.toMatch(/applying/);
  }, 120_000);

  it('an apt install reports what apt is doing while apt-get runs, streamed over SSH', async () => {
    const h = hosts.get(HOST);
    const repo = aptRepository({
      name: 'rigger-it-progress',
      uri: fixtures.inHost.aptUrl,
      suites: [fixtures.apt.codename],
      components: [fixtures.apt.component],
      keyUrl: fixtures.inHost.aptKeyUrl,
      keyFingerprint: fixtures.apt.fingerprint,
    });
    const pkgs = aptPackages({ packages: ['gitlab-runner'], updateCacheIfChanged: repo });
    const role = defineRole({ name: 'apt-progress', tasks: () => ({ resources: [...repo, pkgs] }) });
    const notes: Array<{ resource?: string; note: string; at: number }> = [];
    let running: string | undefined;
    const connect = () =>
      SshSession.open({ host: HOST, address: h.host, port: h.port, user: 'root', identityFiles: [hosts.privateKey], agent: false, knownHosts: hosts.knownHosts, acceptNewHostKeys: false, connectTimeoutMs: 10_000 });
    const result = await runHost(HOST, connect, [{ role, vars: {} }], {
      check: false,
      wantDiff: false,
      tags: [],
      skipTags: [],
      onTaskStart: (_h, t) => (running = t.resource),
      onTask: () => (running = undefined),
      onProgress: (_h, note) => notes.push({ resource: running, note, at: Date.now() }),
    });
    expect(result.status, result.error).toBe('changed');
    const texts = notes.map((x) => x.note);
    expect(notes.every((x) => x.resource === 'apt:gitlab-runner'), JSON.stringify(notes)).toBe(true);
    expect(texts.some((t) => /^updating package lists \d+\/\d+ \(\d+%\)$/.test(t)), texts.join('\n')).toBe(true);
    expect(texts).toContain('downloading 2/2 (100%)');
    expect(texts).toContain('unpacking gitlab-runner-helper-images 1/2');
    expect(texts).toContain('unpacking gitlab-runner 2/2');
    expect(texts).toContain('setting up gitlab-runner 2/2');
    // they arrived as apt went, not all at once when the command ended
    expect(notes.at(-1)!.at - notes[0].at).toBeGreaterThan(100);
    expect(await sh(h.containerId, "dpkg-query -W -f='${Status}' gitlab-runner")).toBe('install ok installed');
  }, 180_000);
});
