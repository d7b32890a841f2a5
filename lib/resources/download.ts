// A file fetched from a URL and installed only if its sha256 matches.
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { attrDiff, base, setAttrsScript, wantedAttrs } from './common.js';
import { parseRegularFile, regularFileProbe, Script, sh } from './shell.js';

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
      if (!change.data) {
        await ctx.remote.run(setAttrsScript(opts.dest, want));
        return;
      }
      // The checksum is checked on the temp file: a mismatching download never reaches dest.
      // Values only as quoted words, the temp path in a variable (never inside the trap's own quotes).
      await ctx.remote.run(
        Script.join([
          sh`set -e\nset -- ${`${opts.dest}.rigger-download`} ${opts.url}\nt=$1 url=$2\ntrap 'rm -f -- "$t"' EXIT\nmkdir -p -- "$(dirname -- ${opts.dest})"\ncurl -fsSL --retry 2 -o "$t" --url "$url"`,
          sh`got=$(sha256sum < "$t" | cut -d' ' -f1)`,
          sh`if [ "$got" != ${sha} ]; then printf 'checksum mismatch for %s: expected %s, got %s; not installed\\n' "$url" ${sha} "$got" >&2; exit 1; fi`,
          sh`chown -- ${`${want.owner}:${want.group}`} "$t"\nchmod -- ${want.mode} "$t"\nmv -f -- "$t" ${opts.dest}\ntrap - EXIT`,
        ]).text,
      );
    },
  };
}
