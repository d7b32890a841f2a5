import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { attrDiff, base, wantedAttrs } from './common.js';
import { parseStat, shq, statProbe } from './shell.js';

export interface DirectoryOptions extends CommonOptions {
  path: string;
  mode?: string;
  owner?: string;
  group?: string;
}

export function directory(opts: DirectoryOptions): Resource {
  const want = wantedAttrs(opts, '0755');
  const p = shq(opts.path);
  return {
    ...base('directory', opts.path, opts),
    probe: statProbe(opts.path),
    plan(current: ProbeResult): Change | null {
      const st = parseStat(current.stdout.trim());
      if (st && st.type !== 'directory') throw new Error(`${opts.path} exists but is a ${st.type}, not a directory`);
      if (!st) return { summary: `create (mode ${want.mode}, ${want.owner}:${want.group})` };
      const attrs = attrDiff(st, want);
      return attrs.length ? { summary: attrs.join(', ') } : null;
    },
    async apply(_c: Change, ctx: HostContext): Promise<void> {
      await ctx.remote.run(`set -e; mkdir -p ${p}; chown ${shq(`${want.owner}:${want.group}`)} ${p}; chmod ${want.mode} ${p}`);
    },
  };
}
