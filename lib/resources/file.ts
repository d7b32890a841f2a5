// A file with given content, mode and owner, written atomically (temp file in
// the same directory, fsync, rename), optionally validated before the rename.
import { createHash, randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { attrDiff, base, setAttrsScript, wantedAttrs, type Attrs } from './common.js';
import { parseRegularFile, regularFileProbe, shq } from './shell.js';

export interface FileOptions extends CommonOptions {
  path: string;
  content: string | Buffer;
  mode?: string;
  owner?: string;
  group?: string;
  /** command that checks the new file before it replaces the old one; %s is the temp file */
  validate?: string;
  /** create missing parent directories (mode 0755, root) */
  makeDirs?: boolean;
  /** called after a successful write (e.g. mark apt sources changed) */
  onChange?: (ctx: HostContext) => void;
}

/** Above this size, content goes over its own upload channel rather than inside the script. */
const INLINE_LIMIT = 256 * 1024;
/** Diffs are shown for text files up to this size. */
const DIFF_LIMIT = 512 * 1024;

interface FileChange {
  contentChanged: boolean;
}

export function file(opts: FileOptions): Resource {
  const content = Buffer.isBuffer(opts.content) ? opts.content : Buffer.from(opts.content);
  const want = wantedAttrs(opts, '0644');
  const sha = createHash('sha256').update(content).digest('hex');
  return {
    ...base('file', opts.path, opts),
    probe: regularFileProbe(opts.path),
    render: () => ({ files: [{ path: opts.path, content, mode: want.mode }] }),
    async plan(current: ProbeResult, ctx: HostContext): Promise<Change | null> {
      const { st, sha: haveSha } = parseRegularFile(current.stdout, opts.path);
      const contentChanged = !st || haveSha !== sha;
      const attrs = st ? attrDiff(st, want) : [];
      if (!contentChanged && attrs.length === 0) return null;
      const summary = !st ? `create (${content.length} bytes, mode ${want.mode})` : [contentChanged ? 'content' : '', ...attrs].filter(Boolean).join(', ');
      const change: Change = { summary, data: { contentChanged } satisfies FileChange };
      if (contentChanged && ctx.wantDiff && isText(content) && content.length <= DIFF_LIMIT) {
        const before = st ? await readRemoteText(ctx, opts.path) : '';
        if (before !== null) change.diff = { path: opts.path, before, after: content.toString('utf8') };
      }
      return change;
    },
    async apply(change: Change, ctx: HostContext): Promise<void> {
      const { contentChanged } = change.data as FileChange;
      if (!contentChanged) {
        await ctx.remote.run(setAttrsScript(opts.path, want));
      } else {
        await writeAtomically(ctx, opts.path, content, want, opts.validate, opts.makeDirs);
      }
      opts.onChange?.(ctx);
    },
  };
}

/** Read a remote file as text for a diff; null when it is not text or too large. */
async function readRemoteText(ctx: HostContext, path: string): Promise<string | null> {
  const r = await ctx.remote.run(`[ $(stat -c %s ${shq(path)}) -le ${DIFF_LIMIT} ] && base64 < ${shq(path)}`, { check: false });
  if (r.code !== 0) return null;
  const buf = Buffer.from(r.stdout, 'base64');
  return isText(buf) ? buf.toString('utf8') : null;
}

export function isText(buf: Buffer): boolean {
  return !buf.subarray(0, 8192).includes(0);
}

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
  const t = shq(tmp);
  const inline = content.length <= INLINE_LIMIT;
  if (!inline) {
    if (makeDirs) await ctx.remote.run(`mkdir -p ${shq(dir)}`);
    await ctx.remote.upload(tmp, content);
  }
  const validation = validate
    ? `if ! ${validate.replace(/%s/g, t)} >&2; then echo "validation failed: ${validate.replace(/["\\$`]/g, '')}" >&2; exit 3; fi\n`
    : '';
  // Mode and owner are set on the temp file, so the final rename is the only visible step.
  const script =
    `set -e\n` +
    (makeDirs && inline ? `mkdir -p ${shq(dir)}\n` : '') +
    `trap 'rm -f ${t}' EXIT\n` +
    (inline ? `umask 077\ncat > ${t}\n` : '') +
    `chown ${shq(`${attrs.owner}:${attrs.group}`)} ${t}\nchmod ${attrs.mode} ${t}\n` +
    validation +
    `sync ${t} 2>/dev/null || sync\n` +
    `mv -f ${t} ${shq(path)}\ntrap - EXIT\n`;
  await ctx.remote.run(script, inline ? { stdin: content } : {});
}
