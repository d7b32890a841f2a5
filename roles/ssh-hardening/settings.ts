// Pure logic of the ssh-hardening role: default settings, inventory overrides,
// the lockout rules and the comparison of `sshd -T` output with what we wrote.
// Nothing here touches a host, so all of it is unit-tested.
import { keyIdentity } from '../../lib/resources/index.js';

export const DROPIN = '/etc/ssh/sshd_config.d/00-rigger-hardening.conf';
/** Copy of the drop-in as it was before rigger's last write (absent: there was none). */
export const DROPIN_PREV = '/etc/ssh/sshd_config.d/.00-rigger-hardening.conf.rigger-prev';
export const MAIN_CONFIG = '/etc/ssh/sshd_config';
export const HANDLER = 'reload sshd';

/** Value of one sshd keyword as written in the drop-in (already formatted). */
export type Settings = Map<string, string>;

/**
 * Key exchanges by the OpenSSH version that introduced them (openssh-portable
 * kex.h / kex-names.c): Debian 11's 8.4 has no sntrup761 (it has only the
 * experimental sntrup4591761 of 8.0, withdrawn in 8.5, which we do not offer),
 * 8.5 added sntrup761x25519-sha512@openssh.com, 9.9 added mlkem768x25519-sha256.
 * An algorithm the host's sshd does not know makes `sshd -t` fail (and would
 * stop sshd), so the default list follows facts.opensshVersion.
 */
export const KEX_SINCE: ReadonlyArray<readonly [string, number]> = [
  ['mlkem768x25519-sha256', 9.9],
  ['sntrup761x25519-sha512@openssh.com', 8.5],
  ['curve25519-sha256', 7.4],
  ['curve25519-sha256@libssh.org', 6.5],
  // Large fixed MODP groups: not flagged by audits, kept last as a fallback for
  // clients without curve25519 (old Java or Go SSH libraries).
  ['diffie-hellman-group18-sha512', 7.3],
  ['diffie-hellman-group16-sha512', 7.3],
];

/** "9.2p1" -> 9.2, "10.0p2" -> 10.0, "8.4p1" -> 8.4; undefined when unknown. */
export function opensshRelease(version: string | undefined): number | undefined {
  const m = /^(\d+)\.(\d)/.exec(version ?? '');
  return m ? Number(m[1]) + Number(m[2]) / 10 : undefined;
}

/** The default key exchanges for a host's OpenSSH (unknown version: only those every OpenSSH >= 7.4 has). */
export function kexFor(opensshVersion: string | undefined): string[] {
  const v = opensshRelease(opensshVersion) ?? 7.4;
  return KEX_SINCE.filter(([, since]) => v >= since).map(([name]) => name);
}

/** The list for Debian 12 (OpenSSH 9.2), the schema's reference host. */
export const KEX_DEFAULT = kexFor('9.2p1');
export const CIPHERS_DEFAULT = [
  'chacha20-poly1305@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-gcm@openssh.com',
  'aes256-ctr',
  'aes192-ctr',
  'aes128-ctr',
];
export const MACS_DEFAULT = ['hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256-etm@openssh.com', 'umac-128-etm@openssh.com'];

/**
 * Host key types and the algorithms sshd offers for each. A client that has a
 * host's key of one type on file (rigger's own known_hosts, a Solr tunnel's
 * ~/.ssh/known_hosts) expects that type: if sshd stopped offering it, the
 * client would see an unknown key and refuse to connect. RSA keys are offered
 * with SHA-2 signatures only (as OpenSSH >= 8.8 does by default).
 */
export const HOST_KEY_TYPE_ALGORITHMS: Readonly<Record<string, readonly string[]>> = {
  'ssh-ed25519': ['ssh-ed25519', 'ssh-ed25519-cert-v01@openssh.com'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-512-cert-v01@openssh.com', 'rsa-sha2-256', 'rsa-sha2-256-cert-v01@openssh.com'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256-cert-v01@openssh.com'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384-cert-v01@openssh.com'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp521-cert-v01@openssh.com'],
};
/**
 * Default of ssh_host_key_types: the types Debian's openssh-server generates
 * (ed25519, RSA, ECDSA P-256). Nothing is dropped unless the inventory says
 * which types clients have on file: audits flag ECDSA, but a tunnel that stops
 * connecting is worse. Drop ecdsa only after checking every client.
 */
