/**
 * Failure cases against real hosts (two disposable Docker test hosts, own
 * state folder, removed in afterAll): host keys that changed or are unknown,
 * a validate command that rejects a file, a playbook process killed in the
 * middle of writing a large file, bad invocations, --detailed-exitcode and
 * the --json schema, and (last, because it stops a container) a stopped host
 * reported unreachable while the other converges.
 *
 * The hosts' state is read back with `docker exec` (helpers/hostState.ts).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineRole } from '../../lib/engine/types.js';
import type { PlaybookDef } from '../../lib/playbook.js';
import { file } from '../../lib/resources/index.js';
import { run } from '../hosts/exec.js';
import { upHosts, type TestHosts } from '../hosts/testhosts.js';
import { catFile, dexec, sh, sha256Of, snapshotDiff, snapshotHost, statOf } from './helpers/hostState.js';
import { runCaptured, writeInventory } from './helpers/run.js';
import { wireBytesOfWrite } from './helpers/wire.js';

const execFileP = promisify(execFile);
const H1 = 'fail1';
const H2 = 'fail2';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSX_LOADER = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const CHILD = fileURLToPath(new URL('./helpers/bigFilePlaybook.ts', import.meta.url));

let hosts: TestHosts;
let stateDir: string;
let inventory: string;
const container: Record<string, string> = {};

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function fileRole(path: string, content: string | Buffer, opts: { validate?: string; mode?: string } = {}) {
  return defineRole({ name: 'it-failures', tasks: () => ({ resources: [file({ path, content, mode: opts.mode ?? '0644', makeDirs: true, validate: opts.validate })] }) });
}
const def = (role: ReturnType<typeof fileRole>): PlaybookDef => ({ name: 'it-failures', plays: [{ hosts: 'all', roles: [role] }] });

/**
 * The schema of the --json report (ARCHITECTURE.md, "JSON report"). Tasks and
 * counts are strict; the report and host levels may carry more than the
 * documented fields (the engine adds timings: startupMs, phases).
 */
