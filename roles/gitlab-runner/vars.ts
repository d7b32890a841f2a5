// The vars the gitlab-runner role reads, validated (and defaulted) with zod.
// Every message is phrased to follow its key path, e.g.
// `gitlab_runners[1].machine.MachineName: must contain %s`.
import { z } from 'zod';
import { describeIssues } from '../../lib/engine/validateVars.js';
import { Secret } from '../../lib/secrets.js';

export const DEFAULT_APT_URL = 'https://packages.gitlab.com/runner/gitlab-runner/debian/';
export const DEFAULT_APT_KEY_URL = 'https://packages.gitlab.com/runner/gitlab-runner/gpgkey';
export const DEFAULT_CONFIG_PATH = '/etc/gitlab-runner/config.toml';

const secret = z.instanceof(Secret, { message: 'expected a secret ({ secret = "NAME" })' });
/** A value that may come from a secret or be given in clear (e.g. an S3 access key id). */
const secretOrString = z.union([secret, z.string().min(1)], { message: 'expected a string or a secret' });

const int = (min = 0) => z.number({ message: 'expected a number' }).int({ message: 'expected an integer' }).min(min, { message: `expected at least ${min}` });

const httpUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}, 'expected an http(s) URL, e.g. https://gitlab.example.org');

/** "17.7.1" or "17.7.1-1" -> "17.7.1-1" (GitLab's packages always carry Debian revision 1). */
export function normaliseVersion(v: string): string {
  return /-\d+$/.test(v) ? v : `${v}-1`;
}

const version = z
  .string()
  .regex(/^\d+\.\d+\.\d+(-\d+)?$/, 'expected a version like "17.7.1" or "17.7.1-1"')
  .transform(normaliseVersion);

/** A plain TOML value (no tables, no secrets). */
const tomlScalar = z.union([z.string(), z.number(), z.boolean()]);
const tomlPlain = z.union([tomlScalar, z.array(tomlScalar)], { message: 'expected a string, number, boolean or a list of them' });
const stringMap = z.record(z.string(), z.string(), { message: 'expected a table of strings' });

// ---------------------------------------------------------------- strict settings tables
//
// Every table below is strict: a key gitlab-runner does not have is an error
// at its key path, with the nearest known key as a hint (lib/engine/validateVars.ts),
// instead of a setting silently written and ignored. The key lists follow
// gitlab-runner 19.3's common/config.go and cache/cacheconfig/cacheconfig.go.

/** [runners.docker]: typed keys rigger checks, and the rest of gitlab-runner's keys passed through as given. */
const DOCKER_PASSTHROUGH = [
  'hostname', 'runtime', 'memory_swap', 'memory_reservation', 'cgroup_parent', 'cpuset_cpus', 'cpuset_mems', 'cpu_shares',
  'dns_search', 'services_privileged', 'user', 'allowed_users', 'group_add', 'userns_mode', 'oom_score_adjust', 'services_security_opt',
  'devices', 'device_cgroup_rules', 'gpus', 'services_devices', 'volume_keep', 'volume_driver', 'volume_driver_ops', 'cache_dir',
  'volumes_from', 'pid_mode', 'ipcmode', 'mac_address', 'links', 'services_limit', 'service_memory', 'service_memory_swap',
  'service_memory_reservation', 'service_cgroup_parent', 'service_slot_cgroup_template', 'service_cpuset_cpus', 'service_cpus',
  'service_cpu_shares', 'service_gpus', 'allowed_privileged_images', 'allowed_privileged_services', 'isolation', 'helper_image_flavor',
  'enable_ipv6', 'network_mtu',
] as const;

const docker = z.strictObject({
  image: z.string().min(1).optional(),
  privileged: z.boolean().optional(),
  tls_verify: z.boolean().optional(),
  disable_entrypoint_overwrite: z.boolean().optional(),
  oom_kill_disable: z.boolean().optional(),
  disable_cache: z.boolean().optional(),
  volumes: z.array(z.string()).optional(),
  shm_size: int().optional(),
  network_mode: z.string().optional(),
  pull_policy: z.union([z.string(), z.array(z.string())]).optional(),
  allowed_pull_policies: z.array(z.string()).optional(),
  allowed_images: z.array(z.string()).optional(),
  allowed_services: z.array(z.string()).optional(),
  helper_image: z.string().optional(),
  memory: z.string().optional(),
  cpus: z.string().optional(),
  dns: z.array(z.string()).optional(),
  extra_hosts: z.array(z.string()).optional(),
  cap_add: z.array(z.string()).optional(),
  cap_drop: z.array(z.string()).optional(),
  security_opt: z.array(z.string()).optional(),
  wait_for_services_timeout: z.number().int().optional(),
  tmpfs: stringMap.optional(),
  services_tmpfs: stringMap.optional(),
  sysctls: stringMap.optional(),
  container_labels: stringMap.optional(),
  log_options: stringMap.optional(),
  ...Object.fromEntries(DOCKER_PASSTHROUGH.map((k) => [k, tomlPlain.optional()])),
});

