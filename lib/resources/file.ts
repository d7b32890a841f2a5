// A file with given content, mode and owner, written atomically (temp file in
// the same directory, fsync, rename), optionally validated before the rename.
import { createHash, randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { containsSecret, maskEarlierSecrets } from '../secrets.js';
import { absolutePath, attrDiff, base, setAttrsScript, wantedAttrs, type Attrs } from './common.js';
import { parseRegularFile, regularFileProbe, sh, shellFile } from './shell.js';

const WRITE_FILE = shellFile(new URL('./scripts/write-file.sh', import.meta.url));

export interface FileOptions extends CommonOptions {
  path: string;
  content: string | Buffer;
  /** default 0644, or 0600 when the content holds a secret */
  mode?: string;
  owner?: string;
  group?: string;
  /** command that checks the new file before it replaces the old one; %s is the temp file */
  validate?: string;
  /** create missing parent directories (mode 0755, root) */
  makeDirs?: boolean;
}

/** Above this size, content goes over its own upload channel rather than inside the script. */
const INLINE_LIMIT = 256 * 1024;
/** Diffs are shown for text files up to this size. */
const DIFF_LIMIT = 512 * 1024;

export interface FileChange {
  contentChanged: boolean;
}

export function file(opts: FileOptions): Resource<FileChange> {
  absolutePath('file', opts.path);
  const content = Buffer.isBuffer(opts.content) ? opts.content : Buffer.from(opts.content);
  // The README's promise: a file holding a secret is readable by its owner only, unless the role says otherwise.
  const want = wantedAttrs(opts, containsSecret(content) ? '0600' : '0644');
  const sha = createHash('sha256').update(content).digest('hex');
  return {
    ...base('file', opts.path, opts),
    probe: regularFileProbe(opts.path),
    render: () => ({ files: [{ path: opts.path, content, mode: want.mode }] }),
    async plan(current: ProbeResult, ctx: HostContext): Promise<Change<FileChange> | null> {
      const { st, sha: haveSha } = parseRegularFile(current.stdout, opts.path);
      const contentChanged = !st || haveSha !== sha;
      const attrs = st ? attrDiff(st, want) : [];
      if (!contentChanged && attrs.length === 0) return null;
      const summary = !st ? `create (${content.length} bytes, mode ${want.mode})` : [contentChanged ? 'content' : '', ...attrs].filter(Boolean).join(', ');
      const change: Change<FileChange> = { summary, data: { contentChanged } };
      if (contentChanged && ctx.wantDiff && isText(content) && content.length <= DIFF_LIMIT) {
        const before = st ? await readRemoteText(ctx, opts.path) : '';
        const after = content.toString('utf8');
        // masked here already, so the old value of a rotated secret never leaves this resource
        if (before !== null) change.diff = { path: opts.path, before: maskEarlierSecrets(before, after), after };
      }
      return change;
    },
    async apply(change: Change<FileChange>, ctx: HostContext): Promise<void> {
      if (!change.data?.contentChanged) {
        await ctx.remote.run(setAttrsScript(opts.path, want));
      } else {
        await writeAtomically(ctx, opts.path, content, want, opts.validate, opts.makeDirs);
      }
    },
  };
}

/** Read a remote file as text for a diff; null when it is not text or too large. */
async function readRemoteText(ctx: HostContext, path: string): Promise<string | null> {
  const r = await ctx.remote.run(sh`[ "$(stat -c %s -- ${path})" -le ${DIFF_LIMIT} ] && base64 < ${path}`.text, { check: false });
  if (r.code !== 0) return null;
  const buf = Buffer.from(r.stdout, 'base64');
  return isText(buf) ? buf.toString('utf8') : null;
}

export function isText(buf: Buffer): boolean {
  return !buf.subarray(0, 8192).includes(0);
}

/**
 * Write `content` to `path` atomically (scripts/write-file.sh): small content
 * inline on stdin, large content uploaded to the temp file first. `validate`
 * is a command run on the temp file (%s), which must succeed before the rename.
 */
export async function writeAtomically(
  ctx: HostContext,
  path: string,
  content: Buffer,
  attrs: Attrs,
  validate?: string,
  makeDirs?: boolean,
): Promise<void> {
  const dir = dirname(path);
  const tmp = `${dir}/.rigger-${randomBytes(6).toString('hex')}.tmp`;
  const inline = content.length <= INLINE_LIMIT;
  if (!inline) {
    if (makeDirs) await ctx.remote.run(sh`mkdir -p -- ${dir}`.text);
    await ctx.remote.upload(tmp, content);
  }
  // The validate command gets the temp file as "$1", never spliced into its text.
  const check = validate ? validate.replace(/%s/g, '"$1"') : '';
  const script = WRITE_FILE(path, tmp, `${attrs.owner}:${attrs.group}`, attrs.mode, makeDirs ? 1 : 0, inline ? 1 : 0, check, validate ?? '');
  await ctx.remote.run(script.text, inline ? { stdin: content } : {});
}
