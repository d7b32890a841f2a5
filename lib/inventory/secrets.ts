// Turns `{ secret = "NAME" }` var values into Secrets. A value comes from env var
// NAME, else key NAME of the secrets file. No message here ever includes a value.
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Secret } from '../secrets.js';
import { UserError } from '../errors.js';
import { parseText } from './parse.js';
import { Problems, isPlainObject, kindOf, type KeyPath } from './problems.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// registerSecretValue ignores shorter values, so they could not be redacted.
const MIN_LENGTH = 4;

export interface SecretOptions {
  env: NodeJS.ProcessEnv;
  /** absolute path of the secrets file, if the inventory names one */
  file?: string;
  /** how to show the file in messages */
  fileLabel?: string;
  /** false: leave every secret unresolved (placeholders), read nothing */
  resolve: boolean;
  warn: (message: string) => void;
}

export class SecretResolver {
  // null: already reported as a problem; one report per secret name is enough.
  readonly #cache = new Map<string, Secret | null>();
  #fileValues?: Map<string, string> | null; // null: the file does not exist

  constructor(
    readonly opts: SecretOptions,
    readonly problems: Problems,
  ) {}

  /** A copy of `value` with every secret reference replaced by a Secret; problems go to `problems`. */
  transform(value: unknown, path: KeyPath): unknown {
    if (Array.isArray(value)) return value.map((v, i) => this.transform(v, [...path, i]));
    if (!isPlainObject(value)) return value;
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === 'secret') return this.#secret(value.secret, [...path, 'secret'], path);
    return Object.fromEntries(keys.map((k) => [k, this.transform(value[k], [...path, k])]));
  }

  #secret(name: unknown, namePath: KeyPath, varPath: KeyPath): unknown {
    if (typeof name !== 'string' || !ENV_NAME.test(name)) {
      const got = typeof name === 'string' ? JSON.stringify(name) : kindOf(name);
      this.problems.add(namePath, 'a secret name usable as an environment variable (letters, digits, "_")', got);
      return undefined;
    }
    const cached = this.#cache.get(name);
    if (cached !== undefined) return cached ?? undefined;
    const secret = this.opts.resolve ? this.#lookup(name, varPath) : new Secret('', `${name} (unresolved)`);
    this.#cache.set(name, secret ?? null);
    return secret;
  }

  #lookup(name: string, varPath: KeyPath): Secret | undefined {
    const fromEnv = this.opts.env[name];
    // An empty env var counts as unset: CI systems often define variables empty.
    const [value, origin] = fromEnv ? [fromEnv, 'env'] : [this.#fromFile(name), this.#label()];
    if (value === undefined) {
      this.problems.add(varPath, `secret ${name} from env var ${name} or ${this.#where(name)}`, 'neither');
      return undefined;
    }
    if (value.length < MIN_LENGTH) {
      this.problems.add(varPath, `secret ${name} (from ${origin}) of at least ${MIN_LENGTH} characters`, `${value.length}`);
      return undefined;
    }
    return new Secret(value, `${name} from ${origin}`);
  }

  #label(): string {
    return this.opts.fileLabel ?? (this.opts.file ? basename(this.opts.file) : 'secrets file');
  }

  #where(name: string): string {
    if (!this.opts.file) return 'a secrets file (none set: [defaults] secrets)';
    return this.#fileValues === null ? `key ${name} in ${this.#label()} (file not found)` : `key ${name} in ${this.#label()}`;
  }

  #fromFile(name: string): string | undefined {
    if (!this.opts.file) return undefined;
    if (this.#fileValues === undefined) this.#fileValues = readSecretsFile(this.opts.file, this.#label(), this.opts.warn);
    return this.#fileValues?.get(name);
  }
}

/** Reads `NAME = "value"` lines. Returns null when the file does not exist. */
export function readSecretsFile(file: string, label: string, warn: (m: string) => void): Map<string, string> | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UserError(`${label}: cannot read secrets file: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o044) {
    warn(`warning: secrets file ${label} is readable by group or others (mode 0${mode.toString(8)}); run: chmod 600 ${label}`);
  }
  // showSource false: the offending line would print a secret.
  const data = parseText(label, text, 'toml', false) as Record<string, unknown>;
  const problems = new Problems(label);
  const values = new Map<string, string>();
  for (const [k, v] of Object.entries(data)) {
    if (typeof v === 'string') values.set(k, v);
    else problems.add([k], 'a string', kindOf(v));
  }
  problems.throwIfAny();
  return values;
}
