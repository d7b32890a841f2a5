// Local users and groups.
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { absolutePath, accountName, base } from './common.js';
import { raw, sh } from './shell.js';

export interface GroupOptions extends CommonOptions {
  name: string;
  system?: boolean;
  state?: 'present' | 'absent';
}

export { accountName };

export function group(opts: GroupOptions): Resource<void> {
  const state = opts.state ?? 'present';
  const name = accountName('group', opts.name);
  return {
    ...base('group', name, opts),
    probe: sh`getent group -- ${name} >/dev/null && echo present || echo absent`.text,
    plan(current: ProbeResult): Change<void> | null {
      const have = current.stdout.trim();
      return have === state ? null : { summary: state === 'present' ? 'create' : 'delete' };
    },
    async apply(_c: Change<void>, ctx: HostContext): Promise<void> {
      await ctx.remote.run((state === 'present' ? sh`groupadd ${raw(opts.system ? '--system ' : '')}-- ${name}` : sh`groupdel -- ${name}`).text);
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

type UserChange = { create?: boolean; remove?: boolean };

export function user(opts: UserOptions): Resource<UserChange> {
  const state = opts.state ?? 'present';
  const name = accountName('user', opts.name);
  const groups = (opts.groups ?? []).map((g) => accountName(`user ${name}: group`, g));
  if (opts.shell !== undefined) absolutePath(`user ${name}: shell`, opts.shell);
  if (opts.home !== undefined) absolutePath(`user ${name}: home`, opts.home);
  // a ":" or a newline would be a field or a line of /etc/passwd
  if (opts.comment !== undefined && /[:\n\r\0]/.test(opts.comment)) throw new Error(`user ${name}: comment ${JSON.stringify(opts.comment)} must not contain ":" or a newline`);
  return {
    ...base('user', name, opts),
    probe: sh`if getent passwd -- ${name}; then echo "|$(id -Gn -- ${name} | tr ' ' ',')|$(id -gn -- ${name})"; else echo absent; fi`.text,
    plan(current: ProbeResult): Change<UserChange> | null {
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
      const missing = groups.filter((g) => !have.has(g) && g !== primary);
      const extra = opts.exclusiveGroups ? [...have].filter((g) => !groups.includes(g)) : [];
      if (missing.length) changes.push(`add to ${missing.join(',')}`);
      if (extra.length) changes.push(`remove from ${extra.join(',')}`);
      return changes.length ? { summary: changes.join(', '), data: {} } : null;
    },
    async apply(change: Change<UserChange>, ctx: HostContext): Promise<void> {
      const d = change.data ?? {};
      if (d.remove) {
        await ctx.remote.run(sh`userdel -- ${name}`.text);
        return;
      }
      const flags = [
        ...(opts.shell ? ['--shell', opts.shell] : []),
        ...(opts.home ? ['--home-dir', opts.home] : []),
        ...(opts.comment !== undefined ? ['--comment', opts.comment] : []),
      ];
      if (d.create) {
        const groupFlags = groups.length ? ['--groups', groups.join(',')] : [];
        await ctx.remote.run(sh`useradd --create-home ${raw(opts.system ? '--system ' : '')}${[...flags, ...groupFlags]} -- ${name}`.text);
      } else {
        const groupFlags = groups.length || opts.exclusiveGroups ? [...(opts.exclusiveGroups ? [] : ['--append']), '--groups', groups.join(',')] : [];
        await ctx.remote.run(sh`usermod ${[...flags, ...groupFlags]} -- ${name}`.text);
      }
    },
  };
}