export const HOST_KEY_TYPES_DEFAULT = ['ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256'];

export function hostKeyAlgorithmsFor(types: readonly string[]): string[] {
  // Strongest first, whatever order the types were listed in.
  return Object.keys(HOST_KEY_TYPE_ALGORITHMS)
    .filter((t) => types.includes(t))
    .flatMap((t) => HOST_KEY_TYPE_ALGORITHMS[t]);
}
export const HOST_KEY_ALGORITHMS_DEFAULT = hostKeyAlgorithmsFor(HOST_KEY_TYPES_DEFAULT);

/** The hardening defaults, in the order they are written. */
export const DEFAULT_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['PasswordAuthentication', 'no'],
  // With PAM on, keyboard-interactive would still ask for a password.
  ['KbdInteractiveAuthentication', 'no'],
  ['PermitRootLogin', 'prohibit-password'],
  ['PubkeyAuthentication', 'yes'],
  // Not lower: an agent offering several keys would use up the tries (see ssh.md).
  ['MaxAuthTries', '4'],
  ['LoginGraceTime', '30'],
  ['X11Forwarding', 'no'],
  ['AllowAgentForwarding', 'no'],
  ['AllowTcpForwarding', 'no'],
  ['PermitUserEnvironment', 'no'],
  ['ClientAliveInterval', '300'],
  ['ClientAliveCountMax', '2'],
  ['LogLevel', 'VERBOSE'],
  ['KexAlgorithms', KEX_DEFAULT.join(',')],
  ['Ciphers', CIPHERS_DEFAULT.join(',')],
  ['MACs', MACS_DEFAULT.join(',')],
  ['HostKeyAlgorithms', HOST_KEY_ALGORITHMS_DEFAULT.join(',')],
];

type Kind = 'yesno' | 'int' | 'time' | 'list' | 'enum' | 'words';

interface VarSpec {
  keyword: string;
  kind: Kind;
  values?: string[];
  min?: number;
}

/** One inventory var per default setting (`ssh_settings` covers every other keyword). */
export const SETTING_VARS: Record<string, VarSpec> = {
  ssh_password_authentication: { keyword: 'PasswordAuthentication', kind: 'yesno' },
  ssh_kbd_interactive_authentication: { keyword: 'KbdInteractiveAuthentication', kind: 'yesno' },
  ssh_permit_root_login: { keyword: 'PermitRootLogin', kind: 'enum', values: ['prohibit-password', 'no'] },
  ssh_pubkey_authentication: { keyword: 'PubkeyAuthentication', kind: 'yesno' },
  ssh_max_auth_tries: { keyword: 'MaxAuthTries', kind: 'int', min: 3 },
  ssh_login_grace_time: { keyword: 'LoginGraceTime', kind: 'time' },
  ssh_x11_forwarding: { keyword: 'X11Forwarding', kind: 'yesno' },
  ssh_allow_agent_forwarding: { keyword: 'AllowAgentForwarding', kind: 'yesno' },
  // Per host: "local" where clients reach a local-only service through `ssh -L` tunnels (dolos's Solr).
  ssh_allow_tcp_forwarding: { keyword: 'AllowTcpForwarding', kind: 'enum', values: ['yes', 'no', 'all', 'local', 'remote'] },
  ssh_permit_user_environment: { keyword: 'PermitUserEnvironment', kind: 'yesno' },
  ssh_client_alive_interval: { keyword: 'ClientAliveInterval', kind: 'time' },
  ssh_client_alive_count_max: { keyword: 'ClientAliveCountMax', kind: 'int', min: 0 },
  ssh_log_level: { keyword: 'LogLevel', kind: 'enum', values: ['QUIET', 'FATAL', 'ERROR', 'INFO', 'VERBOSE', 'DEBUG', 'DEBUG1', 'DEBUG2', 'DEBUG3'] },
  ssh_kex_algorithms: { keyword: 'KexAlgorithms', kind: 'list' },
  ssh_ciphers: { keyword: 'Ciphers', kind: 'list' },
  ssh_macs: { keyword: 'MACs', kind: 'list' },
  ssh_host_key_algorithms: { keyword: 'HostKeyAlgorithms', kind: 'list' },
};

