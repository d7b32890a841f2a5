// Links between resources of one host's run (types.ts, Links): checked when
// roles expand, applied by the converge loop, printed by --list-tasks.
import type { Links, Resource } from './types.js';

/** Every linked id must name a resource listed earlier: reordering resources is an error, never a silent change. */
export function checkLinks(resources: Array<{ role: string; resource: Resource }>): void {
  const seen = new Set<string>();
  for (const { role, resource } of resources) {
    for (const [kind, ids] of Object.entries(resource.links ?? {}))
      for (const id of ids ?? [])
        if (!seen.has(id)) throw new Error(`role ${role}: ${resource.id} links (${kind}) to ${id}, which is not listed before it on this host`);
    seen.add(resource.id);
  }
}

/** Why a resource is not planned now, given what changed so far; undefined when it is. */
export function linkGate(links: Links | undefined, changed: (id: string) => boolean, check: boolean): string | undefined {
  if (links?.onlyIfChanged?.length && !links.onlyIfChanged.some(changed)) return `only if ${links.onlyIfChanged.join(' or ')} changed`;
  const pending = check ? links?.after?.filter(changed) : undefined;
  if (pending?.length) return `not checked: reads ${pending.join(', ')}, which would change first`;
  return undefined;
}

/** "after: a; onlyIfChanged: b, c" for --list-tasks. */
export function describeLinks(links: Links | undefined): string {
  return Object.entries(links ?? {})
    .filter(([, ids]) => ids?.length)
    .map(([kind, ids]) => `${kind}: ${ids!.join(', ')}`)
    .join('; ');
}
