// Starts and stops disposable Docker test hosts (Debian 12, systemd as PID 1, sshd on 127.0.0.1).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureImage } from './image.js';
import { mapLimit, run, Semaphore, sleep } from './exec.js';

export const LABEL = 'rigger.testhost';
export const RUN_LABEL = 'rigger.testhost.run';
export const NAME_LABEL = 'rigger.testhost.name';
export const DEPLOY_USER = 'deploy';
export const PASSWORD_USER = 'pwuser';
export const PASSWORD = 'rigger-test-password';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Files `up` writes into the state folder (and `down` removes). */
export const STATE_FILES = ['inventory.toml', 'known_hosts', 'id_ed25519', 'id_ed25519.pub', 'hosts.json'] as const;

export interface TestHost {
  /** Inventory name, also the container's hostname. */
  name: string;
  /** Always 127.0.0.1. */
  host: string;
  /** sshd of this host, published on 127.0.0.1 (with `networkOf`: its port inside that host's network namespace, not published). */
  port: number;
  /** The host whose network namespace this one shares (reachable only from inside it, e.g. through it as a jump host). */
  networkOf?: string;
  containerId: string;
  containerName: string;
  groups: string[];
  /** This host's lines in known_hosts (`[127.0.0.1]:PORT type key`), ed25519 first. */
  knownHosts: string[];
}

/** What `up` returns, and (without `down`) the content of hosts.json. */
export interface TestHostsState {
  runId: string;
  /** Process that started the hosts (an `up` into the same folder refuses to replace them while it lives). */
  ownerPid: number;
  image: string;
  /** Absolute path of the state folder. */
  dir: string;
  /** Absolute paths of the generated files. */
  inventory: string;
  knownHosts: string;
  privateKey: string;
  hostsJson: string;
  /** Absolute host path mounted read-only at /srv/fixtures, if any. */
  fixturesDir: string | null;
  users: {
    root: string;
    /** non-root user with the same key and passwordless sudo */
    deploy: string;
    /** user with a password and no key */
    password: { user: string; password: string };
  };
  hosts: TestHost[];
}

export interface TestHosts extends TestHostsState {
  /** Removes this run's containers and state files. */
  down(): Promise<void>;
  /** Looks a host up by name (throws if unknown). */
  get(name: string): TestHost;
}

export interface UpOptions {
  /** Number of hosts, named `${namePrefix}1`..`${namePrefix}N`. */
  count?: number;
  namePrefix?: string;
  /** Explicit host names (instead of count). */
  names?: string[];
  /** Groups for every host (array) or per host name. */
  groups?: string[] | Record<string, string[]>;
  /** Host folder mounted read-only at /srv/fixtures in every host. */
  fixturesDir?: string;
  /**
   * Per host name: run it in the network namespace of another host of this
   * run (`docker run --network container:`), publishing no port: it is
   * reachable only from inside that host, on `sshPort`.
   */
  networkOf?: Record<string, string>;
  /** Per host name: the port its sshd listens on (default 22); needed with `networkOf`, where 22 is taken. */
  sshPort?: Record<string, number>;
  /** State folder; default $RIGGER_TESTHOSTS_DIR or <repo>/.testhosts. */
  dir?: string;
  /** Per-host boot timeout; default 60 s (+1 s per host beyond 5). */
  bootTimeoutMs?: number;
  /** Progress messages (default: to stderr). Pass () => {} for silence. */
  log?: (msg: string) => void;
}

export interface DownOptions {
  dir?: string;
  /** Only this run's containers (default: the run recorded in the state folder; with none recorded, every container labelled rigger.testhost=1). */
  runId?: string;
  log?: (msg: string) => void;
}

export function stateDir(dir?: string): string {
  return path.resolve(dir ?? process.env.RIGGER_TESTHOSTS_DIR ?? path.join(REPO_ROOT, '.testhosts'));
}

const defaultLog = (msg: string) => process.stderr.write(`[testhosts] ${msg}\n`);