/** Rules for keywords that may also come through `ssh_settings`. */
const KEYWORD_RULES: Record<string, VarSpec> = {
  ...Object.fromEntries(Object.values(SETTING_VARS).map((s) => [s.keyword.toLowerCase(), s])),
  permitrootlogin: SETTING_VARS.ssh_permit_root_login,
  pubkeyacceptedalgorithms: { keyword: 'PubkeyAcceptedAlgorithms', kind: 'list' },
  casignaturealgorithms: { keyword: 'CASignatureAlgorithms', kind: 'list' },
  hostbasedacceptedalgorithms: { keyword: 'HostbasedAcceptedAlgorithms', kind: 'list' },
  usepam: { keyword: 'UsePAM', kind: 'yesno' },
  permitemptypasswords: { keyword: 'PermitEmptyPasswords', kind: 'yesno' },
  hostbasedauthentication: { keyword: 'HostbasedAuthentication', kind: 'yesno' },
  ignorerhosts: { keyword: 'IgnoreRhosts', kind: 'yesno' },
  permittunnel: { keyword: 'PermitTunnel', kind: 'enum', values: ['yes', 'no', 'point-to-point', 'ethernet'] },
  gatewayports: { keyword: 'GatewayPorts', kind: 'enum', values: ['yes', 'no', 'clientspecified'] },
  allowstreamlocalforwarding: { keyword: 'AllowStreamLocalForwarding', kind: 'enum', values: ['yes', 'no', 'all', 'local', 'remote'] },
  maxsessions: { keyword: 'MaxSessions', kind: 'int', min: 1 },
  allowusers: { keyword: 'AllowUsers', kind: 'words' },
  allowgroups: { keyword: 'AllowGroups', kind: 'words' },
  denyusers: { keyword: 'DenyUsers', kind: 'words' },
  denygroups: { keyword: 'DenyGroups', kind: 'words' },
  authorizedkeysfile: { keyword: 'AuthorizedKeysFile', kind: 'words' },
  authenticationmethods: { keyword: 'AuthenticationMethods', kind: 'words' },
  acceptenv: { keyword: 'AcceptEnv', kind: 'words' },
  // Old spelling of KbdInteractiveAuthentication: one setting, one name.
  challengeresponseauthentication: { keyword: 'KbdInteractiveAuthentication', kind: 'yesno' },
};

/** Keywords that change the structure of the file; a flat settings map cannot express them safely. */
const REFUSED_KEYWORDS = new Set(['match', 'include']);

const LIST_ITEM = /^[A-Za-z0-9@._-]+$/;

export interface SettingsProblem {
  path: (string | number)[];
  message: string;
}

export interface ResolvedSettings {
  settings: Settings;
  problems: SettingsProblem[];
}

function kindName(k: Kind): string {
  return { yesno: 'yes or no (or a boolean)', int: 'an integer', time: 'a time like 30, 30s, 5m', list: 'a list of names', enum: '', words: 'a string or list of strings' }[k];
}

/** sshd time format: 90, 90s, 5m, 1h30m -> seconds (null when malformed). */
export function sshdSeconds(v: string): number | null {
  if (/^\d+$/.test(v)) return Number(v);
  const re = /(\d+)([sSmMhHdDwW])/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  const mult: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  while ((m = re.exec(v))) {
    total += Number(m[1]) * mult[m[2].toLowerCase()];
    end = re.lastIndex;
  }
  return end === v.length && v.length > 0 ? total : null;
}

