// gitlab-runner role: strict settings tables (unknown keys are errors at their
// own key path with a "did you mean" hint) and the docker-autoscaler executor.
import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { redact, Secret } from '../../lib/secrets.js';
import { validateRoleVars } from '../../lib/engine/validateVars.js';
import role from '../../roles/gitlab-runner/index.js';
import { buildConfig, renderConfig } from '../../roles/gitlab-runner/config.js';
import { formatIssues, varsSchema } from '../../roles/gitlab-runner/vars.js';

const base = { gitlab_url: 'https://git.example.org', gitlab_runner_version: '19.3.0' };
const machineRunner = (machine: Record<string, unknown>, over: Record<string, unknown> = {}) => ({
  name: 'autoscale',
  executor: 'docker+machine',
  limit: 5,
  docker: { image: 'debian:bookworm-slim' },
  machine: { MachineDriver: 'scaleway-v2', MachineName: 'fetch-%s', ...machine },
  ...over,
});
const problems = (vars: Record<string, unknown>) => {
  const r = varsSchema.safeParse({ ...base, ...vars });
  return r.success ? [] : formatIssues(r.error);
};

describe('strict runner settings', () => {
  it('an unknown machine key is an error at its path, with the nearest key as a hint', () => {
    expect(problems({ gitlab_runners: [machineRunner({ IdleTimeout: 1800 })] })).toEqual(['gitlab_runners[0].machine.IdleTimeout: unknown key; did you mean "IdleTime"?']);
  });

  it('unknown keys in runner, docker, autoscaling and cache tables, all reported at once', () => {
    const lines = problems({
      gitlab_runners: [
        machineRunner(
          { autoscaling: [{ Periods: ['* * 8-18 * * mon-fri *'], IdleCount: 1, IdleTime: 600, TimeZone: 'Europe/Paris' }] },
          {
            limt: 5,
            docker: { image: 'alpine', privilegd: true },
            cache: { type: 's3', shared: true, s3: { ServerAddress: 's3.fr-par.scw.cloud', BucketName: 'c', BucketLocaton: 'fr-par' } },
          },
        ),
      ],
    });
    expect(lines.sort()).toEqual(
      [
        'gitlab_runners[0].limt: unknown key; did you mean "limit"?',
        'gitlab_runners[0].docker.privilegd: unknown key; did you mean "privileged"?',
        'gitlab_runners[0].machine.autoscaling[0].TimeZone: unknown key; did you mean "Timezone"?',
        'gitlab_runners[0].cache.s3.BucketLocaton: unknown key; did you mean "BucketLocation"?',
      ].sort(),
    );
  });

  it('a key with nothing close lists what is expected when the table is small', () => {
    const lines = problems({ gitlab_runners: [machineRunner({ autoscaling: [{ Periods: ['* * * * * * *'], IdleCount: 0, IdleTime: 60, Frobnicate: 1 }] })] });
    expect(lines).toEqual(['gitlab_runners[0].machine.autoscaling[0].Frobnicate: unknown key; expected one of: Periods, IdleCount, IdleCountMin, IdleScaleFactor, IdleTime, Timezone']);
  });

  it('refuses the deprecated OffPeak settings with the replacement', () => {
    expect(problems({ gitlab_runners: [machineRunner({ OffPeakIdleCount: 0 })] })).toEqual([
      'gitlab_runners[0].machine.OffPeakIdleCount: OffPeak* settings are deprecated and ignored by current gitlab-runner: use autoscaling = [{ Periods, IdleCount, IdleTime, Timezone }]',
    ]);
  });

  it('the engine reports the same lines, naming host and role', () => {
    const { problems: p } = validateRoleVars(role, 'mania', { ...base, gitlab_runners: [machineRunner({ IdleTimeout: 1 })] });
    expect(p).toEqual([{ host: 'mania', role: 'gitlab-runner', path: ['gitlab_runners', 0, 'machine', 'IdleTimeout'], message: 'gitlab_runners[0].machine.IdleTimeout: unknown key; did you mean "IdleTime"?' }]);
  });

  it('gitlab-runner [runners.docker] keys beyond the typed ones are accepted and written', () => {
    const v = varsSchema.parse({ ...base, gitlab_runners: [{ name: 'd', executor: 'docker', docker: { image: 'alpine', sysctls: { 'net.ipv4.ip_forward': '1' }, cpuset_cpus: '0,1' } }] });
    const doc = parse(renderConfig(buildConfig(v, new Map()))) as any;
    expect(doc.runners[0].docker).toEqual({ image: 'alpine', sysctls: { 'net.ipv4.ip_forward': '1' }, cpuset_cpus: '0,1' });
  });
});

