// An apt source with its own signing keyring in /etc/apt/keyrings.
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { APT_SOURCES_CHANGED } from './apt.js';
import { base } from './common.js';
import { file } from './file.js';
import { shq } from './shell.js';

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

export function aptRepository(opts: AptRepositoryOptions): Resource[] {
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(opts.name)) throw new Error(`apt repository name ${JSON.stringify(opts.name)}: expected lowercase letters, digits, _ . -`);
  const keyring = `/etc/apt/keyrings/${opts.name}.gpg`;
  const arch = opts.architectures?.length ? opts.architectures : undefined;
  const content =
    (opts.format ?? 'deb822') === 'deb822'
      ? `# managed by rigger\nTypes: deb\nURIs: ${opts.uri}\nSuites: ${opts.suites.join(' ')}\nComponents: ${opts.components.join(' ')}\n` +
        (arch ? `Architectures: ${arch.join(' ')}\n` : '') +
        `Signed-By: ${keyring}\n`
      : `# managed by rigger\n` +
        opts.suites.map((suite) => `deb [${arch ? `arch=${arch.join(',')} ` : ''}signed-by=${keyring}] ${opts.uri} ${suite} ${opts.components.join(' ')}\n`).join('');
  const sourcesPath = `/etc/apt/sources.list.d/${opts.name}.${(opts.format ?? 'deb822') === 'deb822' ? 'sources' : 'list'}`;
  const markChanged = (ctx: HostContext) => ctx.state.set(APT_SOURCES_CHANGED, true);
  return [
    keyringResource(keyring, opts, markChanged),
    file({ path: sourcesPath, content, mode: '0644', tags: opts.tags, notify: opts.notify, onChange: markChanged }),
  ];
}

function fingerprintsOf(keyringPath: string): string {
  // A throwaway GNUPGHOME: gpg would otherwise create and update root's ~/.gnupg, so
  // even a check-mode probe would change the host.
  return `{ g=$(mktemp -d); GNUPGHOME="$g" gpg --no-default-keyring --show-keys --with-colons ${shq(keyringPath)} 2>/dev/null | awk -F: '$1=="fpr"{print $10}'; rm -rf "$g"; }`;
}

function keyringResource(path: string, opts: AptRepositoryOptions, onChange: (ctx: HostContext) => void): Resource {
  const want = opts.keyFingerprint?.replace(/\s+/g, '').toUpperCase();
  return {
    ...base('apt-keyring', path, opts),
    probe: `if [ -s ${shq(path)} ]; then echo present; ${fingerprintsOf(path)}; else echo absent; fi`,
    plan(current: ProbeResult): Change | null {
      const [state, ...fprs] = current.stdout.trim().split('\n');
      if (state === 'present' && (!want || fprs.includes(want))) return null;
      return { summary: state === 'present' ? `replace keyring (fingerprint ${want} missing)` : `fetch signing key from ${opts.keyUrl}` };
    },
    async apply(_c: Change, ctx: HostContext): Promise<void> {
      const t = shq(`${path}.rigger-tmp`);
      const verify = want ? `${fingerprintsOf(`${path}.rigger-tmp`)} | grep -qx ${shq(want)} || { echo "signing key from ${opts.keyUrl} does not have fingerprint ${want}; refusing it" >&2; exit 1; }\n` : '';
      await ctx.remote.run(
        `set -e\nmkdir -p /etc/apt/keyrings\ntrap 'rm -f ${t} ${t}.in' EXIT\n` +
          `curl -fsSL --retry 2 ${shq(opts.keyUrl)} -o ${t}.in\n` +
          `if grep -q 'BEGIN PGP PUBLIC KEY BLOCK' ${t}.in; then gpg --batch --yes --dearmor -o ${t} ${t}.in; else cp ${t}.in ${t}; fi\n` +
          verify +
          `chmod 0644 ${t}\nmv -f ${t} ${shq(path)}\nrm -f ${t}.in\ntrap - EXIT\n`,
      );
      onChange(ctx);
    },
  };
}
