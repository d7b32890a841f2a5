import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import role, { renderDropIn, varsSchema } from '../../roles/ssh-hardening/index.js';
import {
  compareEffective,
  DEFAULT_SETTINGS,
  DROPIN,
  DROPIN_PREV,
  lockoutProblems,
  parseCulprits,
  parseGuardProbe,
  parseSshdT,
  resolveSettings,
  sshdSeconds,
  usableKey,
  type GuardFacts,
  type Settings,
} from '../../roles/ssh-hardening/settings.js';
import { effectiveConfigCheck, hardeningDropIn, lockoutGuard, reloadSshdHandler } from '../../roles/ssh-hardening/resources.js';
import { linkGate } from '../../lib/engine/links.js';
import type { Facts, Vars } from '../../lib/engine/types.js';
import { FakeRemote } from './helpers/fakeRemote.js';
import { expandRole, schemaProblems } from './helpers/roles.js';
import { makeCtx, probe } from './helpers/context.js';
import { LocalRemote, probeAndPlan, tempDir } from './helpers/localRemote.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm9m2Sxg8c3dJ0ekq7oWj0tWg0mO6y9pE1bJ3x0AAAA admin@laptop';

/** Validate vars the way the engine does, then return the resolved settings. */
function settingsOf(vars: Vars): Settings {
  const parsed = varsSchema.safeParse(vars);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'));
  return resolveSettings({ ...vars, ...parsed.data }).settings;
}

const problemsOf = (vars: Vars) => schemaProblems(varsSchema, vars);
const expand = (vars: Vars = {}, facts: Partial<Facts> = {}) => expandRole(role, vars, facts);

/** sshd -T output of a Debian 12 host with our default drop-in in force (abridged). */
function sshdT(over: Record<string, string> = {}): string {
  const base: Record<string, string> = {
    port: '22',
    addressfamily: 'any',
    listenaddress: '[::]:22\nlistenaddress 0.0.0.0:22',
    usepam: 'yes',
    logingracetime: '30',
    x11displayoffset: '10',
    maxauthtries: '4',
    maxsessions: '10',
    clientaliveinterval: '300',
    clientalivecountmax: '2',
    permitrootlogin: 'without-password',
    loglevel: 'VERBOSE',
    pubkeyauthentication: 'yes',
    passwordauthentication: 'no',
    kbdinteractiveauthentication: 'no',
    x11forwarding: 'no',
    allowagentforwarding: 'no',
    allowtcpforwarding: 'no',
    permituserenvironment: 'no',
    authorizedkeysfile: '.ssh/authorized_keys .ssh/authorized_keys2',
    kexalgorithms: DEFAULT_SETTINGS.find(([k]) => k === 'KexAlgorithms')![1],
    ciphers: DEFAULT_SETTINGS.find(([k]) => k === 'Ciphers')![1],
    macs: DEFAULT_SETTINGS.find(([k]) => k === 'MACs')![1],
    hostkeyalgorithms: DEFAULT_SETTINGS.find(([k]) => k === 'HostKeyAlgorithms')![1],
    hostkey: '/etc/ssh/ssh_host_rsa_key\nhostkey /etc/ssh/ssh_host_ecdsa_key\nhostkey /etc/ssh/ssh_host_ed25519_key',
    acceptenv: 'LANG\nacceptenv LC_*',
    subsystem: 'sftp /usr/lib/openssh/sftp-server',
    ...over,
  };
  return Object.entries(base)
    .map(([k, v]) => `${k} ${v}`)
    .join('\n');
}

