/**
 * A second, separate Docker engine for tests that prune or delete.
 *
 * The default engine on a test machine holds the test-host images; a test
 * that runs `docker ... prune` or `docker ... rm` must never talk to it. This
 * helper starts another dockerd with its own data root, exec root, pid file
 * and socket in a fresh directory under /tmp (short path: unix socket paths
 * are limited to ~108 bytes, and containerd puts its socket below the exec
 * root), as described in shared/reference/environment.md:
 *
 *   dockerd --data-root D/data --exec-root D/exec --pidfile D/docker.pid
 *           -H unix://D/docker.sock --bridge=none --iptables=false
 *           --ip6tables=false
 *
 * Use it with `DOCKER_HOST=<host> docker ...` (pass `env`, merged over
 * process.env). Needs root and a `dockerd` binary (Debian: docker.io).
 */
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface SecondDockerd {
  /** `unix:///tmp/dk-XXXXXX/docker.sock` */
  host: string;
  /** Only the variables to add to process.env: `{ DOCKER_HOST: host }`. */
  env: Record<string, string>;
  /** The engine's private directory (data root is `${dir}/data`). */
  dir: string;
  /** Stops the engine (its containers are killed first) and removes its directory. */
  stop(): Promise<void>;
}

export interface SecondDockerdOptions {
  /** How long to wait for `docker info` to answer. Default 60 s. */
  readyTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mount points at or below `dir`, deepest first. */
async function mountsBelow(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m)
    // mountinfo escapes spaces etc. as \040; our paths have none.
    .filter((m) => m === dir || m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function startSecondDockerd(opts: SecondDockerdOptions = {}): Promise<SecondDockerd> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const dir = await mkdtemp('/tmp/dk-');
  const sock = `${dir}/docker.sock`;
  const host = `unix://${sock}`;
  const env = { DOCKER_HOST: host };
  const childEnv = { ...process.env, ...env };
  const logFile = `${dir}/dockerd.log`;
  const log = await open(logFile, 'a');

  // Its own network namespace: a dockerd started with --bridge=none deletes the
  // host's docker0 link at start-up, which would cut off the test hosts of the
  // main engine (seen here). Only its unix socket is needed from outside.
  const child = spawn(
    'unshare',
    [
      '--net',
      '--',
      'dockerd',
      '--data-root', `${dir}/data`,
      '--exec-root', `${dir}/exec`,
      '--pidfile', `${dir}/docker.pid`,
      '-H', host,
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
    ],
    { stdio: ['ignore', log.fd, log.fd], env: process.env },
  );
  await log.close();

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      exited = { code: null, signal: null };
      resolve();
    });
  });

  // If the test process goes away without stop(), do not leave dockerd behind.
  const onExit = () => {
    if (!exited) child.kill('SIGTERM');
  };
  process.once('exit', onExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    if (!exited) {
      // Kill this engine's containers first: dockerd's shutdown would
      // otherwise wait for each one's stop timeout. Only ever this engine.
      try {
        const { stdout } = await execFileP('docker', ['ps', '-q'], { env: childEnv, timeout: 15_000 });
        const ids = stdout.split('\n').filter(Boolean);
        if (ids.length) {
          await execFileP('docker', ['kill', ...ids], { env: childEnv, timeout: 30_000 }).catch(() => undefined);
        }
      } catch {
        // engine not answering: the signals below still stop it
      }
      child.kill('SIGTERM');
      const deadline = Date.now() + 30_000;
      while (!exited && Date.now() < deadline) await sleep(100);
      if (!exited) {
        child.kill('SIGKILL');
        await Promise.race([exitPromise, sleep(5_000)]);
      }
    }
    // dockerd unmounts its data root on a clean exit; after a crash some
    // mounts (overlay, shm, the data root bind) may remain. Never rm -rf
    // through a mount point.
    for (const m of await mountsBelow(dir)) {
      await execFileP('umount', ['-l', m]).catch(() => undefined);
    }
    const left = await mountsBelow(dir);
    if (left.length) {
      throw new Error(`second dockerd: mounts still present below ${dir}, not removing it: ${left.join(', ')}`);
    }
    if (!dir.startsWith('/tmp/dk-')) throw new Error(`refusing to remove ${dir}`);
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + readyTimeoutMs;
  let lastError: string;
  while (true) {
    if (exited) {
      const why = spawnError ? spawnError.message : `exit code ${exited.code} signal ${exited.signal}`;
      const logTail = await tail(logFile);
      await stop().catch(() => undefined);
      throw new Error(`second dockerd exited during start-up (${why}):\n${logTail}`);
    }
    try {
      await execFileP('docker', ['info', '--format', '{{.ServerVersion}}'], { env: childEnv, timeout: 10_000 });
      break;
    } catch (err) {
      lastError = (err as { stderr?: string }).stderr || String(err);
    }
    if (Date.now() > deadline) {
      const logTail = await tail(logFile);
      await stop().catch(() => undefined);
      throw new Error(
        `second dockerd not ready after ${readyTimeoutMs} ms: ${lastError.trim()}\n--- dockerd.log ---\n${logTail}`,
      );
    }
    await sleep(100);
  }

  return { host, env, dir, stop };
}
