// An apt source with its own signing keyring in /etc/apt/keyrings. The
// keyring is fetched when missing, when it lacks the wanted fingerprint, and
// when its key has expired (a repository that extends its key's expiry keeps
// the fingerprint: apt refuses the old copy all the same).
import type { Change, CommonOptions, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { base } from './common.js';
import { file } from './file.js';
import { shellFile } from './shell.js';

const KEYRING = shellFile(new URL('./scripts/apt-keyring.sh', import.meta.url));

export interface AptRepositoryOptions extends CommonOptions {
  /** file names: /etc/apt/keyrings/<name>.gpg and /etc/apt/sources.list.d/<name>.sources|.list */
  name: string;
  uri: string;
  suites: string[];
  components: string[];
  /** URL (https: or file:) of the ASCII-armored or binary signing key */
  keyUrl: string;
  /** expected fingerprint of the key: a downloaded key that does not match is refused */
  keyFingerprint?: string;
  format?: 'deb822' | 'one-line';
  architectures?: string[];
}

/** One word of a sources file: a value with blanks, newlines or brackets would add fields or lines. */
function sourceWord(what: string, v: string): string {
  if (!/^[^\s[\]#]+$/.test(v)) throw new Error(`apt repository: ${what} ${JSON.stringify(v)} must be one word (no blanks, newlines, [ ] or #)`);
  return v;
}

/** The keyring and the sources file; list both in `updateCacheIfChanged` of the aptPackages that need them. */
export function aptRepository(opts: AptRepositoryOptions): [Resource<KeyringChange>, Resource] {
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(opts.name)) throw new Error(`apt repository name ${JSON.stringify(opts.name)}: expected lowercase letters, digits, _ . -`);
  const keyring = `/etc/apt/keyrings/${opts.name}.gpg`;
  const uri = sourceWord('uri', opts.uri);
  const suites = opts.suites.map((s) => sourceWord('suite', s));
  const components = opts.components.map((c) => sourceWord('component', c));
  const arch = opts.architectures?.length ? opts.architectures.map((a) => sourceWord('architecture', a)) : undefined;
  const content =
    (opts.format ?? 'deb822') === 'deb822'
      ? `# managed by rigger\nTypes: deb\nURIs: ${uri}\nSuites: ${suites.join(' ')}\nComponents: ${components.join(' ')}\n` +
        (arch ? `Architectures: ${arch.join(' ')}\n` : '') +
        `Signed-By: ${keyring}\n`
      : `# managed by rigger\n` + suites.map((suite) => `deb [${arch ? `arch=${arch.join(',')} ` : ''}signed-by=${keyring}] ${uri} ${suite} ${components.join(' ')}\n`).join('');
  const sourcesPath = `/etc/apt/sources.list.d/${opts.name}.${(opts.format ?? 'deb822') === 'deb822' ? 'sources' : 'list'}`;
  const key = keyringResource(keyring, opts);
  return [key, file({ path: sourcesPath, content, mode: '0644', tags: opts.tags, notify: opts.notify, onlyIfChanged: opts.onlyIfChanged, after: opts.after })];
}

export interface KeyringKey {
  expired: boolean;
  /** seconds since the epoch, 0 for never */
  expires: number;
  /** the primary key's fingerprint, then its subkeys' */
  fingerprints: string[];
}

/** Parse the probe: null when absent; `keys` undefined when the host has no gpg to read them. */
export function parseKeyringProbe(stdout: string): { keys?: KeyringKey[] } | null {
  const [state, ...lines] = stdout.trim().split('\n');
  if (state !== 'present') return null;
  if (lines[0] === 'gpg=no') return {};
  const keys = lines
    .map((l) => l.split(' '))
    .filter((p) => p.length === 3)
    .map(([s, exp, fprs]) => ({ expired: s === 'expired', expires: Number(exp), fingerprints: fprs.split(',') }));
  return { keys };
}

export type KeyringChange = { reason: 'absent' | 'fingerprint' | 'expired' | 'unreadable' };

const day = (epoch: number) => new Date(epoch * 1000).toISOString().slice(0, 10);

function keyringResource(path: string, opts: AptRepositoryOptions): Resource<KeyringChange> {
  const want = opts.keyFingerprint?.replace(/\s+/g, '').toUpperCase();
  if (want !== undefined && !/^([0-9A-F]{40}|[0-9A-F]{64})$/.test(want))
    throw new Error(`apt repository ${opts.name}: keyFingerprint ${JSON.stringify(opts.keyFingerprint)} is not a key fingerprint (40 or 64 hex digits)`);
  return {
    ...base('apt-keyring', path, opts),
    probe: KEYRING('probe', path).text,
    plan(current: ProbeResult): Change<KeyringChange> | null {
      const state = parseKeyringProbe(current.stdout);
      if (!state) return { summary: `fetch signing key from ${opts.keyUrl}`, data: { reason: 'absent' } };
      // Without gpg on the host, a present keyring is all that can be checked (fetching needs gpg for a fingerprint).
      if (!state.keys) return want ? { summary: `replace keyring (gpg missing, fingerprint ${want} unverifiable)`, data: { reason: 'fingerprint' } } : null;
      const keys = want ? state.keys.filter((k) => k.fingerprints.includes(want)) : state.keys;
      if (want && !keys.length) return { summary: `replace keyring (fingerprint ${want} missing)`, data: { reason: 'fingerprint' } };
      if (!keys.length) return { summary: `replace keyring (no key in it)`, data: { reason: 'unreadable' } };
      if (keys.some((k) => !k.expired)) return null;
      const k = keys[0];
      const when = k.expires ? ` on ${day(k.expires)}` : ' (no signing key left)';
      return { summary: `refresh keyring from ${opts.keyUrl} (key ${k.fingerprints[0]} expired${when})`, data: { reason: 'expired' } };
    },
    async apply(_c, ctx): Promise<void> {
      await ctx.remote.run(KEYRING('fetch', path, opts.keyUrl, want ?? '').text);
    },
  };
}
