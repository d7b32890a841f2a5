// A file fetched from a URL and installed only if its sha256 matches.
import type { Change, CommonOptions, HostContext, ProbeResult, Resource } from '../engine/types.js';
import { attrChanges, base } from './common.js';
import { normMode, parseStat, shq, statProbe } from './shell.js';

export interface DownloadOptions extends CommonOptions {
  url: string;
  dest: string;
  sha256: string;
  mode?: string;
  owner?: string;
  group?: string;
}

export function download(opts: DownloadOptions): Resource {
  const sha = opts.sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new Error(`download ${opts.dest}: sha256 ${JSON.stringify(opts.sha256)} is not 64 hex digits`);
  const want = { mode: normMode(opts.mode ?? '0755'), owner: opts.owner ?? 'root', group: opts.group ?? opts.owner ?? 'root' };
  const d = shq(opts.dest);
  return {
    ...base('download', opts.dest, opts),
    probe: `${statProbe(opts.dest)}; [ -f ${d} ] && sha256sum < ${d} | cut -d' ' -f1`,
    plan(current: ProbeResult): Change | null {
      const [statLine, haveSha] = current.stdout.trim().split('\n');
      const st = parseStat(statLine);
      if (st && st.type !== 'regular file' && st.type !== 'regular empty file') throw new Error(`${opts.dest} exists but is a ${st.type}, not a regular file`);
      if (!st || haveSha !== sha) return { summary: `${st ? 'replace' : 'fetch'} from ${opts.url} (sha256 ${sha.slice(0, 12)}...)`, data: true };
      const attrs = attrChanges([['mode', st.mode, want.mode], ['owner', st.owner, want.owner], ['group', st.group, want.group]]);
      return attrs.length ? { summary: attrs.join(', '), data: false } : null;
    },
    async apply(change: Change, ctx: HostContext): Promise<void> {
      const t = shq(`${opts.dest}.rigger-download`);
      const owner = shq(`${want.owner}:${want.group}`);
      if (!change.data) {
        await ctx.remote.run(`chown ${owner} ${d} && chmod ${want.mode} ${d}`);
        return;
      }
      // The checksum is checked on the temp file: a mismatching download never reaches dest.
      await ctx.remote.run(
        `set -e\ntrap 'rm -f ${t}' EXIT\nmkdir -p "$(dirname ${d})"\ncurl -fsSL --retry 2 ${shq(opts.url)} -o ${t}\n` +
          `got=$(sha256sum < ${t} | cut -d' ' -f1)\n` +
          `if [ "$got" != ${sha} ]; then echo "checksum mismatch for ${opts.url.replace(/["\\$`]/g, '')}: expected ${sha}, got $got; not installed" >&2; exit 1; fi\n` +
          `chown ${owner} ${t}\nchmod ${want.mode} ${t}\nmv -f ${t} ${d}\ntrap - EXIT\n`,
      );
    },
  };
}