/** Format and check one value; returns [value, error]. */
export function formatValue(spec: VarSpec | undefined, keyword: string, raw: unknown): [string | null, string | null] {
  const kind = spec?.kind;
  if (raw === null) return [null, null];
  if (Array.isArray(raw)) {
    if (raw.length === 0) return [null, `${keyword}: an empty list is not a value (use null to leave the setting out)`];
    if (!raw.every((x) => typeof x === 'string' || typeof x === 'number')) return [null, `${keyword}: list items must be strings`];
    const items = raw.map(String);
    if (kind === 'list') {
      const bad = items.find((x) => !LIST_ITEM.test(x));
      if (bad !== undefined) return [null, `${keyword}: ${JSON.stringify(bad)} is not an algorithm name`];
      return [items.join(','), null];
    }
    if (kind && kind !== 'words') return [null, `${keyword}: expected ${kindName(kind) || `one of ${spec!.values!.join(', ')}`}, got a list`];
    const bad = items.find((x) => /\s/.test(x) || x === '');
    if (bad !== undefined) return [null, `${keyword}: list item ${JSON.stringify(bad)} is empty or contains whitespace`];
    return [items.join(' '), null];
  }
  let v: string;
  if (typeof raw === 'boolean') {
    if (kind && kind !== 'yesno' && !(kind === 'enum' && spec!.values!.includes('yes'))) return [null, `${keyword}: expected ${kindName(kind) || `one of ${spec!.values!.join(', ')}`}, got ${raw}`];
    v = raw ? 'yes' : 'no';
  } else if (typeof raw === 'number') {
    if (!Number.isInteger(raw) || raw < 0) return [null, `${keyword}: ${raw} is not a non-negative integer`];
    v = String(raw);
  } else if (typeof raw === 'string') {
    v = raw.trim();
  } else {
    return [null, `${keyword}: unsupported value ${JSON.stringify(raw)}`];
  }
  if (v === '') return [null, `${keyword}: empty value (use null to leave the setting out)`];
  if (/[\r\n]/.test(v)) return [null, `${keyword}: value contains a newline`];
  if (v.includes('#')) return [null, `${keyword}: value contains "#", which sshd would read as a comment`];
  switch (kind) {
    case 'yesno':
      if (v !== 'yes' && v !== 'no') return [null, `${keyword}: expected yes or no, got ${JSON.stringify(v)}`];
      break;
    case 'int': {
      if (!/^\d+$/.test(v)) return [null, `${keyword}: expected an integer, got ${JSON.stringify(v)}`];
      if (spec!.min !== undefined && Number(v) < spec!.min)
        return [
          null,
          keyword === 'MaxAuthTries'
            ? `MaxAuthTries ${v} is too low: an SSH agent offering several keys uses up the tries before the right key is tried (lockout). Use 3 or more (default 4).`
            : `${keyword}: must be at least ${spec!.min}, got ${v}`,
        ];
      break;
    }
    case 'time':
      if (sshdSeconds(v) === null) return [null, `${keyword}: expected a time like 30, 30s or 5m, got ${JSON.stringify(v)}`];
      break;
    case 'enum': {
      const normal = keyword === 'PermitRootLogin' && v === 'without-password' ? 'prohibit-password' : v;
      const match = spec!.values!.find((x) => x.toLowerCase() === normal.toLowerCase());
      if (!match)
        return [
          null,
          keyword === 'PermitRootLogin'
            ? `PermitRootLogin must be "prohibit-password" or "no", got ${JSON.stringify(v)} (this role never allows root passwords)`
            : `${keyword}: expected one of ${spec!.values!.join(', ')}, got ${JSON.stringify(v)}`,
        ];
      v = match;
      break;
    }
    case 'list': {
      const items = v.split(',');
      const body = /^[+\-^]/.test(v) ? [items[0].slice(1), ...items.slice(1)] : items;
      const bad = body.find((x) => !LIST_ITEM.test(x));
      if (bad !== undefined) return [null, `${keyword}: ${JSON.stringify(bad)} is not an algorithm name (expected a comma-separated list without spaces)`];
      break;
    }
  }
  return [v, null];
}

/**
 * The settings the drop-in will contain: defaults, then `ssh_settings` (any sshd
 * keyword, null removes a default), then the typed `ssh_*` vars. A keyword set
 * both ways to different values is an error rather than a silent precedence rule.
 */
