// Role vars are checked for every selected host before any host is contacted,
// so bad input never leaves a host half-configured. An unknown key inside a
// strict table is reported at its own key path with the nearest known key
// ("did you mean"), and a var that no role of the playbook reads is a warning
// with the same hint: a typo must never be silently ignored.
import { distance } from 'fastest-levenshtein';
import type { ZodError, ZodType } from 'zod';
import type { Role, Vars } from './types.js';

export interface VarsProblem {
  host: string;
  role: string;
  message: string;
  /** the key path it is about (an unknown key's own path) */
  path: PropertyKey[];
}

export function validateRoleVars(role: Role<any>, host: string, vars: Vars): { vars?: Vars; problems: VarsProblem[] } {
  if (!role.vars) return { vars, problems: [] };
  const parsed = role.vars.safeParse(vars);
  if (parsed.success) return { vars: { ...vars, ...(parsed.data as Vars) }, problems: [] };
  return { problems: issuesOf(role.vars, parsed.error).map(({ path, message }) => ({ host, role: role.name, path, message })) };
}

/**
 * "key.path: message" lines for a failed parse. An unrecognized key becomes one
 * line of its own (`gitlab_runners[0].machine.IdleTimeout: unknown key; did you mean "IdleTime"?`).
 */
export function describeIssues(schema: ZodType, error: ZodError): string[] {
  return issuesOf(schema, error).map((i) => i.message);
}

/** describeIssues' lines with the key path each is about. */
function issuesOf(schema: ZodType, error: ZodError): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = objectKeysAt(schema, issue.path);
      for (const key of issue.keys) out.push({ path: [...issue.path, key], message: `${formatPath([...issue.path, key])}: unknown key${hintFor(key, known)}` });
    } else {
      out.push({ path: [...issue.path], message: `${formatPath(issue.path)}: ${issue.message}` });
    }
  }
  return out;
}

/** `a.b[2].c` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(vars)';
}

/**
 * The nearest candidate name, or undefined when none is close: one name a prefix of
 * the other, or a case-insensitive edit distance within a third of the longer name
 * AND within half of what differs after their common prefix (at least 2: a swap of two letters) (so "scaleway-token" is
 * not taken for "scaleway-zone" because both start with "scaleway-").
 */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    if (c === name) continue;
    const cl = c.toLowerCase();
    const prefix = Math.min(cl.length, lower.length) >= 4 && (cl.startsWith(lower) || lower.startsWith(cl));
    const d = distance(lower, cl);
    let common = 0;
    while (common < cl.length && common < lower.length && cl[common] === lower[common]) common++;
    const rest = Math.max(cl.length, lower.length) - common;
    const longer = Math.max(cl.length, lower.length);
    const close = d < longer && d <= Math.max(1, Math.floor(longer / 3)) && d <= Math.max(2, Math.floor(rest / 2));
    if (!prefix && !close) continue;
    if (!best || d < best.d) best = { c, d };
  }
  return best?.c;
}

function hintFor(key: string, known: string[]): string {
  const near = didYouMean(key, known);
  if (near) return `; did you mean "${near}"?`;
  return known.length && known.length <= 16 ? `; expected one of: ${known.join(', ')}` : '';
}

/** The keys of the object schema found at `path` inside `schema` (empty when it cannot be followed). */
export function objectKeysAt(schema: ZodType, path: readonly PropertyKey[]): string[] {
  let s: ZodType | undefined = schema;
  for (const step of path) {
    s = s && childSchema(s, step);
    if (!s) return [];
  }
  const obj = s && objectOf(s);
  return obj ? Object.keys(obj) : [];
}

