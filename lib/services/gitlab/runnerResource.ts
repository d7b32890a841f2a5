// A runner's GitLab-side settings as an API resource (`gitlab-runner:<name>`):
// registered or not, and its description, tags, paused, locked, run_untagged,
// access level, maximum timeout. Plan shows each difference as its own line
// (`tags: docker -> download-convert, stateful`) with a diff of the object;
// apply registers, updates (PUT) or deletes. Check mode never reaches apply,
// and the engine's read-only client would refuse a write if it did.
//
// The runner's id and token live on its host (config.toml): what the host
// holds comes through a RunnerLink that the host role implements. The engine
// reads API resources in the same batch as the host's shell probes, so the
// host's file is not known yet when read() runs: read() hands plan() a
// deferred read, and the GitLab reads happen in plan(), once the host role's
// probe of the file has been planned (see roles/gitlab-runner/runnerHost.ts).
// Credentials GitLab issues are given to the link at once (link.keep), so a
// token GitLab shows only once is never lost between two resources.
import type { ApiResource, Change, CommonOptions, RunContext } from '../../engine/types.js';
import { objectDiff } from '../../report/objectText.js';
import type { Secret } from '../../secrets.js';
import { Gitlab } from './client.js';
import { isDrainNote } from './drain.js';
import {
  createRunner,
  deleteRunner,
  deleteRunnerByToken,
  getRunner,
  registerWithRegistrationToken,
  SETTING_KEYS,
  updateRunner,
  verifyRunner,
  type CreatedRunner,
  type CreateRunnerFields,
  type RunnerDetails,
  type RunnerSettings,
  type RunnerType,
} from './runners.js';

/** A runner's credentials as its host holds them. */
export interface HostCredentials {
  /** GitLab's runner id, when the host's entry has it */
  id?: number;
  token: string;
  /** the GitLab this entry is registered on */
  url: string;
}

export interface RunnerRead {
  /** POST /runners/verify accepted the token */
  accepted: boolean;
  /** the id GitLab answered for the token, else the host's */
  id?: number;
  /** GET /runners/:id (null: GitLab does not know that id, or it was not read) */
  details: RunnerDetails | null;
}

/** What someone else owns during this run; each value is the reason shown. */
export interface Held {
  tags?: string;
  paused?: string;
  /** neither registered, registered again nor deleted by this resource */
  existence?: string;
}

export interface Located {
  /** null: the host has no credentials for this runner */
  current: HostCredentials | null;
  /** stop before touching this runner, with this message */
  refuse?: string;
  /** why the host's credentials must not be replaced or removed now (e.g. cloud machines named after the token) */
  keepCredentials?: string;
  /** the host's entry of another name that this runner takes over */
  adoptedFrom?: string;
  held: Held;
}

export type RunnerAction = 'register' | 'update' | 'delete' | 'forget';

/** The host side of a runner, implemented by the role that owns the host's runner config. */
export interface RunnerLink {
  /** What the host holds for this runner; called from plan(), after the host's probe was planned. */
  locate(ctx: RunContext): Promise<Located>;
  /** Verify and read a runner (a host may share reads between resources); default readRunner. */
  read?(gl: Gitlab, c: HostCredentials, details: boolean): Promise<RunnerRead>;
  /** Keep credentials GitLab just issued where the host's config will find them; throw if that failed. */
  keep(created: CreatedRunner, ctx: RunContext): Promise<void>;
  /** What plan decided (null: nothing to do), for the host's config preview. */
  planned?(action: RunnerAction | null): void;
  /** GitLab's answer to an update, for reads shared with later resources. */
  changed?(details: RunnerDetails): void;
}