export function resolveSettings(vars: Record<string, unknown>, host: HostFacts = {}): ResolvedSettings {
  const problems: SettingsProblem[] = [];
  const settings: Settings = new Map(DEFAULT_SETTINGS.map(([k, v]) => [k, v]));
  if (host.opensshVersion !== undefined) settings.set('KexAlgorithms', kexFor(host.opensshVersion).join(','));
  const keptTypes = hostKeyTypes(vars.ssh_host_key_types, problems);
  settings.set('HostKeyAlgorithms', hostKeyAlgorithmsFor(keptTypes).join(','));
  const canonical = (k: string) => KEYWORD_RULES[k.toLowerCase()]?.keyword ?? [...settings.keys()].find((x) => x.toLowerCase() === k.toLowerCase()) ?? k;
  const fromMap = new Map<string, string | null>();
  const map = vars.ssh_settings ?? {};
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    problems.push({ path: ['ssh_settings'], message: 'expected a table of sshd keywords, e.g. { MaxSessions = 4 }' });
  } else {
    for (const [key, raw] of Object.entries(map as Record<string, unknown>)) {
      if (!/^[A-Za-z][A-Za-z0-9]*$/.test(key)) {
        problems.push({ path: ['ssh_settings', key], message: `${JSON.stringify(key)} is not an sshd keyword` });
        continue;
      }
      if (REFUSED_KEYWORDS.has(key.toLowerCase())) {
        problems.push({ path: ['ssh_settings', key], message: `${key} cannot be set through ssh_settings (it changes the structure of sshd_config)` });
        continue;
      }
      const keyword = canonical(key);
      if (fromMap.has(keyword)) {
        problems.push({ path: ['ssh_settings', key], message: `${keyword} is set twice in ssh_settings (keywords are case-insensitive)` });
        continue;
      }
      const [v, err] = formatValue(KEYWORD_RULES[keyword.toLowerCase()], keyword, raw);
      if (err) problems.push({ path: ['ssh_settings', key], message: err });
      else fromMap.set(keyword, v);
    }
  }
  for (const [keyword, v] of fromMap) {
    if (v === null) settings.delete(keyword);
    else settings.set(keyword, v);
  }
  for (const [name, spec] of Object.entries(SETTING_VARS)) {
    const raw = vars[name];
    if (raw === undefined) continue;
    const [v, err] = formatValue(spec, spec.keyword, raw);
    if (err) {
      problems.push({ path: [name], message: err });
      continue;
    }
    if (fromMap.has(spec.keyword) && fromMap.get(spec.keyword) !== v) {
      problems.push({ path: [name], message: `${name} = ${JSON.stringify(raw)} disagrees with ssh_settings.${spec.keyword} = ${JSON.stringify(fromMap.get(spec.keyword))}; set it in one place` });
      continue;
    }
    if (v === null) settings.delete(spec.keyword);
    else settings.set(spec.keyword, v);
  }
  problems.push(...hostKeyProblems(settings, keptTypes, vars), ...kexProblems(settings, host.opensshVersion, vars));
  return { settings, problems };
}

/** What resolveSettings needs to know about the host (from facts, once connected). */
export interface HostFacts {
  /** facts.opensshVersion, e.g. "9.2p1" ("" when unknown) */
  opensshVersion?: string;
}

/** ssh_host_key_types: the host key types clients have on file, default every type Debian generates. */
function hostKeyTypes(raw: unknown, problems: SettingsProblem[]): string[] {
  if (raw === undefined || raw === null) return [...HOST_KEY_TYPES_DEFAULT];
  const known = Object.keys(HOST_KEY_TYPE_ALGORITHMS);
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((t) => typeof t === 'string')) {
    problems.push({ path: ['ssh_host_key_types'], message: `expected a non-empty list of host key types (${known.join(', ')})` });
    return [...HOST_KEY_TYPES_DEFAULT];
  }
  const bad = raw.filter((t) => !known.includes(t));
  if (bad.length) problems.push({ path: ['ssh_host_key_types'], message: `unknown host key type ${bad.map((b) => JSON.stringify(b)).join(', ')}; expected some of ${known.join(', ')}` });
  return raw.filter((t) => known.includes(t));
}

/** Where a keyword was set explicitly (for the problem's key path). */
function pathOf(keyword: string, varName: string, vars: Record<string, unknown>): (string | number)[] {
  if (vars[varName] !== undefined) return [varName];
  const map = vars.ssh_settings;
  const key = map && typeof map === 'object' ? Object.keys(map).find((k) => k.toLowerCase() === keyword.toLowerCase()) : undefined;
  return key ? ['ssh_settings', key] : [varName];
}

