// What the role reads on the host about its runners, in one probe: config.toml
// (content and attributes), the credentials of runners registered but not yet
// written into config.toml (pending files), and the machines in
// docker-machine's store. Plus the script that writes a pending file.
//
// A pending file exists between a registration (the API resource) and the
// config.toml write (the config resource): GitLab shows a new token once, so
// it is on the host, 0600 beside config.toml, before anything else can fail.
import { createHash, randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { shq } from '../../lib/resources/shell.js';
import { registerSecretValue } from '../../lib/secrets.js';

export interface HostFile {
  /** null: no file */
  text: string | null;
  /** sha256 of the file's bytes, or "absent" */
  sha: string;
  stat?: { mode: string; owner: string; group: string };
}

/** Credentials GitLab issued for a runner, kept on the host until config.toml has them. */
export interface Pending {
  name: string;
  url: string;
  id: number;
  token: string;
  token_expires_at: string | null;
  /** when GitLab issued it (ISO) */
  obtained_at: string;
  /** the file on the host */
  file: string;
}

export interface RunnerFiles {
  config: HostFile;
  pending: Map<string, Pending>;
  /** machine names in docker-machine's store */
  machines: string[];
}

const PENDING_PREFIX = '.rigger-registered-';
export const pendingPath = (configPath: string, name: string) => `${dirname(configPath)}/${PENDING_PREFIX}${name}.json`;

/** The probe: config.toml, then the pending files, then the store's machine names. */
export function runnerFilesProbe(configPath: string, machineStore?: string): string {
  const p = shq(configPath);
  const dir = shq(dirname(configPath));
  return (
    `if [ -f ${p} ] && [ ! -L ${p} ]; then echo present; stat -c '%a|%U|%G' ${p}; base64 -w0 < ${p}; echo; ` +
    `elif [ -e ${p} ] || [ -L ${p} ]; then echo notfile; else echo absent; fi; ` +
    `echo '--- pending'; for f in ${dir}/${PENDING_PREFIX}*.json; do [ -f "$f" ] || continue; printf '%s\\t' "$f"; base64 -w0 < "$f"; echo; done; ` +
    `echo '--- machines'` +
    (machineStore ? `; ls -1 ${shq(`${machineStore}/machines`)} 2>/dev/null || true` : '')
  );
}

export function parseRunnerFiles(stdout: string, configPath: string): RunnerFiles {
  const [configPart, rest = ''] = stdout.split('--- pending\n');
  const [pendingPart = '', machinesPart = ''] = rest.split('--- machines\n');
  const pending = new Map<string, Pending>();
  for (const line of pendingPart.split('\n').filter(Boolean)) {
    const [file, b64 = ''] = line.split('\t');
    let p: Partial<Pending>;
    try {
      p = JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as Partial<Pending>;
    } catch {
      throw new Error(`${file} on the host is not valid JSON: it holds the credentials of a runner registered by an earlier run; fix or remove it`);
    }
    if (typeof p.token === 'string') registerSecretValue(p.token);
    if (typeof p.name !== 'string' || typeof p.url !== 'string' || typeof p.id !== 'number' || typeof p.token !== 'string' || typeof p.obtained_at !== 'string')
      throw new Error(`${file} on the host lacks name, url, id, token or obtained_at: it holds the credentials of a runner registered by an earlier run; fix or remove it`);
    pending.set(p.name, { name: p.name, url: p.url, id: p.id, token: p.token, token_expires_at: p.token_expires_at ?? null, obtained_at: p.obtained_at, file });
  }
  return { config: parseConfigFile(configPart, configPath), pending, machines: machinesPart.split('\n').map((s) => s.trim()).filter(Boolean) };
}

function parseConfigFile(stdout: string, path: string): HostFile {
  const [state, statLine, b64] = stdout.split('\n');
  if (state === 'absent') return { text: null, sha: 'absent' };
  if (state !== 'present') throw new Error(`${path} exists on the host but is not a regular file`);
  const [mode, owner, group] = (statLine ?? '').split('|');
  const bytes = Buffer.from((b64 ?? '').trim(), 'base64');
  return { text: bytes.toString('utf8'), sha: createHash('sha256').update(bytes).digest('hex'), stat: { mode, owner, group } };
}

/** Writes a pending file atomically, 0600 (its JSON on stdin). */
export function writePendingScript(configPath: string, name: string): string {
  const dir = shq(dirname(configPath));
  const tmp = shq(`${dirname(configPath)}/.rigger-${randomBytes(6).toString('hex')}.tmp`);
  return `set -e\numask 077\nmkdir -p ${dir}\ntrap 'rm -f ${tmp}' EXIT\ncat > ${tmp}\nsync ${tmp} 2>/dev/null || sync\nmv -f ${tmp} ${shq(pendingPath(configPath, name))}\ntrap - EXIT\n`;
}

/**
 * gitlab-runner names a docker+machine runner's machines
 * `runner-<short token>-<MachineName>`, lowercased. The short token is 9
 * characters after the token's prefix in current releases, and was 8 (or 9
 * after glrt-) in older ones: any of them marks a machine as this runner's.
 */
export function shortTokens(token: string): string[] {
  const stripped = token.replace(/^glrt-(t[123]_)?|^t[123]_|^glrtr-/, '').replace(/^glcbt-/, '').replace(/^GR[0-9A-Fa-f]{7}/, '');
  const current = stripped.slice(0, 9);
  let older: string;
  if (token.length < 8) older = token;
  else if (token.startsWith('glrt-')) older = token.slice(5, 14);
  else if (token.startsWith('glrtr-') || token.startsWith('glcbt-')) older = token.slice(6, 15);
  else if (/^GR[0-9A-Fa-f]{7}/.test(token) && token.length >= 17) older = token.slice(0, 17);
  else older = token.slice(0, 8);
  return [...new Set([current, older].filter(Boolean).map((s) => s.toLowerCase()))];
}

/** The machines of the store named after this token. */
export function machinesOf(token: string, machines: readonly string[]): string[] {
  const prefixes = shortTokens(token).map((s) => `runner-${s}-`);
  return machines.filter((m) => prefixes.some((p) => m.toLowerCase().startsWith(p)));
}
