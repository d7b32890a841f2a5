// A file fetched from a URL and installed only if its sha256 matches: the file
// itself, or one member of a .tar.gz / .zip release, still verified by the
// archive's sha256 (scripts/download.sh does the fetching and unpacking).
import { readFileSync } from 'node:fs';
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { attrDiff, base, setAttrsScript, wantedAttrs } from './common.js';
import { parseRegularFile, regularFileProbe, shq } from './shell.js';

const SCRIPT = readFileSync(new URL('./scripts/download.sh', import.meta.url), 'utf8');

export type ArchiveFormat = 'tar.gz' | 'zip';

export interface DownloadOptions extends CommonOptions {
  url: string;
  dest: string;
  /** sha256 of what the URL serves (the archive, when `member` is set) */
  sha256: string;
  /** path inside the archive of the file to install at dest */
  member?: string;
  /** default: from the URL's ending (.tar.gz / .tgz / .zip) */
  format?: ArchiveFormat;
  mode?: string;
  owner?: string;
  group?: string;
}

/**
 * Why this is not a usable sha256 (null when it is): malformed, or a placeholder
 * (one digit repeated, a short pattern repeated such as 0123... or deadbeef...,
 * or too few distinct digits for a real digest). Messages say how to pin it.
 */
export function checksumProblem(value: string): string | null {
  const howTo = 'pin the real one: take it from the release\'s published checksums, or download the file on a trusted machine and run sha256sum FILE';
  const sha = value.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha)) return `sha256 ${JSON.stringify(value)} is not 64 hex digits; ${howTo}`;
  const periodic = [1, 2, 4, 8, 16, 32].some((n) => sha === sha.slice(0, n).repeat(64 / n));
  const lowEntropy = new Set(sha).size < 8; // a real digest has ~16 distinct digits; fewer than 8 has odds below 1e-20
  const words = ['deadbeef', 'cafebabe', '01234567', '12345678', 'abcdefab'].some((w) => sha.includes(w));
  if (periodic || lowEntropy || words) return `sha256 ${sha.slice(0, 16)}... is a placeholder, not a checksum; ${howTo}`;
  return null;
}

/** "tar.gz" / "zip" from a URL's ending, or undefined. */
export function archiveFormatOf(url: string): ArchiveFormat | undefined {
  const path = url.replace(/[?#].*$/, '').toLowerCase();
  if (path.endsWith('.tar.gz') || path.endsWith('.tgz')) return 'tar.gz';
  if (path.endsWith('.zip')) return 'zip';
  return undefined;
}

/** A member path that unzip and tar take literally: relative, no "..", no wildcard or option characters. */
export function memberProblem(member: string): string | null {
  if (!/^[A-Za-z0-9._+][A-Za-z0-9._+/-]*$/.test(member) || member.split('/').some((p) => p === '..' || p === '') || member.endsWith('/'))
    return `archive member ${JSON.stringify(member)}: expected a relative path of letters, digits, ".", "_", "+", "-" and "/", without ".." or wildcards`;
  return null;
}

/** Where an archive download records which archive and member dest came from. */
export function stampPath(dest: string): string {
  const i = dest.lastIndexOf('/');
  return `${dest.slice(0, i + 1)}.${dest.slice(i + 1)}.rigger-download`;
}

export function download(opts: DownloadOptions): Resource {
  const sha = opts.sha256.toLowerCase();
  const bad = checksumProblem(opts.sha256);
  if (bad) throw new Error(`download ${opts.dest}: ${bad}`);
  const format = opts.member === undefined ? undefined : (opts.format ?? archiveFormatOf(opts.url));
  if (opts.member !== undefined) {
    const m = memberProblem(opts.member);
    if (m) throw new Error(`download ${opts.dest}: ${m}`);
    if (!format) throw new Error(`download ${opts.dest}: ${opts.url} does not end in .tar.gz, .tgz or .zip; set format for member ${opts.member}`);
  }
  const want = wantedAttrs(opts, '0755');
  const stamp = format ? stampPath(opts.dest) : undefined;
  const source = format ? `${opts.member} from ${opts.url}` : `from ${opts.url}`;
  return {
    ...base('download', opts.dest, opts),
    probe: stamp ? `${regularFileProbe(opts.dest)}; printf '\\nstamp=%s\\n' "$(head -n 1 ${shq(stamp)} 2>/dev/null)"` : regularFileProbe(opts.dest),
    plan(current: ProbeResult): Change | null {
      let out = current.stdout;
      let recorded: string | undefined;
      if (stamp) {
        const at = out.lastIndexOf('\nstamp=');
        recorded = at >= 0 ? out.slice(at + '\nstamp='.length).trim() : '';
        out = at >= 0 ? out.slice(0, at) : out;
      }
      const { st, sha: haveSha } = parseRegularFile(out, opts.dest);
      // A member is in place when dest is exactly what the recorded extraction of this archive wrote.
      const [stampArchive, stampMember, ...stampName] = (recorded ?? '').split(' ');
      const current_ = stamp ? stampArchive === sha && stampName.join(' ') === opts.member && haveSha === stampMember : haveSha === sha;
      if (!st || !current_) return { summary: `${st ? 'replace' : 'fetch'} ${source} (sha256 ${sha.slice(0, 12)}...)`, data: true };
      const attrs = attrDiff(st, want);
      return attrs.length ? { summary: attrs.join(', '), data: false } : null;
    },
    async apply(change: Change, ctx: HostContext): Promise<void> {
      if (!change.data) {
        await ctx.remote.run(setAttrsScript(opts.dest, want));
        return;
      }
      const args = [opts.url, sha, opts.dest, want.mode, `${want.owner}:${want.group}`, format ?? 'file', ...(stamp ? [opts.member!, stamp] : [])];
      await ctx.remote.run(`sh -c ${shq(SCRIPT)} rigger-download ${args.map(shq).join(' ')}`);
    },
  };
}
