// The config.toml resource: a host file. Its probe reads the file and the
// pending registrations; plan builds the file from the inventory, the
// credentials the host holds (kept as gitlab-runner wrote them), the
// registrations the GitLab-side resources made (pending files) and what they
// decided (runners taken over, runners deleted); entries the inventory does not
// name are kept as they are. Apply writes atomically, on the condition that the
// file is still what was read (gitlab-runner rewrites it when it rotates a
// token), then removes the pending files it merged. No GitLab call here.
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../../lib/engine/types.js';
import { redact } from '../../lib/secrets.js';
import { shq } from '../../lib/resources/shell.js';
import { buildConfig, parseHostConfig, registerConfigSecrets, renderConfig, sameUrl, type Credentials, type HostConfig, type HostRunner } from './config.js';
import { parseRunnerFiles, runnerFilesProbe, type HostFile, type Pending } from './hostFiles.js';
import { credentialsKey, entryLabel, hostCredentials, matchEntries } from './registration.js';
import type { RunnerHost } from './runnerHost.js';
import { parseTyped, TomlFloat, TomlRaw, tomlEqual } from './toml.js';
import { runnerUrl, type GitlabRunnerVars } from './vars.js';

export interface RunnerConfigOptions extends CommonOptions {
  vars: GitlabRunnerVars;
  /** what the GitLab-side resources of this host decided and registered */
  shared: RunnerHost;
  /** default vars.gitlab_runner_config_path */
  path?: string;
  /** default root (tests running unprivileged pass their own user) */
  owner?: string;
  group?: string;
}

const MODE = '600';
/** exit code of the write script when the file changed since it was read */
const CHANGED_UNDER_US = 75;
const WRITE_ATTEMPTS = 3;
/** what --render writes where a token lives on the host */
export const KEPT_TOKEN = '(kept as it is on the host)';

interface ConfigChangeData {
  file: HostFile;
  pending: Map<string, Pending>;
  /** content must be rewritten (otherwise only mode/owner, or only cleaning pending files) */
  rewrite: boolean;
  /** pending files to remove once the file is written */
  merged: string[];
}

/** The document to write, and what it changes in the runners, as notes. */
export interface Desired {
  doc: Record<string, unknown>;
  notes: string[];
  /** pending files this document merges (or that are stale) */
  merged: string[];
}

/**
 * The desired config.toml: the file's entries in their order (the inventory's
 * runners rebuilt, others kept as they are, deleted ones dropped), then the
 * inventory's runners the file does not have yet.
 */
