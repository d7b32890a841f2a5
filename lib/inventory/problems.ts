// Collects every problem found in one file, so the user sees all of them at once,
// each as `<file>: <key path>: expected <what>, got <what>`.
import { UserError } from '../errors.js';

export type KeyPath = readonly PropertyKey[];

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** `hosts.mania.groups[1]`; keys that are not bare TOML keys are quoted. */
export function renderPath(path: KeyPath): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else {
      const s = String(key);
      out += (out ? '.' : '') + (BARE_KEY.test(s) ? s : JSON.stringify(s));
    }
  }
  return out;
}

/** A short description of a value for "got ...". Strings are shown (inventories hold no secrets), truncated. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    if (value === '') return 'an empty string';
    return JSON.stringify(value.length > 40 ? value.slice(0, 37) + '...' : value);
  }
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  return isPlainObject(value) ? 'a table' : 'a value';
}

/** The kind of a value, never the value itself (for secrets). */
export function kindOf(value: unknown): string {
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number' || typeof value === 'bigint') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return describe(value);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function valueAt(root: unknown, path: KeyPath): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

export class Problems {
  readonly #lines: string[] = [];
  constructor(readonly file: string) {}

  add(path: KeyPath, expected: string, got: string): void {
    const where = path.length ? `${renderPath(path)}: ` : '';
    const line = `${this.file}: ${where}expected ${expected}, got ${got}`;
    if (!this.#lines.includes(line)) this.#lines.push(line);
  }

  get count(): number {
    return this.#lines.length;
  }

  throwIfAny(): void {
    if (this.#lines.length) throw new UserError(this.#lines.join('\n'));
  }
}
