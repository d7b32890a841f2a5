// The one way to build shell from values: the `sh` tagged template quotes
// every interpolated value as one POSIX sh word (no $'...': Debian's dash has
// none), unless it is already shell (a Script, e.g. from `raw()` or another
// `sh`). Longer scripts live in .sh files and take their inputs as arguments
// (`shellFile`), so no value is ever parsed as code.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isSecret, type Secret } from '../secrets.js';

/** Shell text that is safe to run or to insert into another script as it is. */
export class Script {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
  /** Scripts joined by a separator (newline by default). */
  static join(parts: Array<Script | false | null | undefined>, sep = '\n'): Script {
    return new Script(parts.filter((p): p is Script => p instanceof Script).map((p) => p.text).join(sep));
  }
}

/** A value of `sh`: quoted as one word; arrays give one word per element; a Script is inserted as it is. */
export type ShellValue = string | number | Secret | Script | readonly ShellValue[];

// `=` is not safe: an unquoted `a=b` at the start of a command is an assignment.
const SAFE_WORD = /^[A-Za-z0-9_./:@%+,-]+$/;

/** Quote a string for POSIX sh as one word. */
export function shq(s: string | number): string {
  const str = String(s);
  if (SAFE_WORD.test(str)) return str;
  return `'${str.replace(/'/g, `'\\''`)}'`;
}

/** Shell text written by the programmer, inserted unquoted: never pass a value from the inventory. */
export function raw(text: string): Script {
  return new Script(text);
}

function word(v: ShellValue): string {
  if (v instanceof Script) return v.text;
  if (Array.isArray(v)) return v.map(word).join(' ');
  // the quoted form of a secret is one of the derived forms its registration masks
  if (isSecret(v)) return shq(v.reveal());
  if (typeof v === 'string' || typeof v === 'number') return shq(v as string | number);
  throw new TypeError(`sh: cannot interpolate ${v === null ? 'null' : typeof v} (expected a string, number, array, Secret or Script)`);
}

/**
 * sh`rm -f ${path}`: every interpolated value becomes one quoted word
 * (`${['a', 'b c']}` two words); a Script (from `sh`, `raw` or `shellFile`) is inserted as shell.
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): Script {
  let out = strings[0];
  values.forEach((v, i) => (out += word(v) + strings[i + 1]));
  return new Script(out);
}

/**
 * A script kept in a .sh file, called with arguments: its text preceded by
 * `set -- <quoted args>`, so it still goes to the host in one round trip and
 * reads its inputs as $1, $2...
 */
export function shellFile(url: URL): ((...args: ShellValue[]) => Script) & { path: string; body: string } {
  const path = fileURLToPath(url);
  const body = readFileSync(path, 'utf8');
  const call = (...args: ShellValue[]) => new Script(`set --${args.length ? ' ' + args.map(word).join(' ') : ''}\n${body}`);
  return Object.assign(call, { path, body });
}

/** Octal mode normalised to what `stat -c %a` prints (no leading zeros). */
export function normMode(mode: string | number): string {
  const s = typeof mode === 'number' ? mode.toString(8) : mode;
  if (!/^[0-7]{3,4}$/.test(s)) throw new Error(`invalid file mode ${JSON.stringify(mode)}: expected octal like "0644"`);
  return String(parseInt(s, 8).toString(8));
}

/** Probe fragment: "absent" or "<type>|<mode>|<owner>|<group>" of a path (not following links). */
export function statScript(path: string): Script {
  return sh`if [ -e ${path} ] || [ -L ${path} ]; then stat -c '%F|%a|%U|%G' -- ${path}; else echo absent; fi`;
}

/** Probe fragment for a regular file: its stat line, then its sha256 when it is a regular file. */
export function regularFileScript(path: string): Script {
  return sh`${statScript(path)}; [ -f ${path} ] && sha256sum < ${path} | cut -d' ' -f1`;
}

// The same fragments as plain text, for a ShellResource's `probe`.
export const statProbe = (path: string): string => statScript(path).text;
export const regularFileProbe = (path: string): string => regularFileScript(path).text;

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

/** Parse regularFileProbe's output; a path that exists as anything but a regular file is an error. */
export function parseRegularFile(stdout: string, path: string): { st: Stat | null; sha?: string } {
  const [statLine, sha] = stdout.trim().split('\n');
  const st = parseStat(statLine);
  if (st && st.type !== 'regular file' && st.type !== 'regular empty file') throw new Error(`${path} exists but is a ${st.type}, not a regular file`);
  return { st, sha };
}