const s3 = z.strictObject({
  ServerAddress: z.string().min(1, 'expected a host name, e.g. s3.fr-par.scw.cloud'),
  BucketName: z.string().min(1),
  BucketLocation: z.string().optional(),
  AccessKey: secretOrString.optional(),
  SecretKey: secretOrString.optional(),
  SessionToken: secretOrString.optional(),
  Insecure: z.boolean().optional(),
  AuthenticationType: z.enum(['access-key', 'iam']).optional(),
  ServerSideEncryption: z.string().optional(),
  ServerSideEncryptionKeyID: z.string().optional(),
  DualStack: z.boolean().optional(),
  PathStyle: z.boolean().optional(),
  Accelerate: z.boolean().optional(),
});

const cache = z.strictObject({
  type: z.literal('s3', { message: 'expected "s3"' }),
  path: z.string().optional(),
  shared: z.boolean().optional(),
  max_uploaded_archive_size: int().optional(),
  s3,
});

/** gorhill/cronexpr as used by gitlab-runner: 7 fields, seconds first, year last. */
const CRON_FIELD = /^[A-Za-z0-9*/,?#LW-]+$/;
const cronPeriod = (fields: number, example: string) =>
  z.string().refine((p) => {
    const f = p.trim().split(/\s+/);
    return f.length === fields && f.every((x) => CRON_FIELD.test(x));
  }, fields === 7 ? `expected a 7-field cron expression (seconds minutes hours day-of-month month day-of-week year), e.g. "${example}"` : `expected a 5-field cron expression (minutes hours day-of-month month day-of-week), e.g. "${example}"`);
const period = cronPeriod(7, '* * 8-18 * * mon-fri *');

const autoscaling = z.strictObject({
  Periods: z.array(period).min(1, 'expected at least one period'),
  IdleCount: int(),
  IdleCountMin: int().optional(),
  IdleScaleFactor: z.number().min(0).optional(),
  IdleTime: int(),
  Timezone: z.string().optional(),
});

/** One MachineOptions entry: "key=value", a secret holding "key=value", or { key, value } (value may be a secret). */
const machineOption = z.union(
  [
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(=.*)?$/s, 'expected "option=value" (without leading --)'),
    secret,
    z.strictObject({
      key: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected an option name without leading --'),
      value: z.union([secret, z.string(), z.number(), z.boolean()]),
    }),
  ],
  { message: 'expected "option=value", a secret, or { key, value }' },
);

const deprecatedOffPeak = z.any().refine(() => false, 'OffPeak* settings are deprecated and ignored by current gitlab-runner: use autoscaling = [{ Periods, IdleCount, IdleTime, Timezone }]').optional();

const machine = z.strictObject({
  IdleCount: int().default(0),
  IdleCountMin: int().optional(),
  IdleScaleFactor: z.number().min(0).optional(),
  IdleTime: int().default(600),
  MaxGrowthRate: int().optional(),
  MaxBuilds: int().optional(),
  MaxRemovalAttempts: int(1).optional(),
  MachineDriver: z.string().min(1, 'expected a docker-machine driver name'),
  MachineName: z
    .string()
    .refine((s) => s.includes('%s'), 'must contain %s')
    .refine((s) => /^[A-Za-z0-9%-]+$/.test(s) && (s.match(/%/g) ?? []).length <= 1, 'expected letters, digits, "-" and one %s'),
  MachineOptions: z.array(machineOption).default([]),
  autoscaling: z.array(autoscaling).optional(),
  OffPeakPeriods: deprecatedOffPeak,
  OffPeakTimezone: deprecatedOffPeak,
  OffPeakIdleCount: deprecatedOffPeak,
  OffPeakIdleTime: deprecatedOffPeak,
});

// ---------------------------------------------------------------- docker-autoscaler executor
//
// The successor of docker+machine (removed in GitLab 20.0, May 2027): a
// fleeting plugin creates the instances. Moving mania is an inventory change
// once a Scaleway plugin exists (see README.md).

