// Host patterns with Ansible semantics: `a,b` union, `&g` intersection, `!g` exclusion,
// globs (`web*`, `?`, `[12]`), `~regex`, `all`/`*`. Unions apply first, then
// intersections, then exclusions, whatever their order in the pattern.
import { UserError } from '../errors.js';
import type { Inventory } from './load.js';

/** Hosts selected by --limit, in inventory order. A term that matches nothing is an error. */
export function selectHosts(inv: Inventory, pattern: string | undefined): string[] {
  if (pattern === undefined) return [...inv.hosts.keys()];
  const selected = select(inv, pattern, '--limit', true);
  if (selected.length === 0) throw new UserError(`--limit: pattern "${pattern}" selects no host`);
  return selected;
}

/** Hosts a play targets (its `hosts` pattern). Matching nothing is not an error: the play is skipped. */
export function hostsOfPlay(inv: Inventory, hostsPattern: string): string[] {
  return select(inv, hostsPattern, 'hosts pattern', false);
}

function select(inv: Inventory, pattern: string, label: string, strict: boolean): string[] {
  const terms = pattern.split(/[,:]/).map((t) => t.trim()).filter(Boolean);
  if (terms.length === 0) throw new UserError(`${label}: expected a host pattern, got ${JSON.stringify(pattern)}`);
  const unions: Set<string>[] = [];
  const intersections: Set<string>[] = [];
  const exclusions: Set<string>[] = [];
  for (const term of terms) {
    const op = term[0] === '!' || term[0] === '&' ? term[0] : '';
    const body = term.slice(op.length).trim();
    if (!body) throw new UserError(`${label}: expected a host or group after "${op}", got nothing`);
    const matched = matchTerm(inv, body, label);
    if (strict && matched.size === 0) throw new UserError(`${label}: pattern "${term}" matches no host or group`);
    (op === '!' ? exclusions : op === '&' ? intersections : unions).push(matched);
  }
  // Only exclusions/intersections given (e.g. `!db`): start from every host, as Ansible does.
  const base = unions.length ? new Set(unions.flatMap((s) => [...s])) : new Set(inv.hosts.keys());
  return [...inv.hosts.keys()].filter(
    (h) => base.has(h) && intersections.every((s) => s.has(h)) && !exclusions.some((s) => s.has(h)),
  );
}

function matchTerm(inv: Inventory, body: string, label: string): Set<string> {
  if (body === 'all' || body === '*') return new Set(inv.hosts.keys());
  const test = body.startsWith('~') ? regex(body.slice(1), label) : /[*?[]/.test(body) ? glob(body) : undefined;
  if (!test) {
    if (inv.hosts.has(body)) return new Set([body]);
    return new Set(inv.groups.get(body)?.hosts ?? []);
  }
  const out = new Set<string>();
  for (const h of inv.hosts.keys()) if (test.test(h)) out.add(h);
  for (const g of inv.groups.values()) if (test.test(g.name)) g.hosts.forEach((h) => out.add(h));
  return out;
}

function regex(source: string, label: string): RegExp {
  try {
    return new RegExp(source);
  } catch {
    throw new UserError(`${label}: expected a valid regular expression after "~", got ${JSON.stringify(source)}`);
  }
}

/** fnmatch-style glob, anchored: `*` any run, `?` one character, `[...]` a class. */
export function glob(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[' && pattern.indexOf(']', i + 2) > 0) {
      const end = pattern.indexOf(']', i + 2);
      let cls = pattern.slice(i + 1, end).replace(/[\\\]^]/g, (m) => '\\' + m);
      if (cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