function hostNames(opts: UpOptions): string[] {
  const names = opts.names?.length ? opts.names : Array.from({ length: opts.count ?? 1 }, (_, i) => `${opts.namePrefix ?? 'host'}${i + 1}`);
  if (names.length === 0) throw new Error('no hosts requested');
  const seen = new Set<string>();
  for (const n of names) {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(n)) throw new Error(`invalid host name ${JSON.stringify(n)} (letters, digits, '-')`);
    if (seen.has(n)) throw new Error(`duplicate host name ${n}`);
    seen.add(n);
  }
  return names;
}

/** Reads the hosts.json of a state folder (null when there is none). */
export async function readState(dir?: string): Promise<TestHostsState | null> {
  const file = path.join(stateDir(dir), 'hosts.json');
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as TestHostsState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Starts test hosts and writes inventory.toml, known_hosts, id_ed25519 and hosts.json
 * into the state folder. Hosts left by an earlier `up` into the same folder are removed first.
 */
export async function upHosts(opts: UpOptions = {}): Promise<TestHosts> {
  const log = opts.log ?? defaultLog;
  const debug = !!process.env.RIGGER_TESTHOSTS_DEBUG;
  const t0 = Date.now();
  const names = hostNames(opts);
  const dir = stateDir(opts.dir);
  const groupsOf = (n: string) => (Array.isArray(opts.groups) ? opts.groups : (opts.groups?.[n] ?? []));
  const fixturesDir = opts.fixturesDir ? path.resolve(opts.fixturesDir) : null;
  if (fixturesDir) await fs.mkdir(fixturesDir, { recursive: true });
  await fs.mkdir(dir, { recursive: true });

  const previous = await readState(dir).catch(() => null);
  if (previous?.runId && previous.ownerPid && previous.ownerPid !== process.pid && isAlive(previous.ownerPid)) {
    const left = (await run(['docker', 'ps', '-q', '--filter', `label=${RUN_LABEL}=${previous.runId}`])).stdout.trim();
    if (left) {
      throw new Error(
        `${dir} holds the running hosts of run ${previous.runId}, started by process ${previous.ownerPid} which is still alive; ` +
          'use another state folder (dir option, --dir or RIGGER_TESTHOSTS_DIR) or run `down` first',
      );
    }
  }
  if (previous?.runId) {
    log(`removing hosts of the previous run ${previous.runId} recorded in ${dir}`);
    await removeContainers(['--filter', `label=${RUN_LABEL}=${previous.runId}`]);
  }
  await removeStateFiles(dir);

  const image = await ensureImage(log);
  await ensureInotifyInstances(names.length, log);
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const privateKey = path.join(dir, 'id_ed25519');
  await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `rigger-testhosts-${runId}`, '-f', privateKey]);
  await fs.chmod(privateKey, 0o600);
  const publicKey = (await fs.readFile(`${privateKey}.pub`, 'utf8')).trim();

  // Recorded before any container exists, so that the next `up` into this folder (or a
  // `down --run`) can remove what an interrupted `up` left behind.
  const partial: TestHostsState = {
    runId,
    ownerPid: process.pid,
    image,
    dir,
    inventory: path.join(dir, 'inventory.toml'),
    knownHosts: path.join(dir, 'known_hosts'),
    privateKey,
    hostsJson: path.join(dir, 'hosts.json'),
    fixturesDir,
    users: { root: 'root', deploy: DEPLOY_USER, password: { user: PASSWORD_USER, password: PASSWORD } },
    hosts: [],
  };
  await fs.writeFile(partial.hostsJson, JSON.stringify(partial, null, 2) + '\n');

  const bootTimeoutMs = opts.bootTimeoutMs ?? 60_000 + 1000 * Math.max(0, names.length - 5);
  const starting = new Semaphore(6); // docker run is mostly daemon-side work; a few at a time
  log(`starting ${names.length} host(s) from ${image} (run ${runId})`);

  const networkOf = opts.networkOf ?? {};
  for (const [n, other] of Object.entries(networkOf)) {
    if (!names.includes(n) || !names.includes(other) || networkOf[other]) throw new Error(`networkOf: ${n} -> ${other}: both must be hosts of this run, and ${other} must have a network of its own`);
    if (!opts.sshPort?.[n] || opts.sshPort[n] === 22) throw new Error(`networkOf: ${n} shares the network of ${other}, whose sshd has port 22: give ${n} another sshPort`);
  }
  const containerOf = (name: string) => `rigger-th-${runId}-${name}`;
  let hosts: TestHost[];
  try {
    // Hosts that join another's network start once that one exists.
    const startHost = async (name: string): Promise<TestHost> => {
      const containerName = containerOf(name);
      const t = Date.now();
      const sshPort = opts.sshPort?.[name] ?? 22;
      const portConf = sshPort === 22 ? null : path.join(dir, `sshd-port-${name}.conf`);
      if (portConf) await fs.writeFile(portConf, `Port ${sshPort}\n`);
      const network = networkOf[name] ? containerOf(networkOf[name]) : null;
      const { containerId, port } = await starting.use(() => startContainer({ name, containerName, image, runId, fixturesDir, network, portConf, sshPort }));
      const tStarted = Date.now();
      const keys = await bootAndSetup(containerId, name, publicKey, bootTimeoutMs, log);
      const tBooted = Date.now();
      if (network) await waitListening(containerId, sshPort, name, 20_000);
      else await waitSshBanner(port, name, 20_000);
      if (debug) {
        log(`${name}: queued+run ${tStarted - t} ms, boot ${tBooted - tStarted} ms, ssh ${Date.now() - tBooted} ms (at +${Date.now() - t0} ms)`);
      }
      return {
        name,
        host: '127.0.0.1',
        port,
        ...(networkOf[name] ? { networkOf: networkOf[name] } : {}),
        containerId,
        containerName,
        groups: [...groupsOf(name)],
        knownHosts: keys.map((k) => `[127.0.0.1]:${port} ${k}`),
      };
    };
    const first = await mapLimit(names.filter((n) => !networkOf[n]), names.length, startHost);
    const second = await mapLimit(names.filter((n) => networkOf[n]), names.length, startHost);
    hosts = names.map((n) => [...first, ...second].find((h) => h.name === n)!);
  } catch (e) {
    log(`up failed; removing the containers of run ${runId}`);
    await removeContainers(['--filter', `label=${RUN_LABEL}=${runId}`]).catch(() => {});
    await removeStateFiles(dir).catch(() => {});
    throw e;
  }

  const state: TestHostsState = { ...partial, hosts };
  await fs.writeFile(state.knownHosts, hosts.flatMap((h) => h.knownHosts).join('\n') + '\n');
  await fs.writeFile(state.inventory, inventoryToml(state));
  await fs.writeFile(state.hostsJson, JSON.stringify(state, null, 2) + '\n');
  log(`${hosts.length} host(s) up in ${((Date.now() - t0) / 1000).toFixed(1)} s; inventory: ${state.inventory}`);
  return withMethods(state);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function withMethods(state: TestHostsState): TestHosts {
  return {
    ...state,
    down: async () => {
      await downHosts({ dir: state.dir, runId: state.runId, log: () => {} });
    },
    get(name: string) {
      const h = state.hosts.find((x) => x.name === name);
      if (!h) throw new Error(`no test host named ${name}`);
      return h;
    },
  };
}