describe('ssh-hardening: vars and settings', () => {
  it('renders the defaults into the drop-in, in order, with a header', () => {
    const text = renderDropIn(settingsOf({}));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^# Managed by rigger \(role ssh-hardening\)/);
    const body = lines.filter((l) => l && !l.startsWith('#'));
    expect(body).toEqual([
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'MaxAuthTries 4',
      'LoginGraceTime 30',
      'X11Forwarding no',
      'AllowAgentForwarding no',
      'AllowTcpForwarding no',
      'PermitUserEnvironment no',
      'ClientAliveInterval 300',
      'ClientAliveCountMax 2',
      'LogLevel VERBOSE',
      'KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group18-sha512,diffie-hellman-group16-sha512',
      'Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr',
      'MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com',
      'HostKeyAlgorithms ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256,rsa-sha2-256-cert-v01@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp256-cert-v01@openssh.com',
    ]);
    expect(text.endsWith('\n')).toBe(true);
    expect(text).not.toMatch(/ecdh|sha1|umac-64|&amp;/); // no NIST-curve key exchange, no SHA-1; ECDSA host keys stay offered (clients may have them on file);
  });

  it('takes typed ssh_* vars (booleans, numbers, lists) over the defaults', () => {
    const s = settingsOf({
      ssh_permit_root_login: 'no',
      ssh_max_auth_tries: 6,
      ssh_x11_forwarding: true,
      ssh_allow_tcp_forwarding: 'local',
      ssh_login_grace_time: '1m',
      ssh_log_level: 'info',
      ssh_ciphers: ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com'],
      ssh_macs: 'hmac-sha2-512-etm@openssh.com',
    });
    expect(s.get('PermitRootLogin')).toBe('no');
    expect(s.get('MaxAuthTries')).toBe('6');
    expect(s.get('X11Forwarding')).toBe('yes');
    expect(s.get('AllowTcpForwarding')).toBe('local');
    expect(s.get('LoginGraceTime')).toBe('1m');
    expect(s.get('LogLevel')).toBe('INFO');
    expect(s.get('Ciphers')).toBe('chacha20-poly1305@openssh.com,aes256-gcm@openssh.com');
    expect(s.get('MACs')).toBe('hmac-sha2-512-etm@openssh.com');
    expect(s.get('PasswordAuthentication')).toBe('no');
  });

  it('merges ssh_settings over the defaults: any keyword, canonical case, null removes, lists joined', () => {
    const s = settingsOf({
      ssh_settings: {
        maxsessions: 3,
        clientaliveinterval: '5m',
        HostKeyAlgorithms: null,
        AllowUsers: ['admin', 'deploy@10.0.0.*'],
        Banner: '/etc/issue.net',
        ChallengeResponseAuthentication: false,
      },
    });
    expect(s.get('MaxSessions')).toBe('3');
    expect(s.get('ClientAliveInterval')).toBe('5m');
    expect(s.has('HostKeyAlgorithms')).toBe(false);
    expect(s.get('AllowUsers')).toBe('admin deploy@10.0.0.*');
    expect(s.get('Banner')).toBe('/etc/issue.net');
    expect(s.get('KbdInteractiveAuthentication')).toBe('no');
    const text = renderDropIn(s);
    expect(text).toContain('MaxSessions 3\n');
    expect(text).toContain('AllowUsers admin deploy@10.0.0.*\n');
    expect(text).not.toContain('HostKeyAlgorithms');
    expect(text).not.toContain('ChallengeResponseAuthentication');
  });

  it('accepts the same value set both ways, refuses two different ones', () => {
    expect(settingsOf({ ssh_max_auth_tries: 5, ssh_settings: { MaxAuthTries: 5 } }).get('MaxAuthTries')).toBe('5');
    expect(problemsOf({ ssh_max_auth_tries: 5, ssh_settings: { MaxAuthTries: 6 } })).toEqual([
      'ssh_max_auth_tries: ssh_max_auth_tries = 5 disagrees with ssh_settings.MaxAuthTries = "6"; set it in one place',
    ]);
  });

  it('allows the vars of other roles and fills its own defaults', () => {
    const parsed = varsSchema.parse({ timezone: 'Europe/Paris', gitlab_url: 'https://x' });
    expect(parsed.ssh_settings).toEqual({});
    expect((parsed as Vars).gitlab_url).toBe('https://x');
  });

  it.each([
    [{ ssh_permit_root_login: 'yes' }, 'ssh_permit_root_login: PermitRootLogin must be "prohibit-password" or "no", got "yes"'],
    [{ ssh_settings: { PermitRootLogin: true } }, 'ssh_settings.PermitRootLogin: PermitRootLogin: expected one of prohibit-password, no, got true'],
    [{ ssh_max_auth_tries: 2 }, 'ssh_max_auth_tries: MaxAuthTries 2 is too low'],
    [{ ssh_password_authentication: 'maybe' }, 'ssh_password_authentication: PasswordAuthentication: expected yes or no, got "maybe"'],
    [{ ssh_login_grace_time: '30 seconds' }, 'LoginGraceTime: expected a time'],
    [{ ssh_ciphers: 'aes256-ctr, aes128-ctr' }, 'is not an algorithm name'],
    [{ ssh_ciphers: [] }, 'an empty list is not a value'],
    [{ ssh_settings: { Match: 'User foo' } }, 'ssh_settings.Match: Match cannot be set through ssh_settings'],
    [{ ssh_settings: { Include: '/etc/x' } }, 'Include cannot be set'],
    [{ ssh_settings: { 'Max Sessions': 3 } }, 'is not an sshd keyword'],
    [{ ssh_settings: { Banner: 'a\nPasswordAuthentication yes' } }, 'value contains a newline'],
    [{ ssh_settings: { Banner: '/etc/issue # comment' } }, 'contains "#"'],
    [{ ssh_settings: { MaxSessions: 3, maxsessions: 4 } }, 'MaxSessions is set twice'],
    [{ ssh_settings: 'PasswordAuthentication no' }, 'ssh_settings'],
  ])('refuses %j', (vars, message) => {
    const problems = problemsOf(vars as Vars);
    expect(problems.join('\n')).toContain(message);
  });

  it('parses sshd time values', () => {
    expect(sshdSeconds('30')).toBe(30);
    expect(sshdSeconds('1h30m')).toBe(5400);
    expect(sshdSeconds('5M')).toBe(300);
    expect(sshdSeconds('5x')).toBeNull();
    expect(sshdSeconds('')).toBeNull();
  });
});

