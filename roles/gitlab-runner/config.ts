// config.toml: read what the host's file holds (the runner-owned credentials),
// build the desired document from vars + those credentials, serialize it.
// Pure functions: no I/O.
import { TomlDate, TomlError } from 'smol-toml';
import { isSecret, registerSecretValue, reveal } from '../../lib/secrets.js';
import { parseTyped, TomlFloat, TomlRaw, toToml } from './toml.js';
import { normaliseUrl, runnerUrl, type GitlabRunnerVars, type MachineOption, type RunnerVars } from './vars.js';

/** What gitlab-runner owns in a [[runners]] entry: kept exactly as the host's file has it. */
export interface Credentials {
  id?: bigint | number;
  token: string;
  /** TomlDate, or the verbatim literal (TomlRaw) when a Date would lose precision */
  token_obtained_at?: Date | TomlRaw;
  token_expires_at?: Date | TomlRaw;
}

/** One [[runners]] entry of the host's file, as far as this role cares. */
export interface HostRunner {
  /** position in the host's file */
  index: number;
  name?: string;
  url?: string;
  credentials?: Credentials;
}

export interface HostConfig {
  runners: HostRunner[];
  /** the whole document, parsed with integers as bigint (for comparisons) */
  doc: Record<string, unknown>;
}

export const CREDENTIAL_KEYS = ['id', 'token', 'token_obtained_at', 'token_expires_at'] as const;
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

export class ConfigParseError extends Error {}

/**
 * Parse the host's config.toml. Every token found is registered as a secret value
 * before anything else can print it. A file that is not valid TOML is an error
 * (overwriting it would lose the tokens); the message never quotes the file.
 */
export function parseHostConfig(text: string, path: string): HostConfig {
  // Register anything that looks like a token first: even an unparseable file must not leak one.
  for (const m of text.matchAll(/^\s*token\s*=\s*["']([^"'\n]+)["']/gm)) registerSecretValue(m[1]);
  let doc: Record<string, unknown>;
  try {
    doc = parseTyped(text);
  } catch (e) {
    const where = e instanceof TomlError ? ` (line ${e.line}, column ${e.column})` : '';
    throw new ConfigParseError(`${path} on the host is not valid TOML${where}; fix or remove it (its runner tokens would be lost otherwise)`);
  }
  const list = doc.runners;
  if (list !== undefined && !(Array.isArray(list) && list.every((r) => r && typeof r === 'object' && !Array.isArray(r))))
    throw new ConfigParseError(`${path} on the host: "runners" is not an array of tables`);
  const raws = rawCredentialLiterals(text);
  const runners = ((list ?? []) as Array<Record<string, unknown>>).map((r, index): HostRunner => {
    const out: HostRunner = { index };
    if (typeof r.name === 'string') out.name = r.name;
    if (typeof r.url === 'string') out.url = r.url;
    if (typeof r.token === 'string' && r.token !== '') {
      registerSecretValue(r.token);
      const c: Credentials = { token: r.token };
      if (typeof r.id === 'bigint' || typeof r.id === 'number') c.id = r.id;
      for (const k of ['token_obtained_at', 'token_expires_at'] as const) {
        const v = r[k];
        if (v instanceof Date) c[k] = preciseDate(v, raws[index]?.[k]);
      }
      out.credentials = c;
    }
    return out;
  });
  return { runners, doc };
}

/** The verbatim literal when it is exactly this date (it may carry nanoseconds); else the date. */
function preciseDate(parsed: Date, raw: string | undefined): Date | TomlRaw {
  if (!raw) return parsed;
  try {
    const lit = new TomlRaw(raw);
    const back = parseTyped(`v = ${raw}\n`).v;
    if (back instanceof Date && back.getTime() === parsed.getTime() && (back as TomlDate).toISOString() === (parsed as TomlDate).toISOString()) return lit;
  } catch {
    /* fall back to the parsed date */
  }
  return parsed;
}

/**
 * token_obtained_at / token_expires_at literals of each [[runners]] entry, by position.
 * A line scan: its results are only used after checking they parse to the same dates.
 */
