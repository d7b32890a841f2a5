// Secret values and where they come from. Every Secret registers its value
// with the redactor, so any text leaving rigger can be scrubbed of it: the
// value itself and the forms rigger itself derives from it (shell-quoted,
// JSON/TOML-escaped, URL-encoded, base64).

const registered = new Set<string>();
/** registered values, longest first (a secret containing another is masked whole); rebuilt on registration */
let sorted: string[] | undefined;
export const MASK = '********';
/** What an earlier value in place of a secret is shown as: a rotation still shows as a changed line. */
export const EARLIER_MASK = '[earlier secret]';
/** Derived forms shorter than this would mask ordinary text. */
const MIN_DERIVED = 8;

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

/**
 * The forms of a value that rigger itself may print: inside a shell-quoted
 * word ('\'' for each quote), inside a JSON or TOML basic string (escaped
 * quotes, backslashes, control characters), URL-encoded (query strings,
 * form bodies), and base64 at each of the three byte alignments it can have
 * inside a larger encoded text (an Authorization: Basic header, a file
 * shipped base64-encoded).
 */
export function derivedForms(value: string): string[] {
  const forms = [
    value.replace(/'/g, `'\\''`),
    JSON.stringify(value).slice(1, -1),
    encodeURIComponent(value),
    new URLSearchParams({ v: value }).toString().slice(2),
  ];
  const bytes = Buffer.from(value);
  for (let k = 0; k < 3; k++) {
    // with k bytes before it, the first ceil(8k/6) characters also depend on
    // those bytes, and the characters after the last whole group on what follows
    const n = k + bytes.length;
    const b64 = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    forms.push(b64.slice(Math.ceil((8 * k) / 6), 4 * Math.floor(n / 3)));
  }
  return forms.filter((f) => f !== value && f.length >= MIN_DERIVED);
}

/** Mark a value obtained at run time (e.g. a token GitLab just issued) as secret, with its derived forms. */
export function registerSecretValue(value: string): void {
  // Very short values would mask ordinary words; they are refused as secrets at load time.
  if (value.length < 4 || registered.has(value)) return;
  registered.add(value);
  for (const f of derivedForms(value)) registered.add(f);
  sorted = undefined;
}

function values(): string[] {
  return (sorted ??= [...registered].sort((a, b) => b.length - a.length));
}

/** Replace every known secret value (and derived form) in `text` with a mask. */
export function redact(text: string): string {
  if (registered.size === 0 || !text) return text;
  let out = text;
  for (const value of values()) {
    if (out.includes(value)) out = out.split(value).join(MASK);
  }
  return out;
}

/** Whether `text` holds a known secret value (or a derived form). */
export function containsSecret(text: string | Buffer): boolean {
  if (registered.size === 0) return false;
  const s = typeof text === 'string' ? text : text.toString('utf8');
  return values().some((v) => s.includes(v));
}

/**
 * Redact, then shorten to at most `max` characters: shortening first could
 * cut a secret and leave a prefix the redactor no longer recognises.
 */
export function clip(text: string, max: number): string {
  const r = redact(text);
  return r.length > max ? `${r.slice(0, Math.max(0, max - 3))}...` : r;
}

const squash = (s: string) => s.replace(/\s+/g, '');

/**
 * The earlier text of a file whose new text holds secrets, with the values
 * that may be earlier secrets masked: a secret rotated in the inventory is no
 * longer registered, but its old value is still in the file on the host.
 *
 * A line of the new text that holds a secret gives a key, what comes before
 * the secret (`token = "`, `PASSWORD=`), compared without whitespace: every
 * earlier line with that key that the new text does not have as it is gets
 * its value shown as EARLIER_MASK (keeping the closing quote), so a rotation
 * is still a visible change. When a secret has no key (the line starts with
 * it) or spans lines (a PEM key), every earlier line that the new text does
 * not have is masked. Lines the new text has are left to redact().
 */
export function maskEarlierSecrets(before: string, after: string): string {
  if (registered.size === 0 || !before) return before;
  const forms = values();
  const keys: Array<{ prefix: string; suffix: string }> = [];
  let keyless = forms.some((v) => v.includes('\n') && after.includes(v));
  for (const line of after.split('\n')) {
    let first = -1;
    let end = -1;
    for (const v of forms) {
      for (let i = line.indexOf(v); i >= 0; i = line.indexOf(v, i + 1)) {
        if (first < 0 || i < first) first = i;
        end = Math.max(end, i + v.length);
      }
    }
    if (first < 0) continue;
    const prefix = squash(line.slice(0, first));
    if (prefix) keys.push({ prefix, suffix: line.slice(end) });
    else keyless = true;
  }
  if (!keys.length && !keyless) return before;
  const kept = new Set(after.split('\n'));
  return before
    .split('\n')
    .map((line) => {
      if (kept.has(line)) return line;
      const flat = squash(line);
      for (const k of keys) {
        if (!flat.startsWith(k.prefix)) continue;
        // the position in `line` just after the key's non-blank characters
        let pos = 0;
        for (let seen = 0; seen < k.prefix.length; pos++) if (!/\s/.test(line[pos])) seen++;
        const tail = k.suffix.trim() && line.endsWith(k.suffix) && line.length - k.suffix.length >= pos ? k.suffix : '';
        return line.slice(0, pos) + EARLIER_MASK + tail;
      }
      return keyless && line.trim() ? EARLIER_MASK : line;
    })
    .join('\n');
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
  sorted = undefined;
}
