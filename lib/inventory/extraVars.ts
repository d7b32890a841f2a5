// -e/--extra-vars: vars given on the command line, which win over every
// inventory var of every target. `key=value` (the value read as a TOML value
// when it is one, else taken as a plain string; `a.b=v` sets only b inside
// table a), or `@file.toml|yaml|yml|json` (a table of vars, each replacing the
// inventory's var whole). Secrets only by reference ({ secret = "NAME" }),
// resolved like the inventory's. No message here shows a value.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { UserError } from '../errors.js';
import type { Vars } from '../engine/types.js';
import { parseText } from './parse.js';
import { Problems, isPlainObject, kindOf } from './problems.js';
import { SecretResolver, type SecretOptions } from './secrets.js';

/** One var (or, with a dotted key, one value inside a table var) set by one -e. */
export interface ExtraVarAssignment {
  /** [name] replaces the var; [name, key, ...] sets one value inside it */
  path: string[];
  value: unknown;
  /** how messages name where it came from: "-e" or "-e @vars.yml" */
  origin: string;
}

const KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const EXPECTED = 'key=value, @file.toml, @file.yaml, @file.yml or @file.json';

export class ExtraVars {
  constructor(readonly assignments: readonly ExtraVarAssignment[]) {}

  /** `vars` with every assignment applied in order (later wins); `vars` itself is not changed. */
  apply(vars: Vars, target: string): Vars {
    const out: Vars = { ...vars };
    for (const a of this.assignments) {
      let table: Record<string, unknown> = out;
      for (let i = 0; i < a.path.length - 1; i++) {
        const key = a.path[i];
        const cur = table[key];
        if (cur !== undefined && !isPlainObject(cur)) {
          const at = a.path.slice(0, i + 1).join('.');
          throw new UserError(`${a.origin} ${a.path.join('.')}: cannot set a key inside ${at}: for ${target} it is ${kindOf(cur)}, not a table (give ${at} whole instead)`);
        }
        // copied, never changed in place: the inventory's tables are shared by hosts and groups
        table = table[key] = { ...(cur ?? {}) };
      }
      table[a.path[a.path.length - 1]] = a.value;
    }
    return out;
  }

  /** Where the value at this key path of a target's vars came from, when -e set it (or a table around it, or a value inside it). */
  originOf(path: readonly PropertyKey[]): string | undefined {
    if (!path.length) return undefined;
    const prefix = (a: readonly PropertyKey[], b: readonly PropertyKey[]) => a.length <= b.length && a.every((k, i) => k === b[i]);
    for (let i = this.assignments.length - 1; i >= 0; i--) {
      const a = this.assignments[i];
      if (prefix(a.path, path) || prefix(path, a.path)) return a.origin;
    }
    return undefined;
  }

  /** Whether -e sets (part of) the top-level var `name`. */
  sets(name: string): boolean {
    return this.assignments.some((a) => a.path[0] === name);
  }

  /** A copy with every `{ secret = "NAME" }` replaced by a Secret (problems named by the -e they came from). */
  withSecrets(opts: SecretOptions): ExtraVars {
    const byOrigin = new Map<string, SecretResolver>();
    const resolverFor = (origin: string) => byOrigin.get(origin) ?? byOrigin.set(origin, new SecretResolver(opts, new Problems(origin))).get(origin)!;
    const resolved = this.assignments.map((a) => ({ ...a, value: resolverFor(a.origin).transform(a.value, a.path) }));
    const lines = [...byOrigin.values()].flatMap((r) => problemLines(r.problems));
    if (lines.length) throw new UserError(lines.join('\n'));
    return new ExtraVars(resolved);
  }
}

/** Parses the -e values in the order given; files are read now. Throws a UserError naming the -e value or file. */
export function parseExtraVars(values: readonly string[]): ExtraVars {
  return new ExtraVars(values.flatMap((v, i) => (v.startsWith('@') ? fromFile(v.slice(1)) : [fromKeyValue(v, i)])));
}