type Def = { type: string; shape?: Record<string, ZodType>; element?: ZodType; innerType?: ZodType; in?: ZodType; out?: ZodType; options?: ZodType[]; valueType?: ZodType; getter?: () => ZodType };
const defOf = (s: ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Unwrap optional / default / pipe / lazy ... down to a structural schema. */
function unwrap(s: ZodType): ZodType {
  for (let i = 0; i < 20; i++) {
    const d = defOf(s);
    const next = d.innerType ?? (d.type === 'pipe' ? d.in : undefined) ?? (d.type === 'lazy' ? d.getter?.() : undefined);
    if (!next) return s;
    s = next;
  }
  return s;
}

function objectOf(s: ZodType): Record<string, ZodType> | undefined {
  const u = unwrap(s);
  const d = defOf(u);
  if (d.type === 'object') return d.shape;
  if (d.type === 'union') for (const o of d.options ?? []) if (objectOf(o)) return objectOf(o);
  return undefined;
}

function childSchema(s: ZodType, step: PropertyKey): ZodType | undefined {
  const u = unwrap(s);
  const d = defOf(u);
  if (typeof step === 'number') {
    if (d.type === 'array') return d.element;
    if (d.type === 'union') for (const o of d.options ?? []) if (defOf(unwrap(o)).type === 'array') return defOf(unwrap(o)).element;
    return undefined;
  }
  if (d.type === 'record') return d.valueType;
  return objectOf(u)?.[String(step)];
}

// ---------------------------------------------------------------- vars no role reads

/**
 * Vars the roles of one playbook never read but another playbook (or a
 * service resource outside any role) does: setting them is not a typo.
 * Keep this list short and explicit; a role's own vars come from its schema.
 */
export const VARS_READ_ELSEWHERE: Readonly<Record<string, string>> = {
  switchover: 'playbooks/switchover.ts and the gitlab-runner role (lib/services/gitlab/switchoverVars.ts)',
  scaleway: 'playbooks/fleet.ts (the runners\' Scaleway project, credentials and prices)',
  fleet: 'playbooks/fleet.ts (caps, grace period, deletions per run)',
  docs: 'playbooks/docs.ts (the wiki page: project, important paths, services)',
  server: 'playbooks/docs.ts (a server\'s description, size, services and important paths)',
};

/** The top-level var names a role's schema reads; undefined when its schema is not an object (it may read anything). */
export function varsReadBy(role: Role<any>): string[] | undefined {
  if (!role.vars) return [];
  const shape = objectOf(role.vars);
  return shape ? Object.keys(shape) : undefined;
}

export interface UnreadVar {
  name: string;
  /** the hosts whose merged vars hold it */
  hosts: string[];
  suggestion?: string;
}

/**
 * Vars set for these hosts that no role of the playbook reads and that no other
 * playbook is known to read. Empty when some role accepts any var (no schema shape).
 */
export function unreadVars(roles: Iterable<Role<any>>, hostVars: ReadonlyMap<string, Vars>, elsewhere: Readonly<Record<string, string>> = VARS_READ_ELSEWHERE): UnreadVar[] {
  const read = new Set<string>();
  for (const r of roles) {
    const names = varsReadBy(r);
    if (!names) return [];
    names.forEach((n) => read.add(n));
  }
  const byName = new Map<string, string[]>();
  for (const [host, vars] of hostVars)
    for (const name of Object.keys(vars)) if (!read.has(name) && !(name in elsewhere)) byName.set(name, [...(byName.get(name) ?? []), host]);
  return [...byName].map(([name, hosts]) => ({ name, hosts, suggestion: didYouMean(name, [...read, ...Object.keys(elsewhere)]) }));
}

/**
 * One warning line per unread var that looks like a misspelling of a var the
 * playbook reads (`timzone` -> `timezone`). A var far from every name is most
 * likely another playbook's (an inventory serves runner.ts, fleet.ts, docs.ts
 * ...): warning about each of those on every run would bury the typos.
 */
export function unreadVarWarnings(file: string, playbook: string, unread: UnreadVar[]): string[] {
  return unread.filter((u) => u.suggestion).map(
    (u) =>
      `${file}: var ${u.name} (set for ${u.hosts.join(', ')}) is read by no role of playbook ${playbook}` +
      (u.suggestion ? `; did you mean "${u.suggestion}"?` : '; remove it, or check its spelling'),
  );
}

/**
 * The same for vars given with -e: set for this run, so one that no role reads
 * is worth a warning even when it is near no known name.
 */
export function unreadExtraVarWarnings(playbook: string, unread: UnreadVar[]): string[] {
  return unread.map((u) => `-e: var ${u.name} is read by no role of playbook ${playbook}` + (u.suggestion ? `; did you mean "${u.suggestion}"?` : '; remove it, or check its spelling'));
}
