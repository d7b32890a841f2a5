// The group hierarchy: parents, ancestors, depth (merge order) and cycles.

export type Children = ReadonlyMap<string, readonly string[]>;

/** Every cycle among group children, each written as a path that ends where it starts (`a -> b -> a`). */
export function findCycles(children: Children): string[][] {
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (g: string): void => {
    state.set(g, 'active');
    stack.push(g);
    for (const c of children.get(g) ?? []) {
      if (!children.has(c)) continue; // unknown child: reported elsewhere
      if (state.get(c) === 'active') {
        const cycle = [...stack.slice(stack.indexOf(c)), c];
        // One report per cycle, whichever group the search entered it by.
        const key = [...cycle.slice(0, -1)].sort().join('\0');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (!state.has(c)) visit(c);
    }
    stack.pop();
    state.set(g, 'done');
  };
  for (const g of children.keys()) if (!state.has(g)) visit(g);
  return cycles;
}

export function parentsOf(children: Children): Map<string, string[]> {
  const parents = new Map<string, string[]>();
  for (const g of children.keys()) parents.set(g, []);
  for (const [g, cs] of children) for (const c of cs) parents.get(c)?.push(g);
  return parents;
}

/** The groups plus all their ancestors (requires an acyclic graph). */
export function withAncestors(groups: Iterable<string>, parents: ReadonlyMap<string, readonly string[]>): Set<string> {
  const out = new Set<string>();
  const todo = [...groups];
  while (todo.length) {
    const g = todo.pop()!;
    if (out.has(g)) continue;
    out.add(g);
    todo.push(...(parents.get(g) ?? []));
  }
  return out;
}

/** Depth of each group: 1 for a top-level group, else 1 + its deepest parent (`all` is 0). */
export function depths(parents: ReadonlyMap<string, readonly string[]>): Map<string, number> {
  const depth = new Map<string, number>([['all', 0]]);
  const of = (g: string): number => {
    const known = depth.get(g);
    if (known !== undefined) return known;
    const d = 1 + Math.max(0, ...(parents.get(g) ?? []).map(of));
    depth.set(g, d);
    return d;
  };
  for (const g of parents.keys()) of(g);
  return depth;
}

/** Merge order: `all` first, then by depth (parents before children), ties alphabetical. */
export function sortForMerge(groups: Iterable<string>, depth: ReadonlyMap<string, number>): string[] {
  return [...groups].sort((a, b) => (depth.get(a) ?? 0) - (depth.get(b) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
}
