// The hand-off between the role's resources on one host, explicitly:
//
//   gitlab-runner-host:<config>  (shell) probes config.toml, the pending
//        registrations and docker-machine's store, and publishes them here;
//        it changes nothing. It must come before the GitLab-side resources:
//        the engine reads API resources in the same batch as shell probes,
//        so they get the host's runners from here, in their plan().
//   gitlab-runner:<name>  (API, lib/services/gitlab/runnerResource.ts) finds
//        its runner through a link made here (by name, or the entry it
//        adopts), and on registration hands the new credentials back through
//        link.keep(), which writes them to a 0600 pending file on the host at
//        once (a token GitLab shows once is never only in memory).
//   gitlab-runner-config:<config>  (shell, configResource.ts) reads what the
//        GitLab-side resources decided (adoptions, removals, registrations to
//        preview in check mode) and merges the pending files into config.toml.
//
// One RunnerHost per host and run (the role's tasks() makes it). GitLab reads
// (verify, GET) are shared through it, so the drain and the settings
// resources do not ask twice.
import type { ApiResource, Change, CommonOptions, HostContext, RunContext, ShellResource } from '../../lib/engine/types.js';
import { objectText } from '../../lib/report/objectText.js';
import { Gitlab } from '../../lib/services/gitlab/client.js';
import { readRunner, runnerResource, type HostCredentials, type Located, type RunnerAction, type RunnerLink, type RunnerRead } from '../../lib/services/gitlab/runnerResource.js';
import type { CreatedRunner, RunnerDetails } from '../../lib/services/gitlab/runners.js';
import { parseHostConfig, sameUrl, type Credentials, type HostConfig, type HostRunner } from './config.js';
import type { Drained } from './drainResource.js';
import { machinesOf, parseRunnerFiles, runnerFilesProbe, writePendingScript, type Pending, type RunnerFiles } from './hostFiles.js';
import { adoptionCandidates, credentialsKey, entryLabel, hostCredentials, lookalike, matchEntries, registrationFields, switchoverHolds, type Matching } from './registration.js';
import { runnerUrl, type GitlabRunnerVars, type RunnerVars } from './vars.js';

interface View extends RunnerFiles {
  host: HostConfig;
  matching: Matching;
}

export class RunnerHost {
  private view?: View;
  private reads = new Map<string, { details: boolean; result: Promise<RunnerRead> }>();
  /** what each GitLab-side resource decided, by runner name */
  readonly decided = new Map<string, RunnerAction | null>();
  /** inventory name -> key (credentialsKey) of the entry it takes over */
  readonly adopted = new Map<string, string>();
  /** keys of entries whose runner was deleted on GitLab (or GitLab forgot it): they leave config.toml */
  readonly dropped = new Set<string>();
  /** names whose pending registration file goes with them */
  readonly droppedPending = new Set<string>();
  /** runners the upgrade drain paused, for the resume handler */
  drained: Drained[] = [];

  constructor(
    readonly vars: GitlabRunnerVars,
    readonly hostName: string,
    readonly configPath: string,
  ) {}

  /** What gitlab-runner-host read; called from its plan(). */
  publish(files: RunnerFiles, ctx: RunContext): void {
    const host = files.config.text === null ? { runners: [], doc: {} } : parseHostConfig(files.config.text, this.configPath);
    const matching = matchEntries(this.vars, host);
    this.view = { ...files, host, matching };
    // Reads made earlier in this run (the drain's) stay: keyed by token, updated on every write of ours.
    const absent = new Set(this.vars.gitlab_runners_absent);
    for (const h of matching.others) {
      if (h.name !== undefined && absent.has(h.name)) continue;
      const what = h.credentials ? 'a registered runner' : 'an entry without a token';
      ctx.log(
        this.vars.gitlab_runners_exclusive
          ? `${entryLabel(h)} in ${this.configPath} is not in gitlab_runners: deleted (gitlab_runners_exclusive)`
          : `unmanaged: ${entryLabel(h)} in ${this.configPath} (${what}) is not in gitlab_runners: left as it is (list it in gitlab_runners_absent to delete it)`,
      );
    }
    const known = new Set([...this.vars.gitlab_runners.map((r) => r.name), ...absent]);
    for (const p of files.pending.values())
      if (!known.has(p.name)) ctx.log(`${p.file}: runner ${p.name} (id ${p.id}) was registered by an earlier run but is in neither gitlab_runners nor gitlab_runners_absent: left there`);
    // Start the reads of the inventory's runners now, all at once; their resources' plans pick them up.
    for (const r of this.vars.gitlab_runners) {
      const c = hostCredentials(matching.byName.get(r.name), files.pending.get(r.name));
      if (c && sameUrl(c.url, runnerUrl(this.vars, r))) void this.read(this.gitlab(ctx, c.url), { id: idOf(c.credentials), token: c.credentials.token, url: c.url }, this.vars.gitlab_runner_sync_settings).catch(() => {});
    }
  }