describe('ssh-hardening: role expansion', () => {
  it('is guard, drop-in, effective-config check, with a reload handler', async () => {
    const out = await expand({}, { loginUser: 'deploy' });
    expect(out.resources.map((r) => r.id)).toEqual([
      'ssh-lockout-guard:deploy',
      `template:${DROPIN}`,
      'sshd-effective-config:deploy',
    ]);
    for (const r of out.resources) expect(r.tags).toEqual(['sshd']);
    expect(out.resources[1].notify).toEqual(['reload sshd']);
    expect(out.handlers?.map((h) => h.name)).toEqual(['reload sshd']);
    // read-only probes: nothing in them writes
    for (const r of out.resources) expect(r.probe).not.toMatch(/\b(mv|rm|cp|tee|chmod|chown|systemctl)\b|>\s*\/(?!dev\/null)/);
  });

  it('the drop-in resource carries the rendered template', async () => {
    const out = await expand({ ssh_max_auth_tries: 5 });
    const ctx = makeCtx(new FakeRemote(), { wantDiff: true });
    const change = await out.resources[1].plan(probe('absent', 1), ctx);
    expect(change?.summary).toMatch(/^create/);
    expect(change?.diff?.path).toBe(DROPIN);
    expect(change?.diff?.before).toBe('');
    expect(change?.diff?.after).toContain('MaxAuthTries 5\n');
  });

  it('links the effective-config check after the drop-in (instead of sharing per-host state)', async () => {
    const out = await expand({});
    expect(out.resources[2].links).toEqual({ after: [`template:${DROPIN}`] });
  });
});

