// Secret values and where they come from. Every Secret registers its value
// with the redactor, so any text leaving rigger can be scrubbed of it.

const registered = new Set<string>();
const MASK = '********';

/** A value that must never be shown. `String(secret)` gives a placeholder; `reveal()` the value. */
export class Secret {
  readonly #value: string;
  constructor(value: string, readonly source: string) {
    this.#value = value;
    registerSecretValue(value);
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return `[secret ${this.source}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** Mark a value obtained at run time (e.g. a token GitLab just issued) as secret. */
export function registerSecretValue(value: string): void {
  // Very short values would mask ordinary words; they are refused as secrets at load time.
  if (value.length >= 4) registered.add(value);
}

/** Replace every known secret value in `text` with a mask. */
export function redact(text: string): string {
  if (registered.size === 0 || !text) return text;
  let out = text;
  // Longest first, so a secret containing another is masked whole.
  for (const value of [...registered].sort((a, b) => b.length - a.length)) {
    if (out.includes(value)) out = out.split(value).join(MASK);
  }
  return out;
}

export function isSecret(v: unknown): v is Secret {
  return v instanceof Secret;
}

/** Resolve a value that may be a Secret to its plain text (for building files on the host). */
export function reveal(v: unknown): string {
  return v instanceof Secret ? v.reveal() : String(v);
}

export function clearSecretsForTests(): void {
  registered.clear();
}
