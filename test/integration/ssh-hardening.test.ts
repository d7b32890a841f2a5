/**
 * Role ssh-hardening (with common for the check-mode run) against disposable
 * Docker test hosts, through the engine's runPlaybook. Every assertion about the
 * host reads it independently: `docker exec` (sshd -T, files), a real password
 * login attempt over SSH (ssh2, password + keyboard-interactive) and a real key
 * login with the OpenSSH client.
 *
 * Own state folder (RIGGER_SSH_HARDENING_TESTHOSTS_DIR, default
 * $TMPDIR/rigger-testhosts-ssh-hardening); afterAll removes only this run's containers.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'smol-toml';
import { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlaybook, type JsonReport } from '../../lib/playbook.js';
import type { Role } from '../../lib/engine/types.js';
import common from '../../roles/common/index.js';
import sshHardening, { DROPIN, DROPIN_PREV, renderDropIn, resolveSettings } from '../../roles/ssh-hardening/index.js';
import { PASSWORD, PASSWORD_USER, upHosts, type TestHosts } from '../hosts/testhosts.js';

const execFileP = promisify(execFile);
const STATE_DIR = process.env.RIGGER_SSH_HARDENING_TESTHOSTS_DIR ?? join(tmpdir(), 'rigger-testhosts-ssh-hardening');
const H1 = 'sshd1'; // converge, idempotence, overrides, rollback
const H2 = 'sshd2'; // failures before anything changes; then become + socket activation
const ADMIN_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm9m2Sxg8c3dJ0ekq7oWj0tWg0mO6y9pE1bJ3x0AAAA alice@laptop';

let hosts: TestHosts;
let inventoryPath: string;
const hostVars: Record<string, Record<string, unknown>> = { [H1]: {}, [H2]: {} };
const hostUser: Record<string, string> = {};

async function writeInventory(): Promise<void> {
  const base = parse(await readFile(hosts.inventory, 'utf8')) as Record<string, any>;
  for (const [h, user] of Object.entries(hostUser)) base.hosts[h] = { ...base.hosts[h], user };
  await writeFile(inventoryPath, stringify({ ...base, host_vars: hostVars }));
}

interface Run {
  exitCode: number;
  host: JsonReport['hosts'][string];
  output: string;
  task(resource: string): JsonReport['hosts'][string]['tasks'][number];
}

async function play(host: string, roles: Role<any>[], vars: Record<string, unknown>, ...flags: string[]): Promise<Run> {
  hostVars[host] = vars;
  await writeInventory();
  let output = '';
  const io = { stdout: (t: string) => void (output += t), stderr: (t: string) => void (output += t), colour: false };
  const jsonPath = join(STATE_DIR, `report-${host}.json`);
  const { exitCode } = await runPlaybook({ name: 'ssh-hardening-it', plays: [{ hosts: host, roles }] }, ['-i', inventoryPath, '--limit', host, '--json', jsonPath, '-v', ...flags], io);
  const report = JSON.parse(await readFile(jsonPath, 'utf8')) as JsonReport;
  const h = report.hosts[host];
  return {
    exitCode,
    host: h,
    output,
    task(resource: string) {
      const t = h.tasks.find((x) => x.resource === resource);
      if (!t) throw new Error(`no task ${resource} in the report:\n${output}`);
      return t;
    },
  };
}

async function sh(host: string, script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP('docker', ['exec', hosts.get(host).containerId, 'sh', '-c', script]);
    return { code: 0, stdout, stderr };
  } catch (e: any) {
    if (typeof e.code !== 'number') throw e;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Effective sshd config as sshd itself reports it, read inside the container. */
