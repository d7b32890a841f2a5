// A file fetched from a URL and installed only if its sha256 matches.
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { attrDiff, base, setAttrsScript, wantedAttrs } from './common.js';
import { parseRegularFile, regularFileProbe, shq } from './shell.js';

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
  const want = wantedAttrs(opts, '0755');
  const d = shq(opts.dest);
  return {
    ...base('download', opts.dest, opts),
    probe: regularFileProbe(opts.dest),
    plan(current: ProbeResult): Change | null {
      const { st, sha: haveSha } = parseRegularFile(current.stdout, opts.dest);
      if (!st || haveSha !== sha) return { summary: `${st ? 'replace' : 'fetch'} from ${opts.url} (sha256 ${sha.slice(0, 12)}...)`, data: true };
      const attrs = attrDiff(st, want);
      return attrs.length ? { summary: attrs.join(', '), data: false } : null;
    },
    async apply(change: Change, ctx: HostContext): Promise<void> {
      const t = shq(`${opts.dest}.rigger-download`);
      const owner = shq(`${want.owner}:${want.group}`);
      if (!change.data) {
        await ctx.remote.run(setAttrsScript(opts.dest, want));
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
