// Pieces every resource factory uses.
import type { CommonOptions, ShellResource as Resource } from '../engine/types.js';
import { normMode, shq, type Stat } from './shell.js';

export function toList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Fill the parts of a Resource that come straight from CommonOptions. */
export function base(kind: string, name: string, opts: CommonOptions): Pick<Resource, 'id' | 'tags' | 'notify' | 'timeout'> {
  return { id: `${kind}:${name}`, tags: [...(opts.tags ?? [])], notify: toList(opts.notify), ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}) };
}

/** Mode (as `stat -c %a` prints it), owner and group a path must have. */
export interface Attrs {
  mode: string;
  owner: string;
  group: string;
}

/** The wanted attributes from a resource's options: root-owned by default, group defaults to the owner. */
export function wantedAttrs(opts: { mode?: string; owner?: string; group?: string }, defaultMode: string): Attrs {
  return { mode: normMode(opts.mode ?? defaultMode), owner: opts.owner ?? 'root', group: opts.group ?? opts.owner ?? 'root' };
}

/** "mode 644 -> 600, owner a -> b" style summary of the attributes that differ. */
export function attrDiff(have: Stat, want: Attrs): string[] {
  return (['mode', 'owner', 'group'] as const).filter((k) => have[k] !== want[k]).map((k) => `${k} ${have[k]} -> ${want[k]}`);
}

/** Script that gives an existing path the wanted owner, group and mode. */
export function setAttrsScript(path: string, want: Attrs): string {
  return `chown ${shq(`${want.owner}:${want.group}`)} ${shq(path)} && chmod ${want.mode} ${shq(path)}`;
}