/** The hosts of the last `up` into a state folder (for tests that did not start them). */
export async function loadHosts(dir?: string): Promise<TestHosts> {
  const s = await readState(dir);
  if (!s) throw new Error(`no test hosts recorded in ${stateDir(dir)} (run \`npm run testhosts -- up\`)`);
  return withMethods(s);
}

/** Removes test-host containers (all with label rigger.testhost=1, or one run's) and the state files. */
export async function downHosts(opts: DownOptions = {}): Promise<{ removed: number }> {
  const log = opts.log ?? defaultLog;
  const dir = stateDir(opts.dir);
  const state = await readState(dir).catch(() => null);
  // the run recorded in the folder, unless one is named; with neither, every test host (leftovers)
  const runId = opts.runId ?? state?.runId;
  const removed = await removeContainers(runId ? ['--filter', `label=${RUN_LABEL}=${runId}`] : []);
  if (!opts.runId || !state || state.runId === opts.runId) {
    await removeStateFiles(dir);
    await fs.rmdir(dir).catch(() => {}); // only if now empty
  }
  log(`removed ${removed} container(s)`);
  return { removed };
}

/**
 * Each systemd container takes ~7 inotify instances of the (shared) root user, and the kernel's
 * default limit is 128: about 15 hosts. Raise the limit when more are needed (we run as root).
 */
