import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostKeyAlgorithmsFor, judgeHostKey, keyTypeOf, knownHostsName, lookupKnownKeys, recordKnownKey, type KnownKey } from '../../lib/transport/knownHosts.js';
import { tempDir } from './helpers/localRemote.js';

/** An SSH public key blob: string type, then key material (enough for matching). */
function blob(type: string, seed = randomBytes(32)): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  const kl = Buffer.alloc(4);
  kl.writeUInt32BE(seed.length);
  return Buffer.concat([len, t, kl, seed]);
}
const b64 = (b: Buffer) => b.toString('base64');
const hashed = (name: string, salt = randomBytes(20)) => `|1|${b64(salt)}|${createHmac('sha1', salt).update(name).digest('base64')}`;

const ED = blob('ssh-ed25519');
const ED_OTHER = blob('ssh-ed25519');
const ECDSA = blob('ecdsa-sha2-nistp256');
const RSA = blob('ssh-rsa');

describe('knownHostsName', () => {
  it('is the bare name on port 22 and [name]:port otherwise', () => {
    expect(knownHostsName('mania.example.org', 22)).toBe('mania.example.org');
    expect(knownHostsName('eros.example.org', 2222)).toBe('[eros.example.org]:2222');
    expect(knownHostsName('2001:db8::1', 2222)).toBe('[2001:db8::1]:2222');
  });
});

describe('keyTypeOf', () => {
  it('reads the type string at the start of a key blob', () => {
    expect(keyTypeOf(ED)).toBe('ssh-ed25519');
    expect(keyTypeOf(ECDSA)).toBe('ecdsa-sha2-nistp256');
    expect(keyTypeOf(RSA)).toBe('ssh-rsa');
  });
});

