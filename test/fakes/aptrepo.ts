/**
 * Builds a local, signed apt repository standing in for
 * packages.gitlab.com/runner/gitlab-runner (which tests cannot reach).
 *
 * Layout (a normal "dists" repository, usable as
 * `deb [signed-by=KEYRING] file:/srv/fixtures/apt bookworm main`):
 *
 *   DIR/gpgkey.asc                       ASCII-armored public key (like .../runner/gitlab-runner/gpgkey)
 *   DIR/gpgkey.gpg                       the same key, dearmored (a keyring usable as-is by signed-by)
 *   DIR/dists/bookworm/{Release,Release.gpg,InRelease}
 *   DIR/dists/bookworm/main/binary-ARCH/{Packages,Packages.gz}
 *   DIR/pool/main/g/gitlab-runner/*.deb
 *   DIR/.fake-apt-repo.json               cache marker (format, versions, fingerprint)
 *
 * Packages, each at `version` (default 17.7.1-1) and at a newer version
 * (minor + 1, e.g. 17.8.0-1) so that pinning and holds can be tested:
 *
 *   gitlab-runner (ARCH)       Depends: gitlab-runner-helper-images (= same version)
 *     /usr/bin/gitlab-runner   POSIX sh test double: `--version` prints the real
 *                              `Version: X.Y.Z` block, `run ...` execs `sleep infinity`,
 *                              `verify` and `list` succeed without contacting anything,
 *                              other commands fail loudly.
 *     /lib/systemd/system/gitlab-runner.service
 *                              ExecStart=/usr/bin/gitlab-runner run --config /etc/gitlab-runner/config.toml
 *     /usr/share/gitlab-runner/clear-docker-cache (simplified copy of upstream's script)
 *     postinst: creates the gitlab-runner user and /etc/gitlab-runner (0700); when
 *               systemd is running, enables and (re)starts gitlab-runner.service.
 *   gitlab-runner-helper-images (all)
 *     /usr/lib/gitlab-runner/helper-images/PLACEHOLDER
 *
 * The repository is signed with a throwaway ed25519 key generated in a
 * temporary GNUPGHOME that is deleted afterwards. A finished repository is
 * cached: when DIR holds a complete one for the same version, it is returned
 * as is (same key, same fingerprint).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const execFileP = promisify(execFile);

/** Bump when the repository layout or package contents change: invalidates caches. */
const FORMAT = 3;
const MARKER = '.fake-apt-repo.json';
const CODENAME = 'bookworm';
const COMPONENT = 'main';
const PACKAGES = ['gitlab-runner', 'gitlab-runner-helper-images'];

export interface FakeAptRepo {
  /** Root of the repository (what a `file:` source line points at). */
  repoDir: string;
  /** ASCII-armored public key (to be `gpg --dearmor`ed into /etc/apt/keyrings). */
  keyFile: string;
  /** The same key, already dearmored (binary keyring). */
  keyringFile: string;
  /** Fingerprint of the signing key (40 hex digits, upper case). */
  fingerprint: string;
  codename: 'bookworm';
  component: 'main';
  /** Package names in the repository. */
  packages: string[];
  /** The requested version, e.g. 17.7.1-1. */
  version: string;
  /** A second, newer version of both packages, e.g. 17.8.0-1. */
  newerVersion: string;
  /** Debian architecture of gitlab-runner (helper-images is `all`). */
  architecture: string;
  /** Paths of the .deb files, absolute. */
  debs: string[];
}

interface Marker {
  format: number;
  version: string;
  newerVersion: string;
  architecture: string;
  fingerprint: string;
  debs: string[]; // relative to repoDir
}