describe('ssh-hardening: sshd -T comparison', () => {
  it('parses keywords, keeping repeated ones', () => {
    const t = parseSshdT(sshdT());
    expect(t.get('hostkey')).toHaveLength(3);
    expect(t.get('permitrootlogin')).toEqual(['without-password']);
  });

  it('finds everything in force with the defaults (prohibit-password is shown as without-password)', () => {
    expect(compareEffective(settingsOf({}), sshdT())).toEqual({ mismatches: [], unverified: [] });
  });

  it('names each setting that is not in force', () => {
    const { mismatches } = compareEffective(settingsOf({}), sshdT({ passwordauthentication: 'yes', maxauthtries: '6', ciphers: 'aes128-ctr' }));
    expect(mismatches).toEqual([
      { keyword: 'PasswordAuthentication', want: 'no', have: 'yes' },
      { keyword: 'MaxAuthTries', want: '4', have: '6' },
      { keyword: 'Ciphers', want: expect.stringContaining('chacha20'), have: 'aes128-ctr' },
    ]);
  });

  it('normalises times, case and multi-line values; cannot verify what sshd -T does not show', () => {
    const s = settingsOf({
      ssh_client_alive_interval: '5m',
      ssh_log_level: 'verbose',
      ssh_settings: { AcceptEnv: ['LANG', 'LC_*'], UsePrivilegeSeparation: 'sandbox', PubkeyAcceptedAlgorithms: '-ssh-rsa' },
    });
    expect(compareEffective(s, sshdT())).toEqual({ mismatches: [], unverified: ['UsePrivilegeSeparation', 'PubkeyAcceptedAlgorithms'] });
    expect(compareEffective(settingsOf({ ssh_permit_root_login: 'no' }), sshdT()).mismatches).toEqual([
      { keyword: 'PermitRootLogin', want: 'no', have: 'without-password' },
    ]);
  });

  it('locates other files that set a mismatched keyword', () => {
    const grep = [
      `${DROPIN}:9:PasswordAuthentication no`,
      '/etc/ssh/sshd_config:3:PasswordAuthentication yes',
      '/etc/ssh/sshd_config.d/00-aaa.conf:1:challengeresponseauthentication yes',
      '/etc/ssh/sshd_config.d/50-cloud-init.conf:1:PasswordAuthentication=yes',
    ].join('\n');
    const c = parseCulprits(grep, ['PasswordAuthentication', 'KbdInteractiveAuthentication']);
    expect(c.get('passwordauthentication')).toEqual([
      '/etc/ssh/sshd_config:3 (PasswordAuthentication yes)',
      '/etc/ssh/sshd_config.d/50-cloud-init.conf:1 (PasswordAuthentication yes)',
    ]);
    expect(c.get('kbdinteractiveauthentication')).toEqual(['/etc/ssh/sshd_config.d/00-aaa.conf:1 (challengeresponseauthentication yes)']);
  });

  it('the check fails loudly, naming the settings and where else they are set', async () => {
    const settings = settingsOf({});
    const remote = new FakeRemote((script) => (script.startsWith('grep') ? { stdout: '/etc/ssh/sshd_config:1:PasswordAuthentication yes\n' } : undefined));
    const r = effectiveConfigCheck(settings, 'root');
    expect(r.probe.split('\n')[0]).toBe('set -- root');
    expect(r.probe).toContain('sshd -T -C "user=$u,host=$1,addr=$1,laddr=$3,lport=$4" 2>&1');
    await expect(r.plan(probe(sshdT({ passwordauthentication: 'yes' })), makeCtx(remote))).rejects.toThrow(
      /1 setting\(s\) of .*00-rigger-hardening.conf NOT in force[\s\S]*PasswordAuthentication: in force "yes", wanted "no"; also set at \/etc\/ssh\/sshd_config:1/,
    );
    expect(await r.plan(probe(sshdT()), makeCtx(new FakeRemote()))).toBeNull();
    await expect(r.plan(probe('/etc/ssh/sshd_config line 3: Bad SSH2 cipher spec', 255), makeCtx(new FakeRemote()))).rejects.toThrow(/sshd -T failed \(exit 255\)/);
  });

  it('in check mode, the engine skips the check while the drop-in would still change (link "after")', async () => {
    const dropIn = hardeningDropIn('MaxAuthTries 4\n');
    const check = effectiveConfigCheck(settingsOf({}), 'root', dropIn);
    const pending = (id: string) => id === dropIn.id;
    expect(linkGate(check.links, pending, true)).toBe(`not checked: reads template:${DROPIN}, which would change first`);
    // applying, the drop-in is in place when the check runs: it is planned (and fails loudly here)
    expect(linkGate(check.links, pending, false)).toBeUndefined();
    expect(linkGate(check.links, () => false, true)).toBeUndefined();
    await expect(check.plan(probe(sshdT({ passwordauthentication: 'yes' })), makeCtx(new FakeRemote(), { check: true }))).rejects.toThrow(/NOT in force/);
  });
});