  get files(): View {
    if (!this.view) throw new Error(`gitlab-runner: the host's runners were not read: gitlab-runner-host:${this.configPath} must be planned before the GitLab-side resources (skipped by --tags?)`);
    return this.view;
  }

  gitlab(ctx: RunContext, url: string): Gitlab {
    return new Gitlab(ctx, url, { accessToken: this.vars.gitlab_access_token });
  }

  /** verify + GET, shared by every resource of this host during the run. */
  read(gl: Gitlab, c: HostCredentials, details: boolean): Promise<RunnerRead> {
    const key = `${gl.url}|${c.token}`;
    const have = this.reads.get(key);
    if (have && (have.details || !details)) return have.result;
    const result = readRunner(gl, c, details);
    this.reads.set(key, { details, result });
    result.catch(() => this.reads.delete(key));
    return result;
  }

  /** GitLab's answer to a write: later reads of this runner see it. */
  changed(details: RunnerDetails): void {
    for (const [key, r] of this.reads)
      void r.result.then((x) => {
        if (x.id === details.id) this.reads.set(key, { details: true, result: Promise.resolve({ ...x, details }) });
      }, () => {});
  }

  /** Why this token's credentials must stay: machines in docker-machine's store named after it. */
  machinesNote(token: string): string | undefined {
    const ms = machinesOf(token, this.files.machines);
    if (!ms.length) return undefined;
    return (
      `docker-machine's store (${this.vars.gitlab_runner_machine_store}) still holds ${ms.length} machine(s) named after its token: ${ms.join(', ')}. ` +
      'Remove them first (pause the runner and let it remove its idle machines with IdleCount = 0, or `docker-machine rm -y NAME` on the host), then run again'
    );
  }

  /** Write credentials GitLab just issued to a pending file on the host. */
  async keep(name: string, url: string, created: CreatedRunner, ctx: RunContext): Promise<void> {
    const remote = (ctx as Partial<HostContext>).remote;
    if (!remote) throw new Error(`gitlab-runner:${name} runs on a host play only (its token is kept on the host)`);
    const pending: Omit<Pending, 'file'> = { name, url, id: created.id, token: created.token, token_expires_at: created.token_expires_at, obtained_at: new Date().toISOString() };
    await remote.run(writePendingScript(this.configPath, name), { stdin: JSON.stringify(pending) });
  }

  /** The link of an inventory runner. */
  linkFor(r: RunnerVars): RunnerLink {
    return {
      locate: (ctx) => this.locate(r, ctx),
      read: (gl, c, details) => this.read(gl, c, details),
      keep: (created, ctx) => this.keep(r.name, runnerUrl(this.vars, r), created, ctx),
      planned: (action) => void this.decided.set(r.name, action),
      changed: (d) => this.changed(d),
    };
  }

