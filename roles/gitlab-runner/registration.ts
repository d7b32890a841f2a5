// Which of the host's [[runners]] entries each inventory runner is, which
// entries the inventory does not name (unmanaged: kept as they are unless
// gitlab_runners_absent or gitlab_runners_exclusive says they go), what the
// switchover holds, and the GitLab-side settings the inventory wants.
// Pure: no I/O. The GitLab side is lib/services/gitlab/runnerResource.ts.
import type { Held } from '../../lib/services/gitlab/runnerResource.js';
import type { RunnerDetails, RunnerSettings } from '../../lib/services/gitlab/runners.js';
import { newCredentials, sameUrl, type Credentials, type HostConfig, type HostRunner } from './config.js';
import type { Pending } from './hostFiles.js';
import { runnerUrl, type GitlabRunnerVars, type RunnerVars } from './vars.js';

export interface Matching {
  /** inventory name -> the host's first entry of that name */
  byName: Map<string, HostRunner>;
  /** entries that no inventory runner names (duplicates and entries without a name included) */
  others: HostRunner[];
}

export function matchEntries(vars: Pick<GitlabRunnerVars, 'gitlab_runners'>, host: Pick<HostConfig, 'runners'>): Matching {
  const wanted = new Set(vars.gitlab_runners.map((r) => r.name));
  const byName = new Map<string, HostRunner>();
  const others: HostRunner[] = [];
  for (const h of host.runners) {
    if (h.name !== undefined && wanted.has(h.name) && !byName.has(h.name)) byName.set(h.name, h);
    else others.push(h);
  }
  return { byName, others };
}

/** How an entry is recognised across re-reads of the file within a run: GitLab's id, else its token. */
export function credentialsKey(c: Pick<Credentials, 'id' | 'token'>): string {
  return c.id !== undefined ? `id:${String(c.id)}` : `token:${c.token}`;
}

export function entryLabel(h: HostRunner): string {
  return h.name ?? `runners[${h.index}] (no name)`;
}

/** The credentials the host has for a runner: a pending registration newer than its entry, else the entry's. */
export function hostCredentials(entry: HostRunner | undefined, pending: Pending | undefined): { credentials: Credentials; url: string; source: 'pending' | 'entry' } | null {
  const c = entry?.credentials;
  // The same runner in both: the entry wins, it may hold a token the runner rotated since.
  if (pending && !(c && c.id !== undefined && Number(c.id) === pending.id))
    return { credentials: newCredentials(pending, new Date(pending.obtained_at)), url: pending.url, source: 'pending' };
  if (c) return { credentials: c, url: entry!.url ?? '', source: 'entry' };
  return null;
}

/** The settings of a runner that live on GitLab's side, as the inventory wants them (unset keys: left as they are). */
export function registrationFields(r: RunnerVars): Partial<RunnerSettings> {
  const f: Partial<RunnerSettings> = { description: r.description ?? r.name, tag_list: [...r.tags] };
  for (const k of ['run_untagged', 'locked', 'paused', 'access_level', 'maximum_timeout', 'maintenance_note'] as const) if (r[k] !== undefined) (f as Record<string, unknown>)[k] = r[k];
  return f;
}

/** Why a runner of GitLab looks like the one the inventory wants (a rename?), or null. */
export function lookalike(want: Partial<RunnerSettings>, have: Pick<RunnerDetails, 'description' | 'tag_list'>): string | null {
  if (want.description !== undefined && have.description === want.description) return `its description ${JSON.stringify(have.description)}`;
  const a = [...(want.tag_list ?? [])].sort().join(',');
  if (a !== '' && a === [...(have.tag_list ?? [])].sort().join(',')) return `its tags (${(have.tag_list ?? []).join(', ')})`;
  return null;
}

/**
 * While the switchover is set, it owns the tags of its static runner and the
 * existence (and pause, which step 5 uses) of its retired runner.
 */
export function switchoverHolds(vars: Pick<GitlabRunnerVars, 'switchover'>, host: string, name: string): Held {
  const sw = vars.switchover;
  if (!sw) return {};
  const held: Held = {};
  if (sw.static_runner.host === host && sw.static_runner.runner === name) held.tags = 'by the switchover';
  if (sw.retired_runner.host === host && sw.retired_runner.runner === name) {
    held.existence = 'it is the switchover\'s retired runner: the switchover deletes it (step 5), this role never registers or deletes it';
    held.paused = 'by the switchover';
  }
  return held;
}

/** The entries of other names, on the same GitLab, with credentials, that a runner could be taken over from. */
export function adoptionCandidates(vars: GitlabRunnerVars, r: RunnerVars, m: Matching): HostRunner[] {
  const url = runnerUrl(vars, r);
  const absent = new Set(vars.gitlab_runners_absent);
  return m.others.filter((h) => h.credentials && h.name !== undefined && h.name !== r.name && !absent.has(h.name) && sameUrl(h.url, url));
}