describe('ssh-hardening: lockout rules', () => {
  const facts = (over: Partial<GuardFacts> = {}): GuardFacts => ({
    user: 'root',
    exists: true,
    home: '/root',
    uid: '0',
    groups: ['root'],
    authorizedKeysFile: '.ssh/authorized_keys .ssh/authorized_keys2',
    authorizedKeysCommand: 'none',
    files: [{ path: '/root/.ssh/authorized_keys', lines: [KEY] }],
    missing: ['/root/.ssh/authorized_keys2'],
    sudo: null,
    sshdError: null,
    includesDropIns: true,
    ...over,
  });

  it('passes with a key, root and prohibit-password', () => {
    expect(lockoutProblems(settingsOf({}), facts())).toEqual([]);
  });

  it('refuses PermitRootLogin no when rigger logs in as root, saying what to do instead', () => {
    const p = lockoutProblems(settingsOf({ ssh_permit_root_login: 'no' }), facts());
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/PermitRootLogin no would lock rigger out: it logs in to this host as root.*admin_users.*user = /);
    expect(lockoutProblems(settingsOf({ ssh_permit_root_login: 'no' }), facts({ user: 'deploy', sudo: 'ok' }))).toEqual([]);
  });

  it('refuses when the login user has no usable key where sshd will look', () => {
    const p = lockoutProblems(settingsOf({}), facts({ files: [{ path: '/root/.ssh/authorized_keys', lines: [`command="/bin/false" ${KEY}`, 'garbage'] }] }));
    expect(p).toHaveLength(1);
    expect(p[0]).toContain('the login user root has no authorized key where sshd will look (AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2');
    expect(p[0]).toContain('passwords are disabled');
    expect(p[0]).toContain('/root/.ssh/authorized_keys2 (missing)');
    expect(lockoutProblems(settingsOf({}), facts({ files: [], authorizedKeysCommand: '/usr/bin/ldap-keys' }))).toEqual([]);
  });

  it('refuses when sshd_config does not read the drop-in folder at all', () => {
    expect(lockoutProblems(settingsOf({}), facts({ includesDropIns: false }))).toEqual([
      '/etc/ssh/sshd_config has no "Include /etc/ssh/sshd_config.d/*.conf" line, so sshd would ignore /etc/ssh/sshd_config.d/00-rigger-hardening.conf: add that line at the top of /etc/ssh/sshd_config (as Debian 12 ships it).',
    ]);
  });

  it('requires passwordless sudo for a non-root login user', () => {
    const p = lockoutProblems(settingsOf({}), facts({ user: 'deploy', sudo: 'fail' }));
    expect(p).toEqual([expect.stringContaining('the login user deploy cannot run "sudo -n true"')]);
  });

  it('checks AllowUsers / DenyUsers / AllowGroups / DenyGroups / AuthenticationMethods / PubkeyAuthentication', () => {
    const f = facts({ user: 'deploy', sudo: 'ok', groups: ['deploy', 'sudo'] });
    expect(lockoutProblems(settingsOf({ ssh_settings: { AllowUsers: 'admin' } }), f)[0]).toContain('AllowUsers "admin" does not include the login user deploy');
    expect(lockoutProblems(settingsOf({ ssh_settings: { AllowUsers: 'admin dep*@10.0.0.1' } }), f)).toEqual([]);
    expect(lockoutProblems(settingsOf({ ssh_settings: { DenyUsers: 'deploy' } }), f)[0]).toContain('DenyUsers');
    expect(lockoutProblems(settingsOf({ ssh_settings: { AllowGroups: 'admins' } }), f)[0]).toContain('AllowGroups "admins" does not include any group');
    expect(lockoutProblems(settingsOf({ ssh_settings: { AllowGroups: 'sudo' } }), f)).toEqual([]);
    expect(lockoutProblems(settingsOf({ ssh_settings: { DenyGroups: 'su*' } }), f)[0]).toContain('DenyGroups');
    expect(lockoutProblems(settingsOf({ ssh_settings: { AuthenticationMethods: 'publickey,password' } }), f)[0]).toContain('AuthenticationMethods');
    expect(lockoutProblems(settingsOf({ ssh_settings: { AuthenticationMethods: 'publickey,password publickey' } }), f)).toEqual([]);
    expect(lockoutProblems(settingsOf({ ssh_pubkey_authentication: false }), f)[0]).toContain('PubkeyAuthentication no');
  });

  it('usableKey ignores comments, junk and forced-command keys', () => {
    expect(usableKey(KEY)).toBe(true);
    expect(usableKey(`from="10.0.0.1",no-pty ${KEY}`)).toBe(true);
    expect(usableKey(`restrict,command="rsync --server" ${KEY}`)).toBe(false);
    expect(usableKey('# ssh-ed25519 AAAA')).toBe(false);
  });

  it('parses the guard probe output', () => {
    const g = parseGuardProbe(
      ['user=deploy', 'home=/home/deploy', 'uid=1000', 'groups=deploy sudo', 'akf=.ssh/authorized_keys', 'akc=none', 'file=/home/deploy/.ssh/authorized_keys', `key=${KEY}`, 'missing=/x', 'sudo=ok'].join('\n'),
    );
    expect(g).toMatchObject({ user: 'deploy', home: '/home/deploy', groups: ['deploy', 'sudo'], sudo: 'ok', missing: ['/x'] });
    expect(g.files).toEqual([{ path: '/home/deploy/.ssh/authorized_keys', lines: [KEY] }]);
    expect(parseGuardProbe('user=x\nnouser').exists).toBe(false);
  });
});

