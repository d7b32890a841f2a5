// Builds the Debian 12 test-host image (debootstrap + docker import), once per recipe.
//
// No registry is reachable here, so the image is made from scratch. Its tag is
// rigger-testhost:<hash>, hash = sha256 over the package list, the recipe version
// and the files the recipe writes: change any of them and the next `up` rebuilds.
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { run, sleep } from './exec.js';

/** Bump when the build steps change in a way the hashed inputs below do not show. */
export const RECIPE_VERSION = 'rigger-testhost-recipe-3';
export const IMAGE_REPO = 'rigger-testhost';
export const SUITE = 'bookworm';
export const MIRROR = 'http://deb.debian.org/debian';
export const PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'openssh-server',
  'sudo',
  'cron',
  'ca-certificates',
  'curl',
  'gnupg',
  'python3',
  'apt-utils',
  'procps',
  'iproute2',
] as const;

const SOURCES_LIST = `deb ${MIRROR} ${SUITE} main
deb ${MIRROR} ${SUITE}-updates main
deb http://deb.debian.org/debian-security ${SUITE}-security main
`;

// Each container makes its own host keys at boot (the image carries none).
// RSA is 2048 bits to keep 50 parallel boots on 2 cores quick; the rest is ssh-keygen -A.
const KEYGEN_SCRIPT = `#!/bin/sh
# rigger test host: generate this container's SSH host keys on first boot.
set -e
test -e /etc/ssh/ssh_host_rsa_key || ssh-keygen -q -t rsa -b 2048 -N '' -C "root@$(hostname)" -f /etc/ssh/ssh_host_rsa_key
ssh-keygen -A
`;

const KEYGEN_UNIT = `[Unit]
Description=Generate SSH host keys for this container (rigger test host)
DefaultDependencies=no
Conflicts=shutdown.target
Before=ssh.service ssh.socket shutdown.target
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/rigger-ssh-keygen

[Install]
WantedBy=multi-user.target ssh.service ssh.socket
`;

// Systemd boots to "running" in a container without masking anything. Only the
// timers that would run apt in the background (and hold the dpkg lock while a
// test installs packages) are masked.
const MASKED_UNITS = ['apt-daily.timer', 'apt-daily-upgrade.timer'];

function recipeHash(): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({
      RECIPE_VERSION,
      SUITE,
      MIRROR,
      variant: 'minbase',
      packages: [...PACKAGES],
      SOURCES_LIST,
      KEYGEN_SCRIPT,
      KEYGEN_UNIT,
      MASKED_UNITS,
    }),
  );
  return h.digest('hex').slice(0, 16);
}

/** The image tag for the current recipe, e.g. rigger-testhost:3f2a... */
export function imageTag(): string {
  return `${IMAGE_REPO}:${recipeHash()}`;
}

export async function imageExists(tag: string): Promise<boolean> {
  const r = await run(['docker', 'image', 'inspect', '--format', '{{.Id}}', tag], { allowFail: true });
  return r.code === 0;
}

type Log = (msg: string) => void;