export interface RunnerResourceOptions extends CommonOptions {
  /** the inventory's name of the runner (resource id gitlab-runner:<name>) */
  name: string;
  /** the GitLab it must be registered on */
  url: string;
  state: 'present' | 'absent';
  accessToken?: Secret;
  /** legacy flow: register with this registration token instead of POST /user/runners */
  registrationToken?: Secret;
  /** the settings the inventory sets (present); unset keys are left as GitLab has them */
  settings?: Partial<RunnerSettings>;
  type?: { runner_type: RunnerType; group_id?: number; project_id?: number };
  /** compare GitLab's settings with the inventory's and update them (default true) */
  syncSettings?: boolean;
  link: RunnerLink;
}

interface RunnerChangeData {
  action: RunnerAction;
  id?: number;
  fields?: Partial<RunnerSettings>;
  current?: HostCredentials;
  /** a registration that replaces an entry of another GitLab: deleted there afterwards */
  replaces?: HostCredentials;
}

/** verify, then GET by id (also for a refused token: is the runner still there?). */
export async function readRunner(gl: Gitlab, c: HostCredentials, details: boolean): Promise<RunnerRead> {
  const v = await verifyRunner(gl, c.token);
  const id = (v.valid ? v.id : undefined) ?? c.id;
  return { accepted: v.valid, id, details: details && id !== undefined && gl.hasToken ? await getRunner(gl, id) : null };
}

const sameGitlab = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