const taskSchema = z.strictObject({
  role: z.string().min(1),
  resource: z.string().min(1),
  status: z.enum(['ok', 'changed', 'failed', 'skipped']),
  summary: z.string().optional(),
  diff: z.string().optional(),
  error: z.string().optional(),
  durationMs: z.number().int().nonnegative(),
});
const reportSchema = z.looseObject({
  mode: z.enum(['check', 'apply']),
  durationMs: z.number().int().nonnegative(),
  hosts: z.record(
    z.string(),
    z.looseObject({
      status: z.enum(['ok', 'changed', 'failed', 'unreachable']),
      counts: z.strictObject({ ok: z.number().int().nonnegative(), changed: z.number().int().nonnegative(), failed: z.number().int().nonnegative(), skipped: z.number().int().nonnegative() }),
      remoteCommands: z.number().int().nonnegative(),
      error: z.string().optional(),
      tasks: z.array(taskSchema),
    }),
  ),
});

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts helpers/bigFilePlaybook.ts in its own process group (one node process: tsx as a loader). */
function spawnChild(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<ChildRun> } {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CHILD, ...args], {
    cwd: REPO,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<ChildRun>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

describe('failure cases against real hosts', () => {
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'rigger-it-failures-'));
    hosts = await upHosts({ names: [H1, H2], dir: stateDir, log: () => {} });
    for (const h of [H1, H2]) container[h] = hosts.get(h).containerId;
    inventory = hosts.inventory;
  }, 900_000);

  afterAll(async () => {
    await hosts?.down();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  }, 120_000);

  describe('host keys', () => {
    it('a host whose key changed is refused (even with --accept-new-host-keys), and nothing changes on it', async () => {
      // Replace fail1's ed25519 line with a fresh, unrelated ed25519 key.
      const keyFile = join(stateDir, 'other_host_key');
      await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
      const otherKey = (await readFile(`${keyFile}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
      const port = hosts.get(H1).port;
      const original = await readFile(hosts.knownHosts, 'utf8');
      const changed = original
        .split('\n')
        .map((l) => (l.startsWith(`[127.0.0.1]:${port} ssh-ed25519 `) ? `[127.0.0.1]:${port} ${otherKey}` : l))
        .join('\n');
      expect(changed).not.toBe(original);
      await writeFile(join(stateDir, 'known_hosts.changed'), changed);
      const inv = await writeInventory(hosts, 'inv-changed.toml', { hostOverrides: { [H1]: { known_hosts: 'known_hosts.changed' } } });

      const before = await snapshotHost(container[H1]);
      for (const flags of [[], ['--accept-new-host-keys']]) {
        const r = await runCaptured(def(fileRole('/etc/rigger-it/keytest.conf', 'x=1\n')), ['-i', inv, '-l', H1, ...flags]);
        expect(r.exitCode, r.output).toBe(2);
        const h = r.report!.hosts[H1];
        expect(h.status).toBe('failed');
        expect(h.error).toMatch(/host key for 127\.0\.0\.1:\d+ has CHANGED/);
        expect(h.error).toContain('known_hosts.changed');
        expect(h.tasks).toEqual([]);
        expect(r.output).toMatch(/CHANGED/);
      }
      expect(snapshotDiff(before, await snapshotHost(container[H1]))).toEqual([]);
      expect(await statOf(container[H1], '/etc/rigger-it/keytest.conf')).toBe('absent');
      // The changed entry is not "fixed" behind the user's back.
      expect(await readFile(join(stateDir, 'known_hosts.changed'), 'utf8')).toBe(changed);
    }, 120_000);

    it('an unknown host key is refused without --accept-new-host-keys, accepted and recorded with it', async () => {
      const khName = 'known_hosts.fresh';
      const kh = join(stateDir, khName);
      const inv = await writeInventory(hosts, 'inv-fresh.toml', { hostOverrides: { [H1]: { known_hosts: khName } } });
      const role = fileRole('/etc/rigger-it/tofu.conf', 'tofu=1\n');

      const before = await snapshotHost(container[H1]);
      const refused = await runCaptured(def(role), ['-i', inv, '-l', H1]);
      expect(refused.exitCode, refused.output).toBe(2);
      expect(refused.report!.hosts[H1].status).toBe('failed');
      expect(refused.report!.hosts[H1].error).toMatch(/host key for 127\.0\.0\.1:\d+ is not in .*known_hosts\.fresh; pass --accept-new-host-keys/);
      expect(existsSync(kh)).toBe(false);
      expect(snapshotDiff(before, await snapshotHost(container[H1]))).toEqual([]);

      const accepted = await runCaptured(def(role), ['-i', inv, '-l', H1, '--accept-new-host-keys']);
      expect(accepted.exitCode, accepted.output).toBe(0);
      expect(accepted.report!.hosts[H1].status).toBe('changed');
      expect(await catFile(container[H1], '/etc/rigger-it/tofu.conf')).toBe('tofu=1\n');
      const recorded = (await readFile(kh, 'utf8')).split('\n').filter(Boolean);
      expect(recorded).toHaveLength(1);
      expect(hosts.get(H1).knownHosts).toContain(recorded[0]);
      expect((await stat(kh)).mode & 0o777).toBe(0o600);

      // From now on the recorded key is trusted without the flag.
      const again = await runCaptured(def(role), ['-i', inv, '-l', H1]);
      expect(again.exitCode, again.output).toBe(0);
      expect(again.report!.hosts[H1].status).toBe('ok');
      expect((await readFile(kh, 'utf8')).split('\n').filter(Boolean)).toEqual(recorded);
    }, 120_000);
  });

  describe('validate', () => {
    for (const [label, size] of [
      ['small file (inline)', 0],
      ['large file (upload channel)', 600 * 1024],
    ] as const) {
      it(`a rejected ${label} leaves the old file in place and fails the host (exit 2)`, async () => {
        const dir = `/etc/rigger-it-validate-${size}`;
        const path = `${dir}/app.conf`;
        const validate = "grep -q '^port=' %s";
        const good = 'port=22\n' + 'x'.repeat(size) + '\n';
        const ok = await runCaptured(def(fileRole(path, good, { validate, mode: '0640' })), ['-i', inventory, '-l', H1]);
        expect(ok.exitCode, ok.output).toBe(0);
        expect(ok.report!.hosts[H1].status).toBe('changed');
        const shaBefore = await sha256Of(container[H1], path);
        expect(shaBefore).toBe(sha256(Buffer.from(good)));
        const statBefore = await statOf(container[H1], path);
        expect(statBefore).toBe('regular file 640 root root');

        const bad = 'listen=0.0.0.0\n' + 'y'.repeat(size) + '\n';
        const r = await runCaptured(def(fileRole(path, bad, { validate, mode: '0600' })), ['-i', inventory, '-l', H1]);
        expect(r.exitCode, r.output).toBe(2);
        const h = r.report!.hosts[H1];
        expect(h.status).toBe('failed');
        expect(h.counts).toEqual({ ok: 0, changed: 0, failed: 1, skipped: 0 });
        expect(h.tasks[0]).toMatchObject({ resource: `file:${path}`, status: 'failed' });
        expect(h.tasks[0].error).toMatch(/validation failed: grep -q '\^port=' /);

        expect(await sha256Of(container[H1], path)).toBe(shaBefore);
        expect(await statOf(container[H1], path)).toBe(statBefore);
        // No temp file left behind.
        expect(await sh(container[H1], `ls -A ${dir}`)).toBe('app.conf\n');
      }, 120_000);
    }
  });

  describe('a playbook killed during an apply', () => {
    const SIZE = 32 * 1024 * 1024;
    const DIR = '/opt/rigger-it-big';
    const TARGET = `${DIR}/blob.bin`;

    /**
     * Streams "name size" of the temp files in DIR (every ~20 ms, from inside the
     * host) until stop() is called; files that already existed are ignored.
     */
    async function watchTempFiles(host: string, onSize: (size: number) => void): Promise<{ stop: () => Promise<void> }> {
      const ignore = new Set((await sh(container[host], `ls -A ${DIR} 2>/dev/null || true`)).split('\n').filter(Boolean));
      const stopFile = `/tmp/rigger-it-watch-stop-${randomBytes(4).toString('hex')}`;
      const script = `end=$(( $(date +%s) + 120 )); while [ ! -e ${stopFile} ] && [ $(date +%s) -lt $end ]; do for f in ${DIR}/.rigger-*.tmp; do [ -e "$f" ] && stat -c 's %n %s' "$f"; done; sleep 0.02; done; rm -f ${stopFile}`;
      const p = spawn('docker', ['exec', container[host], 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
      let buf = '';
      p.stdout.on('data', (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const m = /^s \S+\/(\S+) (\d+)$/.exec(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (m && !ignore.has(m[1])) onSize(Number(m[2]));
        }
      });
      const exited = new Promise<void>((r) => p.on('close', () => r()));
      return {
        stop: async () => {
          await dexec(container[host], `touch ${stopFile}`);
          await exited;
        },
      };
    }

    for (const [host, login] of [
      [H1, 'root'],
      [H2, 'deploy'],
    ] as const) {
      it(`never leaves a partially written file, whenever it is killed (login ${login}, 32 MiB over the upload channel)`, async () => {
        const inv = login === 'root' ? inventory : await writeInventory(hosts, 'inv-deploy.toml', { hostOverrides: { [H2]: { user: 'deploy' } } });
        const local = await mkdtemp(join(tmpdir(), 'rigger-it-big-'));
        try {
          let n = 0;
          const newContent = async () => {
            const b = randomBytes(SIZE);
            const p = join(local, `c${n++}.bin`);
            await writeFile(p, b);
            return { path: p, sha: sha256(b) };
          };
          const env = (c: { path: string }) => ({ RIGGER_IT_TARGET: TARGET, RIGGER_IT_CONTENT: c.path });
          const args = ['-i', inv, '-l', host];

          // A complete run first: how long does one take?
          const c0 = await newContent();
          const t0 = Date.now();
          const fullRun = await spawnChild(args, env(c0)).done;
          const fullMs = Date.now() - t0;
          expect(fullRun.code, fullRun.stdout + fullRun.stderr).toBe(0);
          expect(await sha256Of(container[host], TARGET)).toBe(c0.sha);
          let current = c0.sha;

          // Kill points: by progress of the upload (size of the temp file), and by time.
          type Point = { label: string; fraction?: number; atMs?: number };
          const points: Point[] = [
            { label: 'upload at 5%', fraction: 0.05 },
            { label: 'upload at 50%', fraction: 0.5 },
            { label: 'upload at 95%', fraction: 0.95 },
            { label: 'upload complete, before the rename', fraction: 1 },
            ...[0.3, 0.6, 0.75, 0.85, 0.95].map((f) => ({ label: `${Math.round(f * 100)}% of a full run (${Math.round(f * fullMs)} ms)`, atMs: Math.round(f * fullMs) })),
          ];
          const outcomes: string[] = [];
          let killedMidUpload = 0;
          for (const point of points) {
            const c = await newContent();
            let seen = -1;
            let atKill = -1;
            const watcher = await watchTempFiles(host, (size) => {
              seen = Math.max(seen, size);
              if (point.fraction !== undefined && size >= point.fraction * SIZE) kill();
            });
            const { child, done } = spawnChild(args, env(c));
            function kill() {
              if (atKill === -1) atKill = seen;
              killGroup(child);
            }
            const timer = point.atMs !== undefined ? setTimeout(kill, point.atMs) : undefined;
            const result = await done;
            if (timer) clearTimeout(timer);
            await new Promise((r) => setTimeout(r, 1000)); // let the host notice the dead connection
            await watcher.stop();

            const now = await sha256Of(container[host], TARGET);
            const outcome = now === current ? 'old content' : now === c.sha ? 'new content' : `PARTIAL/OTHER (${now})`;
            const temps = (await sh(container[host], `for f in ${DIR}/.rigger-*.tmp; do [ -e "$f" ] && stat -c '%s' "$f"; done; true`)).split('\n').filter(Boolean);
            outcomes.push(`${point.label}: ${result.signal ?? `exit ${result.code}`}, temp file at the kill: ${atKill < 0 ? 'none' : `${atKill} bytes`} -> ${outcome}; temp files now: ${temps.join(', ') || 'none'}`);
            expect([current, c.sha], outcomes.join('\n')).toContain(now);
            expect(await statOf(container[host], TARGET)).toBe('regular file 640 root root');
            // A partial upload never stays behind (a complete one may, when the kill came between upload and rename).
            for (const size of temps) expect(Number(size), `partial temp file left behind\n${outcomes.join('\n')}`).toBe(SIZE);
            if (result.signal === 'SIGKILL' && atKill >= 0 && atKill < SIZE) killedMidUpload++;
            current = now;
          }
          console.log(`${host} (login ${login}), kill points (a full run takes ${fullMs} ms):\n  ${outcomes.join('\n  ')}`);
          // The test means something only if kills did land in the middle of the upload.
          expect(killedMidUpload, outcomes.join('\n')).toBeGreaterThanOrEqual(2);

          // And a run that is left alone converges, and removes the complete temp files the kills left.
          const last = await newContent();
          const final = await spawnChild(args, env(last)).done;
          expect(final.code, final.stderr).toBe(0);
          expect(await sha256Of(container[host], TARGET)).toBe(last.sha);
          expect(await sh(container[host], `ls -A ${DIR}`)).toBe('blob.bin\n');
        } finally {
          await rm(local, { recursive: true, force: true });
        }
      }, 600_000);
    }

    it('a connection that drops while a small file (sent inline, through the shell) is on the wire never leaves a partial file', async () => {
      // What SshSession's persistent shell sends for one writeAtomically() of a 200 KB file,
      // cut at several points and fed to the host's /bin/sh, which then sees end-of-file:
      // exactly what the remote shell sees when the connection drops there.
      const c = container[H1];
      const path = '/opt/rigger-it-inline/blob.bin';
      const old = randomBytes(150_000);
      const next = randomBytes(200_000);
      const first = await runCaptured(def(fileRole(path, old, { mode: '0600' })), ['-i', inventory, '-l', H1]);
      expect(first.exitCode, first.output).toBe(0);
      expect(await sha256Of(c, path)).toBe(sha256(old));

      const wire = await wireBytesOfWrite(path, next);
      const dataEnd = wire.lastIndexOf('_IN\n'); // the heredoc's delimiter: the content is complete up to here
      expect(dataEnd).toBeGreaterThan(next.length);
      const cuts = [0.02, 0.25, 0.5, 0.75, 0.98].map((f) => Math.round(f * dataEnd)).concat([dataEnd - 1, dataEnd + 3]);
      for (const cut of cuts) {
        await dexec(c, 'sh', wire.subarray(0, cut));
        const now = await sha256Of(c, path);
        expect(now, `cut at byte ${cut} of ${wire.length} (heredoc ends at ${dataEnd})`).toBe(sha256(old));
        expect(await sh(c, `ls -A /opt/rigger-it-inline`)).toBe('blob.bin\n');
      }
      // The complete bytes do write the new content (so the cut points above were meaningful).
      await dexec(c, 'sh', wire);
      expect(await sha256Of(c, path)).toBe(sha256(next));
      expect(await statOf(c, path)).toBe('regular file 600 root root');
    }, 120_000);
  });

  describe('bad invocations (a real process)', () => {
    for (const [label, args, message] of [
      ['a --limit that matches nothing', ['-l', 'nomatch'], /^error: --limit: pattern "nomatch" matches no host or group/],
      ['--forks 0', ['-f', '0'], /^error: --forks: expected a positive integer, got "0"/],
      ['an unknown flag', ['--frobnicate'], /^error: unknown option --frobnicate/],
      ['a missing inventory', ['-i', '/nonexistent/hosts.toml'], /^error: .*\/nonexistent\/hosts\.toml/],
    ] as const) {
      it(`${label}: exit 1, one error line, no stack trace, nothing contacted`, async () => {
        const argv = args[0] === '-i' ? [...args] : ['-i', inventory, ...args];
        const r = await spawnChild(argv, { RIGGER_IT_TARGET: '/etc/rigger-it/never.conf' }).done;
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).not.toMatch(/^\s+at /m);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stdout).toBe('');
        expect(await statOf(container[H1], '/etc/rigger-it/never.conf')).toBe('absent');
      }, 60_000);
    }
  });

  describe('--detailed-exitcode and --json', () => {
    it('exit 3 when something changes (or would), 0 on a no-op run; the JSON report follows the schema', async () => {
      const path = '/etc/rigger-it/detailed.conf';
      const role = fileRole(path, 'detailed=1\n');
      const jsonPath = join(stateDir, 'detailed.json');
      const go = async (...flags: string[]) => {
        const r = await runCaptured(def(role), ['-i', inventory, '--detailed-exitcode', ...flags]);
        // runCaptured passes its own --json; check also a --json file of our own, written by the same code path
        return r;
      };
      const wouldChange = await go('--check');
      expect(wouldChange.exitCode, wouldChange.output).toBe(3);
      expect(await statOf(container[H1], path)).toBe('absent');
      const changed = await go();
      expect(changed.exitCode, changed.output).toBe(3);
      const noop = await go();
      expect(noop.exitCode, noop.output).toBe(0);
      const noopCheck = await go('--check');
      expect(noopCheck.exitCode, noopCheck.output).toBe(0);
      // Without the flag a changing run exits 0.
      const plain = await runCaptured(def(fileRole(path, 'detailed=2\n')), ['-i', inventory]);
      expect(plain.exitCode, plain.output).toBe(0);

      for (const r of [wouldChange, changed, noop, noopCheck, plain]) {
        const parsed = reportSchema.safeParse(r.report);
        expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
        expect(Object.keys(r.report!.hosts)).toEqual([H1, H2]);
        for (const h of Object.values(r.report!.hosts)) {
          expect(h.counts.ok + h.counts.changed + h.counts.failed + h.counts.skipped).toBe(h.tasks.length);
          expect(h.remoteCommands).toBeGreaterThan(0);
        }
      }
      expect(wouldChange.report!.mode).toBe('check');
      expect(changed.report!.mode).toBe('apply');
      expect(changed.report!.hosts[H1]).toMatchObject({ status: 'changed', counts: { ok: 0, changed: 1, failed: 0, skipped: 0 } });
      expect(changed.report!.hosts[H1].tasks[0]).toMatchObject({ role: 'it-failures', resource: `file:${path}`, status: 'changed', summary: 'create (11 bytes, mode 644)' });
      expect(changed.report!.hosts[H1].tasks[0].diff).toContain('+detailed=1');
      expect(noop.report!.hosts[H1]).toMatchObject({ status: 'ok', counts: { ok: 1, changed: 0, failed: 0, skipped: 0 } });

      // The CLI's own --json PATH, from a real process: same schema.
      const child = await spawnChild(['-i', inventory, '--detailed-exitcode', '--json', jsonPath], { RIGGER_IT_TARGET: path, RIGGER_IT_CONTENT: '' }).done;
      expect(child.code, child.stderr).toBe(3);
      const fromFile = JSON.parse(await readFile(jsonPath, 'utf8'));
      const parsed = reportSchema.safeParse(fromFile);
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
      expect(fromFile.hosts[H1].tasks[0]).toMatchObject({ role: 'bigfile', resource: `file:${path}`, status: 'changed' });
    }, 180_000);
  });

  describe('an unreachable host (runs last: it stops a container)', () => {
    it('a stopped host is reported unreachable while the other converges; exit 2', async () => {
      const path = '/etc/rigger-it/unreachable.conf';
      await run(['docker', 'stop', '-t', '2', container[H2]]);
      const t0 = Date.now();
      const r = await runCaptured(def(fileRole(path, 'reachable=1\n')), ['-i', inventory]);
      expect(r.exitCode, r.output).toBe(2);
      expect(Date.now() - t0).toBeLessThan(30_000);
      const h1 = r.report!.hosts[H1];
      const h2 = r.report!.hosts[H2];
      expect(h1).toMatchObject({ status: 'changed', counts: { ok: 0, changed: 1, failed: 0, skipped: 0 } });
      expect(h2).toMatchObject({ status: 'unreachable', counts: { ok: 0, changed: 0, failed: 0, skipped: 0 }, tasks: [], remoteCommands: 0 });
      expect(h2.error).toMatch(new RegExp(`cannot connect to root@127\\.0\\.0\\.1:${hosts.get(H2).port}`));
      expect(reportSchema.safeParse(r.report).success).toBe(true);
      expect(r.output).toMatch(new RegExp(`${H2}\\s+: ok=0 changed=0 failed=0 skipped=0 unreachable=1`));
      expect(r.output).toMatch(/UNREACHABLE: cannot connect/);
      expect(await catFile(container[H1], path)).toBe('reachable=1\n');
    }, 120_000);
  });
});