function rawCredentialLiterals(text: string): Array<Partial<Record<'token_obtained_at' | 'token_expires_at', string>>> {
  const out: Array<Partial<Record<'token_obtained_at' | 'token_expires_at', string>>> = [];
  let inRunner = false;
  for (const line of text.split('\n')) {
    if (/^\s*\[\[\s*runners\s*\]\]\s*(#.*)?$/.test(line)) {
      out.push({});
      inRunner = true;
    } else if (/^\s*\[/.test(line)) {
      inRunner = false;
    } else if (inRunner) {
      const m = /^\s*(token_obtained_at|token_expires_at)\s*=\s*(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2}))\s*(#.*)?\r?$/.exec(line);
      if (m) out[out.length - 1][m[1] as 'token_obtained_at' | 'token_expires_at'] = m[2];
    }
  }
  return out;
}

/** Credentials for a runner GitLab just created. */
export function newCredentials(created: { id: number; token: string; token_expires_at?: string | null }, now = new Date()): Credentials {
  registerSecretValue(created.token);
  const obtained = new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
  let expires = new TomlRaw(GO_ZERO_TIME);
  if (created.token_expires_at) {
    try {
      const d = new Date(created.token_expires_at);
      if (!Number.isNaN(d.getTime())) expires = new TomlRaw(d.toISOString().replace(/\.000Z$/, 'Z'));
    } catch {
      /* keep the zero time, as gitlab-runner writes for tokens that do not expire */
    }
  }
  return { id: created.id, token: created.token, token_obtained_at: new TomlRaw(obtained), token_expires_at: expires };
}

/** Register every value of the vars that ends up in config.toml and must not be shown. */
export function registerConfigSecrets(vars: GitlabRunnerVars): void {
  for (const r of vars.gitlab_runners) {
    const s3 = r.cache?.s3;
    for (const v of [s3?.AccessKey, s3?.SecretKey, s3?.SessionToken, r.autoscaler?.connector_config?.password]) if (typeof v === 'string') registerSecretValue(v);
  }
}

/**
 * The desired config.toml document. `credentials` (by runner name) holds the
 * id/token/timestamps to write; a runner without credentials is written without
 * them (only used for the check-mode preview: apply registers it first).
 */
export function buildConfig(vars: GitlabRunnerVars, credentials: ReadonlyMap<string, Credentials>): Record<string, unknown> {
  return {
    concurrent: vars.concurrent,
    check_interval: vars.check_interval,
    log_level: vars.log_level,
    log_format: vars.log_format,
    listen_address: vars.listen_address,
    shutdown_timeout: vars.shutdown_timeout,
    runners: vars.gitlab_runners.length ? vars.gitlab_runners.map((r) => buildRunner(vars, r, credentials.get(r.name))) : undefined,
  };
}

function buildRunner(vars: GitlabRunnerVars, r: RunnerVars, c: Credentials | undefined): Record<string, unknown> {
  return {
    name: r.name,
    url: runnerUrl(vars, r),
    id: c?.id,
    token: c?.token,
    token_obtained_at: c?.token_obtained_at,
    token_expires_at: c?.token_expires_at,
    executor: r.executor,
    limit: r.limit,
    request_concurrency: r.request_concurrency,
    output_limit: r.output_limit,
    shell: r.shell,
    builds_dir: r.builds_dir,
    cache_dir: r.cache_dir,
    clone_url: r.clone_url,
    environment: r.environment,
    pre_get_sources_script: r.pre_get_sources_script,
    post_get_sources_script: r.post_get_sources_script,
    pre_build_script: r.pre_build_script,
    post_build_script: r.post_build_script,
    debug_trace_disabled: r.debug_trace_disabled,
    clean_git_config: r.clean_git_config,
    unhealthy_requests_limit: r.unhealthy_requests_limit,
    unhealthy_interval: r.unhealthy_interval,
    feature_flags: r.feature_flags && { ...r.feature_flags },
    cache: r.cache && buildCache(r.cache),
    docker: r.docker && { ...r.docker },
    machine: r.machine && buildMachine(r.machine),
    autoscaler: r.autoscaler && buildAutoscaler(r.autoscaler),
  };
}

function buildCache(c: NonNullable<RunnerVars['cache']>): Record<string, unknown> {
  return {
    Type: c.type,
    Path: c.path,
    Shared: c.shared,
    MaxUploadedArchiveSize: c.max_uploaded_archive_size,
    s3: {
      ServerAddress: c.s3.ServerAddress,
      AccessKey: c.s3.AccessKey === undefined ? undefined : reveal(c.s3.AccessKey),
      SecretKey: c.s3.SecretKey === undefined ? undefined : reveal(c.s3.SecretKey),
      SessionToken: c.s3.SessionToken === undefined ? undefined : reveal(c.s3.SessionToken),
      BucketName: c.s3.BucketName,
      BucketLocation: c.s3.BucketLocation,
      Insecure: c.s3.Insecure,
      AuthenticationType: c.s3.AuthenticationType,
      ServerSideEncryption: c.s3.ServerSideEncryption,
      ServerSideEncryptionKeyID: c.s3.ServerSideEncryptionKeyID,
      DualStack: c.s3.DualStack,
      PathStyle: c.s3.PathStyle,
      Accelerate: c.s3.Accelerate,
    },
  };
}

function buildMachine(m: NonNullable<RunnerVars['machine']>): Record<string, unknown> {
  return {
    IdleCount: m.IdleCount,
    IdleCountMin: m.IdleCountMin,
    IdleScaleFactor: m.IdleScaleFactor === undefined ? undefined : new TomlFloat(m.IdleScaleFactor),
    IdleTime: m.IdleTime,
    MaxGrowthRate: m.MaxGrowthRate,
    MaxBuilds: m.MaxBuilds,
    MaxRemovalAttempts: m.MaxRemovalAttempts,
    MachineDriver: m.MachineDriver,
    MachineName: m.MachineName,
    MachineOptions: m.MachineOptions.map(machineOptionText),
    autoscaling: m.autoscaling?.map((a) => ({
      Periods: a.Periods,
      IdleCount: a.IdleCount,
      IdleCountMin: a.IdleCountMin,
      IdleScaleFactor: a.IdleScaleFactor === undefined ? undefined : new TomlFloat(a.IdleScaleFactor),
      IdleTime: a.IdleTime,
      Timezone: a.Timezone,
    })),
  };
}

/**
 * [runners.autoscaler] of the docker-autoscaler executor: keys as gitlab-runner
 * spells them, plugin credentials revealed (this text goes into the 0600 file only),
 * scale_factor always a float.
 */
function buildAutoscaler(a: NonNullable<RunnerVars['autoscaler']>): Record<string, unknown> {
  const { plugin_config, connector_config, policy, ...scalars } = a;
  return {
    ...scalars,
    plugin_config: plugin_config && Object.fromEntries(Object.entries(plugin_config).map(([k, v]) => [k, isSecret(v) ? v.reveal() : v])),
    connector_config: connector_config && { ...connector_config, password: connector_config.password === undefined ? undefined : reveal(connector_config.password) },
    policy: policy?.map((p) => ({ ...p, scale_factor: p.scale_factor === undefined ? undefined : new TomlFloat(p.scale_factor) })),
  };
}

/** "key=value" for docker-machine create --key=value (secrets revealed: this text goes into the 0600 file only). */
export function machineOptionText(o: MachineOption): string {
  if (typeof o === 'string') return o;
  if (isSecret(o)) return o.reveal();
  return `${o.key}=${reveal(o.value)}`;
}

export const CONFIG_HEADER =
  '# Managed by rigger (role gitlab-runner). Local edits are overwritten; id, token and\n' +
  '# token_*_at of each runner are kept as gitlab-runner wrote them.\n\n';

export function renderConfig(doc: Record<string, unknown>): string {
  return CONFIG_HEADER + toToml(doc);
}

/** Same runner on the same GitLab? (an entry whose url changed must be registered again there) */
export function sameUrl(a: string | undefined, b: string): boolean {
  return a !== undefined && normaliseUrl(a) === normaliseUrl(b);
}
