/**
 * Every resource kind of the engine, over real SSH, against two disposable
 * Docker test hosts: `resroot` (login as root) and `resdeploy` (login as the
 * non-root `deploy` user, root through `sudo -n`). Both run the same role in
 * the same playbook runs.
 *
 * The host's state is always read back through `docker exec`
 * (helpers/hostState.ts), never through rigger's own transport:
 *   1. check mode on the fresh hosts: everything "would change", diffs for
 *      text files, and a snapshot of the host is byte-for-byte unchanged;
 *   2. apply: everything changed, and the host is in the desired state;
 *   3. apply again: nothing changes, in at most 3 round trips;
 *   4. check mode again: nothing would change, host unchanged.
 *
 * Own state folder (mkdtemp) and own fixtures folder: never touches other
 * engineers' test hosts; afterAll removes only this run's containers.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineRole } from '../../lib/engine/types.js';
import type { PlaybookDef } from '../../lib/playbook.js';
import {
  aptPackages,
  aptRepository,
  authorizedKeys,
  command,
  cron,
  directory,
  download,
  file,
  group,
  link,
  service,
  serviceHandler,
  template,
  user,
} from '../../lib/resources/index.js';
import { prepareFixtures, type Fixtures } from '../fakes/fixtures.js';
import { upHosts, type TestHosts } from '../hosts/testhosts.js';
import { catFile, sh, sha256Of, snapshotDiff, snapshotHost, statOf } from './helpers/hostState.js';
import { runCaptured, statusByResource, tasksOf, writeInventory, type CapturedRun } from './helpers/run.js';

const execFileP = promisify(execFile);

const ROOT_HOST = 'resroot';
const DEPLOY_HOST = 'resdeploy';
const HOSTS = [ROOT_HOST, DEPLOY_HOST];
const FIXTURES_DIR = join(tmpdir(), 'rigger-it-resources-fixtures');
const TEMPLATE = fileURLToPath(new URL('./fixtures/resources-motd.ejs', import.meta.url));

const HELLO_VERSION = '2.10-3'; // Debian 12 (bookworm)
const APP_CONF = 'name=rigger-it\nlisten=127.0.0.1:8080\n# & < > " are written as they are\n';
const UNIT = `[Unit]
Description=rigger integration test service

[Service]
User=rigsvc
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
`;

let fixtures: Fixtures;
let hosts: TestHosts;
let stateDir: string;
let inventory: string;
let userKeys: string[];
const container: Record<string, string> = {};

/** One role that uses every resource kind of lib/resources/index.ts. */
function itRole() {
  return defineRole({
    name: 'it-resources',
    tasks: ({ host }) => ({
      resources: [
        group({ name: 'rigapps' }),
        user({ name: 'rigsvc', shell: '/bin/bash', groups: ['rigapps'], comment: 'rigger integration test' }),
        directory({ path: '/opt/rigger-it', mode: '0750', owner: 'rigsvc', group: 'rigapps' }),
        file({ path: '/opt/rigger-it/app.conf', content: APP_CONF, mode: '0640', owner: 'root', group: 'rigapps', validate: "grep -q '^name=' %s" }),
        template({ path: '/opt/rigger-it/motd.txt', src: TEMPLATE, vars: { title: 'Rigger IT', host, users: ['rigsvc', 'deploy'] }, mode: '0644' }),
        download({ url: fixtures.inHost.dockerMachineUrl, dest: '/opt/rigger-it/tool', sha256: fixtures.downloads.dockerMachine.sha256, mode: '0755' }),
        link({ path: '/usr/local/bin/rigger-it-tool', target: '/opt/rigger-it/tool' }),
        aptRepository({
          name: 'rigger-it',
          uri: fixtures.inHost.aptUrl,
          suites: [fixtures.apt.codename],
          components: [fixtures.apt.component],
          keyUrl: fixtures.inHost.aptKeyUrl,
          keyFingerprint: fixtures.apt.fingerprint,
        }),
        aptPackages({ packages: [`hello=${HELLO_VERSION}`], hold: true }),
        aptPackages({ packages: [`gitlab-runner-helper-images=${fixtures.apt.version}`] }),
        file({ path: '/etc/systemd/system/rigger-it.service', content: UNIT, notify: 'restart rigger-it' }),
        service({ unit: 'rigger-it', enabled: true, state: 'started' }),
        authorizedKeys({ user: 'rigsvc', keys: userKeys, exclusive: true }),
        cron({ name: 'rigger-it', schedule: '*/5 * * * *', user: 'rigsvc', command: '/usr/local/bin/rigger-it-tool ls >/dev/null', env: { MAILTO: '' } }),
        command({ name: 'record-tool-version', run: '/usr/local/bin/rigger-it-tool version > /opt/rigger-it/version.txt', creates: '/opt/rigger-it/version.txt' }),
      ],
      handlers: [serviceHandler('restart rigger-it', 'rigger-it.service', 'restart')],
    }),
  });
}