export function runnerResource(opts: RunnerResourceOptions): ApiResource<Deferred, RunnerChangeData> {
  const { name, url, link } = opts;
  const sync = opts.syncSettings ?? true;
  const settings = opts.settings ?? {};
  const client = (ctx: RunContext, at: string) => new Gitlab(ctx, at, { accessToken: opts.accessToken });
  const read = (gl: Gitlab, c: HostCredentials, details: boolean) => (link.read ? link.read(gl, c, details) : readRunner(gl, c, details));
  const decided = (c: Change<RunnerChangeData> | null) => {
    link.planned?.(c?.data?.action ?? null);
    return c;
  };

  const registerChange = (summary: string, ctx: RunContext, extra: Partial<RunnerChangeData> = {}): Change<RunnerChangeData> => {
    if (!opts.registrationToken && !opts.accessToken) throw new Error(`${name} must be registered on ${url}, which needs gitlab_access_token (an access token with the create_runner or api scope)`);
    const change: Change<RunnerChangeData> = { summary, data: { action: 'register', ...extra } };
    if (ctx.wantDiff) change.diff = objectDiff(`gitlab:runner/${name}`, null, { url, ...opts.type, ...settings });
    return change;
  };

  async function planPresent(loc: Located, ctx: RunContext): Promise<Change<RunnerChangeData> | null> {
    const tags = `tags: ${tagText(settings.tag_list ?? [])}`;
    const cur = loc.current;
    if (!cur) {
      if (loc.held.existence) return held(ctx, `not registered on ${url}; ${loc.held.existence}`);
      return registerChange(`register on ${url} (${tags})`, ctx);
    }
    if (!sameGitlab(cur.url, url)) {
      if (loc.keepCredentials) throw new Error(`${name} moved to ${url}, but registering it there would replace its token: ${loc.keepCredentials}`);
      return registerChange(`register on ${url} (${tags}); its runner on ${cur.url} is deleted once the new one is kept`, ctx, { replaces: cur });
    }
    const gl = client(ctx, url);
    const r = await read(gl, cur, sync);
    if (!r.accepted) {
      const why = `GitLab no longer accepts its token (POST /runners/verify answered 403; ${r.details ? `runner ${r.id} is still on GitLab, with a token this host does not have: left there` : r.id !== undefined ? `runner ${r.id} is gone from GitLab` : 'deleted on GitLab?'})`;
      if (loc.held.existence) return held(ctx, `${why}; ${loc.held.existence}`);
      if (loc.keepCredentials) throw new Error(`${name}: ${why}, but registering it again would replace its token: ${loc.keepCredentials}`);
      return registerChange(`register again: ${why}`, ctx);
    }
    if (!sync) return null;
    if (!gl.hasToken) {
      ctx.log(`${name}: GitLab-side settings not compared (no gitlab_access_token)`);
      return null;
    }
    if (!r.details) throw new Error(`${name}: GitLab accepts its token but has no runner ${r.id} (GET /runners/${r.id} answered 404)`);
    const d = settingsDiff(settings, r.details, loc.held);
    for (const h of d.held) ctx.log(`${name}: ${h}`);
    if (loc.adoptedFrom) ctx.log(`${name}: adopts the host's runner ${loc.adoptedFrom} (id ${r.id}), keeping its token`);
    if (!d.lines.length) return null;
    const summary = [loc.adoptedFrom ? `adopt ${loc.adoptedFrom} (id ${r.id})` : '', ...d.lines, ...d.held].filter(Boolean).join('; ');
    const change: Change<RunnerChangeData> = { summary, data: { action: 'update', id: r.details.id, fields: d.fields } };
    if (ctx.wantDiff) change.diff = objectDiff(`gitlab:runner/${name}`, settingsView(r.details), settingsView({ ...r.details, ...d.fields }));
    return change;
  }

  async function planAbsent(loc: Located, ctx: RunContext): Promise<Change<RunnerChangeData> | null> {
    const cur = loc.current;
    if (!cur) return null;
    if (loc.held.existence) return held(ctx, `not deleted: ${loc.held.existence}`);
    if (loc.keepCredentials) throw new Error(`${name} must go, but deleting it now would orphan what is named after its token: ${loc.keepCredentials}`);
    const r = await read(client(ctx, cur.url), cur, true);
    if (!r.accepted && !r.details) return { summary: 'GitLab no longer knows it: only its entry in the host config goes', data: { action: 'forget', current: cur } };
    const change: Change<RunnerChangeData> = { summary: `delete runner ${r.id ?? '(id unknown)'} on ${cur.url}`, data: { action: 'delete', id: r.id, current: cur } };
    if (ctx.wantDiff) change.diff = objectDiff(`gitlab:runner/${name}`, r.details ? settingsView(r.details) : { id: r.id }, null);
    return change;
  }

  function held(ctx: RunContext, why: string): null {
    ctx.log(`${name}: ${why}`);
    return null;
  }

  return {
    id: `gitlab-runner:${name}`,
    tags: [...(opts.tags ?? [])],
    notify: opts.notify === undefined ? [] : Array.isArray(opts.notify) ? [...opts.notify] : [opts.notify],

    // Deferred: what to read is only known once the host's probe is planned (see the head of this file).
    async read(): Promise<Deferred> {
      return DEFERRED;
    },

    async plan(_deferred: Deferred, ctx: RunContext): Promise<Change<RunnerChangeData> | null> {
      const loc = await link.locate(ctx);
      if (loc.refuse) throw new Error(loc.refuse);
      return decided(opts.state === 'present' ? await planPresent(loc, ctx) : await planAbsent(loc, ctx));
    },

    async apply(change: Change<RunnerChangeData>, ctx: RunContext): Promise<void> {
      const d = change.data!;
      const gl = client(ctx, d.current?.url ?? url);
      if (d.action === 'register') {
        const created = opts.registrationToken ? await registerWithRegistrationToken(gl, opts.registrationToken, settings) : await createRunner(gl, createFields(opts, settings));
        ctx.log(`registered ${name} on ${url} (id ${created.id})`);
        try {
          await link.keep(created, ctx);
        } catch (e) {
          // The token is shown once: without it on the host, the runner is useless. Undo, with its own token.
          const undone = await deleteRunnerByToken(gl, created.token).catch(() => 'failed');
          ctx.log(undone === 'deleted' ? `rolled back the registration of ${name}` : `could not roll back the registration of ${name} (id ${created.id}): delete it on GitLab`);
          throw e;
        }
        if (d.replaces) {
          const old = await deleteRunnerByToken(client(ctx, d.replaces.url), d.replaces.token);
          ctx.log(old === 'deleted' ? `deleted the old ${name} on ${d.replaces.url}` : `the old ${name} was already gone from ${d.replaces.url}`);
        }
      } else if (d.action === 'update') {
        link.changed?.(await updateRunner(gl, d.id!, d.fields!));
        ctx.log(`updated ${name} on ${url}: ${change.summary}`);
      } else if (d.action === 'delete') {
        let result = await deleteRunnerByToken(gl, d.current!.token);
        if (result === 'refused' && d.id !== undefined && gl.hasToken) result = (await deleteRunner(gl, d.id)) === 'deleted' ? 'deleted' : 'refused';
        ctx.log(result === 'deleted' ? `deleted ${name} (id ${d.id}) on ${gl.url}` : `${name} was already gone from ${gl.url}`);
      }
    },

    render() {
      return { api: { name: `gitlab-runner/${name}`, state: opts.state === 'absent' ? null : { url, ...opts.type, ...settings } } };
    },
  };
}