describe('lookupKnownKeys', () => {
  let dir: string;
  let cleanup: () => void;
  let kh: string;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    kh = join(dir, 'known_hosts');
  });
  afterEach(() => cleanup());
  const write = (lines: string[]) => writeFileSync(kh, lines.join('\n') + '\n');
  const blobs = (keys: KnownKey[]) => keys.map((k) => b64(k.blob));

  it('returns nothing for a missing file', async () => {
    expect(await lookupKnownKeys(join(dir, 'nope'), 'mania', 22)).toEqual([]);
  });

  it('matches plain entries, comma lists and several keys per host, skipping comments and blanks', async () => {
    write([
      '# managed by hand',
      '',
      `mania.example.org,203.0.113.7 ssh-ed25519 ${b64(ED)}`,
      `mania.example.org ecdsa-sha2-nistp256 ${b64(ECDSA)} root@mania`,
      `eros.example.org ssh-ed25519 ${b64(ED_OTHER)}`,
    ]);
    const keys = await lookupKnownKeys(kh, 'mania.example.org', 22);
    expect(keys).toEqual([
      { type: 'ssh-ed25519', blob: ED, revoked: false },
      { type: 'ecdsa-sha2-nistp256', blob: ECDSA, revoked: false },
    ]);
    expect(blobs(await lookupKnownKeys(kh, '203.0.113.7', 22))).toEqual([b64(ED)]);
    expect(await lookupKnownKeys(kh, 'mania', 22)).toEqual([]);
  });

  it('keeps ports apart: [host]:port entries only match that port, bare ones only port 22', async () => {
    write([`[eros.example.org]:2222 ssh-ed25519 ${b64(ED)}`, `eros.example.org ssh-ed25519 ${b64(ED_OTHER)}`]);
    expect(blobs(await lookupKnownKeys(kh, 'eros.example.org', 2222))).toEqual([b64(ED)]);
    expect(blobs(await lookupKnownKeys(kh, 'eros.example.org', 22))).toEqual([b64(ED_OTHER)]);
    expect(await lookupKnownKeys(kh, 'eros.example.org', 2223)).toEqual([]);
  });

  it('matches wildcards and honours negation', async () => {
    write([`!bad.example.org,*.example.org ssh-ed25519 ${b64(ED)}`, `web?.example.net ssh-ed25519 ${b64(ED_OTHER)}`, `[*.example.com]:2222 ssh-ed25519 ${b64(ECDSA)}`]);
    expect(blobs(await lookupKnownKeys(kh, 'mania.example.org', 22))).toEqual([b64(ED)]);
    expect(await lookupKnownKeys(kh, 'bad.example.org', 22)).toEqual([]);
    expect(await lookupKnownKeys(kh, 'example.org', 22)).toEqual([]);
    expect(blobs(await lookupKnownKeys(kh, 'web1.example.net', 22))).toEqual([b64(ED_OTHER)]);
    expect(await lookupKnownKeys(kh, 'web10.example.net', 22)).toEqual([]);
    expect(blobs(await lookupKnownKeys(kh, 'a.example.com', 2222))).toEqual([b64(ECDSA)]);
    expect(await lookupKnownKeys(kh, 'a.example.com', 22)).toEqual([]);
    // regex metacharacters in names are literal
    expect(await lookupKnownKeys(kh, 'webXexampleYnet', 22)).toEqual([]);
  });

  it('matches host names case-insensitively, as OpenSSH does', async () => {
    write([`mania.example.org ssh-ed25519 ${b64(ED)}`, `*.Example.NET ssh-ed25519 ${b64(ED_OTHER)}`]);
    expect(blobs(await lookupKnownKeys(kh, 'Mania.Example.org', 22))).toEqual([b64(ED)]);
    expect(blobs(await lookupKnownKeys(kh, 'web1.example.net', 22))).toEqual([b64(ED_OTHER)]);
  });

  it('matches hashed |1|salt|hash entries (HMAC-SHA1 of the name), including [host]:port', async () => {
    write([`${hashed('mania.example.org')} ssh-ed25519 ${b64(ED)}`, `${hashed('[eros.example.org]:2222')} ssh-ed25519 ${b64(ED_OTHER)}`, `|1|garbage ssh-ed25519 ${b64(ECDSA)}`]);
    expect(blobs(await lookupKnownKeys(kh, 'mania.example.org', 22))).toEqual([b64(ED)]);
    expect(blobs(await lookupKnownKeys(kh, 'MANIA.example.org', 22))).toEqual([b64(ED)]);
    expect(await lookupKnownKeys(kh, 'mania.example.org', 2222)).toEqual([]);
    expect(blobs(await lookupKnownKeys(kh, 'eros.example.org', 2222))).toEqual([b64(ED_OTHER)]);
    expect(await lookupKnownKeys(kh, 'eros.example.org', 22)).toEqual([]);
  });

  it('flags @revoked entries and ignores @cert-authority ones', async () => {
    write([`@revoked * ssh-ed25519 ${b64(ED_OTHER)}`, `@cert-authority *.example.org ssh-ed25519 ${b64(ECDSA)}`, `mania.example.org ssh-ed25519 ${b64(ED)}`]);
    expect(await lookupKnownKeys(kh, 'mania.example.org', 22)).toEqual([
      { type: 'ssh-ed25519', blob: ED_OTHER, revoked: true },
      { type: 'ssh-ed25519', blob: ED, revoked: false },
    ]);
  });

  it('tolerates tabs, CRLF line ends and truncated lines', async () => {
    writeFileSync(kh, `mania\tssh-ed25519\t${b64(ED)}\r\nmania ssh-ed25519\r\nmania\r\n`);
    expect(blobs(await lookupKnownKeys(kh, 'mania', 22))).toEqual([b64(ED)]);
  });

  it.runIf(existsSync('/usr/bin/ssh-keygen'))('reads entries hashed by ssh-keygen -H', async () => {
    const pub = join(dir, 'hostkey');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', pub]);
    const [type, key] = readFileSync(pub + '.pub', 'utf8').trim().split(' ');
    write([`mania.example.org ${type} ${key}`, `[eros.example.org]:2222 ${type} ${key}`]);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', kh], { stdio: 'ignore' });
    const text = readFileSync(kh, 'utf8');
    expect(text).not.toContain('mania.example.org');
    expect(text).toMatch(/^\|1\|/);
    expect(await lookupKnownKeys(kh, 'mania.example.org', 22)).toEqual([{ type, blob: Buffer.from(key, 'base64'), revoked: false }]);
    expect(await lookupKnownKeys(kh, 'eros.example.org', 2222)).toHaveLength(1);
    expect(await lookupKnownKeys(kh, 'eros.example.org', 22)).toEqual([]);
  });
});

