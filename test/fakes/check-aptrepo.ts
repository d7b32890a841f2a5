/**
 * Proves the fake apt repository works for a real Debian 12 apt: runs a
 * throwaway container from the test-host image with the fixtures folder
 * mounted read-only at /srv/fixtures, dearmors the key, `apt-get update`s
 * against the repository only, installs the pinned pair, checks the result,
 * upgrades to the newer pair, and checks that a wrong key is refused.
 *
 *   tsx test/fakes/check-aptrepo.ts [--image rigger-testhost:TAG] [--fixtures DIR] [--systemd]
 *
 * Without --image, the newest local rigger-testhost:* image is used. With
 * --systemd the container boots systemd (flags from reference/environment.md)
 * and the check also expects gitlab-runner.service to be active after install.
 * Needs a running dockerd; not part of the unit tests.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { prepareFixtures, DEFAULT_FIXTURES_DIR } from './fixtures.js';

const execFileP = promisify(execFile);

async function sh(cmd: string, args: string[]) {
  const { stdout } = await execFileP(cmd, args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

export async function newestTestHostImage(): Promise<string | null> {
  const out = await sh('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}\t{{.CreatedAt}}', 'rigger-testhost']);
  const rows = out
    .trim()
    .split('\n')
    .filter((l) => l && !l.includes('<none>'))
    .map((l) => l.split('\t') as [string, string])
    .sort((a, b) => b[1].localeCompare(a[1]));
  return rows[0]?.[0] ?? null;
}

function checkScript(version: string, newer: string, systemd: boolean) {
  const repoOnly =
    '-o Dir::Etc::sourcelist=sources.list.d/gitlab-runner.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0';
  return `set -eu
export DEBIAN_FRONTEND=noninteractive
step() { echo "== $*"; }
step "key and source"
install -d -m 0755 /etc/apt/keyrings
gpg --dearmor < /srv/fixtures/apt/gpgkey.asc > /etc/apt/keyrings/gitlab-runner.gpg
echo "deb [signed-by=/etc/apt/keyrings/gitlab-runner.gpg] file:/srv/fixtures/apt bookworm main" > /etc/apt/sources.list.d/gitlab-runner.list
step "apt-get update (this repository only)"
apt-get update ${repoOnly} 2>&1 | tee /tmp/update.log
if grep -E '^(W|E|Err):' /tmp/update.log; then echo "FAIL: apt-get update warned"; exit 1; fi
apt-cache policy gitlab-runner gitlab-runner-helper-images
apt-cache madison gitlab-runner | grep -q '${version}'
apt-cache madison gitlab-runner | grep -q '${newer}'
step "unpinned helper: apt refuses a gitlab-runner=${version} whose helper would be ${newer}"
if apt-get install -y -s gitlab-runner=${version} >/tmp/sim.log 2>&1; then cat /tmp/sim.log; echo "NOTE: apt resolved it alone"; else echo "refused, as expected:"; grep -E 'Depends|unmet' /tmp/sim.log || true; fi
step "install pinned ${version}"
apt-get install -y --no-install-recommends gitlab-runner=${version} gitlab-runner-helper-images=${version}
apt-mark hold gitlab-runner gitlab-runner-helper-images
test "$(dpkg-query -W -f='\${Version}' gitlab-runner)" = '${version}'
test "$(dpkg-query -W -f='\${Version}' gitlab-runner-helper-images)" = '${version}'
gitlab-runner --version
gitlab-runner --version | grep -qx 'Version: *${version.replace(/-[^-]+$/, '')}'
gitlab-runner verify
test -d /etc/gitlab-runner && test "$(stat -c %a /etc/gitlab-runner)" = 700
id gitlab-runner
grep -qx 'ExecStart=/usr/bin/gitlab-runner run --config /etc/gitlab-runner/config.toml' /lib/systemd/system/gitlab-runner.service
ls -l /usr/lib/gitlab-runner/helper-images/ /usr/share/gitlab-runner/clear-docker-cache
timeout 2 gitlab-runner run --config /etc/gitlab-runner/config.toml && { echo "FAIL: run returned"; exit 1; } || test $? = 124
${
  systemd
    ? `step "systemd: service started by postinst"
systemctl is-enabled gitlab-runner
systemctl is-active gitlab-runner
systemctl show -p MainPID --value gitlab-runner | xargs -I{} cat /proc/{}/cmdline | tr '\\0' ' '; echo`
    : ''
}
step "held packages stay at ${version} on upgrade"
apt-get upgrade -y ${repoOnly} | tail -3
test "$(dpkg-query -W -f='\${Version}' gitlab-runner)" = '${version}'
step "pinned upgrade to ${newer}"
apt-get install -y --allow-change-held-packages gitlab-runner=${newer} gitlab-runner-helper-images=${newer}
gitlab-runner --version | grep -qx 'Version: *${newer.replace(/-[^-]+$/, '')}'
${systemd ? 'systemctl is-active gitlab-runner' : ''}
step "a wrong keyring is refused"
mkdir -m 700 -p /tmp/g
gpg --batch --quiet --homedir /tmp/g --pinentry-mode loopback --passphrase '' --quick-gen-key other@invalid ed25519 sign never
gpg --homedir /tmp/g --export > /etc/apt/keyrings/gitlab-runner.gpg
rm -rf /var/lib/apt/lists/*
if apt-get update ${repoOnly} >/tmp/bad.log 2>&1 && ! grep -q NO_PUBKEY /tmp/bad.log; then cat /tmp/bad.log; echo "FAIL: wrong key accepted"; exit 1; fi
grep -E 'NO_PUBKEY|not signed' /tmp/bad.log | head -2
echo "ALL CHECKS PASSED"
`;
}

async function main(argv: string[]) {
  let image: string | null = null;
  let fixturesDir = DEFAULT_FIXTURES_DIR;
  let systemd = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--image') image = argv[++i];
    else if (argv[i] === '--fixtures') fixturesDir = argv[++i];
    else if (argv[i] === '--systemd') systemd = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  image ??= await newestTestHostImage();
  if (!image) throw new Error('no rigger-testhost:* image (build one with `npm run testhosts -- image`)');

  let t = Date.now();
  const fx = await prepareFixtures(fixturesDir);
  console.log(`fixtures ready in ${Date.now() - t} ms: ${fx.dir} (key ${fx.apt.fingerprint})`);
  const script = checkScript(fx.apt.version, fx.apt.newerVersion, systemd);
  const mount = ['-v', `${fx.dir}:/srv/fixtures:ro`];

  t = Date.now();
  if (!systemd) {
    const child = execFile('docker', ['run', '--rm', '--network', 'none', ...mount, image, 'sh', '-c', script]);
    child.stdout?.pipe(process.stdout);
    child.stderr?.pipe(process.stderr);
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
    console.log(`container check (${image}) exit ${code} in ${Date.now() - t} ms`);
    process.exitCode = code;
    return;
  }
  const name = `rigger-aptcheck-${randomBytes(4).toString('hex')}`;
  const bootFlags = [
    '--cap-add', 'SYS_ADMIN', '--security-opt', 'seccomp=unconfined', '--tmpfs', '/run', '--tmpfs', '/run/lock',
    '-v', '/sys/fs/cgroup:/sys/fs/cgroup:ro', '-e', 'container=docker',
  ];
  await sh('docker', ['run', '-d', '--rm', '--name', name, '--network', 'none', ...bootFlags, ...mount, image, '/sbin/init']);
  try {
    for (let i = 0; i < 60; i++) {
      const state = await sh('docker', ['exec', name, 'systemctl', 'is-system-running']).catch((e: { stdout?: string }) => e.stdout ?? '');
      if (/running|degraded/.test(state)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log(`booted in ${Date.now() - t} ms`);
    const child = execFile('docker', ['exec', name, 'sh', '-c', script]);
    child.stdout?.pipe(process.stdout);
    child.stderr?.pipe(process.stderr);
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
    console.log(`container check with systemd (${image}) exit ${code} in ${Date.now() - t} ms`);
    process.exitCode = code;
  } finally {
    await sh('docker', ['rm', '-f', name]).catch(() => undefined);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(`check-aptrepo: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