async function ensureInotifyInstances(newHosts: number, log: (m: string) => void): Promise<void> {
  const file = '/proc/sys/fs/inotify/max_user_instances';
  const current = Number((await fs.readFile(file, 'utf8').catch(() => '0')).trim());
  if (!current) return;
  const running = (await run(['docker', 'ps', '-q'])).stdout.split('\n').filter(Boolean).length;
  const need = (running + newHosts) * 10 + 128;
  if (current >= need) return;
  const target = Math.max(need, 1024);
  try {
    await fs.writeFile(file, String(target));
    log(`raised fs.inotify.max_user_instances from ${current} to ${target} (systemd needs ~7 per container)`);
  } catch (e) {
    throw new Error(
      `fs.inotify.max_user_instances is ${current}, too low for ${running + newHosts} systemd containers; ` +
        `run: sysctl -w fs.inotify.max_user_instances=${target}`,
      { cause: e },
    );
  }
}

async function removeContainers(filter: string[]): Promise<number> {
  const ids = (await run(['docker', 'ps', '-aq', '--filter', `label=${LABEL}=1`, ...filter])).stdout.split('\n').filter(Boolean);
  for (let i = 0; i < ids.length; i += 50) {
    await run(['docker', 'rm', '-f', '-v', ...ids.slice(i, i + 50)], { allowFail: true });
  }
  return ids.length;
}

async function removeStateFiles(dir: string): Promise<void> {
  for (const f of STATE_FILES) await fs.rm(path.join(dir, f), { force: true });
  // the sshd port drop-ins of hosts started with sshPort
  for (const f of await fs.readdir(dir).catch(() => [] as string[])) if (/^sshd-port-[\w-]+\.conf$/.test(f)) await fs.rm(path.join(dir, f), { force: true });
}

async function startContainer(o: {
  name: string;
  containerName: string;
  image: string;
  runId: string;
  fixturesDir: string | null;
  /** container whose network namespace to join (then no --hostname and no published port) */
  network?: string | null;
  /** sshd_config drop-in that sets the port, and that port */
  portConf?: string | null;
  sshPort?: number;
}): Promise<{ containerId: string; port: number }> {
  const argv = [
    'docker', 'run', '-d',
    '--name', o.containerName,
    ...(o.network ? ['--network', `container:${o.network}`] : ['--hostname', o.name]),
    '--label', `${LABEL}=1`,
    '--label', `${RUN_LABEL}=${o.runId}`,
    '--label', `${NAME_LABEL}=${o.name}`,
    '--cap-add', 'SYS_ADMIN',
    '--security-opt', 'seccomp=unconfined',
    '--tmpfs', '/run',
    '--tmpfs', '/run/lock',
    '-v', '/sys/fs/cgroup:/sys/fs/cgroup:ro',
    '-e', 'container=docker',
    // sshd on loopback only; Docker picks a free port.
    ...(o.network ? [] : ['-p', `127.0.0.1::${o.sshPort ?? 22}`]),
    ...(o.portConf ? ['-v', `${o.portConf}:/etc/ssh/sshd_config.d/rigger-port.conf:ro`] : []),
    ...(o.fixturesDir ? ['-v', `${o.fixturesDir}:/srv/fixtures:ro`] : []),
    o.image,
    '/sbin/init',
  ];
  for (let attempt = 1; ; attempt++) {
    try {
      const containerId = (await run(argv)).stdout.trim();
      if (o.network) return { containerId, port: o.sshPort ?? 22 };
      const mapping = (await run(['docker', 'port', containerId, `${o.sshPort ?? 22}/tcp`])).stdout.trim().split('\n');
      const m = mapping.map((l) => /^127\.0\.0\.1:(\d+)$/.exec(l.trim())).find(Boolean);
      if (!m) throw new Error(`container ${o.containerName}: unexpected port mapping ${JSON.stringify(mapping)}`);
      return { containerId, port: Number(m[1]) };
    } catch (e) {
      // A port Docker picked can be taken by someone else in the meantime: retry with a new one.
      await run(['docker', 'rm', '-f', '-v', o.containerName], { allowFail: true });
      const msg = e instanceof Error ? e.message : String(e);
      if (attempt >= 3 || !/address already in use|port is already allocated|bind/i.test(msg)) {
        throw new Error(`cannot start test host ${o.name}: ${msg}`, { cause: e });
      }
    }
  }
}