async function sshdT(host: string, user = 'root'): Promise<Map<string, string>> {
  // (with inetd-style socket activation /run/sshd only exists while a connection is open)
  const r = await sh(host, `mkdir -p /run/sshd && sshd -T -C user=${user},host=localhost,addr=127.0.0.1`);
  expect(r.code, r.stderr).toBe(0);
  const m = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf(' ');
    if (i > 0 && !m.has(line.slice(0, i))) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** A real key login with the OpenSSH client (strict host key checking). */
async function keyLogin(host: string, user = 'root'): Promise<{ code: number; stderr: string }> {
  const args = [
    '-F', '/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', `IdentityFile=${hosts.privateKey}`,
    '-o', `UserKnownHostsFile=${hosts.knownHosts}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'ConnectTimeout=10',
    '-p', String(hosts.get(host).port),
    `${user}@127.0.0.1`,
    'true',
  ];
  try {
    await execFileP('ssh', args, { timeout: 30_000 });
    return { code: 0, stderr: '' };
  } catch (e: any) {
    return { code: typeof e.code === 'number' ? e.code : 255, stderr: e.stderr ?? String(e) };
  }
}

/** `systemctl reload ssh` from the test side; sshd re-executes itself, so wait until it answers again. */
async function reloadAndWait(host: string): Promise<void> {
  await sh(host, 'systemctl reload ssh.service');
  await new Promise((r) => setTimeout(r, 500)); // the HUP is asynchronous: do not catch the old listener
  for (let i = 0; i < 50; i++) {
    if ((await keyLogin(host)).code === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`sshd of ${host} does not answer after a reload`);
}

/** What the server offers to a client that has no key: "Permission denied (publickey)." */
async function offeredMethods(host: string): Promise<string> {
  const args = ['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'PubkeyAuthentication=no', '-o', `UserKnownHostsFile=${hosts.knownHosts}`, '-o', 'StrictHostKeyChecking=yes'];
  const r = await execFileP('ssh', [...args, '-p', String(hosts.get(host).port), `${PASSWORD_USER}@127.0.0.1`, 'true'], { timeout: 30_000 }).then(
    () => ({ stderr: 'logged in' }),
    (e: any) => ({ stderr: String(e.stderr ?? e) }),
  );
  return r.stderr.match(/Permission denied \(([^)]*)\)/)?.[1] ?? r.stderr.trim();
}

/** A real password login (password, then keyboard-interactive) as the test hosts' password user. */
function passwordLogin(host: string): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve) => {
    const c = new Client();
    let settled = false;
    const done = (v: { ok: boolean; error?: string }) => {
      if (settled) return;
      settled = true;
      c.end();
      resolve(v);
    };
    c.on('ready', () => done({ ok: true }));
    c.on('error', (e) => done({ ok: false, error: e.message }));
    c.on('keyboard-interactive', (_name, _instr, _lang, prompts, finish) => finish(prompts.map(() => PASSWORD)));
    c.connect({ host: '127.0.0.1', port: hosts.get(host).port, username: PASSWORD_USER, password: PASSWORD, tryKeyboard: true, readyTimeout: 20_000, hostVerifier: () => true });
  });
}

/** What `sshd -T` must show with the default settings (sshd -T prints prohibit-password as without-password). */
const EXPECTED_T: Record<string, string> = {
  passwordauthentication: 'no',
  kbdinteractiveauthentication: 'no',
  permitrootlogin: 'without-password',
  pubkeyauthentication: 'yes',
  maxauthtries: '4',
  logingracetime: '30',
  x11forwarding: 'no',
  allowagentforwarding: 'no',
  allowtcpforwarding: 'no',
  permituserenvironment: 'no',
  clientaliveinterval: '300',
  clientalivecountmax: '2',
  loglevel: 'VERBOSE',
  kexalgorithms: 'sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group18-sha512,diffie-hellman-group16-sha512',
  ciphers: 'chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr',
  macs: 'hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com',
  hostkeyalgorithms: 'ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256,rsa-sha2-256-cert-v01@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp256-cert-v01@openssh.com', // ECDSA stays offered: clients may have that host key on file
};

const defaultDropIn = () => renderDropIn(resolveSettings({}).settings);

/** Every line of `content` appears as an added line of the unified diff. */
function expectFullDiff(diff: string | undefined, content: string): void {
  expect(diff, 'no diff in the report').toBeTruthy();
  for (const line of content.trimEnd().split('\n')) expect(diff).toContain(`+${line}`);
}

describe('ssh-hardening on Docker test hosts', () => {
  beforeAll(async () => {
    await mkdir(STATE_DIR, { recursive: true });
    hosts = await upHosts({ names: [H1, H2], dir: STATE_DIR, log: () => {} });
    inventoryPath = join(STATE_DIR, 'ssh-hardening-inventory.toml');
    await writeInventory();
  }, 900_000);

  afterAll(async () => {
    await hosts?.down();
    for (const f of ['ssh-hardening-inventory.toml', `report-${H1}.json`, `report-${H2}.json`]) await rm(join(STATE_DIR, f), { force: true });
    await rm(STATE_DIR, { recursive: false }).catch(() => {});
  }, 120_000);

  it('before: the test host really accepts a password, so the refusal below means something', async () => {
    expect(await passwordLogin(H1)).toEqual({ ok: true });
  }, 30_000);

  it('check mode on a fresh host shows the full diff of every file common and ssh-hardening write, and changes nothing', async () => {
    await sh(H1, 'touch /run/rigger-check-stamp; sleep 1');
    const vars = { timezone: 'Europe/Paris', admin_users: [{ name: 'alice', keys: [ADMIN_KEY] }] };
    const run = await play(H1, [common, sshHardening], vars, '--check');
    expect(run.exitCode, run.output).toBe(0);
    expect(run.host.status).toBe('changed');
    expect(run.host.counts.failed).toBe(0);
    expectFullDiff(run.task(`template:${DROPIN}`).diff, defaultDropIn());
    expectFullDiff(run.task('file:/etc/timezone').diff, 'Europe/Paris\n');
    expectFullDiff(run.task('file:/etc/sudoers.d/90-rigger-admins').diff, 'alice ALL=(ALL:ALL) NOPASSWD: ALL\n');
    expectFullDiff(run.task('file:/etc/apt/apt.conf.d/20auto-upgrades').diff, 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n');
    expectFullDiff(run.task('authorized-keys:alice').diff, ADMIN_KEY);
    expect(run.task('handler:reload sshd')).toMatchObject({ status: 'changed', summary: 'would run' });
    expect(run.task('ssh-lockout-guard:root').status).toBe('ok');
    // nothing changed on the host
    const changed = await sh(H1, 'find /etc /home /root /usr /var/lib/dpkg -xdev -newer /run/rigger-check-stamp -print');
    expect(changed.stdout.trim()).toBe('');
    expect((await sh(H1, `test -e ${DROPIN}`)).code).toBe(1);
    expect((await sh(H1, 'id alice')).code).not.toBe(0);
    expect(await passwordLogin(H1)).toEqual({ ok: true });
  }, 180_000);

  it('converges: the drop-in is in place and sshd -T shows every setting in force', async () => {
    const run = await play(H1, [sshHardening], {});
    expect(run.exitCode, run.output).toBe(0);
    expect(run.host.status).toBe('changed');
    expect(run.task(`template:${DROPIN}`).status).toBe('changed');
    expect(run.task('handler:reload sshd')).toMatchObject({ status: 'changed', summary: 'ran' });
    expect(run.output).toContain('sshd config in force (ssh.service); a new SSH connection works');
    expect((await sh(H1, `cat ${DROPIN}`)).stdout).toBe(defaultDropIn());
    expect((await sh(H1, `stat -c '%a %U %G' ${DROPIN}`)).stdout.trim()).toBe('644 root root');
    const t = await sshdT(H1);
    for (const [k, v] of Object.entries(EXPECTED_T)) expect(`${k} ${t.get(k)}`).toBe(`${k} ${v}`);
    expect((await sh(H1, 'systemctl is-active ssh.service')).stdout.trim()).toBe('active');
  }, 120_000);

  it('a second run changes nothing, in one probe round trip', async () => {
    const run = await play(H1, [sshHardening], {});
    expect(run.exitCode, run.output).toBe(0);
    expect(run.host.status).toBe('ok');
    expect(run.host.counts).toMatchObject({ changed: 0, failed: 0 });
    expect(run.host.tasks.map((t) => t.resource)).not.toContain('handler:reload sshd');
    expect(run.host.remoteCommands).toBeLessThanOrEqual(2); // facts + one batched probe
  }, 60_000);

  it('a password login is refused for real; key login still works', async () => {
    const pw = await passwordLogin(H1);
    expect(pw.ok).toBe(false);
    expect(pw.error).toMatch(/authentication methods failed/i);
    expect(await offeredMethods(H1)).toBe('publickey');
    expect(await keyLogin(H1)).toEqual({ code: 0, stderr: '' });
  }, 60_000);

  it('a later drop-in (50-cloud-init.conf) with PasswordAuthentication yes does not turn passwords back on', async () => {
    await sh(H1, "printf 'PasswordAuthentication yes\\nKbdInteractiveAuthentication yes\\n' > /etc/ssh/sshd_config.d/50-cloud-init.conf");
    await reloadAndWait(H1);
    expect((await sshdT(H1)).get('passwordauthentication')).toBe('no');
    expect((await passwordLogin(H1)).ok).toBe(false);
    const run = await play(H1, [sshHardening], {});
    expect(run.exitCode, run.output).toBe(0);
    expect(run.host.counts.changed).toBe(0);
    await sh(H1, 'rm -f /etc/ssh/sshd_config.d/50-cloud-init.conf');
    await reloadAndWait(H1);
  }, 60_000);

  it('a setting read BEFORE the drop-in (top of sshd_config) fails the host loudly, naming the setting and the file', async () => {
    await sh(H1, "cp -p /etc/ssh/sshd_config /root/sshd_config.orig && sed -i '1i PasswordAuthentication yes' /etc/ssh/sshd_config");
    try {
      const run = await play(H1, [sshHardening], {});
      expect(run.exitCode).toBe(2);
      expect(run.host.status).toBe('failed');
      const err = run.task('sshd-effective-config:root').error ?? '';
      expect(err).toContain('NOT in force');
      expect(err).toContain('PasswordAuthentication: in force "yes", wanted "no"; also set at /etc/ssh/sshd_config:1 (PasswordAuthentication yes)');
      expect(err).not.toContain('MaxAuthTries');
    } finally {
      await sh(H1, 'mv -f /root/sshd_config.orig /etc/ssh/sshd_config');
    }
  }, 60_000);

  it('inventory overrides (ssh_* vars and ssh_settings) reach the effective config', async () => {
    const run = await play(H1, [sshHardening], { ssh_max_auth_tries: 5, ssh_client_alive_interval: '2m', ssh_settings: { MaxSessions: 4, X11Forwarding: true } });
    expect(run.exitCode, run.output).toBe(0);
    expect(run.task(`template:${DROPIN}`).diff).toContain('-MaxAuthTries 4\n+MaxAuthTries 5');
    const t = await sshdT(H1);
    expect([t.get('maxauthtries'), t.get('clientaliveinterval'), t.get('maxsessions'), t.get('x11forwarding')]).toEqual(['5', '120', '4', 'yes']);
    expect((await sh(H1, `cat ${DROPIN_PREV}`)).stdout).toBe(defaultDropIn()); // backup of the version it replaced
    expect(await keyLogin(H1)).toEqual({ code: 0, stderr: '' });
  }, 60_000);

  it('a config sshd accepts but that refuses rigger new connections is rolled back, and the host fails', async () => {
    const before = (await sh(H1, `cat ${DROPIN}`)).stdout;
    // AllowUsers with a client address rigger never comes from: sshd -t accepts it,
    // the lockout guard cannot know the address, only a NEW connection shows it.
    const run = await play(H1, [sshHardening], { ssh_settings: { AllowUsers: 'root@192.0.2.1' } });
    expect(run.exitCode, run.output).toBe(2);
    expect(run.host.status).toBe('failed');
    expect(run.task(`template:${DROPIN}`).status).toBe('changed');
    const err = run.task('handler:reload sshd').error ?? '';
    expect(err).toMatch(/a new SSH connection failed after the new .* was put in force \(ssh.service\)/);
    expect(err).toContain(`restored the previous ${DROPIN}, reloaded (ssh.service); new connections work again`);
    expect((await sh(H1, `cat ${DROPIN}`)).stdout).toBe(before);
    expect((await sshdT(H1)).get('allowusers')).toBeUndefined();
    expect(await keyLogin(H1)).toEqual({ code: 0, stderr: '' });
  }, 120_000);

  it('an algorithm sshd does not know fails the host; sshd keeps running with the old config', async () => {
    const run = await play(H2, [sshHardening], { ssh_ciphers: ['chacha20-poly1305@openssh.com', 'bogus-cipher@example.org'] });
    expect(run.exitCode, run.output).toBe(2);
    expect(run.host.status).toBe('failed');
    const err = run.task(`template:${DROPIN}`).error ?? '';
    expect(err).toContain(`sshd -t rejects the new ${DROPIN}, so it was not installed`);
    expect(err).toMatch(/Bad SSH2 cipher spec 'chacha20-poly1305@openssh.com,bogus-cipher@example.org'/);
    expect(run.host.tasks.map((t) => t.resource)).not.toContain('handler:reload sshd');
    expect((await sh(H2, `ls -A /etc/ssh/sshd_config.d/`)).stdout.trim()).toBe('');
    expect((await sh(H2, 'systemctl is-active ssh.service')).stdout.trim()).toBe('active');
    expect(await keyLogin(H2)).toEqual({ code: 0, stderr: '' });
    expect(await passwordLogin(H2)).toEqual({ ok: true }); // old config still in force
  }, 60_000);

  it('a login user without an authorized key where sshd will look is refused before anything changes', async () => {
    await sh(H2, 'touch /run/rigger-guard-stamp; sleep 1');
    const run = await play(H2, [sshHardening], { ssh_settings: { AuthorizedKeysFile: '/etc/ssh/authorized_keys/%u' } });
    expect(run.exitCode, run.output).toBe(2);
    const guard = run.task('ssh-lockout-guard:root');
    expect(guard.status).toBe('failed');
    expect(guard.error).toContain('refusing to change sshd on sshd2: the new settings would lock rigger out; nothing was changed.');
    expect(guard.error).toContain('the login user root has no authorized key where sshd will look (AuthorizedKeysFile /etc/ssh/authorized_keys/%u: /etc/ssh/authorized_keys/root (missing))');
    expect(guard.error).toContain('into /etc/ssh/authorized_keys/root first');
    expect(run.host.tasks.filter((t) => t.status === 'changed')).toEqual([]);
    expect((await sh(H2, 'find /etc -newer /run/rigger-guard-stamp -print')).stdout.trim()).toBe('');
    expect(await passwordLogin(H2)).toEqual({ ok: true });
  }, 60_000);

  it('PermitRootLogin no is refused while rigger logs in as root', async () => {
    const run = await play(H2, [sshHardening], { ssh_permit_root_login: 'no' });
    expect(run.exitCode).toBe(2);
    expect(run.task('ssh-lockout-guard:root').error).toContain('PermitRootLogin no would lock rigger out: it logs in to this host as root');
    expect((await sh(H2, `test -e ${DROPIN}`)).code).toBe(1);
  }, 60_000);

  it('converges with a non-root login user (sudo) on socket-activated ssh, root login turned off', async () => {
    await sh(H2, 'systemctl disable --now ssh.service 2>&1 && systemctl enable --now ssh.socket 2>&1');
    expect((await sh(H2, 'systemctl is-active ssh.socket')).stdout.trim()).toBe('active');
    hostUser[H2] = 'deploy';
    const run = await play(H2, [sshHardening], { ssh_permit_root_login: 'no' });
    expect(run.exitCode, run.output).toBe(0);
    expect(run.task('ssh-lockout-guard:deploy').status).toBe('ok');
    expect(run.task('handler:reload sshd')).toMatchObject({ status: 'changed', summary: 'ran' });
    // Debian 12's ssh.socket is Accept=no: it starts ssh.service, which must be reloaded
    expect(run.output).toContain('sshd config in force (ssh.service via ssh.socket); a new SSH connection works');
    const t = await sshdT(H2, 'deploy');
    expect(t.get('permitrootlogin')).toBe('no');
    expect(t.get('passwordauthentication')).toBe('no');
    expect((await passwordLogin(H2)).ok).toBe(false);
    expect(await keyLogin(H2, 'deploy')).toEqual({ code: 0, stderr: '' });
    expect((await keyLogin(H2, 'root')).code).not.toBe(0);
    const again = await play(H2, [sshHardening], { ssh_permit_root_login: 'no' });
    expect(again.host.counts).toMatchObject({ changed: 0, failed: 0 });
  }, 120_000);

  it('inetd-style socket activation (Accept=yes, sshd -i per connection): nothing to reload, new connections read the new drop-in', async () => {
    const unit = '[Unit]\nDescription=per-connection sshd\n\n[Service]\nExecStart=-/usr/sbin/sshd -i\nStandardInput=socket\nRuntimeDirectory=sshd\nRuntimeDirectoryMode=0755\n';
    await sh(
      H2,
      `mkdir -p /etc/systemd/system/ssh.socket.d && printf '[Socket]\\nAccept=yes\\n' > /etc/systemd/system/ssh.socket.d/accept.conf && ` +
        `printf '${unit}' > /etc/systemd/system/ssh@.service && systemctl stop ssh.service ssh.socket && systemctl daemon-reload && systemctl start ssh.socket`,
    );
    const run = await play(H2, [sshHardening], { ssh_permit_root_login: 'no', ssh_settings: { MaxSessions: 3 } });
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain('sshd config in force (ssh.socket); a new SSH connection works');
    expect((await sh(H2, 'systemctl is-active ssh.service')).stdout.trim()).toBe('inactive');
    expect((await sshdT(H2, 'deploy')).get('maxsessions')).toBe('3');
    expect(await keyLogin(H2, 'deploy')).toEqual({ code: 0, stderr: '' });
    // and a lockout is rolled back here too
    const bad = await play(H2, [sshHardening], { ssh_permit_root_login: 'no', ssh_settings: { MaxSessions: 3, AllowUsers: 'deploy@192.0.2.1' } });
    expect(bad.exitCode).toBe(2);
    expect(bad.task('handler:reload sshd').error).toContain('reloaded (ssh.socket); new connections work again');
    expect(await sh(H2, `grep -c AllowUsers ${DROPIN}`)).toMatchObject({ stdout: '0\n' });
    expect(await keyLogin(H2, 'deploy')).toEqual({ code: 0, stderr: '' });
  }, 120_000);
});
