// Custom resources and the handler of the ssh-hardening role. They talk to the
// host only through ctx.remote; all decisions are in settings.ts (pure).
import { randomBytes } from 'node:crypto';
import type { Change, Handler, HostContext, ProbeResult, ShellResource as Resource } from '../../lib/engine/types.js';
import { file, sh, shellFile } from '../../lib/resources/index.js';
import type { FileChange } from '../../lib/resources/file.js';
import {
  compareEffective,
  describeMismatches,
  DROPIN,
  DROPIN_PREV,
  HANDLER,
  lockoutProblems,
  MAIN_CONFIG,
  parseCulprits,
  parseGuardProbe,
  tName,
  type Settings,
} from './settings.js';

const DROPIN_DIR = '/etc/ssh/sshd_config.d';
const TAGS = ['sshd'];
const GUARD_PROBE = shellFile(new URL('./files/guard-probe.sh', import.meta.url));
const WRITE_DROPIN = shellFile(new URL('./files/write-dropin.sh', import.meta.url));
const RELOAD_SSHD = shellFile(new URL('./files/reload-sshd.sh', import.meta.url));
const SSHD_EFFECTIVE = shellFile(new URL('./files/sshd-effective.sh', import.meta.url));

// ---------------------------------------------------------------- lockout guard

/** Shell probe of everything the lockout rules need; read-only (files/guard-probe.sh). */
export function guardProbe(user: string, authorizedKeysFile: string | undefined): string {
  return GUARD_PROBE(user, MAIN_CONFIG, authorizedKeysFile === undefined ? 'unset' : 'set', authorizedKeysFile ?? '').text;
}

/**
 * Runs before anything changes (first resource of the role): refuses the whole
 * role when the new settings would lock the login user out. Never a change.
 */
export function lockoutGuard(settings: Settings, loginUser: string): Resource<never> {
  return {
    id: `ssh-lockout-guard:${loginUser}`,
    tags: [...TAGS],
    notify: [],
    probe: guardProbe(loginUser, settings.get('AuthorizedKeysFile')),
    plan(current: ProbeResult, ctx: HostContext): null {
      const g = parseGuardProbe(current.stdout);
      const problems = lockoutProblems(settings, g);
      if (problems.length)
        throw new Error(`refusing to change sshd on ${ctx.host}: the new settings would lock rigger out; nothing was changed.\n  - ${problems.join('\n  - ')}`);
      const keys = g.files.reduce((n, f) => n + f.lines.length, 0);
      if (keys === 0) ctx.log(`ssh lockout guard: ${loginUser} has no key file, relying on AuthorizedKeysCommand ${g.authorizedKeysCommand}`);
      return null;
    },
    async apply(): Promise<void> {
      // plan never returns a change
    },
  };
}

// ---------------------------------------------------------------- drop-in

/**
 * One round trip (files/write-dropin.sh): the candidate (stdin) to a temp file,
 * `sshd -t` on the full configuration with the candidate in place of the
 * drop-in, a backup of the old drop-in, an atomic rename.
 */
export function writeScript(tmpName: string): string {
  return WRITE_DROPIN(`${DROPIN_DIR}/${tmpName}`, DROPIN, DROPIN_PREV, DROPIN_DIR, MAIN_CONFIG).text;
}

/** The drop-in: plan (diff) like a file resource; apply validates against the full config and keeps a backup. */
export function hardeningDropIn(content: string): Resource<FileChange> {
  const inner = file({ path: DROPIN, content, mode: '0644', owner: 'root', group: 'root' });
  return {
    ...inner,
    id: `template:${DROPIN}`,
    tags: [...TAGS],
    notify: [HANDLER],
    async apply(change: Change<FileChange>, ctx: HostContext): Promise<void> {
      if (!change.data?.contentChanged) return inner.apply(change, ctx); // mode/owner only
      const r = await ctx.remote.run(writeScript(`.rigger-${randomBytes(6).toString('hex')}.tmp`), { stdin: content, check: false });
      if (r.code !== 0) throw new Error(r.stderr.trim() || `writing ${DROPIN} failed (exit ${r.code})`);
    },
  };
}

// ---------------------------------------------------------------- reload handler

/** Put the config in force for new connections (files/reload-sshd.sh); prints what it did. */
export function reloadScript(restartIfDown: boolean): string {
  return RELOAD_SSHD(restartIfDown ? 1 : 0).text;
}

const RESTORE_SCRIPT = sh`if [ -f ${DROPIN_PREV} ]; then mv -f -- ${DROPIN_PREV} ${DROPIN}; echo restored; else rm -f -- ${DROPIN}; echo removed; fi`.text;

