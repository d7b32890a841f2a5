// Custom resources and the handler of the ssh-hardening role. They talk to the
// host only through ctx.remote; all decisions are in settings.ts (pure).
import { randomBytes } from 'node:crypto';
import type { Change, Handler, HostContext, ProbeResult, ShellResource as Resource } from '../../lib/engine/types.js';
import { file, shq } from '../../lib/resources/index.js';
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
/** ctx.state key: the drop-in differs from what we want (set in plan, read by the effective-config check). */
export const DROPIN_PENDING = 'ssh-hardening:dropin-pending';
const TAGS = ['sshd'];

/**
 * `-C` connection spec for sshd -T: the login user, and the client address of
 * our own connection when the shell still has it (sudo resets SSH_CONNECTION),
 * so Match User / Match Address blocks are evaluated as for rigger.
 */
const CONNECTION_SPEC = (user: string) =>
  `set -- \${SSH_CONNECTION:-127.0.0.1 0 127.0.0.1 22}; spec="user=${user},host=$1,addr=$1,laddr=$3,lport=$4"`;

// ---------------------------------------------------------------- lockout guard

/** Shell probe of everything the lockout rules need; read-only. */
export function guardProbe(user: string, authorizedKeysFile: string | undefined): string {
  const u = shq(user);
  return [
    'set -f',
    `u=${u}`,
    'echo "user=$u"',
    'pw=$(getent passwd "$u") || { echo nouser; exit 0; }',
    'home=$(printf %s "$pw" | cut -d: -f6); uid=$(printf %s "$pw" | cut -d: -f3)',
    'echo "home=$home"; echo "uid=$uid"; echo "groups=$(id -Gn "$u" 2>/dev/null)"',
    `if grep -qiE '^[[:space:]]*include[[:space:]].*sshd_config\\.d/\\*\\.conf' ${MAIN_CONFIG}; then echo include=yes; else echo include=no; fi`,
    CONNECTION_SPEC('$u'),
    'cfg=$(sshd -T -C "$spec" 2>&1) || { printf "%s\\n" "$cfg" | sed "s/^/sshderr=/"; exit 0; }',
    authorizedKeysFile !== undefined
      ? `akf=${shq(authorizedKeysFile)}`
      : `akf=$(printf '%s\\n' "$cfg" | awk '$1=="authorizedkeysfile"{$1=""; sub(/^ +/, ""); print; exit}')`,
    `akc=$(printf '%s\\n' "$cfg" | awk '$1=="authorizedkeyscommand"{$1=""; sub(/^ +/, ""); print; exit}')`,
    'echo "akf=$akf"; echo "akc=${akc:-none}"',
    'for f in $akf; do',
    '  [ "$f" = none ] && continue',
    `  p=$(printf '%s' "$f" | sed -e "s|%h|$home|g" -e "s|%u|$u|g" -e "s|%U|$uid|g" -e 's|%%|%|g')`,
    '  case "$p" in /*) ;; *) p="$home/$p";; esac',
    `  if [ -f "$p" ]; then echo "file=$p"; grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$p" | sed 's/^/key=/'; else echo "missing=$p"; fi`,
    'done',
    // runuser needs no login shell and no password: it tells whether the user itself can sudo -n.
    'if [ "$u" != root ]; then if runuser -u "$u" -- sudo -n true >/dev/null 2>&1; then echo sudo=ok; else echo sudo=fail; fi; fi',
    'true',
  ].join('\n');
}

/**
 * Runs before anything changes (first resource of the role): refuses the whole
 * role when the new settings would lock the login user out. Never a change.
 */