/** Go duration text, as gitlab-runner parses it: "20m", "1h30m", "45s". */
const goDuration = z.string().regex(/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/, 'expected a duration like "20m", "1h30m" or "45s"');
/** plugin_config values: whatever the plugin reads (credentials may be secrets). */
const pluginValue = z.union([secret, tomlScalar, z.array(tomlScalar), z.record(z.string(), tomlScalar)], { message: 'expected a string, number, boolean, list, table of them, or a secret' });

const autoscalerPolicy = z.strictObject({
  periods: z.array(cronPeriod(5, '* 8-18 * * mon-fri')).min(1, 'expected at least one period').optional(),
  timezone: z.string().optional(),
  /** idle job slots (not instances) */
  idle_count: int().optional(),
  idle_time: goDuration.optional(),
  scale_factor: z.number().min(0).optional(),
  scale_factor_limit: int().optional(),
  preemptive_mode: z.boolean().optional(),
});

const connectorConfig = z.strictObject({
  os: z.string().optional(),
  arch: z.string().optional(),
  protocol: z.enum(['ssh', 'winrm', 'winrm+https']).optional(),
  protocol_port: int(1).optional(),
  username: z.string().optional(),
  password: secretOrString.optional(),
  key_path: z.string().optional(),
  use_static_credentials: z.boolean().optional(),
  keepalive: goDuration.optional(),
  timeout: goDuration.optional(),
  use_external_addr: z.boolean().optional(),
});

const autoscaler = z.strictObject({
  /** the fleeting plugin: an OCI reference or a binary name */
  plugin: z.string().min(1, 'expected the fleeting plugin, e.g. "gitlab/fleeting-plugin-aws:1.0.0"'),
  capacity_per_instance: int(1).optional(),
  max_use_count: int().optional(),
  /** the upper bound on instances: required, a fleet must not grow without one */
  max_instances: int(1),
  instance_ready_command: z.string().optional(),
  instance_acquire_timeout: goDuration.optional(),
  update_interval: goDuration.optional(),
  update_interval_when_expecting: goDuration.optional(),
  deletion_retry_interval: goDuration.optional(),
  shutdown_deletion_interval: goDuration.optional(),
  shutdown_deletion_retries: int().optional(),
  failure_threshold: int().optional(),
  delete_instances_on_shutdown: z.boolean().optional(),
  log_internal_ip: z.boolean().optional(),
  log_external_ip: z.boolean().optional(),
  plugin_config: z.record(z.string(), pluginValue).optional(),
  connector_config: connectorConfig.optional(),
  policy: z.array(autoscalerPolicy).optional(),
});

export const EXECUTORS = ['docker', 'docker+machine', 'docker-autoscaler', 'shell'] as const;

const runner = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a name of letters, digits, ".", "_", "-"'),
    url: httpUrl.optional(),
    executor: z.enum(EXECUTORS, { message: 'expected "docker", "docker+machine", "docker-autoscaler" or "shell"' }),
    // Registration (kept on GitLab's side)
    tags: z.array(z.string().regex(/^[^,\s][^,]*$/, 'expected a tag without commas')).default([]),
    run_untagged: z.boolean().optional(),
    locked: z.boolean().optional(),
    paused: z.boolean().optional(),
    description: z.string().optional(),
    access_level: z.enum(['not_protected', 'ref_protected']).optional(),
    maximum_timeout: int(600).optional(),
    maintenance_note: z.string().optional(),
    runner_type: z.enum(['instance_type', 'group_type', 'project_type']).default('instance_type'),
    group_id: int(1).optional(),
    project_id: int(1).optional(),
    // config.toml
    limit: int().optional(),
    request_concurrency: int(1).optional(),
    output_limit: int().optional(),
    shell: z.string().optional(),
    builds_dir: z.string().optional(),
    cache_dir: z.string().optional(),
    clone_url: httpUrl.optional(),
    environment: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*=/s, 'expected "NAME=value"')).optional(),
    pre_get_sources_script: z.string().optional(),
    post_get_sources_script: z.string().optional(),
    pre_build_script: z.string().optional(),
    post_build_script: z.string().optional(),
    feature_flags: z.record(z.string().regex(/^FF_[A-Z0-9_]+$/, 'expected a feature flag name like FF_USE_FASTZIP'), z.boolean()).optional(),
    debug_trace_disabled: z.boolean().optional(),
    clean_git_config: z.boolean().optional(),
    unhealthy_requests_limit: int(1).optional(),
    unhealthy_interval: goDuration.optional(),
    docker: docker.optional(),
    cache: cache.optional(),
    machine: machine.optional(),
    autoscaler: autoscaler.optional(),
  })
  // Runs even when other keys of the runner are invalid (all problems at once): `r` may be partly wrong.
  .superRefine(
    (r, ctx) => {
      const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
      const executor = typeof r.executor === 'string' ? r.executor : undefined;
      if (executor === 'docker+machine' && r.machine === undefined) issue(['machine'], 'is required for the docker+machine executor');
      if (executor && executor !== 'docker+machine' && r.machine !== undefined) issue(['machine'], `is only used by the docker+machine executor, not ${executor}`);
      if (executor === 'docker-autoscaler' && r.autoscaler === undefined) issue(['autoscaler'], 'is required for the docker-autoscaler executor');
      if (executor && executor !== 'docker-autoscaler' && r.autoscaler !== undefined) issue(['autoscaler'], `is only used by the docker-autoscaler executor, not ${executor}`);
      if (executor?.startsWith('docker') && (r.docker === undefined || (r.docker as { image?: unknown }).image === undefined))
        issue(['docker', 'image'], `is required for the ${executor} executor (default job image)`);
      if (r.runner_type === 'group_type' && r.group_id === undefined) issue(['group_id'], 'is required when runner_type is group_type');
      if (r.runner_type === 'project_type' && r.project_id === undefined) issue(['project_id'], 'is required when runner_type is project_type');
    },
    { when: (p) => isObject(p.value) },
  );