/** Makes sure the image for the current recipe exists; builds it (under a lock) when missing. Returns the tag. */
export async function ensureImage(log: Log = () => {}): Promise<string> {
  const tag = imageTag();
  if (await imageExists(tag)) return tag;
  const lockDir = path.join(os.tmpdir(), 'rigger-testhost-build.lock');
  const started = Date.now();
  let announced = false;
  for (;;) {
    try {
      await fs.mkdir(lockDir);
      await fs.writeFile(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    // Someone else is building (or died while building).
    if (await imageExists(tag)) return tag;
    const pid = Number(await fs.readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => ''));
    if (pid > 0 && !isAlive(pid)) {
      log(`removing stale build lock of dead process ${pid}`);
      await fs.rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!pid) {
      // Lock dir without a pid file: either just created, or left by a crash before writing it.
      const st = await fs.stat(lockDir).catch(() => null);
      if (st && Date.now() - st.mtimeMs > 60_000) {
        await fs.rm(lockDir, { recursive: true, force: true });
        continue;
      }
    }
    if (!announced) {
      log(`waiting for another process (pid ${pid || '?'}) that is building ${tag}`);
      announced = true;
    }
    if (Date.now() - started > 20 * 60_000) throw new Error(`timed out waiting for the image build lock ${lockDir}`);
    await sleep(2000);
  }
  try {
    if (await imageExists(tag)) return tag;
    await removeStaleRootfs(log);
    await buildImage(tag, log);
    return tag;
  } finally {
    await fs.rm(lockDir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const ROOTFS_PARENT = '/var/tmp';

/** Removes rootfs folders left by builds that were killed (their pid is in the folder name). */
async function removeStaleRootfs(log: Log): Promise<void> {
  for (const e of await fs.readdir(ROOTFS_PARENT).catch(() => [] as string[])) {
    const m = /^rigger-rootfs-(\d+)-/.exec(e);
    if (!m || isAlive(Number(m[1]))) continue;
    const dir = path.join(ROOTFS_PARENT, e);
    log(`removing ${dir} left by an interrupted build`);
    await unmountUnder(dir);
    await run(['rm', '-rf', '--one-file-system', dir], { allowFail: true });
  }
}

/** Builds the image under `tag` unconditionally (no lock; ensureImage is the normal entry). */
export async function buildImage(tag: string, log: Log): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(`image ${tag} is missing and building it needs root (debootstrap, chroot). Run \`npm run testhosts -- image\` as root once.`);
  }
  const t0 = Date.now();
  const rootfs = await fs.mkdtemp(path.join(ROOTFS_PARENT, `rigger-rootfs-${process.pid}-`));
  const logFile = path.join('/var/tmp', `rigger-testhost-build-${tag.split(':')[1]}.log`);
  log(`building image ${tag} with debootstrap (about 1.5 min); log: ${logFile}`);
  let ok = false;
  try {
    await logged(
      ['debootstrap', '--variant=minbase', `--include=${PACKAGES.join(',')}`, SUITE, rootfs, MIRROR],
      logFile,
    );
    log(`debootstrap done in ${((Date.now() - t0) / 1000).toFixed(1)} s; customizing`);
    await customize(rootfs);
    await unmountUnder(rootfs);
    const t1 = Date.now();
    await importRootfs(rootfs, tag, logFile);
    log(`imported ${tag} in ${((Date.now() - t1) / 1000).toFixed(1)} s (build total ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    ok = true;
  } finally {
    await unmountUnder(rootfs);
    // --one-file-system: never descend into anything still mounted below the rootfs.
    await run(['rm', '-rf', '--one-file-system', rootfs], { allowFail: true });
    if (ok) await fs.rm(logFile, { force: true });
    else log(`image build failed; see ${logFile}`);
  }
}

/** Runs a command with stdout+stderr appended to logFile; on failure the error carries the log's tail. */
async function logged(argv: string[], logFile: string): Promise<void> {
  const out = createWriteStream(logFile, { flags: 'a' });
  await new Promise<void>((resolve) => out.once('open', () => resolve()));
  out.write(`$ ${argv.join(' ')}\n`);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, out] });
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  await new Promise<void>((r) => out.end(r));
  if (code !== 0) {
    const tail = (await fs.readFile(logFile, 'utf8')).trimEnd().split('\n').slice(-20).join('\n');
    throw new Error(`${argv[0]} failed (exit ${code}); last lines of ${logFile}:\n${tail}`);
  }
}

async function unmountUnder(rootfs: string): Promise<void> {
  const mounts = (await fs.readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m): m is string => !!m && (m === rootfs || m.startsWith(rootfs + '/')))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run(['umount', '-l', m], { allowFail: true });
}

export async function customize(rootfs: string): Promise<void> {
  const p = (...parts: string[]) => path.join(rootfs, ...parts);
  const symlink = async (target: string, link: string) => {
    await fs.mkdir(path.dirname(link), { recursive: true });
    await fs.rm(link, { force: true });
    await fs.symlink(target, link);
  };

  // apt: bookworm + updates + security; no package lists or .debs baked in.
  await fs.writeFile(p('etc/apt/sources.list'), SOURCES_LIST);
  await clearDir(p('var/lib/apt/lists'), ['partial', 'lock', 'auxfiles']);
  await clearDir(p('var/cache/apt/archives'), ['partial', 'lock']);
  for (const f of ['pkgcache.bin', 'srcpkgcache.bin']) await fs.rm(p('var/cache/apt', f), { force: true });

  // No host keys in the image: every container generates its own at boot.
  for (const f of await fs.readdir(p('etc/ssh'))) {
    if (/^ssh_host_.*_key(\.pub)?$/.test(f)) await fs.rm(p('etc/ssh', f));
  }
  await fs.mkdir(p('usr/local/sbin'), { recursive: true });
  await fs.writeFile(p('usr/local/sbin/rigger-ssh-keygen'), KEYGEN_SCRIPT, { mode: 0o755 });
  await fs.chmod(p('usr/local/sbin/rigger-ssh-keygen'), 0o755);
  await fs.writeFile(p('etc/systemd/system/rigger-ssh-keygen.service'), KEYGEN_UNIT);
  for (const wants of ['multi-user.target.wants', 'ssh.service.wants', 'ssh.socket.wants']) {
    await symlink('/etc/systemd/system/rigger-ssh-keygen.service', p('etc/systemd/system', wants, 'rigger-ssh-keygen.service'));
  }
  // sshd enabled (Debian's postinst normally does this; make sure).
  await symlink('/lib/systemd/system/ssh.service', p('etc/systemd/system/multi-user.target.wants/ssh.service'));
  await symlink('/lib/systemd/system/ssh.service', p('etc/systemd/system/sshd.service'));
  await symlink('/lib/systemd/system/cron.service', p('etc/systemd/system/multi-user.target.wants/cron.service'));

  for (const unit of MASKED_UNITS) await symlink('/dev/null', p('etc/systemd/system', unit));

  // Empty machine-id: systemd makes one per container at boot.
  await fs.writeFile(p('etc/machine-id'), '');
  const dbusId = p('var/lib/dbus/machine-id');
  const st = await fs.lstat(dbusId).catch(() => null);
  if (st && !st.isSymbolicLink()) await fs.rm(dbusId);

  // Leftovers of the build host.
  await fs.writeFile(p('etc/hostname'), 'localhost\n');
  for (const f of ['var/log/dpkg.log', 'var/log/alternatives.log', 'var/log/bootstrap.log']) await fs.rm(p(f), { force: true });
  await clearDir(p('var/log/apt'), []);
}

async function clearDir(dir: string, keep: string[]): Promise<void> {
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  for (const e of entries) if (!keep.includes(e)) await fs.rm(path.join(dir, e), { recursive: true, force: true });
}

export async function importRootfs(rootfs: string, tag: string, logFile: string): Promise<void> {
  const changes = [
    'CMD ["/sbin/init"]',
    'ENV container=docker',
    `LABEL rigger.testhost.recipe=${tag.split(':')[1]}`,
  ];
  const importArgv = ['docker', 'import', ...changes.flatMap((c) => ['--change', c]), '-', tag];
  const tar = spawn('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const imp = spawn(importArgv[0], importArgv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  tar.stdout.pipe(imp.stdin);
  imp.stdin.on('error', () => {});
  let errText = '';
  tar.stderr.on('data', (b: Buffer) => (errText += b.toString()));
  imp.stderr.on('data', (b: Buffer) => (errText += b.toString()));
  imp.stdout.resume();
  // If docker import gives up early, tar would block forever on the full pipe.
  imp.on('close', (code) => {
    if (code !== 0) tar.kill('SIGKILL');
  });
  const exit = (c: ReturnType<typeof spawn>) =>
    new Promise<number>((resolve) => {
      c.on('error', (e) => {
        errText += `\n${e.message}`;
        resolve(127);
      });
      c.on('close', (code) => resolve(code ?? 1));
    });
  const [tarCode, impCode] = await Promise.all([exit(tar), exit(imp)]);
  await fs.appendFile(logFile, `$ tar | ${importArgv.join(' ')}\n${errText}`).catch(() => {});
  if (tarCode !== 0 || impCode !== 0) {
    throw new Error(`docker import failed (tar exit ${tarCode}, import exit ${impCode}): ${errText.trim().slice(-2000)}`);
  }
}
