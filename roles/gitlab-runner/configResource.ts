// The config.toml resource: probe reads the host's file, plan works out which
// runners to register/delete/update and whether the file must change, apply
// talks to GitLab (from the control machine) and writes the file atomically,
// keeping the credentials the runner owns.
import { createHash, randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../../lib/engine/types.js';
import { redact } from '../../lib/secrets.js';
import { shq } from '../../lib/resources/shell.js';
import { buildConfig, newCredentials, parseHostConfig, registerConfigSecrets, renderConfig, sameUrl, type Credentials, type HostConfig } from './config.js';
import { GitlabClient, planRegistration, registrationFields, settingsDiff, type RegistrationPlan } from './registration.js';
import { parseTyped, tomlEqual } from './toml.js';
import type { GitlabRunnerVars } from './vars.js';

export interface RunnerConfigOptions extends CommonOptions {
  vars: GitlabRunnerVars;
  /** default vars.gitlab_runner_config_path */
  path?: string;
  /** default root (tests running unprivileged pass their own user) */
  owner?: string;
  group?: string;
  /** for tests: the fetch used to reach GitLab */
  fetch?: typeof fetch;
}

const MODE = '600';
/** exit code of the write script when the file changed since it was read */
const CHANGED_UNDER_US = 75;
const WRITE_ATTEMPTS = 3;

interface HostFile {
  /** null: no file */
  text: string | null;
  /** sha256 of the file's bytes, or "absent" */
  sha: string;
  stat?: { mode: string; owner: string; group: string };
}

interface ConfigChangeData {
  file: HostFile;
  plan: RegistrationPlan;
  /** content must be rewritten (otherwise only mode/owner) */
  rewrite: boolean;
}

const fileProbe = (p: string) =>
  `if [ -f ${shq(p)} ] && [ ! -L ${shq(p)} ]; then echo present; stat -c '%a|%U|%G' ${shq(p)}; base64 -w0 < ${shq(p)}; echo; ` +
  `elif [ -e ${shq(p)} ] || [ -L ${shq(p)} ]; then echo notfile; else echo absent; fi`;

export function parseFileProbe(stdout: string, path: string): HostFile {
  const [state, statLine, b64] = stdout.split('\n');
  if (state === 'absent') return { text: null, sha: 'absent' };
  if (state !== 'present') throw new Error(`${path} exists on the host but is not a regular file`);
  const [mode, owner, group] = (statLine ?? '').split('|');
  const bytes = Buffer.from((b64 ?? '').trim(), 'base64');
  return { text: bytes.toString('utf8'), sha: createHash('sha256').update(bytes).digest('hex'), stat: { mode, owner, group } };
}

export function runnerConfig(opts: RunnerConfigOptions): Resource {
  const path = opts.path ?? opts.vars.gitlab_runner_config_path;
  const vars = opts.vars;
  const owner = opts.owner ?? 'root';
  const group = opts.group ?? owner;
  registerConfigSecrets(vars);
  const clients = new Map<string, GitlabClient>();
  const client = (url: string) => {
    let c = clients.get(url);
    if (!c) clients.set(url, (c = new GitlabClient(url, { accessToken: vars.gitlab_access_token, fetch: opts.fetch })));
    return c;
  };

  return {
    id: `gitlab-runner-config:${path}`,
    tags: [...(opts.tags ?? [])],
    notify: opts.notify === undefined ? [] : Array.isArray(opts.notify) ? [...opts.notify] : [opts.notify],
    probe: fileProbe(path),

    async plan(current: ProbeResult, ctx: HostContext): Promise<Change | null> {
      const file = parseFileProbe(current.stdout, path);
      const host = file.text === null ? { runners: [], doc: {} } : parseHostConfig(file.text, path);
      const plan = planRegistration(vars, host);
      if (plan.register.length && vars.gitlab_registration === 'authentication-token' && !vars.gitlab_access_token)
        throw new Error(`runner(s) ${plan.register.map((r) => r.runner.name).join(', ')} must be registered, which needs gitlab_access_token (create_runner scope)`);
      if (vars.gitlab_runner_sync_settings && vars.gitlab_access_token) plan.update = await settingsUpdates(plan, client, ctx);

      const preview = renderConfig(buildConfig(vars, credentialsFor(plan, host)));
      const rewrite = plan.register.length > 0 || plan.remove.length > 0 || file.text === null || !tomlEqual(host.doc, parseTyped(preview));
      const attrs = file.stat
        ? [
            file.stat.mode !== MODE ? `mode ${file.stat.mode} -> ${MODE}` : '',
            file.stat.owner !== owner || file.stat.group !== group ? `owner ${file.stat.owner}:${file.stat.group} -> ${owner}:${group}` : '',
          ].filter(Boolean)
        : [];
      if (!rewrite && attrs.length === 0 && plan.update.length === 0) return null;

      const names = (l: Array<{ runner: { name: string } }>) => l.map((x) => x.runner.name).join(', ');
      const parts = [
        plan.register.length ? `register ${names(plan.register)}` : '',
        ...plan.remove.map((r) => `delete ${r.name} (${r.reason})`),
        ...plan.update.map((u) => `update ${u.runner.name} on GitLab (${u.what.join(', ')})`),
        file.text === null ? `create (mode 0${MODE})` : rewrite && !plan.register.length && !plan.remove.length ? 'content' : '',
        ...attrs,
      ].filter(Boolean);
      const change: Change = { summary: parts.join('; '), data: { file, plan, rewrite } satisfies ConfigChangeData };
      if (rewrite && ctx.wantDiff) change.diff = { path, before: file.text ?? '', after: preview };
      return change;
    },

    async apply(change: Change, ctx: HostContext): Promise<void> {
      const { file, plan, rewrite } = change.data as ConfigChangeData;
      if (!rewrite) {
        if (plan.update.length) await applyUpdates(plan, client, ctx);
        await ctx.remote.run(`chown ${shq(`${owner}:${group}`)} ${shq(path)} && chmod ${MODE} ${shq(path)}`);
        return;
      }
      // 1. Runners gone from the inventory: delete them on GitLab first, so a failure leaves them in the file to retry.
      for (const r of plan.remove) {
        const url = r.url ?? vars.gitlab_url;
        if (!url) throw new Error(`cannot delete runner ${r.name} from GitLab: its entry has no url and gitlab_url is not set`);
        const result = await client(url).deleteRunner(r.credentials);
        ctx.log(result === 'deleted' ? `deleted runner ${r.name} from ${url}` : `runner ${r.name} was already gone from ${url}`);
      }
      if (plan.update.length) await applyUpdates(plan, client, ctx);
      // 2. New runners. A failure stops here, but what was registered is still written.
      const created = new Map<string, Credentials>();
      let failure: Error | undefined;
      for (const n of plan.register) {
        try {
          const c = client(n.url);
          const res =
            vars.gitlab_registration === 'registration-token'
              ? await c.registerWithRegistrationToken(n.runner, vars.gitlab_registration_token!)
              : await c.createRunner(n.runner);
          created.set(n.runner.name, newCredentials(res)); // registers the token as a secret value at once
          ctx.log(`registered runner ${n.runner.name} on ${n.url} (id ${res.id})`);
        } catch (e) {
          failure = new Error(`registering runner ${n.runner.name}: ${redact((e as Error).message)}`);
          break;
        }
      }
      // 3. The file, re-merged with the freshest credentials on the host if it changed meanwhile.
      try {
        await writeMerged(ctx, path, `${owner}:${group}`, file, (host) => {
          const creds = credentialsFor(plan, host);
          for (const [name, c] of created) creds.set(name, c);
          // A runner whose registration failed is left out (a [[runners]] entry without a token is useless); the next run registers it.
          return renderConfig(buildConfig({ ...vars, gitlab_runners: vars.gitlab_runners.filter((r) => creds.has(r.name)) }, creds));
        });
      } catch (e) {
        for (const n of plan.register) {
          const c = created.get(n.runner.name);
          if (!c) continue;
          await client(n.url)
            .deleteRunner(c)
            .then(() => ctx.log(`rolled back the registration of ${n.runner.name}`))
            .catch(() => ctx.log(`could not roll back the registration of ${n.runner.name} (id ${c.id}): delete it on GitLab`));
        }
        throw e;
      }
      if (failure) throw failure;
    },
  };
}

/** Credentials to write, by runner name: the kept runners' from the host's file (as it is now). */
function credentialsFor(plan: RegistrationPlan, host: Pick<HostConfig, 'runners'>): Map<string, Credentials> {
  const out = new Map<string, Credentials>();
  for (const k of plan.keep) {
    const h = host.runners.find((x) => x.name === k.runner.name);
    // Normally the same as at plan time; newer when the runner rotated its token in between.
    out.set(k.runner.name, h?.credentials && sameUrl(h.url, k.url) ? h.credentials : k.credentials);
  }
  return out;
}

async function settingsUpdates(plan: RegistrationPlan, client: (url: string) => GitlabClient, ctx: HostContext): Promise<RegistrationPlan['update']> {
  const found = await Promise.all(
    plan.keep.map(async (k) => {
      if (k.credentials.id === undefined) return null;
      const id = Number(k.credentials.id);
      const have = await client(k.url).getRunner(id);
      if (!have) {
        ctx.log(`runner ${k.runner.name} (id ${id}) is not known to ${k.url}: remove its entry from the host's config.toml to register it again`);
        return null;
      }
      const d = settingsDiff(registrationFields(k.runner), have);
      return d.what.length ? { runner: k.runner, url: k.url, id, ...d } : null;
    }),
  );
  return found.filter((x) => x !== null);
}

async function applyUpdates(plan: RegistrationPlan, client: (url: string) => GitlabClient, ctx: HostContext): Promise<void> {
  for (const u of plan.update) {
    await client(u.url).updateRunner(u.id, u.fields);
    ctx.log(`updated runner ${u.runner.name} on ${u.url}: ${u.what.join(', ')}`);
  }
}

/**
 * Write the file atomically (0600 root, temp file + rename) on the condition that it
 * is still what `base` was; otherwise read it again, re-render, retry. The runner
 * rewrites the file when it rotates its token: this never reverts a rotation.
 */
async function writeMerged(ctx: HostContext, path: string, ownership: string, base: HostFile, render: (host: HostConfig) => string): Promise<void> {
  let file = base;
  for (let attempt = 1; ; attempt++) {
    const host = file.text === null ? { runners: [], doc: {} } : parseHostConfig(file.text, path);
    const content = Buffer.from(render(host));
    const r = await ctx.remote.run(guardedWriteScript(path, ownership, file.sha), { stdin: content, check: false });
    if (r.code === 0) return;
    if (r.code !== CHANGED_UNDER_US) throw new Error(`writing ${path} failed (exit ${r.code}): ${redact(r.stderr.trim()).slice(0, 500)}`);
    if (attempt >= WRITE_ATTEMPTS) throw new Error(`${path} kept changing on the host while rigger wrote it (${WRITE_ATTEMPTS} attempts)`);
    ctx.log(`${path} changed on the host since it was read (token rotation?); merging again`);
    file = parseFileProbe((await ctx.remote.run(fileProbe(path))).stdout, path);
  }
}

function guardedWriteScript(path: string, ownership: string, expectedSha: string): string {
  const p = shq(path);
  const t = shq(`${dirname(path)}/.rigger-${randomBytes(6).toString('hex')}.tmp`);
  return (
    `set -e\numask 077\nmkdir -p ${shq(dirname(path))}\n` +
    `trap 'rm -f ${t}' EXIT\ncat > ${t}\nchown ${shq(ownership)} ${t}\nchmod ${MODE} ${t}\n` +
    `if [ -f ${p} ]; then cur=$(sha256sum < ${p} | cut -d' ' -f1); else cur=absent; fi\n` +
    `[ "$cur" = ${shq(expectedSha)} ] || exit ${CHANGED_UNDER_US}\n` +
    `sync ${t} 2>/dev/null || sync\nmv -f ${t} ${p}\ntrap - EXIT\n`
  );
}
