// known_hosts lookup and recording, as OpenSSH understands the file:
// plain and hashed (|1|salt|hash) host fields, [host]:port entries, @revoked.
import { createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface KnownKey {
  type: string;
  blob: Buffer;
  revoked: boolean;
}

/** How OpenSSH names a host in known_hosts: bare name on port 22, else [name]:port. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return digest === hash;
  }
  let matched = false;
  for (const pattern of field.split(',')) {
    const negated = pattern.startsWith('!');
    const p = negated ? pattern.slice(1) : pattern;
    if (globMatch(p, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function globMatch(pattern: string, name: string): boolean {
  // host names match case-insensitively, as in OpenSSH (`name` is already lower case)
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === name;
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
  return re.test(name);
}

/** Keys recorded for `host`:`port` (empty when the host was never seen). */
export async function lookupKnownKeys(file: string, host: string, port: number): Promise<KnownKey[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e: any) {
    if (e.code === 'ENOENT') return [];
    throw e;
  }
  const name = knownHostsName(host.toLowerCase(), port);
  const keys: KnownKey[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0].startsWith('@')) {
      const marker = fields.shift();
      if (marker === '@cert-authority') continue; // certificates are not supported; ignore rather than mis-trust
      revoked = marker === '@revoked';
    }
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64 || !hostFieldMatches(hosts, name)) continue;
    keys.push({ type, blob: Buffer.from(b64, 'base64'), revoked });
  }
  return keys;
}

/** The key type name embedded at the start of an SSH public key blob. */
export function keyTypeOf(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

export async function recordKnownKey(file: string, host: string, port: number, blob: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  // A file whose last line lacks its newline would otherwise get our entry glued onto that line.
  const existing = await readFile(file).catch((e) => (e.code === 'ENOENT' ? Buffer.alloc(0) : Promise.reject(e)));
  const sep = existing.length && existing[existing.length - 1] !== 0x0a ? '\n' : '';
  await appendFile(file, `${sep}${knownHostsName(host, port)} ${keyTypeOf(blob)} ${blob.toString('base64')}\n`, { mode: 0o600 });
}

/** Host key algorithms to offer so the server presents a key type we know. */
export function hostKeyAlgorithmsFor(keys: KnownKey[]): string[] {
  const algs = new Set<string>();
  for (const k of keys) {
    if (k.revoked) continue;
    if (k.type === 'ssh-rsa') ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'].forEach((a) => algs.add(a));
    else algs.add(k.type);
  }
  return [...algs];
}

export type HostKeyVerdict = 'trusted' | 'unknown' | 'changed' | 'revoked';

export function judgeHostKey(known: KnownKey[], presented: Buffer): HostKeyVerdict {
  if (known.some((k) => k.revoked && k.blob.equals(presented))) return 'revoked';
  const trusted = known.filter((k) => !k.revoked);
  if (trusted.some((k) => k.blob.equals(presented))) return 'trusted';
  return trusted.length === 0 ? 'unknown' : 'changed';
}