const RESOURCES = [
  'group:rigapps',
  'user:rigsvc',
  'directory:/opt/rigger-it',
  'file:/opt/rigger-it/app.conf',
  'template:/opt/rigger-it/motd.txt',
  'download:/opt/rigger-it/tool',
  'link:/usr/local/bin/rigger-it-tool',
  'apt-keyring:/etc/apt/keyrings/rigger-it.gpg',
  'file:/etc/apt/sources.list.d/rigger-it.sources',
  'apt:hello',
  'apt:gitlab-runner-helper-images',
  'file:/etc/systemd/system/rigger-it.service',
  'service:rigger-it.service',
  'authorized-keys:rigsvc',
  'cron:rigger-it',
  'command:record-tool-version',
];
/** Text files the role writes: check mode must show their diffs. */
const TEXT_FILES = [
  'file:/opt/rigger-it/app.conf',
  'template:/opt/rigger-it/motd.txt',
  'file:/etc/apt/sources.list.d/rigger-it.sources',
  'file:/etc/systemd/system/rigger-it.service',
  'authorized-keys:rigsvc',
  'cron:rigger-it',
];
const UNITS = ['rigger-it.service', 'cron.service', 'ssh.service'];

const playbookDef = (): PlaybookDef => ({ name: 'it-resources', plays: [{ hosts: 'all', roles: [itRole()] }] });
async function converge(...flags: string[]): Promise<CapturedRun> {
  const run = await runCaptured(playbookDef(), ['-i', inventory, ...flags]);
  const hostsLine = HOSTS.map((h) => `${h}: ${run.report?.hosts[h]?.status} remote=${run.report?.hosts[h]?.remoteCommands}`).join(', ');
  console.log(`rigger ${flags.join(' ') || '(apply)'}: exit ${run.exitCode}, ${run.report?.durationMs} ms; ${hostsLine}`);
  return run;
}
const snapshots = () => Promise.all(HOSTS.map((h) => snapshotHost(container[h], { units: UNITS })));

function expectNoSnapshotChange(before: string[], after: string[]) {
  HOSTS.forEach((h, i) => expect(snapshotDiff(before[i], after[i]), `state of ${h} changed`).toEqual([]));
  HOSTS.forEach((h, i) => expect(after[i] === before[i], `snapshot of ${h} is byte-for-byte identical`).toBe(true));
}

