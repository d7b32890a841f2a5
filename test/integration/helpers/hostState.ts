/**
 * Reading a test host's state independently of the engine: everything here
 * goes through `docker exec`, never through rigger's own SSH transport.
 *
 * snapshotHost() lists (path, type, mode, owner, group, size, mtime, link
 * target) of every file under the directories a role can touch, the sha256 of
 * the regular files under the configuration and state directories, the package
 * database, users, groups and unit states (which units are enabled is in the
 * listing too: the symbolic links under /etc/systemd/system). Two snapshots taken
 * before and after a check-mode run must be byte-for-byte identical. Directory
 * mtimes are part of it, so even a temporary file created and removed again
 * shows up.
 *
 * Left out, because they change without anyone running rigger (or because
 * logging in over SSH changes them, which is not a change a run makes):
 * /var/log (journal, lastlog, wtmp), /var/tmp, /tmp, /run, and the few files
 * systemd's timers and boot machinery rewrite on their own (listed in NOISE).
 */
import { run, type RunResult } from '../../hosts/exec.js';

/** Paths pruned from snapshots: they change on an idle host or on an SSH login. */
export const NOISE = [
  '/var/log',
  '/var/tmp',
  '/var/cache/man',
  '/var/lib/systemd/timers',
  '/var/lib/systemd/random-seed',
  '/var/lib/systemd/timesync',
  '/var/lib/logrotate',
];

/** Listed with type/mode/owner/size/mtime (not /proc, /sys, /dev, /run, /tmp: not state). */
const LISTED = ['/etc', '/opt', '/srv', '/usr', '/var', '/root', '/home'];
/** Listed and also hashed (every regular file's sha256). */
const HASHED = ['/etc', '/opt', '/root', '/home', '/usr/local', '/var/lib', '/var/spool', '/var/cache/apt', '/var/cache/debconf', '/var/backups'];

/** Runs a script with `sh -c` inside the container (as root). */
export async function dexec(containerId: string, script: string, input?: string | Buffer): Promise<RunResult> {
  return run(['docker', 'exec', ...(input === undefined ? [] : ['-i']), containerId, 'sh', '-c', script], { allowFail: true, input });
}

/** Like dexec, but throws unless the script exits 0, and returns stdout. */
export async function sh(containerId: string, script: string): Promise<string> {
  const r = await dexec(containerId, script);
  if (r.code !== 0) throw new Error(`docker exec ${containerId.slice(0, 12)} sh -c ${JSON.stringify(script)} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

const prune = NOISE.map((p) => `-path ${p}`).join(' -o ');

export interface SnapshotOptions {
  /** systemd units whose is-enabled / is-active answers go into the snapshot */
  units?: string[];
}

/** A full description of the host's persistent state (see the file comment). */
export async function snapshotHost(containerId: string, opts: SnapshotOptions = {}): Promise<string> {
  const units = (opts.units ?? []).map((u) => `'${u}'`).join(' ');
  const script = `set -e
export LC_ALL=C
echo '### files'
find ${LISTED.join(' ')} -xdev \\( ${prune} \\) -prune -o -printf '%p %y %m %u %g %s %T@ %l\\n' | sort
echo '### sha256'
find ${HASHED.join(' ')} -xdev \\( ${prune} \\) -prune -o -type f -print0 | sort -z | xargs -0r sha256sum
echo '### packages'
dpkg-query -W -f='\${Package} \${Version} \${Architecture} \${db:Status-Abbrev}\\n' | sort
echo '### holds'
dpkg-query -W -f='\${Package} \${Status}\\n' | awk '$2 == "hold"' | sort
echo '### passwd'
getent passwd | sort
echo '### group'
getent group | sort
echo '### shadow'
getent shadow | sort
echo '### units'
for u in ${units}; do echo "$u $(systemctl is-enabled "$u" 2>/dev/null || true) $(systemctl is-active "$u" 2>/dev/null || true)"; done
echo '### active services'
systemctl list-units --type=service --all --no-legend --no-pager --plain 2>/dev/null | grep -v -e '^user@' -e '^user-runtime-dir@' -e '^session-' | awk '{print $1, $2, $3, $4}' | sort
`;
  return sh(containerId, script);
}

/** Lines that differ between two snapshots ("- " only before, "+ " only after), at most `max`. */
export function snapshotDiff(before: string, after: string, max = 60): string[] {
  const count = (text: string) => {
    const m = new Map<string, number>();
    for (const l of text.split('\n')) m.set(l, (m.get(l) ?? 0) + 1);
    return m;
  };
  const a = count(before);
  const b = count(after);
  const out: string[] = [];
  for (const [l, n] of a) if ((b.get(l) ?? 0) < n) out.push(`- ${l}`);
  for (const [l, n] of b) if ((a.get(l) ?? 0) < n) out.push(`+ ${l}`);
  if (out.length > max) return [...out.slice(0, max), `... and ${out.length - max} more`];
  return out;
}

/** `stat -c '%F %a %U %G'` of a path (e.g. "regular file 640 root rigapps"), or "absent". */
export async function statOf(containerId: string, path: string): Promise<string> {
  const r = await dexec(containerId, `stat -c '%F %a %U %G' '${path}' 2>/dev/null || echo absent`);
  return r.stdout.trim();
}

/** sha256 of a file on the host, or "absent". */
export async function sha256Of(containerId: string, path: string): Promise<string> {
  const r = await dexec(containerId, `if [ -f '${path}' ]; then sha256sum < '${path}' | cut -d' ' -f1; else echo absent; fi`);
  return r.stdout.trim();
}

/** A file's content on the host (throws when it cannot be read). */
export async function catFile(containerId: string, path: string): Promise<string> {
  return sh(containerId, `cat '${path}'`);
}
