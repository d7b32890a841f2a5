// Shell quoting and small shell fragments shared by resources.

/** Quote a string for POSIX sh as one word. */
export function shq(s: string | number): string {
  const str = String(s);
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(str)) return str;
  return `'${str.replace(/'/g, `'\\''`)}'`;
}

/** Octal mode normalised to what `stat -c %a` prints (no leading zeros). */
export function normMode(mode: string | number): string {
  const s = typeof mode === 'number' ? mode.toString(8) : mode;
  if (!/^[0-7]{3,4}$/.test(s)) throw new Error(`invalid file mode ${JSON.stringify(mode)}: expected octal like "0644"`);
  return String(parseInt(s, 8).toString(8));
}

/** Probe fragment: "absent" or "<type>|<mode>|<owner>|<group>" of a path (not following links). */
export function statProbe(path: string): string {
  return `if [ -e ${shq(path)} ] || [ -L ${shq(path)} ]; then stat -c '%F|%a|%U|%G' ${shq(path)}; else echo absent; fi`;
}

export interface Stat {
  type: string;
  mode: string;
  owner: string;
  group: string;
}

export function parseStat(line: string): Stat | null {
  if (!line || line === 'absent') return null;
  const [type, mode, owner, group] = line.split('|');
  return { type, mode, owner, group };
}

/** Probe fragment for a regular file: its stat line, then its sha256 when it is a regular file. */
export function regularFileProbe(path: string): string {
  return `${statProbe(path)}; [ -f ${shq(path)} ] && sha256sum < ${shq(path)} | cut -d' ' -f1`;
}

/** Parse regularFileProbe's output; a path that exists as anything but a regular file is an error. */
export function parseRegularFile(stdout: string, path: string): { st: Stat | null; sha?: string } {
  const [statLine, sha] = stdout.trim().split('\n');
  const st = parseStat(statLine);
  if (st && st.type !== 'regular file' && st.type !== 'regular empty file') throw new Error(`${path} exists but is a ${st.type}, not a regular file`);
  return { st, sha };
}