/**
 * The guard probe and the write script run for real with /bin/sh, with /etc/ssh
 * mapped into a temp dir and a fake `sshd` and `runuser` in PATH.
 */
describe('ssh-hardening: shell scripts, run locally', () => {
  let tmp: { dir: string; cleanup: () => void };
  let remote: LocalRemote;
  let etc: string;
  const dropIn = () => join(etc, 'sshd_config.d/00-rigger-hardening.conf');
  const prev = () => join(etc, 'sshd_config.d/.00-rigger-hardening.conf.rigger-prev');

  beforeEach(() => {
    tmp = tempDir('rigger-ssh-');
    etc = join(tmp.dir, 'etc/ssh');
    mkdirSync(join(etc, 'sshd_config.d'), { recursive: true });
    mkdirSync(join(tmp.dir, 'bin'));
    mkdirSync(join(tmp.dir, 'run'));
    // (the scripts' /etc/ssh paths are rewritten to the temp dir, so the Include names it too)
    writeFileSync(join(etc, 'sshd_config'), `Include ${etc}/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n`);
    // Fake sshd: "-t -f FILE" reads FILE plus what its Include lines name (in
    // order) into $FAKE_LOG, and rejects a "Ciphers ...bogus..." line like sshd
    // does; "-T" prints $FAKE_T.
    writeFileSync(
      join(tmp.dir, 'bin/sshd'),
      `#!/bin/sh
if [ "$1" = -T ]; then printf '%s\\n' "$FAKE_T"; exit 0; fi
[ "$1" = -t ] && [ "$2" = -f ] || exit 2
all="$3 $(awk 'tolower($1)=="include" {for (i = 2; i <= NF; i++) print $i}' "$3")"
cat $all > "$FAKE_LOG"
for f in $all; do
  n=$(grep -n '^Ciphers .*bogus' "$f" | cut -d: -f1)
  if [ -n "$n" ]; then echo "$f line $n: Bad SSH2 cipher spec 'bogus'." >&2; exit 255; fi
done
`,
    );
    writeFileSync(join(tmp.dir, 'bin/runuser'), '#!/bin/sh\n[ "$FAKE_SUDO" = ok ]\n');
    chmodSync(join(tmp.dir, 'bin/sshd'), 0o755);
    chmodSync(join(tmp.dir, 'bin/runuser'), 0o755);
    remote = new LocalRemote({
      env: { PATH: `${tmp.dir}/bin:${process.env.PATH}`, FAKE_LOG: join(tmp.dir, 'sshd-t.log'), FAKE_T: 'authorizedkeysfile .ssh/authorized_keys', FAKE_SUDO: 'ok' },
      rewrite: (s) => s.split('/etc/ssh/').join(`${etc}/`).split('/run/sshd').join(`${tmp.dir}/run/sshd`),
    });
  });
  afterEach(() => tmp.cleanup());

  const candidate = (extra = '') => renderDropIn(settingsOf({})) + extra;

  it('validates the candidate inside the full config, instead of the old drop-in, then installs it with a backup', async () => {
    writeFileSync(dropIn(), 'Ciphers bogus-old\n'); // the OLD drop-in would not pass: proves it is not what gets checked
    writeFileSync(join(etc, 'sshd_config.d/50-cloud-init.conf'), 'PasswordAuthentication yes\n');
    const r = hardeningDropIn(candidate());
    const ctx = makeCtx(remote);
    const change = await probeAndPlan(r, ctx);
    expect(change?.summary).toBe('content');
    await r.apply(change!, ctx);
    expect(readFileSync(dropIn(), 'utf8')).toBe(candidate());
    expect(readFileSync(prev(), 'utf8')).toBe('Ciphers bogus-old\n');
    const checked = readFileSync(join(tmp.dir, 'sshd-t.log'), 'utf8');
    expect(checked).toContain('PasswordAuthentication no'); // the candidate...
    expect(checked).toContain('PasswordAuthentication yes'); // ...plus the other drop-ins...
    expect(checked.indexOf('PasswordAuthentication no')).toBeLessThan(checked.indexOf('PasswordAuthentication yes')); // ...in sshd's order
    expect(checked).not.toContain('bogus-old');
    expect(checked).toContain('UsePAM yes'); // ...plus the main config
    expect(await probeAndPlan(r, ctx)).toBeNull();
    // no temp files left in the drop-in folder or /tmp
    expect(remote.runs.at(-1)!.result.code).toBe(0);
  });

  it('refuses a candidate sshd -t rejects and leaves the old drop-in in place', async () => {
    writeFileSync(dropIn(), 'MaxAuthTries 4\n');
    const r = hardeningDropIn(candidate('Ciphers aes128-ctr,bogus\n'));
    const ctx = makeCtx(remote);
    const change = await probeAndPlan(r, ctx);
    const err = await r.apply(change!, ctx).then(
      () => null,
      (e: Error) => new Error(e.message.split(`${etc}/`).join('/etc/ssh/')),
    );
    expect(err?.message).toContain(`sshd -t rejects the new ${DROPIN}, so it was not installed`);
    expect(err?.message).toContain("(new) /etc/ssh/sshd_config.d/00-rigger-hardening.conf line 25: Bad SSH2 cipher spec 'bogus'.");
    expect(readFileSync(dropIn(), 'utf8')).toBe('MaxAuthTries 4\n');
    expect(existsSync(prev())).toBe(false);
    expect(readFileSync(join(tmp.dir, 'sshd-t.log'), 'utf8')).toContain('bogus');
    expect(readdirSync(join(etc, 'sshd_config.d'))).toEqual(['00-rigger-hardening.conf']); // no temp file left
  });

  it('refuses when sshd_config does not include the drop-in folder', async () => {
    writeFileSync(join(etc, 'sshd_config'), 'UsePAM yes\n');
    const r = hardeningDropIn(candidate());
    const ctx = makeCtx(remote);
    await expect(r.apply((await probeAndPlan(r, ctx))!, ctx)).rejects.toThrow(/sshd_config has no 'Include .*\/sshd_config.d\/\*.conf' line: sshd would ignore/);
    expect(existsSync(dropIn())).toBe(false);
  });

  it('guard probe: expands AuthorizedKeysFile tokens and reads the key files', async () => {
    const keysDir = join(tmp.dir, 'keys');
    mkdirSync(keysDir);
    writeFileSync(join(keysDir, 'root'), `# comment\n\n${KEY}\n`);
    const settings = settingsOf({ ssh_settings: { AuthorizedKeysFile: `${keysDir}/%u ${keysDir}/%U.extra` } });
    const ctx = makeCtx(remote);
    expect(await probeAndPlan(lockoutGuard(settings, 'root'), ctx)).toBeNull();
    const [current] = await (await import('../../lib/engine/probe.js')).probeAll(remote, [lockoutGuard(settings, 'root').probe]);
    const g = parseGuardProbe(current.stdout);
    expect(g.files).toEqual([{ path: join(keysDir, 'root'), lines: [KEY] }]);
    expect(g.missing).toEqual([join(keysDir, '0.extra')]);
    writeFileSync(join(etc, 'sshd_config'), 'UsePAM yes\n');
    await expect(probeAndPlan(lockoutGuard(settings, 'root'), ctx)).rejects.toThrow(/has no "Include \/etc\/ssh\/sshd_config.d\/\*.conf" line/);
    writeFileSync(join(etc, 'sshd_config'), `include ${etc}/sshd_config.d/*.conf\n`);
    expect(await probeAndPlan(lockoutGuard(settings, 'root'), ctx)).toBeNull();
    writeFileSync(join(keysDir, 'root'), '# nothing\n');
    await expect(probeAndPlan(lockoutGuard(settings, 'root'), ctx)).rejects.toThrow(
      /refusing to change sshd on testhost: the new settings would lock rigger out; nothing was changed.\n {2}- the login user root has no authorized key/,
    );
  });

  it('guard probe: takes AuthorizedKeysFile from sshd -T when the settings leave it alone, and checks sudo for others', async () => {
    const keysDir = join(tmp.dir, 'keys');
    mkdirSync(keysDir);
    writeFileSync(join(keysDir, 'nobody'), `${KEY}\n`);
    const env = { FAKE_T: `authorizedkeysfile ${keysDir}/%u\nauthorizedkeyscommand none` };
    const rewrite = (sc: string) => sc.split('/etc/ssh/').join(`${etc}/`);
    remote = new LocalRemote({ env: { PATH: `${tmp.dir}/bin:${process.env.PATH}`, FAKE_SUDO: 'no', ...env }, rewrite });
    const ctx = makeCtx(remote);
    await expect(probeAndPlan(lockoutGuard(settingsOf({}), 'nobody'), ctx)).rejects.toThrow(/the login user nobody cannot run "sudo -n true"/);
    remote = new LocalRemote({ env: { PATH: `${tmp.dir}/bin:${process.env.PATH}`, FAKE_SUDO: 'ok', ...env }, rewrite });
    expect(await probeAndPlan(lockoutGuard(settingsOf({}), 'nobody'), makeCtx(remote))).toBeNull();
  });
});

