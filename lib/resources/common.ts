// Pieces every resource factory uses.
import { idsOf, type CommonOptions, type Links, type ShellResource as Resource } from '../engine/types.js';
import { normMode, sh, type Stat } from './shell.js';

export function toList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** The links of CommonOptions, as ids (only the kinds that are set). */
export function linksOf(opts: CommonOptions, extra: Links = {}): Links | undefined {
  const links: Links = { ...extra };
  const onlyIfChanged = idsOf(opts.onlyIfChanged);
  const after = idsOf(opts.after);
  if (onlyIfChanged.length) links.onlyIfChanged = onlyIfChanged;
  if (after.length) links.after = after;
  for (const k of Object.keys(links)) if (!links[k]?.length) delete links[k];
  return Object.keys(links).length ? links : undefined;
}

/** Fill the parts of a Resource that come straight from CommonOptions. */
export function base(kind: string, name: string, opts: CommonOptions): Pick<Resource, 'id' | 'tags' | 'notify' | 'links' | 'timeout'> {
  const links = linksOf(opts);
  return { id: `${kind}:${name}`, tags: [...(opts.tags ?? [])], notify: toList(opts.notify), ...(links ? { links } : {}), ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}) };
}

/** Paths given to resources are absolute: a relative one would depend on the remote shell's directory. */
export function absolutePath(what: string, path: string): string {
  if (!path.startsWith('/') || /[\0\n]/.test(path)) throw new Error(`${what} ${JSON.stringify(path)}: expected an absolute path (starting with /, no newline)`);
  return path;
}

/** A user or group name useradd/groupadd accept on Debian (checked here: a refused name is a clear error, not a half-run script). */
export function accountName(what: string, name: string): string {
  if (!/^[a-z_][a-z0-9_.-]{0,31}\$?$/.test(name)) throw new Error(`${what} ${JSON.stringify(name)} is not a valid name (lowercase letters, digits, _ . -, starting with a letter or _)`);
  return name;
}

/** An owner or group: a name, or a numeric id. */
function ownerName(what: string, name: string): string {
  return /^\d{1,10}$/.test(name) ? name : accountName(what, name);
}

/** Mode (as `stat -c %a` prints it), owner and group a path must have. */
export interface Attrs {
  mode: string;
  owner: string;
  group: string;
}

/** The wanted attributes from a resource's options: root-owned by default, group defaults to the owner. */
export function wantedAttrs(opts: { mode?: string; owner?: string; group?: string }, defaultMode: string): Attrs {
  const owner = ownerName('owner', opts.owner ?? 'root');
  return { mode: normMode(opts.mode ?? defaultMode), owner, group: ownerName('group', opts.group ?? owner) };
}

/** "mode 644 -> 600, owner a -> b" style summary of the attributes that differ. */
export function attrDiff(have: Stat, want: Attrs): string[] {
  return (['mode', 'owner', 'group'] as const).filter((k) => have[k] !== want[k]).map((k) => `${k} ${have[k]} -> ${want[k]}`);
}

/** Script that gives an existing path the wanted owner, group and mode. */
export function setAttrsScript(path: string, want: Attrs): string {
  return sh`chown -- ${`${want.owner}:${want.group}`} ${path} && chmod -- ${want.mode} ${path}`.text;
}
