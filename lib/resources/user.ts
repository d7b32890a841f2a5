// Local users and groups.
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { base } from './common.js';
import { shq } from './shell.js';

export interface GroupOptions extends CommonOptions {
  name: string;
  system?: boolean;
  state?: 'present' | 'absent';
}

export function group(opts: GroupOptions): Resource {
  const state = opts.state ?? 'present';
  return {
    ...base('group', opts.name, opts),
    probe: `getent group ${shq(opts.name)} >/dev/null && echo present || echo absent`,
    plan(current: ProbeResult): Change | null {
      const have = current.stdout.trim();
      return have === state ? null : { summary: state === 'present' ? 'create' : 'delete' };
    },
    async apply(_c: Change, ctx: HostContext): Promise<void> {
      await ctx.remote.run(state === 'present' ? `groupadd ${opts.system ? '--system ' : ''}${shq(opts.name)}` : `groupdel ${shq(opts.name)}`);
    },
  };
}

export interface UserOptions extends CommonOptions {
  name: string;
  shell?: string;
  home?: string;
  /** supplementary groups the user must belong to (others are left alone unless exclusiveGroups) */
  groups?: string[];
  exclusiveGroups?: boolean;
  system?: boolean;
  comment?: string;
  state?: 'present' | 'absent';
}

export function user(opts: UserOptions): Resource {
  const state = opts.state ?? 'present';
  const n = shq(opts.name);
  return {
    ...base('user', opts.name, opts),
    probe: `if getent passwd ${n}; then echo "|$(id -Gn ${n} | tr ' ' ',')|$(id -gn ${n})"; else echo absent; fi`,
    plan(current: ProbeResult): Change | null {
      const out = current.stdout.trim();
      if (out === 'absent') return state === 'absent' ? null : { summary: 'create', data: { create: true } };
      if (state === 'absent') return { summary: 'delete', data: { remove: true } };
      const [pw, membership = '||'] = out.split('\n');
      const [, groupList = '', primary = ''] = membership.split('|');
      const [, , , , gecos, home, shell] = pw.split(':');
      const have = new Set(groupList.split(',').filter((g) => g && g !== primary));
      const changes: string[] = [];
      if (opts.shell && shell !== opts.shell) changes.push(`shell ${shell} -> ${opts.shell}`);
      if (opts.home && home !== opts.home) changes.push(`home ${home} -> ${opts.home}`);
      if (opts.comment !== undefined && gecos !== opts.comment) changes.push(`comment`);
      // `id -Gn` lists the primary group once, so a listed primary group is already a membership
      const missing = (opts.groups ?? []).filter((g) => !have.has(g) && g !== primary);
      const extra = opts.exclusiveGroups ? [...have].filter((g) => !(opts.groups ?? []).includes(g)) : [];
      if (missing.length) changes.push(`add to ${missing.join(',')}`);
      if (extra.length) changes.push(`remove from ${extra.join(',')}`);
      return changes.length ? { summary: changes.join(', '), data: {} } : null;
    },
    async apply(change: Change, ctx: HostContext): Promise<void> {
      const d = change.data as { create?: boolean; remove?: boolean };
      if (d.remove) {
        await ctx.remote.run(`userdel ${n}`);
        return;
      }
      const flags = [
        opts.shell ? `--shell ${shq(opts.shell)}` : '',
        opts.home ? `--home-dir ${shq(opts.home)}` : '',
        opts.comment !== undefined ? `--comment ${shq(opts.comment)}` : '',
      ].filter(Boolean);
      const groups = opts.groups?.length ? `--groups ${shq(opts.groups.join(','))}` : '';
      if (d.create) {
        await ctx.remote.run(`useradd --create-home ${opts.system ? '--system ' : ''}${flags.join(' ')} ${groups} ${n}`);
      } else {
        const append = opts.exclusiveGroups ? '' : '--append';
        const groupFlags = opts.groups?.length || opts.exclusiveGroups ? `${append} --groups ${shq((opts.groups ?? []).join(','))}` : '';
        await ctx.remote.run(`usermod ${flags.join(' ')} ${groupFlags} ${n}`);
      }
    },
  };
}
