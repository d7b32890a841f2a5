// Pieces every resource factory uses.
import type { CommonOptions, Resource } from '../engine/types.js';

export function toList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Fill the parts of a Resource that come straight from CommonOptions. */
export function base(kind: string, name: string, opts: CommonOptions): Pick<Resource, 'id' | 'tags' | 'notify'> {
  return { id: `${kind}:${name}`, tags: [...(opts.tags ?? [])], notify: toList(opts.notify) };
}

/** "mode 644 -> 600, owner a -> b" style summary of attribute changes. */
export function attrChanges(pairs: Array<[string, string | undefined, string | undefined]>): string[] {
  return pairs.filter(([, have, want]) => want !== undefined && have !== want).map(([k, have, want]) => `${k} ${have ?? '-'} -> ${want}`);
}