export function desiredConfig(vars: GitlabRunnerVars, host: HostConfig, pending: Map<string, Pending>, shared: RunnerHost, preview: boolean): Desired {
  const m = matchEntries(vars, host);
  const byKey = new Map([...shared.adopted].map(([name, key]) => [key, name]));
  const notes = { add: [] as string[], renew: [] as string[], rename: [] as string[], drop: [] as string[], keep: [] as string[] };
  const merged = new Set<string>();
  const slots: Array<{ runner: string; from?: HostRunner } | { keep: HostRunner }> = [];
  const placed = new Set<string>();
  for (const h of host.runners) {
    const key = h.credentials ? credentialsKey(h.credentials) : undefined;
    const adoptedAs = key ? byKey.get(key) : undefined;
    if (h.name !== undefined && m.byName.get(h.name) === h) {
      slots.push({ runner: h.name, from: h });
      placed.add(h.name);
    } else if (adoptedAs && !m.byName.has(adoptedAs) && !placed.has(adoptedAs)) {
      slots.push({ runner: adoptedAs, from: h });
      placed.add(adoptedAs);
      notes.rename.push(`${entryLabel(h)} -> ${adoptedAs}`);
    } else if ((key && shared.dropped.has(key)) || (vars.gitlab_runners_exclusive && !h.credentials)) {
      notes.drop.push(entryLabel(h));
    } else {
      slots.push({ keep: h });
    }
  }
  for (const r of vars.gitlab_runners) if (!placed.has(r.name)) slots.push({ runner: r.name });
  for (const p of pending.values()) if (shared.droppedPending.has(p.name)) merged.add(p.file);

  const runners: Array<Record<string, unknown>> = [];
  for (const slot of slots) {
    if ('keep' in slot) {
      runners.push(verbatim(host, slot.keep));
      if (slot.keep.credentials) notes.keep.push(entryLabel(slot.keep));
      continue;
    }
    const r = vars.gitlab_runners.find((x) => x.name === slot.runner)!;
    const url = runnerUrl(vars, r);
    const p = pending.get(r.name);
    const usable = p && sameUrl(p.url, url) ? p : undefined;
    const found = hostCredentials(slot.from, usable);
    if (usable) merged.add(usable.file); // merged now, or stale (the entry has the same runner)
    let creds: Credentials | undefined;
    if (preview && shared.decided.get(r.name) === 'register') {
      (slot.from?.credentials ? notes.renew : notes.add).push(r.name);
    } else if (found && sameUrl(found.url || url, url)) {
      creds = found.credentials;
      if (found.source === 'pending') (slot.from?.credentials ? notes.renew : notes.add).push(r.name);
    } else if (slot.from) {
      // Its entry is for another GitLab and no registration on this one is at hand: unchanged until there is.
      runners.push(verbatim(host, slot.from));
      continue;
    } else {
      continue; // not registered (yet): an entry without a token is useless
    }
    runners.push((buildConfig({ ...vars, gitlab_runners: [r] }, new Map(creds ? [[r.name, creds]] : [])).runners as Array<Record<string, unknown>>)[0]);
  }
  const doc = buildConfig({ ...vars, gitlab_runners: [] }, new Map());
  doc.runners = runners.length ? runners : undefined;
  const text = [
    notes.add.length ? `add ${notes.add.join(', ')}` : '',
    notes.renew.length ? `new token for ${notes.renew.join(', ')} (registered again)` : '',
    notes.rename.length ? `rename ${notes.rename.join(', ')} (adopted)` : '',
    notes.drop.length ? `drop ${notes.drop.join(', ')}` : '',
    notes.keep.length ? `keep unmanaged ${notes.keep.join(', ')}` : '',
  ].filter(Boolean);
  return { doc, notes: text, merged: [...merged] };
}

/** An entry kept as the host has it: floats stay floats, token timestamps keep their precision. */
function verbatim(host: HostConfig, h: HostRunner): Record<string, unknown> {
  const raw = (host.doc.runners as Array<Record<string, unknown>>)[h.index];
  const out = keepTypes(raw) as Record<string, unknown>;
  if (h.credentials?.token_obtained_at) out.token_obtained_at = h.credentials.token_obtained_at;
  if (h.credentials?.token_expires_at) out.token_expires_at = h.credentials.token_expires_at;
  return out;
}

function keepTypes(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? new TomlFloat(v) : v;
  if (v instanceof Date || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(keepTypes);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, keepTypes(x)]));
}