function fromKeyValue(arg: string, index: number): ExtraVarAssignment {
  const eq = arg.indexOf('=');
  if (eq < 0) {
    // Named by its position, not shown: a value typed without its key might be a secret.
    throw new UserError(`-e (the ${ordinal(index + 1)} -e value): expected ${EXPECTED}, got no "=" (see --help)`);
  }
  const key = arg.slice(0, eq).trim();
  const path = key.split('.');
  if (!KEY.test(key) || path.some((k) => FORBIDDEN_KEYS.has(k))) {
    const shown = key.length <= 60 ? JSON.stringify(key) : `${JSON.stringify(key.slice(0, 57))}...`;
    throw new UserError(`-e ${shown}=...: expected a key of letters, digits, "_" and "-" (dots between the keys of nested tables), got ${key ? shown : 'an empty key'} (see --help)`);
  }
  return { path, value: tomlValueOr(arg.slice(eq + 1)), origin: '-e' };
}

/**
 * The TOML value `text` is (3, true, ["a", "b"], "quoted", { secret = "NAME" }),
 * else `text` itself as a string (mania, 19.3.0, https://x.example). Dates, inf and nan
 * stay strings: a var wants the text, not a Date or Infinity.
 */
export function tomlValueOr(text: string): unknown {
  if (/[\r\n]/.test(text)) return text;
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(`v = ${text}`);
  } catch {
    return text;
  }
  const keys = Object.keys(doc);
  // inf and nan are TOML floats, but as a var far more likely words (hostname=nan)
  if (keys.length !== 1 || !('v' in doc) || doc.v instanceof Date || (typeof doc.v === 'number' && !Number.isFinite(doc.v))) return text;
  return doc.v;
}

function fromFile(file: string): ExtraVarAssignment[] {
  const origin = `-e @${file}`;
  if (!file) throw new UserError(`-e @: expected a file name after "@" (see --help)`);
  const ext = extname(file).toLowerCase();
  const format = ext === '.toml' ? 'toml' : ext === '.yaml' || ext === '.yml' ? 'yaml' : ext === '.json' ? 'json' : undefined;
  if (!format) throw new UserError(`${origin}: expected a .toml, .yaml, .yml or .json file, got "${ext || 'no extension'}"`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${origin}: cannot read the vars file: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : String(code ?? e)}`);
  }
  let data: unknown;
  if (format === 'json') {
    try {
      data = JSON.parse(text);
    } catch (e) {
      const m = (e as Error).message;
      // the reason without the text V8 may quote (`, "{..." is not valid JSON`) or the position (given as line:column)
      const reason = m.replace(/, ".*" is not valid JSON$/s, '').replace(/ (in|after) JSON at position \d+.*$/s, ' $1 JSON');
      throw new UserError(`${origin}${jsonWhere(text, m)}: invalid JSON: ${reason}`);
    }
  } else if (format === 'yaml' && text.split('\n').every((line) => /^\s*(#.*)?$/.test(line))) {
    data = null; // only comments: js-yaml refuses a file without a document
  } else {
    data = parseText(origin, text, format);
  }
  if (data === null || data === undefined) return []; // an empty YAML file
  if (!isPlainObject(data)) throw new UserError(`${origin}: expected a table of vars, got ${kindOf(data)}`);
  const bad = Object.keys(data).find((k) => FORBIDDEN_KEYS.has(k));
  if (bad) throw new UserError(`${origin}: ${bad}: expected a var name, got a reserved word`);
  return Object.entries(data).map(([k, value]) => ({ path: [k], value, origin }));
}

/** `:line:column` of a JSON.parse error (its message may quote the text, so only the position is kept). */
function jsonWhere(text: string, message: string): string {
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return `:${lc[1]}:${lc[2]}`;
  const pos = /position (\d+)/.exec(message);
  if (!pos) return '';
  const before = text.slice(0, Number(pos[1])).split('\n');
  return `:${before.length}:${before[before.length - 1].length + 1}`;
}

function problemLines(problems: Problems): string[] {
  try {
    problems.throwIfAny();
    return [];
  } catch (e) {
    return (e as Error).message.split('\n');
  }
}

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
  return `${n}${s}`;
}