export function lockoutGuard(settings: Settings, loginUser: string): Resource {
  return {
    id: `ssh-lockout-guard:${loginUser}`,
    tags: [...TAGS],
    notify: [],
    probe: guardProbe(loginUser, settings.get('AuthorizedKeysFile')),
    plan(current: ProbeResult, ctx: HostContext): Change | null {
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
 * Shell script (argument: candidate file) that checks the candidate with
 * `sshd -t` as part of the FULL configuration, exactly as sshd will read it
 * once installed: a temporary copy of sshd_config whose Include of
 * sshd_config.d points at a temporary copy of that folder, where the candidate
 * takes the place of our drop-in. A drop-in alone is not a valid config, and
 * checking the real sshd_config would read the old drop-in, not the new one.
 */
export function validateScript(): string {
  return `cand=$1
set -e
d=$(mktemp -d "\${TMPDIR:-/tmp}/rigger-sshd-check.XXXXXX")
trap 'rm -rf "$d"' EXIT
mkdir "$d/conf.d"
for f in ${DROPIN_DIR}/*.conf; do
  [ -f "$f" ] || continue
  [ "$f" = ${shq(DROPIN)} ] && continue
  cp "$f" "$d/conf.d/"
done
cp "$cand" "$d/conf.d/${DROPIN.slice(DROPIN_DIR.length + 1)}"
sed -e '/^[[:space:]]*[Ii][Nn][Cc][Ll][Uu][Dd][Ee][[:space:]]/{' -e "s#${DROPIN_DIR}/#$d/conf.d/#g" -e "s#\\([[:space:]]\\)sshd_config\\.d/#\\1$d/conf.d/#g" -e '}' ${MAIN_CONFIG} > "$d/sshd_config"
if ! grep -q "$d/conf.d/" "$d/sshd_config"; then
  echo "${MAIN_CONFIG} has no 'Include ${DROPIN_DIR}/*.conf' line: sshd would ignore ${DROPIN}" >&2
  exit 1
fi
[ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd
if ! out=$(sshd -t -f "$d/sshd_config" 2>&1); then
  printf '%s\\n' "$out" | sed -e "s#$d/conf.d/#(new) ${DROPIN_DIR}/#g" -e "s#$d/sshd_config#${MAIN_CONFIG}#g" >&2
  exit 1
fi
[ -z "$out" ] || printf '%s\\n' "$out" >&2
`;
}

/** One round trip: candidate to a temp file, sshd -t on the full config, backup of the old drop-in, atomic rename. */
export function writeScript(tmpName: string): string {
  const t = shq(`${DROPIN_DIR}/${tmpName}`);
  return `set -e
t=${t}
trap 'rm -f "$t"' EXIT
umask 077
cat > "$t"
chown root:root "$t"
chmod 644 "$t"
if ! out=$(sh -c ${shq(validateScript())} rigger-sshd-check "$t" 2>&1); then
  printf 'sshd -t rejects the new %s, so it was not installed (the current configuration stays in force):\\n%s\\n' ${shq(DROPIN)} "$out" >&2
  exit 3
fi
if [ -f ${shq(DROPIN)} ]; then cp -p ${shq(DROPIN)} ${shq(DROPIN_PREV)}; else rm -f ${shq(DROPIN_PREV)}; fi
sync "$t" 2>/dev/null || sync
mv -f "$t" ${shq(DROPIN)}
trap - EXIT
`;
}

/** The drop-in: plan (diff) like a file resource; apply validates against the full config and keeps a backup. */
export function hardeningDropIn(content: string): Resource {
  const inner = file({ path: DROPIN, content, mode: '0644', owner: 'root', group: 'root' });
  return {
    ...inner,
    id: `template:${DROPIN}`,
    tags: [...TAGS],
    notify: [HANDLER],
    async plan(current: ProbeResult, ctx: HostContext): Promise<Change | null> {
      const change = await inner.plan(current, ctx);
      if (change) ctx.state.set(DROPIN_PENDING, true);
      else ctx.state.delete(DROPIN_PENDING);
      return change;
    },
    async apply(change: Change, ctx: HostContext): Promise<void> {
      if (!(change.data as { contentChanged: boolean }).contentChanged) return inner.apply(change, ctx); // mode/owner only
      const r = await ctx.remote.run(writeScript(`.rigger-${randomBytes(6).toString('hex')}.tmp`), { stdin: content, check: false });
      if (r.code !== 0) throw new Error(r.stderr.trim() || `writing ${DROPIN} failed (exit ${r.code})`);
      ctx.state.delete(DROPIN_PENDING);
    },
  };
}

// ---------------------------------------------------------------- reload handler

/** Put the config in force for new connections; prints what it did. */
export function reloadScript(restartIfDown: boolean): string {
  return `if systemctl is-active --quiet ssh.service 2>/dev/null; then
  # The sshd daemon (also when Debian 12's ssh.socket, Accept=no, started it):
  # it reads its configuration only at start and on SIGHUP.
  systemctl reload ssh.service${restartIfDown ? ' || systemctl restart ssh.service' : ''}
  if systemctl is-active --quiet ssh.socket 2>/dev/null; then echo 'ssh.service via ssh.socket'; else echo ssh.service; fi
elif systemctl is-active --quiet ssh.socket 2>/dev/null; then
  # inetd-style socket activation (ssh.socket with Accept=yes + ssh@.service):
  # every connection starts its own "sshd -i", which reads the configuration
  # files itself. There is no daemon to reload; new connections already use
  # the new drop-in.
  echo ssh.socket
elif [ -s /run/sshd.pid ] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null; then
  kill -HUP "$(cat /run/sshd.pid)"
  echo sshd-pid
${restartIfDown ? `elif systemctl is-enabled --quiet ssh.service 2>/dev/null; then\n  systemctl restart ssh.service\n  echo ssh.service-restarted\n` : ''}else
  echo none
fi`;
}

const RESTORE_SCRIPT = `if [ -f ${shq(DROPIN_PREV)} ]; then mv -f ${shq(DROPIN_PREV)} ${shq(DROPIN)}; echo restored; else rm -f ${shq(DROPIN)}; echo removed; fi`;

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
 */
export function effectiveConfigCheck(settings: Settings, loginUser: string): Resource {
  return {
    id: `sshd-effective-config:${loginUser}`,
    tags: [...TAGS],
    notify: [],
    probe: `u=${shq(loginUser)}\n${CONNECTION_SPEC('$u')}\nsshd -T -C "$spec" 2>&1`,
    async plan(current: ProbeResult, ctx: HostContext): Promise<Change | null> {
      if (ctx.check && ctx.state.get(DROPIN_PENDING)) {
        ctx.log('sshd -T check deferred: the drop-in would change first');
        return null;
      }
      if (current.code !== 0) throw new Error(`sshd -T failed (exit ${current.code}): ${current.stdout.trim().split('\n').slice(-5).join('\n')}`);
      const { mismatches, unverified } = compareEffective(settings, current.stdout);
      if (unverified.length) ctx.log(`sshd -T does not show (so cannot verify): ${unverified.join(', ')}`);
      if (!mismatches.length) return null;
      const names = [...new Set(mismatches.flatMap((m) => [m.keyword, tName(m.keyword) === 'kbdinteractiveauthentication' ? 'ChallengeResponseAuthentication' : m.keyword]))];
      const grep = await ctx.remote.run(
        `grep -HniE '^[[:space:]]*(${names.join('|')})([[:space:]]|=)' ${MAIN_CONFIG} ${DROPIN_DIR}/*.conf 2>/dev/null; true`,
        { check: false },
      );
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