/**
 * One `docker exec` per host: waits inside the container until `systemctl is-system-running`
 * says running or degraded (polling inside is cheap; polling with docker exec is not),
 * then installs the key for root, creates deploy (sudo) and pwuser (password), and prints
 * the host's public keys.
 */
async function bootAndSetup(containerId: string, name: string, publicKey: string, timeoutMs: number, log: (m: string) => void): Promise<string[]> {
  if (!/^ssh-ed25519 [A-Za-z0-9+/=]+ [\w.@-]+$/.test(publicKey)) throw new Error(`unexpected public key format: ${publicKey}`);
  const timeoutS = Math.ceil(timeoutMs / 1000);
  const script = `set -eu
end=$(( $(date +%s) + ${timeoutS} ))
state=
while :; do
  left=$(( end - $(date +%s) ))
  # --wait blocks until boot has finished; it fails at once while PID 1 is not answering yet.
  state=$(timeout "$(( left > 0 ? left : 1 ))" systemctl is-system-running --wait 2>/dev/null) || true
  case "$state" in running|degraded) break ;; esac
  if [ "$left" -le 0 ]; then echo "STATE \${state:-no answer}"; exit 3; fi
  sleep 0.1
done
echo "STATE $state"
if [ "$state" = degraded ]; then systemctl --failed --no-legend --plain | sed 's/^/FAILED /'; fi
umask 022
KEY='${publicKey}'
install -d -m 700 /root/.ssh
printf '%s\\n' "$KEY" > /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
id -u ${DEPLOY_USER} >/dev/null 2>&1 || useradd -m -s /bin/bash ${DEPLOY_USER}
usermod -p '*' ${DEPLOY_USER}
install -d -m 700 -o ${DEPLOY_USER} -g ${DEPLOY_USER} /home/${DEPLOY_USER}/.ssh
printf '%s\\n' "$KEY" > /home/${DEPLOY_USER}/.ssh/authorized_keys
chown ${DEPLOY_USER}:${DEPLOY_USER} /home/${DEPLOY_USER}/.ssh/authorized_keys
chmod 600 /home/${DEPLOY_USER}/.ssh/authorized_keys
printf '%s\\n' '${DEPLOY_USER} ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/${DEPLOY_USER}.tmp
chmod 440 /etc/sudoers.d/${DEPLOY_USER}.tmp
visudo -cqf /etc/sudoers.d/${DEPLOY_USER}.tmp
mv /etc/sudoers.d/${DEPLOY_USER}.tmp /etc/sudoers.d/${DEPLOY_USER}
id -u ${PASSWORD_USER} >/dev/null 2>&1 || useradd -m -s /bin/bash ${PASSWORD_USER}
printf '%s\\n' '${PASSWORD_USER}:${PASSWORD}' | chpasswd
for t in ed25519 ecdsa rsa; do
  if [ -s /etc/ssh/ssh_host_\${t}_key.pub ]; then echo "HOSTKEY $(cat /etc/ssh/ssh_host_\${t}_key.pub)"; fi
done
`;
  const r = await run(['docker', 'exec', '-i', containerId, 'sh', '-s'], { input: script, allowFail: true, timeoutMs: timeoutMs + 15_000 });
  const lines = r.stdout.split('\n');
  const state = lines.find((l) => l.startsWith('STATE '))?.slice(6);
  if (r.code !== 0) {
    const logs = await run(['docker', 'logs', '--tail', '30', containerId], { allowFail: true });
    const st = await run(['docker', 'inspect', '-f', '{{.State.Status}} exit={{.State.ExitCode}}', containerId], { allowFail: true });
    const why =
      r.code === 3 || r.code === 124
        ? `did not finish booting within ${timeoutS} s (systemctl is-system-running: ${state ?? 'no answer'})`
        : `setup failed (exit ${r.code}): ${(r.stderr.trim() || r.stdout.trim()).split('\n').slice(-10).join('\n')}`;
    throw new Error(
      `test host ${name} (${containerId.slice(0, 12)}, container ${st.stdout.trim() || 'gone'}) ${why}` +
        (logs.stdout || logs.stderr ? `\ncontainer log tail:\n${(logs.stdout + logs.stderr).trim()}` : ''),
    );
  }
  const failed = lines.filter((l) => l.startsWith('FAILED ')).map((l) => l.slice(7).split(/\s+/)[0]);
  if (state === 'degraded') log(`warning: ${name} booted degraded; failed units: ${failed.join(', ') || '?'}`);
  const keys = lines
    .filter((l) => l.startsWith('HOSTKEY '))
    .map((l) => l.slice(8).trim().split(/\s+/).slice(0, 2).join(' '));
  if (!keys.some((k) => k.startsWith('ssh-ed25519 '))) throw new Error(`test host ${name} has no ed25519 host key`);
  return keys;
}