/** HostKeyAlgorithms must offer every host key type clients have on file. */
function hostKeyProblems(settings: Settings, kept: string[], vars: Record<string, unknown>): SettingsProblem[] {
  const value = settings.get('HostKeyAlgorithms');
  if (value === undefined || /^[+\-^]/.test(value)) return []; // sshd's own default, or an edit of it: offers them all
  const offered = new Set(value.split(','));
  const dropped = kept.filter((t) => !HOST_KEY_TYPE_ALGORITHMS[t].some((a) => offered.has(a)));
  if (!dropped.length) return [];
  return [
    {
      path: pathOf('HostKeyAlgorithms', 'ssh_host_key_algorithms', vars),
      message:
        `HostKeyAlgorithms would stop offering ${dropped.join(', ')} host keys, which clients have on file (ssh_host_key_types; rigger's own known_hosts included): ` +
        `add ${dropped.map((t) => HOST_KEY_TYPE_ALGORITHMS[t][0]).join(', ')}, or remove the type from ssh_host_key_types once no client has such a key of this host on file`,
    },
  ];
}

/** Explicit KexAlgorithms the host's OpenSSH does not have (sshd -t would refuse them). */
function kexProblems(settings: Settings, version: string | undefined, vars: Record<string, unknown>): SettingsProblem[] {
  const v = opensshRelease(version);
  const value = settings.get('KexAlgorithms');
  if (v === undefined || value === undefined) return [];
  const names = value.replace(/^[+\-^]/, '').split(',');
  const missing = names.filter((n) => {
    const since = KEX_SINCE.find(([k]) => k === n)?.[1];
    return since !== undefined && v < since;
  });
  return missing.length
    ? [{ path: pathOf('KexAlgorithms', 'ssh_kex_algorithms', vars), message: `KexAlgorithms ${missing.join(', ')}: not in OpenSSH ${version} on this host (sshd -t would refuse it); leave the setting out to get the list for this version` }]
    : [];
}

// ---------------------------------------------------------------- sshd -T

/** `sshd -T` output -> lowercase keyword -> values (one per line it appeared on). */
export function parseSshdT(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = line.trim().match(/^([a-z0-9]+)\s+(.*)$/i);
    if (!m) continue;
    const k = m[1].toLowerCase();
    if (!out.has(k)) out.set(k, []);
    out.get(k)!.push(m[2].trim());
  }
  return out;
}

/** How sshd -T names keywords whose config spelling differs. */
const T_NAMES: Record<string, string> = {
  challengeresponseauthentication: 'kbdinteractiveauthentication',
  pubkeyacceptedkeytypes: 'pubkeyacceptedalgorithms',
  hostbasedacceptedkeytypes: 'hostbasedacceptedalgorithms',
};

const TIME_KEYWORDS = new Set(['logingracetime', 'clientaliveinterval']);

function normalise(keyword: string, value: string): string {
  let v = value.trim().replace(/\s+/g, ' ');
  if (TIME_KEYWORDS.has(keyword)) {
    const s = sshdSeconds(v);
    if (s !== null) v = String(s);
  }
  // sshd -T prints prohibit-password under its old name.
  if (keyword === 'permitrootlogin' && v === 'without-password') v = 'prohibit-password';
  return v.toLowerCase();
}

export interface Mismatch {
  keyword: string;
  want: string;
  have: string | null;
}

export interface Comparison {
  mismatches: Mismatch[];
  /** settings sshd -T does not show (deprecated keywords) or that cannot be compared (+/-/^ lists) */
  unverified: string[];
}

/** Compare the settings we wrote with the effective configuration. */
export function compareEffective(settings: Settings, sshdT: string): Comparison {
  const have = parseSshdT(sshdT);
  const mismatches: Mismatch[] = [];
  const unverified: string[] = [];
  for (const [keyword, want] of settings) {
    const k = T_NAMES[keyword.toLowerCase()] ?? keyword.toLowerCase();
    const rule = KEYWORD_RULES[keyword.toLowerCase()];
    if (rule?.kind === 'list' && /^[+\-^]/.test(want)) {
      unverified.push(keyword);
      continue;
    }
    const values = have.get(k);
    if (!values) {
      unverified.push(keyword);
      continue;
    }
    const got = values.join(' ');
    if (normalise(k, got) !== normalise(k, want)) mismatches.push({ keyword, want, have: got });
  }
  return { mismatches, unverified };
}