describe('ssh-hardening: reload handler', () => {
  it('reloads ssh.service, then opens a new connection', async () => {
    const remote = new FakeRemote((s) => (s.includes('systemctl is-active') ? { stdout: 'ssh.service\n' } : undefined));
    const ctx = makeCtx(remote);
    await reloadSshdHandler().run(ctx);
    expect(remote.scripts[0]).toContain('systemctl reload ssh.service');
    expect(remote.scripts[0]).toMatch(/is-active --quiet ssh.service[\s\S]*is-active --quiet ssh.socket/);
    expect(remote.verifications).toBe(1);
    expect(remote.calls).toHaveLength(1);
  });

  it('with socket activation there is nothing to reload, but the new connection is still checked', async () => {
    const remote = new FakeRemote(() => ({ stdout: 'ssh.socket\n' }));
    await reloadSshdHandler().run(makeCtx(remote));
    expect(remote.verifications).toBe(1);
  });

  it('puts the previous drop-in back, reloads and fails when a new connection fails', async () => {
    const remote = new FakeRemote((s) => (s.includes(DROPIN_PREV) ? { stdout: 'restored\n' } : { stdout: 'ssh.service\n' }));
    let attempts = 0;
    remote.verifyNewConnection = async () => {
      remote.roundTrips++;
      if (++attempts <= 5) throw new Error('All configured authentication methods failed');
    };
    const err = await reloadSshdHandler({ retryDelaysMs: [0, 1, 1, 1, 1] })
      .run(makeCtx(remote))
      .then(
        () => null,
        (e: Error) => e,
      );
    expect(err?.message).toMatch(/a new SSH connection failed after the new .*00-rigger-hardening.conf was put in force \(ssh.service\): All configured authentication methods failed\. restored the previous .*, reloaded \(ssh.service\); new connections work again/);
    expect(attempts).toBe(6); // 5 tries with the new config, 1 after the rollback
    expect(remote.scripts[1]).toContain(`mv -f -- ${DROPIN_PREV} ${DROPIN}`);
    // the second reload may restart sshd
    expect(remote.scripts[2].split('\n')[0]).toBe('set -- 1');
    expect(remote.scripts[2]).toContain('systemctl reload ssh.service || systemctl restart ssh.service');
  });

  it('fails when no sshd can be found', async () => {
    const remote = new FakeRemote(() => ({ stdout: 'none\n' }));
    await expect(reloadSshdHandler().run(makeCtx(remote))).rejects.toThrow(/no running sshd to reload/);
  });
});
