// Checks that names are well formed and that every group, child and host_vars
// entry refers to something declared. Works on the raw data, so these problems
// are listed alongside shape problems in a single error.
import { findCycles } from './graph.js';
import { Problems, describe, isPlainObject } from './problems.js';

/** Names usable in --limit patterns: no separators (, :), operators (! & ~) or glob characters. */
export const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const NAME_RULE = 'name of letters, digits, "_", "-" and "." (not starting with "-" or ".")';

const tableOf = (v: unknown): Record<string, unknown> => (isPlainObject(v) ? v : {});
const stringsOf = (v: unknown): [number, string][] =>
  Array.isArray(v) ? v.flatMap((s, i): [number, string][] => (typeof s === 'string' ? [[i, s]] : [])) : [];

export function checkReferences(raw: unknown, problems: Problems): void {
  const root = tableOf(raw);
  const groups = tableOf(root.groups);
  const hosts = tableOf(root.hosts);
  const declared = new Set(Object.keys(groups));

  for (const [name, group] of Object.entries(groups)) {
    if (name === 'all') {
      problems.add(['groups', 'all'], 'a group other than "all" (it is implicit; put global vars in [vars])', 'a declaration of "all"');
      continue;
    }
    if (!NAME.test(name)) problems.add(['groups', name], `a group ${NAME_RULE}`, describe(name));
    if (Object.hasOwn(hosts, name)) problems.add(['groups', name], 'a group name that is not also a host name', `a clash with hosts.${name}`);
    for (const [i, child] of stringsOf(tableOf(group).children)) {
      if (child === 'all') problems.add(['groups', name, 'children', i], 'a declared group ("all" is the root, not a child)', '"all"');
      else if (!declared.has(child)) problems.add(['groups', name, 'children', i], 'a group declared in [groups]', `undeclared group ${describe(child)}`);
    }
  }

  const children = new Map<string, string[]>();
  for (const [name, group] of Object.entries(groups)) {
    if (name !== 'all') children.set(name, stringsOf(tableOf(group).children).map(([, c]) => c));
  }
  for (const cycle of findCycles(children)) {
    problems.add(['groups', cycle[0], 'children'], 'no cycle among group children', `the cycle ${cycle.join(' -> ')}`);
  }

  for (const [name, host] of Object.entries(hosts)) {
    if (!NAME.test(name)) problems.add(['hosts', name], `a host ${NAME_RULE}`, describe(name));
    if (name === 'all') problems.add(['hosts', name], 'a host name other than "all" (it names every host)', '"all"');
    for (const [i, group] of stringsOf(tableOf(host).groups)) {
      if (group !== 'all' && !declared.has(group)) {
        problems.add(['hosts', name, 'groups', i], 'a group declared in [groups]', `undeclared group ${describe(group)}`);
      }
    }
  }

  for (const name of Object.keys(tableOf(root.host_vars))) {
    if (!Object.hasOwn(hosts, name)) problems.add(['host_vars', name], 'a host declared in [hosts]', `unknown host ${describe(name)}`);
  }
}
