import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { absolutePath, attrDiff, base, wantedAttrs } from './common.js';
import { parseStat, sh, statProbe } from './shell.js';

export interface DirectoryOptions extends CommonOptions {
  path: string;
  mode?: string;
  owner?: string;
  group?: string;
}

export function directory(opts: DirectoryOptions): Resource<void> {
  const path = absolutePath('directory', opts.path);
  const want = wantedAttrs(opts, '0755');
  return {
    ...base('directory', path, opts),
    probe: statProbe(path),
    plan(current: ProbeResult): Change<void> | null {
      const st = parseStat(current.stdout.trim());
      if (st && st.type !== 'directory') throw new Error(`${path} exists but is a ${st.type}, not a directory`);
      if (!st) return { summary: `create (mode ${want.mode}, ${want.owner}:${want.group})` };
      const attrs = attrDiff(st, want);
      return attrs.length ? { summary: attrs.join(', ') } : null;
    },
    async apply(_c: Change<void>, ctx: HostContext): Promise<void> {
      await ctx.remote.run(sh`set -e; mkdir -p -- ${path}; chown -- ${`${want.owner}:${want.group}`} ${path}; chmod -- ${want.mode} ${path}`.text);
    },
  };
}