/** The name sshd -T prints for a keyword. */
export function tName(keyword: string): string {
  const k = keyword.toLowerCase();
  return T_NAMES[k] ?? k;
}

export function describeMismatches(mismatches: Mismatch[], culprits: Map<string, string[]> = new Map()): string {
  return mismatches
    .map((m) => {
      const where = culprits.get(tName(m.keyword));
      return `  ${m.keyword}: in force "${m.have ?? '(not shown)'}", wanted "${m.want}"${where?.length ? `; also set at ${where.join(', ')}` : ''}`;
    })
    .join('\n');
}

/** `grep -n` output ("file:line:text") over the config files -> sshd -T name -> places other than our drop-in that set it. */
export function parseCulprits(grepOutput: string, keywords: string[]): Map<string, string[]> {
  const wanted = new Set(keywords.map(tName));
  const out = new Map<string, string[]>();
  for (const line of grepOutput.split('\n')) {
    const m = line.match(/^([^:]+):(\d+):\s*([A-Za-z0-9]+)(?:\s*=\s*|\s+)(.*)$/);
    if (!m || m[1] === DROPIN) continue;
    const key = tName(m[3]);
    if (!wanted.has(key)) continue;
    if (!out.has(key)) out.set(key, []);
    out.get(key)!.push(`${m[1]}:${m[2]} (${m[3]} ${m[4].trim()})`);
  }
  return out;
}

// ---------------------------------------------------------------- lockout guard

export interface GuardFacts {
  user: string;
  exists: boolean;
  home: string;
  uid: string;
  groups: string[];
  /** AuthorizedKeysFile in force after the change (tokens as configured) */
  authorizedKeysFile: string;
  authorizedKeysCommand: string;
  /** expanded key files that exist, with their non-comment lines */
  files: Array<{ path: string; lines: string[] }>;
  missing: string[];
  /** null for root (not checked) */
  sudo: 'ok' | 'fail' | null;
  sshdError: string | null;
  /** sshd_config includes sshd_config.d/*.conf (else the drop-in would be ignored) */
  includesDropIns: boolean;
}

/** Parse the guard probe (see resources.ts). */
export function parseGuardProbe(stdout: string): GuardFacts {
  const g: GuardFacts = {
    user: '',
    exists: true,
    home: '',
    uid: '',
    groups: [],
    authorizedKeysFile: '',
    authorizedKeysCommand: 'none',
    files: [],
    missing: [],
    sudo: null,
    sshdError: null,
    includesDropIns: true,
  };
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (line === 'nouser') g.exists = false;
    if (i < 0) continue;
    const k = line.slice(0, i);
    const v = line.slice(i + 1);
    switch (k) {
      case 'user':
        g.user = v;
        break;
      case 'home':
        g.home = v;
        break;
      case 'uid':
        g.uid = v;
        break;
      case 'groups':
        g.groups = v.split(/\s+/).filter(Boolean);
        break;
      case 'akf':
        g.authorizedKeysFile = v;
        break;
      case 'akc':
        g.authorizedKeysCommand = v || 'none';
        break;
      case 'file':
        g.files.push({ path: v, lines: [] });
        break;
      case 'key':
        g.files[g.files.length - 1]?.lines.push(v);
        break;
      case 'missing':
        g.missing.push(v);
        break;
      case 'sudo':
        g.sudo = v === 'ok' ? 'ok' : 'fail';
        break;
      case 'include':
        g.includesDropIns = v !== 'no';
        break;
      case 'sshderr':
        g.sshdError = (g.sshdError ? g.sshdError + '\n' : '') + v;
        break;
    }
  }
  return g;
}

/** A key line rigger could log in with: a public key without a forced command. */
export function usableKey(line: string): boolean {
  const id = keyIdentity(line);
  if (!id) return false;
  const options = line.slice(0, line.indexOf(id.split(' ')[0])).trim();
  return !/(^|,)\s*command=/i.test(options);
}

/** sshd pattern (`*`, `?`, `!neg`) match of one name against a pattern list item. */
function patternMatch(pattern: string, name: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  return re.test(name);
}

/**
 * Why the new settings would lock rigger out of this host (empty: safe).
 * Every message says what to fix.
 */