describe('recordKnownKey', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('appends "<name> <type> <base64>" lines, creating the directory and a 0600 file', async () => {
    const kh = join(dir, 'ssh/known_hosts');
    await recordKnownKey(kh, 'mania.example.org', 22, ED);
    await recordKnownKey(kh, 'eros.example.org', 2222, RSA);
    expect(readFileSync(kh, 'utf8')).toBe(`mania.example.org ssh-ed25519 ${b64(ED)}\n[eros.example.org]:2222 ssh-rsa ${b64(RSA)}\n`);
    expect(statSync(kh).mode & 0o777).toBe(0o600);
    expect(await lookupKnownKeys(kh, 'eros.example.org', 2222)).toEqual([{ type: 'ssh-rsa', blob: RSA, revoked: false }]);
  });

  it('starts a new line when the file does not end with one', async () => {
    const kh = join(dir, 'known_hosts');
    writeFileSync(kh, `other ssh-ed25519 ${b64(ED_OTHER)}`);
    await recordKnownKey(kh, 'mania', 22, ED);
    expect(readFileSync(kh, 'utf8')).toBe(`other ssh-ed25519 ${b64(ED_OTHER)}\nmania ssh-ed25519 ${b64(ED)}\n`);
    expect(blobs2(await lookupKnownKeys(kh, 'other', 22))).toEqual([b64(ED_OTHER)]);
    expect(blobs2(await lookupKnownKeys(kh, 'mania', 22))).toEqual([b64(ED)]);
  });

  it.runIf(existsSync('/usr/bin/ssh-keygen'))('writes entries OpenSSH finds (ssh-keygen -F)', async () => {
    const kh = join(dir, 'known_hosts');
    const pub = join(dir, 'hostkey');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', pub]);
    const key = Buffer.from(readFileSync(pub + '.pub', 'utf8').split(' ')[1], 'base64');
    await recordKnownKey(kh, 'eros.example.org', 2222, key);
    const found = execFileSync('ssh-keygen', ['-F', '[eros.example.org]:2222', '-f', kh], { encoding: 'utf8' });
    expect(found).toContain(`[eros.example.org]:2222 ssh-ed25519 ${b64(key)}`);
  });
});
const blobs2 = (keys: KnownKey[]) => keys.map((k) => b64(k.blob));

describe('hostKeyAlgorithmsFor', () => {
  it('offers the known key types, RSA as its SHA-2 signature algorithms first, without duplicates or revoked keys', () => {
    const keys: KnownKey[] = [
      { type: 'ssh-ed25519', blob: ED, revoked: false },
      { type: 'ssh-rsa', blob: RSA, revoked: false },
      { type: 'ssh-ed25519', blob: ED_OTHER, revoked: false },
      { type: 'ecdsa-sha2-nistp256', blob: ECDSA, revoked: true },
    ];
    expect(hostKeyAlgorithmsFor(keys)).toEqual(['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });

  it('is empty (let the library choose) for an unknown host', () => {
    expect(hostKeyAlgorithmsFor([])).toEqual([]);
    expect(hostKeyAlgorithmsFor([{ type: 'ssh-ed25519', blob: ED, revoked: true }])).toEqual([]);
  });
});

describe('judgeHostKey', () => {
  const k = (b: Buffer, revoked = false): KnownKey => ({ type: keyTypeOf(b), blob: b, revoked });

  it('trusts a recorded key', () => {
    expect(judgeHostKey([k(ECDSA), k(ED)], Buffer.from(ED))).toBe('trusted');
  });

  it('calls a never-seen host unknown', () => {
    expect(judgeHostKey([], ED)).toBe('unknown');
  });

  it('calls a different key for a known host changed', () => {
    expect(judgeHostKey([k(ED)], ED_OTHER)).toBe('changed');
    expect(judgeHostKey([k(ED)], ECDSA)).toBe('changed');
  });

  it('refuses a revoked key even when it is also listed as trusted', () => {
    expect(judgeHostKey([k(ED), k(ED, true)], ED)).toBe('revoked');
  });

  it('a host whose only entries are revoked other keys is unknown, not changed', () => {
    expect(judgeHostKey([k(ED_OTHER, true)], ED)).toBe('unknown');
  });
});