async function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  try {
    const { stdout } = await execFileP(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`, { cause: e });
  }
}

function upstreamOf(version: string) {
  return version.replace(/-[^-]+$/, '');
}

/** 17.7.1-1 -> 17.8.0-1 */
export function nextMinorVersion(version: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)(-.+)?$/.exec(version);
  if (!m) throw new Error(`fake apt repo: unsupported version ${JSON.stringify(version)} (want X.Y.Z-R)`);
  return `${m[1]}.${Number(m[2]) + 1}.0${m[4] ?? '-1'}`;
}

async function debArch(): Promise<string> {
  try {
    return (await run('dpkg', ['--print-architecture'])).trim();
  } catch {
    return ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? 'amd64';
  }
}

const GOARCH: Record<string, string> = { amd64: 'amd64', arm64: 'arm64', i386: '386', armhf: 'arm', ppc64el: 'ppc64le', s390x: 's390x' };

function runnerScript(version: string, arch: string) {
  return `#!/bin/sh
# gitlab-runner TEST DOUBLE from rigger's fake apt repository (test/fakes/aptrepo.ts).
# It is not GitLab Runner: it never contacts GitLab and runs no jobs.
VERSION='${upstreamOf(version)}'
case "\${1:-}" in
  --version|-v|version)
    cat <<EOF
Version:      $VERSION
Git revision: 0fake000
Git branch:   fake
GO version:   go1.23.0
Built:        2024-01-01T00:00:00+0000
OS/Arch:      linux/${GOARCH[arch] ?? arch}
EOF
    ;;
  run)
    echo "fake gitlab-runner $VERSION: gitlab-runner $*" >&2
    exec sleep infinity
    ;;
  verify)
    echo "fake gitlab-runner $VERSION: verify: runners are valid (nothing contacted)" >&2
    ;;
  list)
    echo "fake gitlab-runner $VERSION: listing configs" >&2
    ;;
  help|--help|-h|'')
    echo "usage: gitlab-runner [--version] run|verify|list  (test double)"
    ;;
  *)
    echo "fake gitlab-runner $VERSION: command '$1' is not implemented by the test double" >&2
    exit 1
    ;;
esac
`;
}

const UNIT = `[Unit]
Description=GitLab Runner (test double)
ConditionFileIsExecutable=/usr/bin/gitlab-runner
After=network.target
StartLimitIntervalSec=5
StartLimitBurst=10

[Service]
ExecStart=/usr/bin/gitlab-runner run --config /etc/gitlab-runner/config.toml
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
`;

const CLEAR_DOCKER_CACHE = `#!/bin/sh
# Simplified stand-in for /usr/share/gitlab-runner/clear-docker-cache (test double).
set -e
if ! command -v docker >/dev/null 2>&1; then
  echo "clear-docker-cache: docker not found" >&2
  exit 1
fi
case "\${1:-prune-volumes}" in
  prune-volumes) docker system prune --volumes -af --filter "label=com.gitlab.gitlab-runner.managed=true" ;;
  prune) docker system prune -af --filter "label=com.gitlab.gitlab-runner.managed=true" ;;
  space) docker system df -v ;;
  help) echo "usage: clear-docker-cache [prune-volumes|prune|space|help]" ;;
  *) echo "clear-docker-cache: unknown command $1" >&2; exit 1 ;;
esac
`;

const POSTINST = `#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent passwd gitlab-runner >/dev/null 2>&1 && command -v useradd >/dev/null 2>&1; then
    useradd --comment 'GitLab Runner' --create-home --shell /bin/bash gitlab-runner
  fi
  mkdir -p /etc/gitlab-runner
  chmod 0700 /etc/gitlab-runner
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
    systemctl enable gitlab-runner.service >/dev/null 2>&1 || true
    systemctl restart gitlab-runner.service || true
  fi
fi
exit 0
`;

const PRERM = `#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl stop gitlab-runner.service >/dev/null 2>&1 || true
  systemctl disable gitlab-runner.service >/dev/null 2>&1 || true
fi
exit 0
`;

const POSTRM = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
`;

interface PkgSpec {
  name: string;
  version: string;
  arch: string;
  depends?: string;
  description: string;
  files: Record<string, { content: string; mode: number }>;
  scripts?: Record<string, string>;
}

async function writeFileMode(file: string, content: string, mode: number) {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
  await fs.chmod(file, mode);
}

