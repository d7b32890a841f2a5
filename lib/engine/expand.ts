// Roles -> the ordered resources of a host. expandRoles() is what a host run
// does with its real facts; expandAll() does it for every selected host with
// assumed facts before anything is contacted, so that every declaration error
// (role vars, and whatever a resource factory refuses) exits 1 before any
// host is touched. --list-tasks, --list-tags and --render use its result.
import { UserError } from '../errors.js';
import { checkLinks } from './links.js';
import type { Inventory } from '../inventory/load.js';
import { roleLeftOut, selectedByTags, tagsOf, unknownTags, type TagFilter } from './tags.js';
import { resourcesOf, type Facts, type Handler, type Resource, type Role, type Vars } from './types.js';
import { validateRoleVars } from './validateVars.js';

export interface RoleRun {
  role: Role<any>;
  /** vars already validated by the role's schema */
  vars: Vars;
}

/** One resource of a host's run, in order. */
export interface Item {
  role: string;
  resource: Resource;
  /** its role's name and its own tags */
  tags: string[];
  /** chosen by --tags/--skip-tags */
  selected: boolean;
  /** last resource of its role: the role's notified handlers run after it */
  roleEnd: boolean;
  handlers: Map<string, Handler>;
}

/** Facts assumed where no host is contacted (--list-tasks, --render, the check before connecting). */
export const ASSUMED_FACTS: Facts = {
  os: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
  arch: 'amd64',
  machine: 'x86_64',
  init: 'systemd',
  memoryMb: 0,
  rootFreeBytes: 0,
  opensshVersion: '9.2p1',
  hostname: '',
  loginUser: 'root',
};

export function assumedFacts(host: string, loginUser: string): Facts {
  return { ...ASSUMED_FACTS, hostname: host, loginUser };
}

/** The items of one role; throws (with the role's name) what its tasks or factories throw. */
async function expandRole({ role, vars }: RoleRun, input: { host: string; facts: Facts; inventory?: Inventory }, filter: TagFilter): Promise<Item[]> {
  let out;
  try {
    out = await role.tasks({ ...input, vars });
  } catch (e: any) {
    throw new Error(`role ${role.name}: ${e?.message ?? String(e)}`, { cause: e });
  }
  const handlers = new Map((out.handlers ?? []).map((h) => [h.name, h]));
  const items: Item[] = [];
  for (const resource of resourcesOf(out)) {
    for (const n of resource.notify) if (!handlers.has(n)) throw new Error(`role ${role.name}: ${resource.id} notifies unknown handler "${n}"`);
    const tags = tagsOf(role.name, resource);
    items.push({ role: role.name, resource, tags, selected: selectedByTags(tags, filter.only, filter.skip), roleEnd: false, handlers });
  }
  if (items.length) items[items.length - 1].roleEnd = true;
  return items;
}

/** A host's roles, expanded in order. */
export async function expandRoles(roles: RoleRun[], input: { host: string; facts: Facts; inventory?: Inventory }, filter: TagFilter): Promise<Item[]> {
  const items: Item[] = [];
  for (const rr of roles) items.push(...(await expandRole(rr, input, filter)));
  checkLinks(items);
  return items;
}

/** What to expand for one target: an inventory host (or the control machine). */
export interface ExpandTarget {
  host: string;
  /** merged inventory vars of the host */
  vars: Vars;
  /** the login user (a fact the roles may read) */
  loginUser: string;
  /** in play order */
  roles: Role<any>[];
}

export interface ExpandedHost {
  /** the roles to run (validated vars), without those the tags leave out */
  roles: RoleRun[];
  /** their resources with assumed facts */
  items: Item[];
}

export interface ExpandedRun {
  hosts: Map<string, ExpandedHost>;
  /** per role: its name and every tag its resources carry */
  tagsByRole: Map<string, Set<string>>;
  /** with `keepGoing`: what would have been thrown, one line each */
  problems: string[];
}

/**
 * Validate and expand every target's roles with assumed facts, without
 * contacting anything. Roles the tag filter leaves out need no valid vars.
 * Throws one UserError listing every problem (named `source`: host, role,
 * key or factory message), or naming unknown tags with the known ones.
 */
export async function expandAll(targets: ExpandTarget[], filter: TagFilter, opts: { source: string; keepGoing?: boolean; inventory?: Inventory }): Promise<ExpandedRun> {
  type Attempt = { role: Role<any>; vars?: Vars; items?: Item[]; problems: { message: string; source?: string }[] };
  const attempts = new Map<string, Attempt[]>();
  const tagsByRole = new Map<string, Set<string>>();
  for (const t of targets) {
    const list: Attempt[] = [];
    for (const role of t.roles) {
      if (!tagsByRole.has(role.name)) tagsByRole.set(role.name, new Set([role.name]));
      const { vars, problems } = validateRoleVars(role, t.host, t.vars);
      // a var set with -e is named as coming from -e, not from the inventory file
      const a: Attempt = { role, vars, problems: problems.map((p) => ({ message: p.message, source: opts.inventory?.extraVars?.originOf(p.path) })) };
      if (vars) {
        try {
          a.items = await expandRole({ role, vars }, { host: t.host, facts: assumedFacts(t.host, t.loginUser), inventory: opts.inventory }, filter);
          for (const it of a.items) it.tags.forEach((tag) => tagsByRole.get(role.name)!.add(tag));
        } catch (e: any) {
          a.problems.push({ message: String(e?.message ?? e).replace(`role ${role.name}: `, '') });
        }
      }
      list.push(a);
    }
    attempts.set(t.host, list);
  }

  const problems: string[] = [];
  const hosts = new Map<string, ExpandedHost>();
  for (const [host, list] of attempts) {
    const kept = list.filter((a) => !roleLeftOut(a.role.name, tagsByRole.get(a.role.name), filter));
    for (const a of kept) problems.push(...a.problems.map((p) => `${p.source ?? opts.source}: host ${host}, role ${a.role.name}: ${p.message}`));
    hosts.set(host, { roles: kept.map((a) => ({ role: a.role, vars: a.vars! })), items: kept.flatMap((a) => a.items ?? []) });
  }
  if (problems.length && !opts.keepGoing) throw new UserError(`invalid declarations (nothing was contacted):\n  ${problems.join('\n  ')}`);

  const known = new Set([...tagsByRole.values()].flatMap((s) => [...s]));
  const unknown = unknownTags(filter, known);
  if (unknown.length) {
    throw new UserError(`unknown tag${unknown.length > 1 ? 's' : ''} ${unknown.map((t) => JSON.stringify(t)).join(', ')}; the selected hosts know: ${[...known].sort().join(', ') || '(none)'} (and "all")`);
  }
  return { hosts, tagsByRole, problems };
}