export const varsSchema = z
  .object({
    gitlab_url: httpUrl.optional(),
    gitlab_access_token: secret.optional(),
    gitlab_registration: z.enum(['authentication-token', 'registration-token']).default('authentication-token'),
    gitlab_registration_token: secret.optional(),
    /** read runner settings (tags, ...) from GitLab and update them when they differ from the inventory */
    gitlab_runner_sync_settings: z.boolean().default(true),
    gitlab_runner_version: version,
    gitlab_runner_apt_url: z.string().min(1).default(DEFAULT_APT_URL),
    gitlab_runner_apt_key_url: z.string().min(1).default(DEFAULT_APT_KEY_URL),
    gitlab_runner_apt_key_fingerprint: z
      .string()
      .transform((s) => s.replace(/\s+/g, '').toUpperCase())
      .refine((s) => /^[0-9A-F]{40}$/.test(s), 'expected a 40-digit hex OpenPGP fingerprint')
      .optional(),
    /** default: the host's codename (facts) */
    gitlab_runner_apt_codename: z.string().regex(/^[a-z0-9-]+$/).optional(),
    gitlab_runner_config_path: z.string().startsWith('/').default(DEFAULT_CONFIG_PATH),
    concurrent: int(1).default(1),
    check_interval: int().default(3),
    shutdown_timeout: int().default(30),
    log_level: z.enum(['debug', 'info', 'warn', 'error', 'fatal', 'panic']).optional(),
    log_format: z.enum(['runner', 'text', 'json']).optional(),
    listen_address: z.string().optional(),
    gitlab_runners: z.array(runner).default([]),
  })
  .superRefine(
    (v, ctx) => {
      const runners = Array.isArray(v.gitlab_runners) ? (v.gitlab_runners as unknown[]) : [];
      const seen = new Map<string, number>();
      runners.forEach((r, i) => {
        if (!isObject(r)) return;
        if (typeof r.name === 'string') {
          const first = seen.get(r.name);
          if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['gitlab_runners', i, 'name'], message: `duplicate runner name ${JSON.stringify(r.name)} (also gitlab_runners[${first}])` });
          else seen.set(r.name, i);
        }
        if (r.url === undefined && v.gitlab_url === undefined) ctx.addIssue({ code: 'custom', path: ['gitlab_runners', i, 'url'], message: 'is required when gitlab_url is not set' });
      });
      if (v.gitlab_registration === 'registration-token' && runners.length > 0 && v.gitlab_registration_token === undefined)
        ctx.addIssue({ code: 'custom', path: ['gitlab_registration_token'], message: 'is required when gitlab_registration is "registration-token"' });
    },
    { when: (p) => isObject(p.value) },
  );

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export type GitlabRunnerVars = z.output<typeof varsSchema>;
export type RunnerVars = GitlabRunnerVars['gitlab_runners'][number];
export type MachineOption = z.output<typeof machineOption>;

/** The API base of a runner's GitLab: its url, else gitlab_url, without trailing slash. */
export function runnerUrl(vars: GitlabRunnerVars, r: RunnerVars): string {
  return normaliseUrl(r.url ?? vars.gitlab_url ?? '');
}

export function normaliseUrl(u: string): string {
  return u.replace(/\/+$/, '');
}

/** "path: message" lines for a failed parse, exactly as the engine shows them (used by the tests). */
export function formatIssues(error: z.ZodError): string[] {
  return describeIssues(varsSchema, error);
}
