// A stand-in `systemctl` (a small sh script put first in PATH) that keeps unit
// state in files and prints what systemd 252 (Debian 12) prints for the verbs
// rigger uses, so service probes and applies can be executed for real.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SCRIPT = `#!/bin/sh
d="$FAKE_SYSTEMD"
# "systemctl VERB [--] UNIT": logged without the "--"
verb=$1; shift; [ "\${1-}" = -- ] && shift; u=\${1-}
echo "$verb\${1+ $*}" >> "$d/log"
en="$d/$u.enabled"; ac="$d/$u.active"
case $verb in
  daemon-reload) exit 0 ;;
  is-enabled)
    if [ -f "$en" ]; then s=$(cat "$en"); echo "$s"; case $s in enabled|static|alias|indirect|generated) exit 0 ;; esac; exit 1; fi
    echo "Failed to get unit file state for $u: No such file or directory" >&2; exit 1 ;;
  is-active)
    s=$(cat "$ac" 2>/dev/null || echo inactive); echo "$s"; [ "$s" = active ] && exit 0; exit 3 ;;
  enable)
    [ -f "$en" ] || { echo "Failed to enable unit: Unit file $u does not exist." >&2; exit 1; }
    [ "$(cat "$en")" = masked ] && { echo "Failed to enable unit: Unit file /etc/systemd/system/$u is masked." >&2; exit 1; }
    [ "$(cat "$en")" = enabled ] || echo "Created symlink /etc/systemd/system/multi-user.target.wants/$u -> /lib/systemd/system/$u."
    echo enabled > "$en" ;;
  disable) echo "Removed \\"/etc/systemd/system/multi-user.target.wants/$u\\"."; echo disabled > "$en" ;;
  mask) echo "Created symlink /etc/systemd/system/$u -> /dev/null."; cp "$en" "$en.before-mask" 2>/dev/null; echo masked > "$en" ;;
  unmask) echo "Removed \\"/etc/systemd/system/$u\\"."; if [ -f "$en.before-mask" ]; then mv "$en.before-mask" "$en"; else echo disabled > "$en"; fi ;;
  start|restart|reload|reload-or-restart|try-restart)
    [ -f "$en" ] || { echo "Failed to $verb $u: Unit $u not found." >&2; exit 5; }
    [ "$(cat "$en")" = masked ] && { echo "Failed to $verb $u: Unit $u is masked." >&2; exit 1; }
    [ "$verb" = try-restart ] && [ "$(cat "$ac" 2>/dev/null)" != active ] && exit 0
    echo active > "$ac" ;;
  stop) echo inactive > "$ac" ;;
  *) echo "fake systemctl: unsupported verb $verb" >&2; exit 1 ;;
esac
`;

export interface FakeSystemd {
  /** put first in PATH */
  bin: string;
  env: Record<string, string>;
  setUnit(unit: string, enabled: string | undefined, active?: string): void;
  enabledOf(unit: string): string;
  activeOf(unit: string): string;
  /** every systemctl command line so far */
  log(): string[];
}

export function fakeSystemd(dir: string): FakeSystemd {
  const bin = join(dir, 'bin');
  const state = join(dir, 'systemd');
  mkdirSync(bin, { recursive: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(join(bin, 'systemctl'), SCRIPT);
  chmodSync(join(bin, 'systemctl'), 0o755);
  writeFileSync(join(state, 'log'), '');
  const read = (f: string, dflt: string) => {
    try {
      return readFileSync(join(state, f), 'utf8').trim();
    } catch {
      return dflt;
    }
  };
  return {
    bin,
    env: { PATH: `${bin}:${process.env.PATH}`, FAKE_SYSTEMD: state },
    setUnit(unit, enabled, active = 'inactive') {
      if (enabled !== undefined) writeFileSync(join(state, `${unit}.enabled`), enabled + '\n');
      writeFileSync(join(state, `${unit}.active`), active + '\n');
    },
    enabledOf: (unit) => read(`${unit}.enabled`, 'not-found'),
    activeOf: (unit) => read(`${unit}.active`, 'inactive'),
    log: () => read('log', '').split('\n').filter(Boolean),
  };
}