/** Waits until sshd listens on `port` inside a container whose port is not published. */
async function waitListening(containerId: string, port: number, name: string, timeoutMs: number): Promise<void> {
  const tries = Math.ceil(timeoutMs / 100);
  const script = `i=0; while [ $i -lt ${tries} ]; do ss -Hltn 'sport = :${port}' | grep -q . && exit 0; i=$((i+1)); sleep 0.1; done; exit 1`;
  const r = await run(['docker', 'exec', containerId, 'sh', '-c', script], { allowFail: true, timeoutMs: timeoutMs + 10_000 });
  if (r.code !== 0) throw new Error(`sshd of test host ${name} does not listen on port ${port} inside its container`);
}

/** Waits until the published port forwards to a live sshd (it sends an SSH-2.0 banner). */
async function waitSshBanner(port: number, name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const banner = await readBanner(port);
      if (banner.startsWith('SSH-2.0-')) return;
      last = `unexpected banner ${JSON.stringify(banner.slice(0, 80))}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(200);
  }
  throw new Error(`sshd of test host ${name} does not answer on 127.0.0.1:${port} (${last})`);
}

function readBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (err: Error | null, v?: string) => {
      sock.destroy();
      if (err) reject(err);
      else resolve(v ?? '');
    };
    sock.setTimeout(3000, () => done(new Error('no banner within 3 s')));
    sock.on('data', (b) => {
      buf += b.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(null, buf.slice(0, nl).trim());
    });
    sock.on('error', (e) => done(e));
    sock.on('end', () => done(new Error('connection closed before the banner')));
  });
}

const tomlString = (s: string) => JSON.stringify(s); // JSON string escapes are valid TOML basic-string escapes

function inventoryToml(s: TestHostsState): string {
  const key = (n: string) => (/^[A-Za-z0-9_-]+$/.test(n) ? n : tomlString(n));
  const lines = [
    `# Disposable Docker test hosts (run ${s.runId}), written by test/hosts/testhosts.ts.`,
    '# Removed by `npm run testhosts -- down`. Paths are relative to this file.',
    '[defaults]',
    'user = "root"',
    'private_key = "id_ed25519"',
    'known_hosts = "known_hosts"',
    '# the test hosts do not depend on the ~/.ssh/config of whoever runs the tests',
    'ssh_config = false',
    '',
    '[hosts]',
    ...s.hosts.map(
      (h) =>
        `${key(h.name)} = { host = ${tomlString(h.host)}, port = ${h.port}, groups = [${h.groups.map(tomlString).join(', ')}] }` +
        (h.networkOf ? ` # reachable only from inside ${h.networkOf}` : ''),
    ),
    '',
  ];
  return lines.join('\n');
}