/** Builds a .deb with dpkg-deb; returns its path and its control text. */
async function buildDeb(work: string, poolDir: string, spec: PkgSpec): Promise<{ file: string; control: string }> {
  const root = path.join(work, `${spec.name}_${spec.version}`);
  for (const [rel, f] of Object.entries(spec.files)) await writeFileMode(path.join(root, rel), f.content, f.mode);
  const control = [
    `Package: ${spec.name}`,
    `Version: ${spec.version}`,
    `Architecture: ${spec.arch}`,
    'Maintainer: rigger tests <tests@rigger.invalid>',
    'Section: devel',
    'Priority: optional',
    ...(spec.depends ? [`Depends: ${spec.depends}`] : []),
    'Homepage: https://gitlab.com/gitlab-org/gitlab-runner',
    `Description: ${spec.description}`,
    ' Test double built by rigger (test/fakes/aptrepo.ts). Not GitLab software.',
    '',
  ].join('\n');
  await writeFileMode(path.join(root, 'DEBIAN/control'), control, 0o644);
  for (const [name, body] of Object.entries(spec.scripts ?? {})) {
    await writeFileMode(path.join(root, 'DEBIAN', name), body, 0o755);
  }
  // Every directory 0755 regardless of umask.
  const dirs = [root];
  while (dirs.length) {
    const d = dirs.pop()!;
    await fs.chmod(d, 0o755);
    for (const e of await fs.readdir(d, { withFileTypes: true })) if (e.isDirectory()) dirs.push(path.join(d, e.name));
  }
  const out = path.join(poolDir, `${spec.name}_${spec.version}_${spec.arch}.deb`);
  await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, out]);
  return { file: out, control };
}

function hashes(buf: Buffer) {
  return {
    md5: createHash('md5').update(buf).digest('hex'),
    sha1: createHash('sha1').update(buf).digest('hex'),
    sha256: createHash('sha256').update(buf).digest('hex'),
    sha512: createHash('sha512').update(buf).digest('hex'),
    size: buf.length,
  };
}

async function readMarker(dir: string): Promise<Marker | null> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, MARKER), 'utf8')) as Marker;
  } catch {
    return null;
  }
}

function result(dir: string, m: Marker): FakeAptRepo {
  return {
    repoDir: dir,
    keyFile: path.join(dir, 'gpgkey.asc'),
    keyringFile: path.join(dir, 'gpgkey.gpg'),
    fingerprint: m.fingerprint,
    codename: CODENAME,
    component: COMPONENT,
    packages: [...PACKAGES],
    version: m.version,
    newerVersion: m.newerVersion,
    architecture: m.architecture,
    debs: m.debs.map((d) => path.join(dir, d)),
  };
}

function isComplete(dir: string, m: Marker | null, version: string, arch: string): m is Marker {
  if (!m || m.format !== FORMAT || m.version !== version || m.architecture !== arch) return false;
  const dist = path.join(dir, 'dists', CODENAME);
  const files = [
    'gpgkey.asc',
    'gpgkey.gpg',
    path.join(dist, 'Release'),
    path.join(dist, 'Release.gpg'),
    path.join(dist, 'InRelease'),
    path.join(dist, COMPONENT, `binary-${arch}`, 'Packages'),
    path.join(dist, COMPONENT, `binary-${arch}`, 'Packages.gz'),
    ...m.debs,
  ];
  return files.every((f) => existsSync(path.resolve(dir, f)));
}

