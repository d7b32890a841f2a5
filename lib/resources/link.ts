import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { absolutePath, base } from './common.js';
import { sh } from './shell.js';

export interface LinkOptions extends CommonOptions {
  path: string;
  target: string;
}

/** A symbolic link, replaced atomically (new link + rename) when it points elsewhere. */
export function link(opts: LinkOptions): Resource<void> {
  const path = absolutePath('link', opts.path);
  if (!opts.target || /[\0\n]/.test(opts.target)) throw new Error(`link ${path}: target ${JSON.stringify(opts.target)} must be a non-empty path without newlines`);
  return {
    ...base('link', path, opts),
    probe: sh`if [ -L ${path} ]; then printf 'link %s\n' "$(readlink -- ${path})"; elif [ -e ${path} ]; then echo other; else echo absent; fi`.text,
    plan(current: ProbeResult): Change<void> | null {
      const out = current.stdout.replace(/\n$/, '');
      if (out === `link ${opts.target}`) return null;
      if (out === 'other') throw new Error(`${path} exists and is not a symbolic link; refusing to replace it`);
      return { summary: out === 'absent' ? `create -> ${opts.target}` : `retarget ${out.slice(5)} -> ${opts.target}` };
    },
    async apply(_c: Change<void>, ctx: HostContext): Promise<void> {
      const tmp = `${path}.rigger-tmp`;
      await ctx.remote.run(sh`set -e; ln -sfn -- ${opts.target} ${tmp}; mv -fT -- ${tmp} ${path}`.text);
    },
  };
}