  /** The link of a runner that must go: an entry of the host (by name for gitlab_runners_absent). */
  removalLink(name: string, entry: () => HostRunner | undefined): RunnerLink {
    let located: HostCredentials | null = null;
    let key: string | undefined;
    return {
      locate: async () => {
        const f = this.files;
        const h = entry();
        const c = hostCredentials(h, f.pending.get(name));
        const held = switchoverHolds(this.vars, this.hostName, name);
        if (!c) return { current: null, held };
        located = { id: idOf(c.credentials), token: c.credentials.token, url: c.url || (this.vars.gitlab_url ?? '') };
        key = h?.credentials ? credentialsKey(h.credentials) : undefined;
        if (!located.url) return { current: null, held, refuse: `${name}: its entry in ${this.configPath} has no url and gitlab_url is not set: cannot delete it` };
        return { current: located, held, keepCredentials: this.machinesNote(located.token) };
      },
      read: (gl, c, details) => this.read(gl, c, details),
      keep: async () => {
        throw new Error('internal: a removal does not register');
      },
      planned: (action) => {
        this.decided.set(name, action);
        if ((action === 'delete' || action === 'forget') && located) {
          if (key) this.dropped.add(key);
          this.droppedPending.add(name);
        }
      },
    };
  }

  private async locate(r: RunnerVars, ctx: RunContext): Promise<Located> {
    const f = this.files;
    const url = runnerUrl(this.vars, r);
    const held = switchoverHolds(this.vars, this.hostName, r.name);
    const found = hostCredentials(f.matching.byName.get(r.name), f.pending.get(r.name));
    const located = (c: Credentials, at: string, adoptedFrom?: string): Located => ({
      current: { id: idOf(c), token: c.token, url: at },
      held,
      keepCredentials: this.machinesNote(c.token),
      adoptedFrom,
    });
    if (found) return located(found.credentials, found.url || url);

    // Not on the host under its name: adopt an entry, or refuse what looks like a rename.
    if (typeof r.adopt === 'string' && r.adopt !== r.name) {
      const y = f.matching.others.find((h) => h.name === r.adopt && h.credentials);
      if (!y) return { current: null, held, refuse: `${r.name}: adopt = ${JSON.stringify(r.adopt)}, but ${this.configPath} has no runner ${r.adopt} with a token` };
      return this.adopt(r, y, located);
    }
    const candidates = adoptionCandidates(this.vars, r, f.matching);
    if (!candidates.length || (!this.vars.gitlab_access_token && r.adopt !== true)) {
      if (r.adopt === true) return { current: null, held, refuse: `${r.name}: adopt = true, but ${this.configPath} has no other registered runner on ${url} to take over` };
      return { current: null, held };
    }
    const want = registrationFields(r);
    const gl = this.gitlab(ctx, url);
    const alike: Array<{ h: HostRunner; why: string; id?: number }> = [];
    for (const h of candidates) {
      const c = h.credentials!;
      const read = await this.read(gl, { id: idOf(c), token: c.token, url }, true);
      const why = read.accepted && read.details ? lookalike(want, read.details) : null;
      if (why) alike.push({ h, why, id: read.id });
    }
    const list = alike.map((a) => `${entryLabel(a.h)} (id ${a.id}, ${a.why})`).join(', ');
    if (r.adopt === true) {
      if (alike.length === 1) return this.adopt(r, alike[0].h, located);
      return {
        current: null,
        held,
        refuse: alike.length
          ? `${r.name}: adopt = true, but several runners of ${this.configPath} look like it on GitLab: ${list}; set adopt = "<name>" to choose`
          : `${r.name}: adopt = true, but no runner of ${this.configPath} has its description or tags on GitLab; set adopt = "<name>" to take over a given one`,
      };
    }
    if (alike.length)
      return {
        current: null,
        held,
        refuse:
          `${r.name} is not in ${this.configPath}, but ${list} looks like it on GitLab: renamed? ` +
          `Set adopt = true on ${r.name} to take it over (its token is kept), or list it in gitlab_runners_absent to replace it with a new registration`,
      };
    return { current: null, held };
  }

  private adopt(r: RunnerVars, y: HostRunner, located: (c: Credentials, at: string, adoptedFrom?: string) => Located): Located {
    this.adopted.set(r.name, credentialsKey(y.credentials!));
    return located(y.credentials!, y.url ?? runnerUrl(this.vars, r), entryLabel(y));
  }
}