/** What read() gives plan(): the reads happen in plan (see the head of this file). */
export interface Deferred {
  readonly deferred: true;
}
const DEFERRED: Deferred = { deferred: true };

function createFields(opts: RunnerResourceOptions, settings: Partial<RunnerSettings>): CreateRunnerFields {
  const t = opts.type ?? { runner_type: 'instance_type' as const };
  const body: CreateRunnerFields = { runner_type: t.runner_type, ...settings };
  if (t.runner_type === 'group_type') body.group_id = t.group_id;
  if (t.runner_type === 'project_type') body.project_id = t.project_id;
  return body;
}

/** The fields shown in a runner's diff. */
function settingsView(r: Partial<RunnerDetails>): Record<string, unknown> {
  const out: Record<string, unknown> = { id: r.id };
  for (const k of SETTING_KEYS) out[k] = r[k];
  return out;
}

export function tagText(tags: readonly string[]): string {
  return tags.length ? tags.join(', ') : '(none)';
}

const shown = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : v === null || v === undefined ? 'null' : String(v));

/**
 * The inventory's settings that differ from GitLab's (tags compared as sets),
 * as PUT fields and one line each; what is held is left out, with its reason.
 */
export function settingsDiff(want: Partial<RunnerSettings>, have: RunnerDetails, hold: Held = {}): { fields: Partial<RunnerSettings>; lines: string[]; held: string[] } {
  const fields: Record<string, unknown> = {};
  const lines: string[] = [];
  const heldLines: string[] = [];
  const drained = isDrainNote(have.maintenance_note) && want.paused !== true;
  for (const k of SETTING_KEYS) {
    const v = want[k];
    if (v === undefined) continue;
    const h = have[k];
    if (k === 'tag_list') {
      const a = [...(v as string[])].sort();
      const b = Array.isArray(h) ? [...(h as string[])].sort() : [];
      if (a.join(',') === b.join(',')) continue;
      const line = `tags: ${tagText((h as string[]) ?? [])} -> ${tagText(v as string[])}`;
      if (hold.tags) {
        heldLines.push(`tags held ${hold.tags} (GitLab: ${tagText((h as string[]) ?? [])}; inventory: ${tagText(v as string[])})`);
        continue;
      }
      fields[k] = v;
      lines.push(line);
      continue;
    }
    if (h === v || (h == null && v == null)) continue;
    if (k === 'paused' && (hold.paused || drained)) {
      heldLines.push(`paused held ${hold.paused ?? 'by an upgrade drain: resumed when it ends'} (GitLab: ${shown(h)}; inventory: ${shown(v)})`);
      continue;
    }
    if (k === 'maintenance_note' && drained) continue;
    fields[k] = v;
    lines.push(`${k}: ${shown(h)} -> ${shown(v)}`);
  }
  return { fields: fields as Partial<RunnerSettings>, lines, held: heldLines };
}