async function generateKeyAndSign(gnupgHome: string, distDir: string, repo: string) {
  const env = { ...process.env, GNUPGHOME: gnupgHome, LC_ALL: 'C' };
  const params = path.join(gnupgHome, 'keyparams');
  await fs.writeFile(
    params,
    [
      '%no-protection',
      'Key-Type: eddsa',
      'Key-Curve: ed25519',
      'Key-Usage: sign',
      'Name-Real: rigger fake apt repository (tests only)',
      'Name-Email: fake-apt@rigger.invalid',
      'Expire-Date: 0',
      '%commit',
      '',
    ].join('\n'),
  );
  const gpg = ['--batch', '--yes', '--no-tty', '--homedir', gnupgHome];
  await run('gpg', [...gpg, '--gen-key', params], { env });
  const colons = await run('gpg', [...gpg, '--with-colons', '--list-secret-keys'], { env });
  const fingerprint = /^fpr:(?:[^:]*:){8}([0-9A-F]{40}):/m.exec(colons)?.[1];
  if (!fingerprint) throw new Error('fake apt repo: could not read the generated key fingerprint');
  const release = path.join(distDir, 'Release');
  const sign = ['--digest-algo', 'SHA512', '--local-user', fingerprint];
  await run('gpg', [...gpg, ...sign, '--armor', '--detach-sign', '--output', path.join(distDir, 'Release.gpg'), release], { env });
  await run('gpg', [...gpg, ...sign, '--clearsign', '--output', path.join(distDir, 'InRelease'), release], { env });
  await run('gpg', [...gpg, '--armor', '--output', path.join(repo, 'gpgkey.asc'), '--export', fingerprint], { env });
  await run('gpg', [...gpg, '--output', path.join(repo, 'gpgkey.gpg'), '--export', fingerprint], { env });
  // Self-check: the detached and inline signatures verify against the exported keyring alone.
  await run('gpgv', ['--keyring', path.join(repo, 'gpgkey.gpg'), path.join(distDir, 'Release.gpg'), release], { env });
  await run('gpgv', ['--keyring', path.join(repo, 'gpgkey.gpg'), path.join(distDir, 'InRelease')], { env });
  return fingerprint;
}

async function chmodTree(dir: string) {
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      await fs.chmod(p, 0o755);
      await chmodTree(p);
    } else {
      await fs.chmod(p, 0o644);
    }
  }
}

