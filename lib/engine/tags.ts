// --tags / --skip-tags. A resource carries its role's name plus its own tags;
// this module is the one place that says so, and what a filter selects.

export interface TagFilter {
  /** --tags: run only what carries one of these ("all": everything) */
  only: string[];
  /** --skip-tags: never run what carries one of these (wins over --tags) */
  skip: string[];
}

export const NO_FILTER: TagFilter = { only: [], skip: [] };

/** The tags of a resource of role `role`: the role's name first, then the resource's own, once each. */
export function tagsOf(role: string, resource: { tags: readonly string[] }): string[] {
  return [...new Set([role, ...resource.tags])];
}

export function selectedByTags(tags: readonly string[], only: readonly string[], skip: readonly string[]): boolean {
  if (only.length && !tags.some((t) => only.includes(t)) && !only.includes('all')) return false;
  if (skip.some((t) => tags.includes(t))) return false;
  return true;
}

/**
 * A role the filter leaves out entirely, so it needs no valid vars: --skip-tags
 * names it, or --tags names neither it, nor "all", nor any tag its resources
 * carry (`resourceTags`: what its expansion showed, where it could be expanded).
 */
export function roleLeftOut(role: string, resourceTags: ReadonlySet<string> | undefined, f: TagFilter): boolean {
  if (f.skip.includes(role)) return true;
  if (f.only.length === 0 || f.only.includes('all') || f.only.includes(role)) return false;
  return !f.only.some((t) => resourceTags?.has(t));
}

/** Tags of the filter that nothing carries ("all" is always known). */
export function unknownTags(f: TagFilter, known: ReadonlySet<string>): string[] {
  return [...new Set([...f.only, ...f.skip])].filter((t) => t !== 'all' && !known.has(t));
}
