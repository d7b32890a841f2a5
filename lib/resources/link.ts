import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { base } from './common.js';
import { shq } from './shell.js';

export interface LinkOptions extends CommonOptions {
  path: string;
  target: string;
}

/** A symbolic link, replaced atomically (new link + rename) when it points elsewhere. */
export function link(opts: LinkOptions): Resource {
  const p = shq(opts.path);
  return {
    ...base('link', opts.path, opts),
    probe: `if [ -L ${p} ]; then echo "link $(readlink ${p})"; elif [ -e ${p} ]; then echo other; else echo absent; fi`,
    plan(current: ProbeResult): Change | null {
      const out = current.stdout.trim();
      if (out === `link ${opts.target}`) return null;
      if (out === 'other') throw new Error(`${opts.path} exists and is not a symbolic link; refusing to replace it`);
      return { summary: out === 'absent' ? `create -> ${opts.target}` : `retarget ${out.slice(5)} -> ${opts.target}` };
    },
    async apply(_c: Change, ctx: HostContext): Promise<void> {
      const tmp = shq(`${opts.path}.rigger-tmp`);
      await ctx.remote.run(`set -e; ln -sfn ${shq(opts.target)} ${tmp}; mv -fT ${tmp} ${p}`);
    },
  };
}
