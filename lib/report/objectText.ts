// Before/after text of an API object, for diffs: YAML with sorted keys, so the
// same object always gives the same text, and secrets shown as placeholders.
import { dump } from 'js-yaml';
import { isSecret } from '../secrets.js';
import type { TextDiff } from '../engine/types.js';

/** Plain data with sorted keys; Secrets become their placeholder, undefined keys are dropped. */
export function stableData(v: unknown): unknown {
  if (isSecret(v)) return String(v);
  if (Array.isArray(v)) return v.map(stableData);
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = stableData(x);
    }
    return out;
  }
  return v;
}

/** YAML text of an object (null or undefined: empty text, i.e. "does not exist"). */
export function objectText(v: unknown): string {
  if (v === null || v === undefined) return '';
  return dump(stableData(v), { lineWidth: -1, noRefs: true });
}

/** A diff of an API object's fields; `path` names the object, e.g. "gitlab:runner/mania-autoscale". */
export function objectDiff(path: string, before: unknown, after: unknown): TextDiff {
  return { path, before: objectText(before), after: objectText(after) };
}

/** Stable JSON (sorted keys, 2-space indent, trailing newline), for --render. */
export function stableJson(v: unknown): string {
  return JSON.stringify(stableData(v), null, 2) + '\n';
}