async function reload(ctx: HostContext, restartIfDown = false): Promise<string> {
  const how = (await ctx.remote.run(reloadScript(restartIfDown))).stdout.trim().split('\n').pop() ?? '';
  if (how === 'none' || !how) throw new Error('no running sshd to reload: neither ssh.service nor ssh.socket is active and /run/sshd.pid names no process');
  return how;
}

/** A reloaded sshd re-executes itself and briefly stops listening: retry a few times before calling it a lockout. */
export async function verifyWithRetry(ctx: HostContext, delaysMs = [0, 300, 700, 1500, 3000]): Promise<void> {
  let last: unknown;
  for (const d of delaysMs) {
    if (d) await new Promise((r) => setTimeout(r, d));
    try {
      await ctx.remote.verifyNewConnection();
      return;
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

/**
 * After the drop-in changed: reload the unit that runs sshd, then prove that a
 * NEW connection (same user, key and become) still works. If it does not, put
 * the previous drop-in back, reload again and fail the host.
 */
export function reloadSshdHandler(opts: { retryDelaysMs?: number[] } = {}): Handler {
  const verify = (ctx: HostContext) => verifyWithRetry(ctx, opts.retryDelaysMs);
  return {
    name: HANDLER,
    async run(ctx: HostContext): Promise<void> {
      const how = await reload(ctx);
      try {
        await verify(ctx);
        ctx.log(`sshd config in force (${how}); a new SSH connection works`);
        return;
      } catch (e: any) {
        const first = e?.message ?? String(e);
        let outcome: string;
        try {
          const what = (await ctx.remote.run(RESTORE_SCRIPT)).stdout.trim();
          const how2 = await reload(ctx, true);
          await verify(ctx);
          outcome = `${what === 'restored' ? `restored the previous ${DROPIN}` : `removed ${DROPIN} (there was none before)`}, reloaded (${how2}); new connections work again`;
        } catch (e2: any) {
          outcome = `rolling back failed as well (${e2?.message ?? e2}); check the host from its console`;
        }
        throw new Error(`a new SSH connection failed after the new ${DROPIN} was put in force (${how}): ${first}. ${outcome}`, { cause: e });
      }
    },
  };
}

// ---------------------------------------------------------------- effective config

/**
 * Every run: `sshd -T` for the login user must show each setting of the
 * drop-in. Something read earlier (the top of sshd_config, a drop-in sorting
 * before 00-, a Match block) can win over it; that fails the host loudly.
 * Linked `after` the drop-in: in check mode, while the drop-in would still
 * change, the engine skips this check (sshd -T shows the old settings).
 */
export function effectiveConfigCheck(settings: Settings, loginUser: string, dropIn?: Resource): Resource<never> {
  return {
    id: `sshd-effective-config:${loginUser}`,
    tags: [...TAGS],
    notify: [],
    ...(dropIn ? { links: { after: [dropIn.id] } } : {}),
    probe: SSHD_EFFECTIVE(loginUser).text,
    async plan(current: ProbeResult, ctx: HostContext): Promise<null> {
      if (current.code !== 0) throw new Error(`sshd -T failed (exit ${current.code}): ${current.stdout.trim().split('\n').slice(-5).join('\n')}`);
      const { mismatches, unverified } = compareEffective(settings, current.stdout);
      if (unverified.length) ctx.log(`sshd -T does not show (so cannot verify): ${unverified.join(', ')}`);
      if (!mismatches.length) return null;
      const names = [...new Set(mismatches.flatMap((m) => [m.keyword, tName(m.keyword) === 'kbdinteractiveauthentication' ? 'ChallengeResponseAuthentication' : m.keyword]))];
      const pattern = `^[[:space:]]*(${names.join('|')})([[:space:]]|=)`;
      const grep = await ctx.remote.run(sh`grep -HniE -- ${pattern} ${MAIN_CONFIG} ${DROPIN_DIR}/*.conf 2>/dev/null; true`.text, { check: false });
      const culprits = parseCulprits(grep.stdout, names);
      throw new Error(
        `sshd -T (user ${loginUser}) shows ${mismatches.length} setting(s) of ${DROPIN} NOT in force; something read before it ` +
          `(top of ${MAIN_CONFIG}, a drop-in sorting before 00-, or a Match block) sets them:\n${describeMismatches(mismatches, culprits)}`,
      );
    },
    async apply(): Promise<void> {
      // plan never returns a change
    },
  };
}