describe('every resource kind, over SSH, as root and as deploy (sudo -n)', () => {
  beforeAll(async () => {
    fixtures = await prepareFixtures(FIXTURES_DIR);
    await chmod(FIXTURES_DIR, 0o755); // readable for apt's _apt sandbox user
    stateDir = await mkdtemp(join(tmpdir(), 'rigger-it-resources-'));
    hosts = await upHosts({ names: HOSTS, fixturesDir: fixtures.dir, dir: stateDir, log: () => {} });
    for (const h of HOSTS) container[h] = hosts.get(h).containerId;
    inventory = await writeInventory(hosts, 'resources-inventory.toml', { hostOverrides: { [DEPLOY_HOST]: { user: 'deploy' } } });
    // Two keys for authorized_keys, made for this run.
    const keyDir = join(stateDir, 'userkeys');
    await mkdir(keyDir);
    userKeys = [];
    for (const n of ['a', 'b']) {
      await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `rigsvc-${n}@it`, '-f', join(keyDir, n)]);
      userKeys.push((await readFile(join(keyDir, `${n}.pub`), 'utf8')).trim());
    }
  }, 900_000);

  afterAll(async () => {
    await hosts?.down();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  }, 120_000);

  let firstCheck: CapturedRun;

  it('check mode on fresh hosts: every resource would change, diffs for text files, hosts byte-for-byte unchanged', async () => {
    const before = await snapshots();
    firstCheck = await converge('--check');
    const after = await snapshots();
    const run = firstCheck;
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report!.mode).toBe('check');
    for (const h of HOSTS) {
      const report = run.report!.hosts[h];
      expect(report.status, `${h}: ${report.error ?? ''}\n${run.output}`).toBe('changed');
      expect(statusByResource(run, h)).toEqual({ ...Object.fromEntries(RESOURCES.map((r) => [r, 'changed'])), 'handler:restart rigger-it': 'changed' });
      expect(tasksOf(run, h).find((t) => t.resource === 'handler:restart rigger-it')?.summary).toBe('would run');
      for (const id of TEXT_FILES) {
        const t = tasksOf(run, h).find((x) => x.resource === id)!;
        expect(t.diff, `${h} ${id} has a diff`).toBeTruthy();
      }
      const diffOf = (id: string) => tasksOf(run, h).find((x) => x.resource === id)!.diff!;
      expect(diffOf('file:/opt/rigger-it/app.conf')).toContain('+name=rigger-it');
      expect(diffOf('template:/opt/rigger-it/motd.txt')).toContain(`+host: ${h}`);
      expect(diffOf('cron:rigger-it')).toContain('+*/5 * * * * rigsvc /usr/local/bin/rigger-it-tool ls >/dev/null');
      expect(diffOf('authorized-keys:rigsvc')).toContain(`+${userKeys[0]}`);
      expect(diffOf('file:/etc/apt/sources.list.d/rigger-it.sources')).toContain(`+Signed-By: /etc/apt/keyrings/rigger-it.gpg`);
      expect(tasksOf(run, h).find((t) => t.resource === 'apt:hello')?.summary).toBe(`install hello=${HELLO_VERSION}, hold hello`);
      expect(tasksOf(run, h).find((t) => t.resource === 'service:rigger-it.service')?.summary).toBe('enable, start');
      expect(tasksOf(run, h).find((t) => t.resource === 'command:record-tool-version')?.summary).toMatch(/^run: /);
    }
    // The console shows the diffs too (check mode implies --diff).
    expect(run.output).toMatch(/would\s+resroot \[it-resources\] file:\/opt\/rigger-it\/app\.conf/);
    expect(run.output).toContain('+++ b/opt/rigger-it/app.conf');
    expectNoSnapshotChange(before, after);
    // Independent spot checks on top of the snapshot.
    for (const h of HOSTS) {
      const c = container[h];
      expect(await sh(c, 'getent passwd rigsvc; getent group rigapps; true')).toBe('');
      expect((await sh(c, "dpkg-query -W -f='${db:Status-Abbrev}' hello 2>/dev/null || echo absent")).trim()).toMatch(/^(absent|un)$/);
      for (const p of ['/opt/rigger-it', '/etc/apt/keyrings/rigger-it.gpg', '/etc/apt/sources.list.d/rigger-it.sources', '/etc/cron.d/rigger-it', '/usr/local/bin/rigger-it-tool', '/etc/systemd/system/rigger-it.service'])
        expect(await statOf(c, p), p).toBe('absent');
    }
  }, 300_000);

  it('apply: every resource changes, and the hosts are in the desired state (read back with docker exec)', async () => {
    const run = await converge();
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report!.mode).toBe('apply');
    for (const h of HOSTS) {
      expect(run.report!.hosts[h].status, run.output).toBe('changed');
      expect(statusByResource(run, h)).toEqual({ ...Object.fromEntries(RESOURCES.map((r) => [r, 'changed'])), 'handler:restart rigger-it': 'changed' });
      expect(run.report!.hosts[h].counts).toEqual({ ok: 0, changed: RESOURCES.length + 1, failed: 0, skipped: 0 });
    }

    for (const h of HOSTS) {
      const c = container[h];
      // group, user (shell, comment, supplementary group)
      expect(await sh(c, 'getent group rigapps | cut -d: -f1,4')).toBe('rigapps:rigsvc\n');
      expect(await sh(c, "getent passwd rigsvc | cut -d: -f5-7")).toBe('rigger integration test:/home/rigsvc:/bin/bash\n');
      expect((await sh(c, 'id -Gn rigsvc')).trim().split(' ').sort()).toEqual(['rigapps', 'rigsvc']);
      // directory
      expect(await statOf(c, '/opt/rigger-it')).toBe('directory 750 rigsvc rigapps');
      // file with mode/owner/validate
      expect(await catFile(c, '/opt/rigger-it/app.conf')).toBe(APP_CONF);
      expect(await statOf(c, '/opt/rigger-it/app.conf')).toBe('regular file 640 root rigapps');
      // template
      expect(await catFile(c, '/opt/rigger-it/motd.txt')).toBe(`# Rigger IT (managed by rigger)\nhost: ${h}\nuser rigsvc\nuser deploy\nraw: a & b < c\n`);
      expect(await statOf(c, '/opt/rigger-it/motd.txt')).toBe('regular file 644 root root');
      // no temp file left next to what was written
      expect(await sh(c, 'ls -A /opt/rigger-it /etc/apt/keyrings /etc/apt/sources.list.d /etc/cron.d /home/rigsvc/.ssh | grep rigger- || true')).not.toMatch(/\.rigger-|rigger-tmp|rigger-download/);
      // download
      expect(await sha256Of(c, '/opt/rigger-it/tool')).toBe(fixtures.downloads.dockerMachine.sha256);
      expect(await statOf(c, '/opt/rigger-it/tool')).toBe('regular file 755 root root');
      // link
      expect(await sh(c, 'readlink /usr/local/bin/rigger-it-tool')).toBe('/opt/rigger-it/tool\n');
      expect(await statOf(c, '/usr/local/bin/rigger-it-tool')).toMatch(/^symbolic link /);
      // apt repository: keyring with the right key, source, and a package installed from it
      expect(
        await sh(c, `d=$(mktemp -d); GNUPGHOME=$d gpg --batch --no-default-keyring --show-keys --with-colons /etc/apt/keyrings/rigger-it.gpg 2>/dev/null | awk -F: '$1=="fpr"{print $10}'; rm -rf "$d"`),
      ).toContain(fixtures.apt.fingerprint);
      expect(await statOf(c, '/etc/apt/keyrings/rigger-it.gpg')).toBe('regular file 644 root root');
      const sources = await catFile(c, '/etc/apt/sources.list.d/rigger-it.sources');
      expect(sources).toContain(`URIs: ${fixtures.inHost.aptUrl}\n`);
      expect(sources).toContain('Signed-By: /etc/apt/keyrings/rigger-it.gpg\n');
      // packages: pinned versions, hold
      expect(await sh(c, "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' hello gitlab-runner-helper-images")).toBe(
        `gitlab-runner-helper-images ${fixtures.apt.version} ii \nhello ${HELLO_VERSION} hi \n`,
      );
      expect(await sh(c, 'apt-mark showhold')).toBe('hello\n');
      expect(await sh(c, 'hello')).toBe('Hello, world!\n');
      expect(await sh(c, 'test -e /usr/lib/gitlab-runner/helper-images/PLACEHOLDER && echo ok')).toBe('ok\n');
      // service: unit file, enabled and running as rigsvc
      expect(await catFile(c, '/etc/systemd/system/rigger-it.service')).toBe(UNIT);
      expect(await sh(c, 'systemctl is-enabled rigger-it.service; systemctl is-active rigger-it.service')).toBe('enabled\nactive\n');
      expect(await sh(c, 'ps -o user= -C sleep')).toMatch(/^rigsvc$/m);
      // authorized keys
      expect(await catFile(c, '/home/rigsvc/.ssh/authorized_keys')).toBe(userKeys.join('\n') + '\n');
      expect(await statOf(c, '/home/rigsvc/.ssh/authorized_keys')).toBe('regular file 600 rigsvc rigsvc');
      expect(await statOf(c, '/home/rigsvc/.ssh')).toBe('directory 700 rigsvc rigsvc');
      // cron
      expect(await catFile(c, '/etc/cron.d/rigger-it')).toBe(
        '# managed by rigger: rigger-it\nSHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nMAILTO=\n*/5 * * * * rigsvc /usr/local/bin/rigger-it-tool ls >/dev/null\n',
      );
      expect(await statOf(c, '/etc/cron.d/rigger-it')).toBe('regular file 644 root root');
      // guarded command: its effect
      expect(await catFile(c, '/opt/rigger-it/version.txt')).toBe(`docker-machine version ${fixtures.downloads.dockerMachine.version.replace(/^v/, '')}, build 0fake000\n`);
    }
  }, 600_000);

  it('apply again: zero changes, in at most 3 round trips per host', async () => {
    const before = await snapshots();
    const run = await converge();
    const after = await snapshots();
    expect(run.exitCode, run.output).toBe(0);
    for (const h of HOSTS) {
      const r = run.report!.hosts[h];
      expect(r.status, run.output).toBe('ok');
      expect(r.counts).toEqual({ ok: RESOURCES.length, changed: 0, failed: 0, skipped: 0 });
      expect(r.tasks.filter((t) => t.status !== 'ok')).toEqual([]);
      expect(r.remoteCommands).toBeLessThanOrEqual(3);
    }
    expectNoSnapshotChange(before, after);
  }, 300_000);

  it('check mode again: nothing would change, hosts byte-for-byte unchanged', async () => {
    const before = await snapshots();
    const run = await converge('--check', '--detailed-exitcode');
    const after = await snapshots();
    expect(run.exitCode, run.output).toBe(0);
    for (const h of HOSTS) {
      const r = run.report!.hosts[h];
      expect(r.status, run.output).toBe('ok');
      expect(r.counts).toEqual({ ok: RESOURCES.length, changed: 0, failed: 0, skipped: 0 });
      expect(r.remoteCommands).toBeLessThanOrEqual(3);
    }
    expect(run.output).not.toMatch(/^would /m);
    expectNoSnapshotChange(before, after);
  }, 300_000);
});
