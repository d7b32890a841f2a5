// A user's ~/.ssh/authorized_keys: listed keys present; others removed only when exclusive.
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { clip } from '../secrets.js';
import { base } from './common.js';
import { writeAtomically } from './file.js';
import { sh } from './shell.js';
import { accountName } from './user.js';

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

type KeysChange = { home: string; group: string; content: string } | null;

export function authorizedKeys(opts: AuthorizedKeysOptions): Resource<KeysChange> {
  const name = accountName('authorized keys: user', opts.user);
  for (const k of opts.keys) {
    // one key is one line: a newline would add a line (a key, or options) of its own
    if (!keyIdentity(k) || /[\r\n\0]/.test(k)) throw new Error(`authorized key for ${name} is not an SSH public key line: ${JSON.stringify(clip(k, 40))}`);
  }
  return {
    ...base('authorized-keys', name, opts),
    // home, primary group, mode|owner of the file (or absent), then its lines
    probe: sh`h=$(getent passwd -- ${name} | cut -d: -f6); [ -n "$h" ] || { echo nouser; exit 0; }
printf '%s\n' "$h"; id -gn -- ${name}
f="$h/.ssh/authorized_keys"; stat -c '%a|%U' -- "$f" 2>/dev/null || echo absent; cat -- "$f" 2>/dev/null; true`.text,
    plan(current: ProbeResult, ctx: HostContext): Change<KeysChange> | null {
      const [home, group, st, ...lines] = current.stdout.split('\n');
      if (home === 'nouser') {
        if (!ctx.check) throw new Error(`user ${name} does not exist`);
        // The user is created earlier in the same run: show the whole file it will get.
        const content = opts.keys.length ? opts.keys.join('\n') + '\n' : '';
        return {
          summary: `add ${opts.keys.length} key(s) (user not created yet)`,
          data: null,
          ...(ctx.wantDiff ? { diff: { path: `~${name}/.ssh/authorized_keys`, before: '', after: content } } : {}),
        };
      }
      const existing = lines.filter((l) => l.trim());
      const wanted = new Set(opts.keys.map(keyIdentity));
      const haveIds = new Set(existing.map(keyIdentity));
      const kept = opts.exclusive ? existing.filter((l) => wanted.has(keyIdentity(l))) : existing;
      const added = opts.keys.filter((k) => !haveIds.has(keyIdentity(k)));
      const next = [...kept, ...added];
      const removed = existing.length - kept.length;
      const attrsOk = st === `600|${name}`;
      if (!added.length && !removed && attrsOk) return null;
      const summary = [added.length ? `add ${added.length} key(s)` : '', removed ? `remove ${removed} key(s)` : '', !attrsOk && st !== 'absent' ? 'fix mode/owner' : ''].filter(Boolean).join(', ');
      const content = next.join('\n') + '\n';
      return { summary, data: { home, group, content }, diff: { path: `${home}/.ssh/authorized_keys`, before: existing.length ? existing.join('\n') + '\n' : '', after: content } };
    },
    async apply(change: Change<KeysChange>, ctx: HostContext): Promise<void> {
      if (!change.data) throw new Error(`user ${name} does not exist`);
      const { home, group, content } = change.data;
      await ctx.remote.run(sh`install -d -m 0700 -o ${name} -g ${group} -- ${`${home}/.ssh`}`.text);
      await writeAtomically(ctx, `${home}/.ssh/authorized_keys`, Buffer.from(content), { mode: '600', owner: name, group });
    },
  };
}