export function lockoutProblems(settings: Settings, g: GuardFacts): string[] {
  const out: string[] = [];
  const get = (k: string) => settings.get(k)?.toLowerCase();
  const u = g.user;
  if (!g.exists) return [`the login user ${u} does not exist on the host (facts are inconsistent); refusing to change sshd`];
  if (g.sshdError) return [`sshd -T fails with the current configuration, so the lockout guard cannot check it: ${g.sshdError}`];
  if (!g.includesDropIns)
    out.push(`${MAIN_CONFIG} has no "Include /etc/ssh/sshd_config.d/*.conf" line, so sshd would ignore ${DROPIN}: add that line at the top of ${MAIN_CONFIG} (as Debian 12 ships it).`);
  if (u === 'root' && get('PermitRootLogin') === 'no')
    out.push(
      `PermitRootLogin no would lock rigger out: it logs in to this host as root. First add an admin user with a key and sudo ` +
        `(role common, admin_users), set user = "<that admin>" for this host in the inventory, run once, then set ssh_permit_root_login = "no".`,
    );
  if (get('PubkeyAuthentication') === 'no') out.push(`PubkeyAuthentication no would lock rigger out: it logs in with a key. Keep ssh_pubkey_authentication = true.`);
  const methods = settings.get('AuthenticationMethods');
  if (methods && methods !== 'any' && !methods.split(/\s+/).some((m) => m === 'publickey'))
    out.push(`AuthenticationMethods "${methods}" has no list that is "publickey" alone, so rigger (key only) could not log in. Add "publickey" as one of the lists.`);
  const words = (k: string) => settings.get(k)?.split(/\s+/).filter(Boolean);
  const userPart = (p: string) => (p.includes('@') ? p.slice(0, p.indexOf('@')) : p);
  const allowUsers = words('AllowUsers');
  if (allowUsers && !allowUsers.some((p) => !p.startsWith('!') && patternMatch(userPart(p), u)))
    out.push(`AllowUsers "${allowUsers.join(' ')}" does not include the login user ${u}: add it, or rigger is locked out.`);
  const denyUsers = words('DenyUsers');
  if (denyUsers?.some((p) => !p.includes('@') && patternMatch(p, u))) out.push(`DenyUsers "${denyUsers.join(' ')}" matches the login user ${u}: remove it from the list.`);
  const allowGroups = words('AllowGroups');
  if (allowGroups && !allowGroups.some((p) => !p.startsWith('!') && g.groups.some((gr) => patternMatch(p, gr))))
    out.push(`AllowGroups "${allowGroups.join(' ')}" does not include any group of the login user ${u} (${g.groups.join(', ') || 'none'}): add one of them.`);
  const denyGroups = words('DenyGroups');
  if (denyGroups?.some((p) => g.groups.some((gr) => patternMatch(p, gr))))
    out.push(`DenyGroups "${denyGroups.join(' ')}" matches a group of the login user ${u}: remove it from the list.`);

  const keys = g.files.reduce((n, f) => n + f.lines.filter(usableKey).length, 0);
  if (keys === 0 && (g.authorizedKeysCommand === 'none' || g.authorizedKeysCommand === '')) {
    const looked = [...g.files.map((f) => `${f.path} (no usable key)`), ...g.missing.map((m) => `${m} (missing)`)];
    const passwords = get('PasswordAuthentication') === 'no' ? 'passwords are disabled, so ' : '';
    out.push(
      `the login user ${u} has no authorized key where sshd will look (AuthorizedKeysFile ${g.authorizedKeysFile || '(none)'}: ` +
        `${looked.join(', ') || 'no file'}); ${passwords}rigger would be locked out. Put the public key of the inventory's private_key for ${u} ` +
        `into ${g.missing[0] ?? g.files[0]?.path ?? `${g.home}/.ssh/authorized_keys`} first (e.g. role common, admin_users keys) and run again.`,
    );
  }
  if (u !== 'root' && g.sudo !== 'ok')
    out.push(`the login user ${u} cannot run "sudo -n true": rigger needs passwordless sudo for it. Add "${u} ALL=(ALL:ALL) NOPASSWD: ALL" in /etc/sudoers.d/ (role common does this for admin_users with sudo = true).`);
  return out;
}