const idOf = (c: Pick<Credentials, 'id'>) => (c.id === undefined ? undefined : Number(c.id));

/** gitlab-runner-host: reads the host's runners for the resources after it. Never a change. */
export function runnerHostResource(shared: RunnerHost, opts: CommonOptions = {}): ShellResource {
  return {
    id: `gitlab-runner-host:${shared.configPath}`,
    tags: [...(opts.tags ?? [])],
    notify: [],
    probe: runnerFilesProbe(shared.configPath, shared.vars.gitlab_runner_machine_store),
    plan(current, ctx) {
      shared.publish(parseRunnerFiles(current.stdout, shared.configPath), ctx);
      return null;
    },
    async apply() {
      /* plan never returns a change */
    },
  };
}

/** The GitLab-side resources of a host's runners: the inventory's, the absent ones, and (exclusive) every other. */
export function gitlabSideResources(shared: RunnerHost, opts: CommonOptions = {}): ApiResource[] {
  const v = shared.vars;
  const common = { tags: opts.tags, accessToken: v.gitlab_access_token, syncSettings: v.gitlab_runner_sync_settings };
  const out: ApiResource[] = v.gitlab_runners.map((r) =>
    runnerResource({
      ...common,
      name: r.name,
      url: runnerUrl(v, r),
      state: 'present',
      registrationToken: v.gitlab_registration === 'registration-token' ? v.gitlab_registration_token : undefined,
      settings: registrationFields(r),
      type: { runner_type: r.runner_type, group_id: r.group_id, project_id: r.project_id },
      link: shared.linkFor(r),
    }),
  );
  for (const name of v.gitlab_runners_absent)
    out.push(
      runnerResource({
        ...common,
        name,
        url: v.gitlab_url ?? '',
        state: 'absent',
        link: shared.removalLink(name, () => shared.files.matching.others.find((h) => h.name === name && h.credentials) ?? shared.files.matching.others.find((h) => h.name === name)),
      }),
    );
  if (v.gitlab_runners_exclusive) out.push(exclusiveResource(shared, opts));
  return out;
}

/** gitlab_runners_exclusive: every registered runner of the host's file that the inventory does not name goes. */
function exclusiveResource(shared: RunnerHost, opts: CommonOptions): ApiResource {
  const v = shared.vars;
  type Sub = { resource: ApiResource; change: Change };
  return {
    id: `gitlab-runners-exclusive:${shared.configPath}`,
    tags: [...(opts.tags ?? [])],
    notify: [],
    async read() {
      return null;
    },
    async plan(_: unknown, ctx: RunContext): Promise<Change<Sub[]> | null> {
      const adopted = new Set(shared.adopted.values());
      const absent = new Set(v.gitlab_runners_absent);
      const subs: Sub[] = [];
      for (const h of shared.files.matching.others) {
        if (!h.credentials || adopted.has(credentialsKey(h.credentials)) || (h.name !== undefined && absent.has(h.name))) continue;
        const label = entryLabel(h);
        const resource = runnerResource({
          name: label,
          url: h.url ?? v.gitlab_url ?? '',
          state: 'absent',
          accessToken: v.gitlab_access_token,
          link: shared.removalLink(h.name ?? label, () => h),
        });
        const change = await resource.plan({ deferred: true }, ctx);
        if (change) subs.push({ resource, change });
      }
      if (!subs.length) return null;
      const change: Change<Sub[]> = { summary: subs.map((s) => `${s.resource.id.replace(/^gitlab-runner:/, '')}: ${s.change.summary}`).join('; '), data: subs };
      if (ctx.wantDiff)
        change.diff = {
          path: 'gitlab:runners not in gitlab_runners (exclusive)',
          before: subs.map((s) => `# ${s.resource.id}\n${s.change.diff?.before ?? ''}`).join(''),
          after: objectText(null),
        };
      return change;
    },
    async apply(change: Change<Sub[]>, ctx: RunContext) {
      for (const s of change.data!) await s.resource.apply(s.change, ctx);
    },
  };
}