describe('docker-autoscaler executor', () => {
  const autoscalerRunner = (autoscaler: Record<string, unknown>) => ({
    name: 'fleet',
    executor: 'docker-autoscaler',
    tags: ['download-convert', 'autoscale'],
    docker: { image: 'debian:bookworm-slim' },
    autoscaler,
  });
  const key = new Secret('scw-plugin-secret-8c1f2e', 'test');
  const autoscaler = {
    plugin: 'example/fleeting-plugin-scaleway:0.1.0',
    capacity_per_instance: 1,
    max_use_count: 10,
    max_instances: 5,
    plugin_config: { zone: 'fr-par-1', commercial_type: 'DEV1-S', secret_key: key },
    connector_config: { username: 'root', use_external_addr: true },
    policy: [
      { idle_count: 0, idle_time: '20m0s' },
      { periods: ['* 8-18 * * mon-fri'], timezone: 'Europe/Paris', idle_count: 2, idle_time: '30m', scale_factor: 1 },
    ],
  };

  it('renders [runners.autoscaler] with plugin_config, connector_config and [[runners.autoscaler.policy]]', () => {
    const v = varsSchema.parse({ ...base, gitlab_runners: [autoscalerRunner(autoscaler)] });
    const text = renderConfig(buildConfig(v, new Map()));
    expect(text).toMatch(/^\[runners\.autoscaler\]$/m);
    expect(text).toMatch(/^\[runners\.autoscaler\.plugin_config\]$/m);
    expect(text.match(/^\[\[runners\.autoscaler\.policy\]\]$/gm)).toHaveLength(2);
    expect(text).toMatch(/^scale_factor = 1\.0$/m);
    const doc = parse(text) as any;
    expect(doc.runners[0]).toMatchObject({ executor: 'docker-autoscaler', docker: { image: 'debian:bookworm-slim' } });
    expect(doc.runners[0].autoscaler).toEqual({
      plugin: 'example/fleeting-plugin-scaleway:0.1.0',
      capacity_per_instance: 1,
      max_use_count: 10,
      max_instances: 5,
      plugin_config: { zone: 'fr-par-1', commercial_type: 'DEV1-S', secret_key: 'scw-plugin-secret-8c1f2e' },
      connector_config: { username: 'root', use_external_addr: true },
      policy: [
        { idle_count: 0, idle_time: '20m0s' },
        { periods: ['* 8-18 * * mon-fri'], timezone: 'Europe/Paris', idle_count: 2, idle_time: '30m', scale_factor: 1 },
      ],
    });
    expect(redact(text)).not.toContain('scw-plugin-secret-8c1f2e');
  });

  it('requires max_instances, 5-field periods, Go durations, and the autoscaler table only with this executor', () => {
    const lines = problems({
      gitlab_runners: [
        autoscalerRunner({ plugin: 'p', policy: [{ periods: ['* * 8-18 * * mon-fri *'], idle_time: '20 minutes', idle_cuont: 1 }] }),
        { name: 'no-table', executor: 'docker-autoscaler', docker: { image: 'x' } },
        { name: 'wrong-executor', executor: 'docker', docker: { image: 'x' }, autoscaler },
      ],
    });
    expect(lines).toEqual(
      expect.arrayContaining([
        'gitlab_runners[0].autoscaler.max_instances: expected a number',
        'gitlab_runners[0].autoscaler.policy[0].periods[0]: expected a 5-field cron expression (minutes hours day-of-month month day-of-week), e.g. "* 8-18 * * mon-fri"',
        'gitlab_runners[0].autoscaler.policy[0].idle_time: expected a duration like "20m", "1h30m" or "45s"',
        'gitlab_runners[0].autoscaler.policy[0].idle_cuont: unknown key; did you mean "idle_count"?',
        'gitlab_runners[1].autoscaler: is required for the docker-autoscaler executor',
        'gitlab_runners[2].autoscaler: is only used by the docker-autoscaler executor, not docker',
      ]),
    );
  });
});
