// A user's ~/.ssh/authorized_keys: listed keys present; others removed only when exclusive.
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { base } from './common.js';
import { writeAtomically } from './file.js';
import { shq } from './shell.js';

export interface AuthorizedKeysOptions extends CommonOptions {
  user: string;
  keys: string[];
  /** remove keys not listed (default false) */
  exclusive?: boolean;
}

/** Identity of a key line: its type and base64 blob, ignoring options and comment. */
export function keyIdentity(line: string): string | null {
  const m = line.match(/(?:^|\s)((?:ssh|ecdsa|sk)-[a-z0-9@.-]+)\s+([A-Za-z0-9+/=]{20,})/);
  return m ? `${m[1]} ${m[2]}` : null;
}

export function authorizedKeys(opts: AuthorizedKeysOptions): Resource {
  for (const k of opts.keys) if (!keyIdentity(k)) throw new Error(`authorized key for ${opts.user} is not an SSH public key line: ${JSON.stringify(k.slice(0, 40))}`);
  const u = shq(opts.user);
  return {
    ...base('authorized-keys', opts.user, opts),
    probe: `h=$(getent passwd ${u} | cut -d: -f6); [ -n "$h" ] || { echo nouser; exit 0; }; echo "$h"; f="$h/.ssh/authorized_keys"; stat -c '%a|%U' "$f" 2>/dev/null || echo absent; cat "$f" 2>/dev/null; true`,
    plan(current: ProbeResult, ctx: HostContext): Change | null {
      const [home, st, ...lines] = current.stdout.split('\n');
      if (home === 'nouser') {
        if (!ctx.check) throw new Error(`user ${opts.user} does not exist`);
        // The user is created earlier in the same run: show the whole file it will get.
        const content = opts.keys.length ? opts.keys.join('\n') + '\n' : '';
        return {
          summary: `add ${opts.keys.length} key(s) (user not created yet)`,
          data: null,
          ...(ctx.wantDiff ? { diff: { path: `~${opts.user}/.ssh/authorized_keys`, before: '', after: content } } : {}),
        };
      }
      const existing = lines.filter((l) => l.trim());
      const wanted = new Set(opts.keys.map(keyIdentity));
      const haveIds = new Set(existing.map(keyIdentity));
      const kept = opts.exclusive ? existing.filter((l) => wanted.has(keyIdentity(l))) : existing;
      const added = opts.keys.filter((k) => !haveIds.has(keyIdentity(k)));
      const next = [...kept, ...added];
      const removed = existing.length - kept.length;
      const attrsOk = st === `600|${opts.user}`;
      if (!added.length && !removed && attrsOk) return null;
      const summary = [added.length ? `add ${added.length} key(s)` : '', removed ? `remove ${removed} key(s)` : '', !attrsOk && st !== 'absent' ? 'fix mode/owner' : ''].filter(Boolean).join(', ');
      const content = next.join('\n') + '\n';
      return { summary, data: { home, content }, diff: { path: `${home}/.ssh/authorized_keys`, before: existing.length ? existing.join('\n') + '\n' : '', after: content } };
    },
    async apply(change: Change, ctx: HostContext): Promise<void> {
      const { home, content } = change.data as { home: string; content: string };
      await ctx.remote.run(`set -e; g=$(id -gn ${u}); install -d -m 0700 -o ${u} -g "$g" ${shq(`${home}/.ssh`)}`);
      const gid = (await ctx.remote.run(`id -gn ${u}`)).stdout.trim();
      await writeAtomically(ctx, `${home}/.ssh/authorized_keys`, Buffer.from(content), { mode: '600', owner: opts.user, group: gid });
    },
  };
}