export function runnerConfig(opts: RunnerConfigOptions): Resource {
  const path = opts.path ?? opts.vars.gitlab_runner_config_path;
  const vars = opts.vars;
  const owner = opts.owner ?? 'root';
  const group = opts.group ?? owner;
  registerConfigSecrets(vars);
  const parse = (file: HostFile) => (file.text === null ? { runners: [], doc: {} } : parseHostConfig(file.text, path));

  return {
    id: `gitlab-runner-config:${path}`,
    tags: [...(opts.tags ?? [])],
    notify: opts.notify === undefined ? [] : Array.isArray(opts.notify) ? [...opts.notify] : [opts.notify],
    probe: runnerFilesProbe(path),

    plan(current: ProbeResult, ctx: HostContext): Change | null {
      const { config: file, pending } = parseRunnerFiles(current.stdout, path);
      const host = parse(file);
      const want = desiredConfig(vars, host, pending, opts.shared, ctx.check);
      const preview = renderConfig(want.doc);
      const rewrite = file.text === null || !tomlEqual(host.doc, parseTyped(preview));
      const attrs = file.stat
        ? [
            file.stat.mode !== MODE ? `mode ${file.stat.mode} -> ${MODE}` : '',
            file.stat.owner !== owner || file.stat.group !== group ? `owner ${file.stat.owner}:${file.stat.group} -> ${owner}:${group}` : '',
          ].filter(Boolean)
        : [];
      if (!rewrite && attrs.length === 0 && want.merged.length === 0) return null;
      const parts = [
        file.text === null ? `create (mode 0${MODE})` : rewrite && want.notes.every((n) => n.startsWith('keep ')) ? 'content' : '',
        ...(rewrite ? want.notes : []),
        ...attrs,
        !rewrite && want.merged.length ? `remove ${want.merged.length} merged registration file(s)` : '',
      ].filter(Boolean);
      const change: Change = { summary: parts.join('; '), data: { file, pending, rewrite, merged: want.merged } satisfies ConfigChangeData };
      if (rewrite && ctx.wantDiff) change.diff = { path, before: file.text ?? '', after: preview };
      return change;
    },

    async apply(change: Change, ctx: HostContext): Promise<void> {
      const { file, pending, rewrite, merged } = change.data as ConfigChangeData;
      if (!rewrite) {
        const rm = merged.length ? `rm -f ${merged.map(shq).join(' ')} && ` : '';
        await ctx.remote.run(`${rm}chown ${shq(`${owner}:${group}`)} ${shq(path)} && chmod ${MODE} ${shq(path)}`);
        return;
      }
      await writeMerged(ctx, path, `${owner}:${group}`, file, (host) => {
        const want = desiredConfig(vars, host, pending, opts.shared, false);
        return { content: renderConfig(want.doc), remove: want.merged };
      });
    },

    render() {
      // Tokens live on the host: a placeholder stands for each, as the real run keeps them.
      const creds = new Map<string, Credentials>(vars.gitlab_runners.map((r) => [r.name, { token: KEPT_TOKEN, token_obtained_at: new TomlRaw('"(kept)"'), token_expires_at: new TomlRaw('"(kept)"') }]));
      return { files: [{ path, content: renderConfig(buildConfig(vars, creds)), mode: `0${MODE}` }] };
    },
  };
}

/**
 * Write the file atomically (0600, temp file + rename) on the condition that it
 * is still what `base` was; otherwise read it again, re-render, retry. The runner
 * rewrites the file when it rotates its token: this never reverts a rotation.
 */
async function writeMerged(ctx: HostContext, path: string, ownership: string, base: HostFile, render: (host: HostConfig) => { content: string; remove: string[] }): Promise<void> {
  let file = base;
  for (let attempt = 1; ; attempt++) {
    const host = file.text === null ? { runners: [], doc: {} } : parseHostConfig(file.text, path);
    const { content, remove } = render(host);
    const r = await ctx.remote.run(guardedWriteScript(path, ownership, file.sha, remove), { stdin: Buffer.from(content), check: false });
    if (r.code === 0) return;
    if (r.code !== CHANGED_UNDER_US) throw new Error(`writing ${path} failed (exit ${r.code}): ${redact(r.stderr.trim()).slice(0, 500)}`);
    if (attempt >= WRITE_ATTEMPTS) throw new Error(`${path} kept changing on the host while rigger wrote it (${WRITE_ATTEMPTS} attempts)`);
    ctx.log(`${path} changed on the host since it was read (token rotation?); merging again`);
    file = parseRunnerFiles((await ctx.remote.run(runnerFilesProbe(path))).stdout, path).config;
  }
}

function guardedWriteScript(path: string, ownership: string, expectedSha: string, remove: string[]): string {
  const p = shq(path);
  const t = shq(`${dirname(path)}/.rigger-${randomBytes(6).toString('hex')}.tmp`);
  return (
    `set -e\numask 077\nmkdir -p ${shq(dirname(path))}\n` +
    `trap 'rm -f ${t}' EXIT\ncat > ${t}\nchown ${shq(ownership)} ${t}\nchmod ${MODE} ${t}\n` +
    `if [ -f ${p} ]; then cur=$(sha256sum < ${p} | cut -d' ' -f1); else cur=absent; fi\n` +
    `[ "$cur" = ${shq(expectedSha)} ] || exit ${CHANGED_UNDER_US}\n` +
    `sync ${t} 2>/dev/null || sync\nmv -f ${t} ${p}\ntrap - EXIT\n` +
    // The registrations are in config.toml now: their pending files go.
    (remove.length ? `rm -f ${remove.map(shq).join(' ')}\n` : '')
  );
}