export async function buildFakeAptRepo(dir: string, opts: { version?: string } = {}): Promise<FakeAptRepo> {
  const repoDir = path.resolve(dir);
  const version = opts.version ?? '17.7.1-1';
  const newerVersion = nextMinorVersion(version);
  const arch = await debArch();

  const cached = await readMarker(repoDir);
  if (isComplete(repoDir, cached, version, arch)) return result(repoDir, cached);

  await fs.mkdir(path.dirname(repoDir), { recursive: true });
  const tmp = await fs.mkdtemp(`${repoDir}.build-`);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'rigger-fakeapt-'));
  // gpg-agent's socket path must stay short: keep GNUPGHOME directly under the tmp dir.
  const gnupgHome = await fs.mkdtemp(path.join(os.tmpdir(), 'rg-gpg-'));
  try {
    const poolRel = path.join('pool', COMPONENT, 'g', 'gitlab-runner');
    const poolDir = path.join(tmp, poolRel);
    await fs.mkdir(poolDir, { recursive: true });
    const built: Array<{ file: string; control: string }> = [];
    for (const v of [version, newerVersion]) {
      built.push(
        await buildDeb(work, poolDir, {
          name: 'gitlab-runner-helper-images',
          version: v,
          arch: 'all',
          description: 'GitLab Runner helper images (test double)',
          files: {
            'usr/lib/gitlab-runner/helper-images/PLACEHOLDER': {
              content: `placeholder for gitlab-runner-helper-images ${v} (test double)\n`,
              mode: 0o644,
            },
          },
        }),
        await buildDeb(work, poolDir, {
          name: 'gitlab-runner',
          version: v,
          arch,
          depends: `gitlab-runner-helper-images (= ${v})`,
          description: 'GitLab Runner (test double)',
          files: {
            'usr/bin/gitlab-runner': { content: runnerScript(v, arch), mode: 0o755 },
            'lib/systemd/system/gitlab-runner.service': { content: UNIT, mode: 0o644 },
            'usr/share/gitlab-runner/clear-docker-cache': { content: CLEAR_DOCKER_CACHE, mode: 0o755 },
          },
          scripts: { postinst: POSTINST, prerm: PRERM, postrm: POSTRM },
        }),
      );
    }

    const debs = built.map((b) => b.file);

    // Packages index: every version (what `dpkg-scanpackages -m` writes), made
    // by hand so that only dpkg-deb and gpg are needed.
    const binRel = path.posix.join(COMPONENT, `binary-${arch}`);
    const distDir = path.join(tmp, 'dists', CODENAME);
    await fs.mkdir(path.join(distDir, binRel), { recursive: true });
    const stanzas: string[] = [];
    for (const { file, control } of built) {
      const h = hashes(await fs.readFile(file));
      const fields = [
        `Filename: ${path.relative(tmp, file).split(path.sep).join('/')}`,
        `Size: ${h.size}`,
        `MD5sum: ${h.md5}`,
        `SHA1: ${h.sha1}`,
        `SHA256: ${h.sha256}`,
        `SHA512: ${h.sha512}`,
      ].join('\n');
      stanzas.push(control.trimEnd().replace(/^Description:/m, `${fields}\nDescription:`));
    }
    const packagesBuf = Buffer.from(`${stanzas.join('\n\n')}\n`);
    const packagesGz = gzipSync(packagesBuf, { level: 9 });
    await fs.writeFile(path.join(distDir, binRel, 'Packages'), packagesBuf);
    await fs.writeFile(path.join(distDir, binRel, 'Packages.gz'), packagesGz);
    const componentRelease = Buffer.from(
      `Archive: ${CODENAME}\nOrigin: rigger-fake\nLabel: gitlab-runner test double\nComponent: ${COMPONENT}\nArchitecture: ${arch}\n`,
    );
    await fs.writeFile(path.join(distDir, binRel, 'Release'), componentRelease);

    // Release (hand-made, with the hashes apt checks).
    const indexed: Array<[string, Buffer]> = [
      [`${binRel}/Packages`, packagesBuf],
      [`${binRel}/Packages.gz`, packagesGz],
      [`${binRel}/Release`, componentRelease],
    ];
    const h = indexed.map(([name, buf]) => ({ name, ...hashes(buf) }));
    const section = (title: string, key: 'md5' | 'sha1' | 'sha256' | 'sha512') =>
      [`${title}:`, ...h.map((x) => ` ${x[key]} ${String(x.size).padStart(16)} ${x.name}`)].join('\n');
    const release = [
      'Origin: rigger-fake',
      'Label: gitlab-runner test double',
      `Suite: ${CODENAME}`,
      `Codename: ${CODENAME}`,
      `Date: ${new Date().toUTCString().replace('GMT', 'UTC')}`,
      `Architectures: ${arch}`,
      `Components: ${COMPONENT}`,
      'Description: local stand-in for packages.gitlab.com/runner/gitlab-runner (tests only)',
      section('MD5Sum', 'md5'),
      section('SHA1', 'sha1'),
      section('SHA256', 'sha256'),
      section('SHA512', 'sha512'),
      '',
    ].join('\n');
    await fs.writeFile(path.join(distDir, 'Release'), release);

    const fingerprint = await generateKeyAndSign(gnupgHome, distDir, tmp);
    const marker: Marker = {
      format: FORMAT,
      version,
      newerVersion,
      architecture: arch,
      fingerprint,
      debs: debs.map((d) => path.relative(tmp, d)),
    };
    await fs.writeFile(path.join(tmp, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    await chmodTree(tmp);
    await fs.chmod(tmp, 0o755);

    // Publish: replace DIR by the finished build. If another process published a
    // complete repository meanwhile, keep theirs.
    const again = await readMarker(repoDir);
    if (isComplete(repoDir, again, version, arch)) return result(repoDir, again);
    await fs.rm(repoDir, { recursive: true, force: true });
    try {
      await fs.rename(tmp, repoDir);
    } catch (e) {
      const other = await readMarker(repoDir);
      if (isComplete(repoDir, other, version, arch)) return result(repoDir, other);
      throw e;
    }
    return result(repoDir, marker);
  } finally {
    await execFileP('gpgconf', ['--homedir', gnupgHome, '--kill', 'all']).catch(() => undefined);
    await fs.rm(gnupgHome, { recursive: true, force: true });
    await fs.rm(work, { recursive: true, force: true });
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
