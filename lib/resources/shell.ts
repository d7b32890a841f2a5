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
