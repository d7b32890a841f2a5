// TOML output with two things smol-toml's `stringify` cannot express on its own:
// a float that happens to be integral (IdleScaleFactor = 1.0: gitlab-runner's
// Go decoder refuses `1` for a float64 field) and a value kept verbatim from
// the host's file (a token timestamp with nanoseconds, which a JS Date would
// truncate to milliseconds).
//
// Both are written through the serializer: each wrapper is replaced by a string
// sentinel carrying a random nonce, the object is stringified by smol-toml,
// and each quoted sentinel (which only the serializer itself can have emitted,
// as a complete value) is swapped for its literal. The literal is checked to
// parse back to the intended value before it is used.
import { randomBytes } from 'node:crypto';
import { parse, stringify, TomlDate } from 'smol-toml';

/** A number written as a TOML float even when it is integral (1 -> 1.0). */
export class TomlFloat {
  constructor(readonly value: number) {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
  }
  literal(): string {
    if (Number.isInteger(this.value)) return this.value.toFixed(1);
    // String(0.5) = "0.5", String(1e-7) = "1e-7", String(1e21) = "1e+21": all valid TOML floats.
    return String(this.value);
  }
}

/** A TOML value literal copied verbatim (validated: it must be one TOML value, no newline). */
export class TomlRaw {
  constructor(readonly text: string) {
    if (/[\r\n]/.test(text)) throw new Error('a raw TOML literal must be on one line');
    // Throws when the text is not exactly one TOML value.
    parse(`v = ${text}\n`);
  }
  literal(): string {
    return this.text;
  }
}

type Literal = TomlFloat | TomlRaw;

/** Serialize a plain object (key order as given) to TOML text. */
export function toToml(obj: Record<string, unknown>): string {
  const nonce = randomBytes(9).toString('hex');
  const literals: string[] = [];
  const sentinel = (i: number) => `@@rigger-literal-${nonce}-${i}@@`;
  const walk = (v: unknown): unknown => {
    if (v instanceof TomlFloat || v instanceof TomlRaw) {
      literals.push((v as Literal).literal());
      return sentinel(literals.length - 1);
    }
    if (v instanceof Date) return v;
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = walk(x);
      return out;
    }
    return v;
  };
  let text = stringify(walk(obj) as Record<string, unknown>);
  literals.forEach((lit, i) => {
    const quoted = JSON.stringify(sentinel(i)); // smol-toml writes strings exactly as JSON.stringify
    const parts = text.split(quoted);
    if (parts.length !== 2) throw new Error('internal error: TOML literal placeholder not found exactly once');
    text = parts.join(lit);
  });
  return text;
}

/** Parse TOML keeping the int/float distinction (integers become bigint). */
export function parseTyped(text: string): Record<string, unknown> {
  return parse(text, { integersAsBigInt: true }) as Record<string, unknown>;
}

/**
 * Structural equality of two parsed-with-parseTyped documents: integers and floats
 * differ (1n !== 1.0), dates compare by their TOML text, key order is ignored.
 */
export function tomlEqual(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && dateText(a) === dateText(b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => tomlEqual(x, b[i]));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return (
      ka.length === kb.length &&
      ka.every((k, i) => k === kb[i] && tomlEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  if (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b)) return true;
  return a === b;
}

function dateText(d: Date): string {
  return d instanceof TomlDate ? d.toISOString() : new TomlDate(d.toISOString()).toISOString();
}
