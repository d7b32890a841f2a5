// gitlab-runner role: vars validation, config.toml building/serialization, token preservation.
import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { redact, Secret } from '../../lib/secrets.js';
import role, { PACKAGES, RESTART, RESUME } from '../../roles/gitlab-runner/index.js';
import { buildConfig, ConfigParseError, newCredentials, parseHostConfig, renderConfig, type Credentials } from '../../roles/gitlab-runner/config.js';
import { parseTyped, TomlFloat, TomlRaw, toToml, tomlEqual } from '../../roles/gitlab-runner/toml.js';
import { formatIssues, varsSchema, type GitlabRunnerVars } from '../../roles/gitlab-runner/vars.js';
import { resourcesOf, type Resource, type RoleOutput } from '../../lib/engine/types.js';
import { DEBIAN12_FACTS } from './helpers/context.js';

const flat = (out: RoleOutput): Resource[] => resourcesOf(out);

const autoscaleRunner = (over: Record<string, unknown> = {}) => ({
  name: 'mania-autoscale',
  executor: 'docker+machine',
  tags: ['download-convert', 'scaleway'],
  run_untagged: false,
  limit: 8,
  docker: { image: 'debian:bookworm-slim', privileged: false, volumes: ['/cache'] },
  cache: {
    type: 's3',
    shared: true,
    s3: {
      ServerAddress: 's3.fr-par.scw.cloud',
      BucketName: 'runner-cache',
      BucketLocation: 'fr-par',
      AccessKey: new Secret('SCWACCESSKEYEXAMPLE', 'test'),
      SecretKey: new Secret('scw-secret-key-0123456789', 'test'),
    },
  },
  machine: {
    IdleCount: 0,
    IdleScaleFactor: 1,
    IdleTime: 1800,
    MaxBuilds: 10,
    MaxGrowthRate: 2,
    MachineDriver: 'scaleway-v2',
    MachineName: 'ci-%s',
    MachineOptions: ['scaleway-zone=fr-par-1', { key: 'scaleway-secretkey', value: new Secret('scw-api-token-abcdef', 'test') }, new Secret('scaleway-project-id=org-123456', 'test')],
    autoscaling: [
      { Periods: ['* * 8-18 * * mon-fri *'], IdleCount: 2, IdleTime: 3600, Timezone: 'Europe/Paris' },
      { Periods: ['* * * * * sat,sun *'], IdleCount: 0, IdleTime: 600, IdleScaleFactor: 0.5 },
    ],
  },
  ...over,
});

function vars(over: Record<string, unknown> = {}): GitlabRunnerVars {
  return varsSchema.parse({
    gitlab_url: 'https://gitlab.example.org/',
    gitlab_access_token: new Secret('glpat-unit-test-token', 'test'),
    gitlab_runner_version: '17.7.1-1',
    concurrent: 10,
    log_level: 'info',
    gitlab_runners: [autoscaleRunner(), { name: 'static', executor: 'docker', tags: ['stateful'], docker: { image: 'alpine:3' } }],
    ...over,
  });
}

const lineIndex = (text: string, re: RegExp) => text.split('\n').findIndex((l) => re.test(l));

describe('gitlab-runner vars', () => {
  it('normalises the package version and fills defaults', () => {
    const v = vars({ gitlab_runner_version: '17.7.1' });
    expect(v.gitlab_runner_version).toBe('17.7.1-1');
    expect(vars({ gitlab_runner_version: '17.7.1-2' }).gitlab_runner_version).toBe('17.7.1-2');
    expect(v.gitlab_registration).toBe('authentication-token');
    expect(v.gitlab_runner_apt_url).toBe('https://packages.gitlab.com/runner/gitlab-runner/debian/');
    expect(v.gitlab_runner_apt_key_url).toBe('https://packages.gitlab.com/runner/gitlab-runner/gpgkey');
    expect(v.gitlab_runners[0].runner_type).toBe('instance_type');
  });

  it('names the key path of every bad value', () => {
    const r = varsSchema.safeParse({
      gitlab_url: 'https://gitlab.example.org',
      gitlab_runner_version: '17.7',
      concurrent: 0,
      gitlab_runners: [
        { name: 'a', executor: 'docker', docker: { image: 'alpine' } },
        autoscaleRunner({ name: 'b', machine: { ...autoscaleRunner().machine, MachineName: 'ci-machine', autoscaling: [{ Periods: ['* 8-18 * * mon-fri'], IdleCount: 1, IdleTime: 60 }] } }),
        { name: 'a', executor: 'kubernetes' },
        { name: 'c', executor: 'docker+machine', docker: { image: 'x' } },
        { name: 'd', executor: 'shell', runner_type: 'group_type' },
      ],
    });
    expect(r.success).toBe(false);
    const lines = formatIssues(r.error!);
    expect(lines).toContain('gitlab_runners[1].machine.MachineName: must contain %s');
    expect(lines).toContain('gitlab_runner_version: expected a version like "17.7.1" or "17.7.1-1"');
    expect(lines).toContain('concurrent: expected at least 1');
    expect(lines).toContain('gitlab_runners[2].executor: expected "docker", "docker+machine", "docker-autoscaler" or "shell"');
    expect(lines).toContain('gitlab_runners[3].machine: is required for the docker+machine executor');
    expect(lines).toContain('gitlab_runners[4].group_id: is required when runner_type is group_type');
    expect(lines.some((l) => l.startsWith('gitlab_runners[1].machine.autoscaling[0].Periods[0]: expected a 7-field cron expression'))).toBe(true);
  });

  it('reports duplicate names, missing urls, registration token and bad MachineOptions', () => {
    const r = varsSchema.safeParse({
      gitlab_runner_version: '17.7.1',
      gitlab_registration: 'registration-token',
      gitlab_runners: [
        { name: 'x', executor: 'shell' },
        { name: 'x', executor: 'shell', url: 'https://gitlab.example.org' },
        autoscaleRunner({ name: 'y', url: 'https://gitlab.example.org', machine: { ...autoscaleRunner().machine, MachineOptions: ['--scaleway-zone=fr-par-1', 42] } }),
        { name: 'z', executor: 'docker', url: 'https://gitlab.example.org' },
      ],
    });
    const lines = formatIssues(r.error!);
    expect(lines).toContain('gitlab_runners[1].name: duplicate runner name "x" (also gitlab_runners[0])');
    expect(lines).toContain('gitlab_runners[0].url: is required when gitlab_url is not set');
    expect(lines).toContain('gitlab_registration_token: is required when gitlab_registration is "registration-token"');
    expect(lines).toContain('gitlab_runners[3].docker.image: is required for the docker executor (default job image)');
    expect(lines.filter((l) => l.startsWith('gitlab_runners[2].machine.MachineOptions['))).toHaveLength(2);
  });

  it('never shows a secret value in a message', () => {
    const s = new Secret('super-secret-value-1234', 'test');
    const r = varsSchema.safeParse({ gitlab_url: 'https://g.example.org', gitlab_runner_version: '17.7.1', gitlab_access_token: 'plain-text-token', gitlab_runners: [{ name: 'x', executor: s }] });
    const text = formatIssues(r.error!).join('\n');
    expect(text).toContain('gitlab_access_token: expected a secret');
    expect(text).not.toContain('super-secret-value-1234');
    expect(text).not.toContain('plain-text-token');
  });
});

describe('TOML serialization', () => {
  it('writes IdleScaleFactor as a float, even when integral', () => {
    const text = renderConfig(buildConfig(vars(), new Map()));
    expect(text).toMatch(/^IdleScaleFactor = 1\.0$/m);
    expect(text).toMatch(/^IdleScaleFactor = 0\.5$/m);
    // Parsed with integers as bigint, a float stays a JS number and an integer does not.
    const doc = parseTyped(text) as any;
    expect(typeof doc.runners[0].machine.IdleScaleFactor).toBe('number');
    expect(doc.runners[0].machine.IdleCount).toBe(0n);
    expect(doc.runners[0].machine.autoscaling[1].IdleScaleFactor).toBe(0.5);
    expect(toToml({ a: new TomlFloat(3), b: new TomlFloat(1e21), c: new TomlFloat(-2.25), d: 3 })).toBe('a = 3.0\nb = 1e+21\nc = -2.25\nd = 3\n');
    expect(() => new TomlFloat(Number.NaN)).toThrow();
  });

  it('replaces only its own placeholders (a value that looks like one is left alone)', () => {
    const text = toToml({ s: '@@rigger-literal-0-0@@', f: new TomlFloat(2), arr: ['x', '@@rigger-literal-'] });
    expect(parse(text)).toEqual({ s: '@@rigger-literal-0-0@@', f: 2, arr: ['x', '@@rigger-literal-'] });
    expect(text).toContain('f = 2.0');
  });

  it('accepts only single-line TOML values as raw literals', () => {
    expect(new TomlRaw('2024-05-14T09:00:00.123456789Z').literal()).toBe('2024-05-14T09:00:00.123456789Z');
    expect(() => new TomlRaw('1\nx = 2')).toThrow();
    expect(() => new TomlRaw('not a value')).toThrow();
  });

  it('orders keys like gitlab-runner and writes autoscaling periods as an array of tables', () => {
    const text = renderConfig(buildConfig(vars(), new Map([['mania-autoscale', { id: 12n, token: 'glrt-ordered-token' }]])));
    const order = [/^concurrent = 10$/, /^check_interval = 3$/, /^log_level = "info"$/, /^shutdown_timeout = 30$/, /^\[\[runners\]\]$/, /^name = "mania-autoscale"$/, /^url = "https:\/\/gitlab.example.org"$/, /^id = 12$/, /^token = /, /^executor = "docker\+machine"$/, /^limit = 8$/, /^\[runners\.cache\]$/, /^\[runners\.cache\.s3\]$/, /^\[runners\.docker\]$/, /^\[runners\.machine\]$/, /^MachineName = "ci-%s"$/, /^MachineOptions = /, /^\[\[runners\.machine\.autoscaling\]\]$/];
    const positions = order.map((re) => lineIndex(text, re));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    const doc = parse(text) as any;
    expect(doc.runners).toHaveLength(2);
    expect(doc.runners[0].machine.autoscaling).toEqual([
      { Periods: ['* * 8-18 * * mon-fri *'], IdleCount: 2, IdleTime: 3600, Timezone: 'Europe/Paris' },
      { Periods: ['* * * * * sat,sun *'], IdleCount: 0, IdleTime: 600, IdleScaleFactor: 0.5 },
    ]);
    expect(doc.runners[0].cache).toEqual({
      Type: 's3',
      Shared: true,
      s3: { ServerAddress: 's3.fr-par.scw.cloud', AccessKey: 'SCWACCESSKEYEXAMPLE', SecretKey: 'scw-secret-key-0123456789', BucketName: 'runner-cache', BucketLocation: 'fr-par' },
    });
    expect(doc.runners[1]).toEqual({ name: 'static', url: 'https://gitlab.example.org', executor: 'docker', docker: { image: 'alpine:3' } });
  });

  it('builds MachineOptions from strings, { key, value } and secrets; secret values are redacted in output', () => {
    const text = renderConfig(buildConfig(vars(), new Map()));
    const doc = parse(text) as any;
    expect(doc.runners[0].machine.MachineOptions).toEqual(['scaleway-zone=fr-par-1', 'scaleway-secretkey=scw-api-token-abcdef', 'scaleway-project-id=org-123456']);
    const shown = redact(text);
    for (const s of ['scw-api-token-abcdef', 'scaleway-project-id=org-123456', 'scw-secret-key-0123456789', 'SCWACCESSKEYEXAMPLE']) expect(shown).not.toContain(s);
    expect(shown).toContain('scaleway-zone=fr-par-1');
  });
});

// What gitlab-runner itself writes (Go encoder: indentation, nanosecond timestamps, extra defaults).
const RUNNER_WRITTEN = `concurrent = 10
check_interval = 3
shutdown_timeout = 30

[session_server]
  session_timeout = 1800

[[runners]]
  name = "static"
  url = "https://gitlab.example.org"
  id = 41
  token = "glrt-static-host-token-1"
  token_obtained_at = 2024-05-14T09:00:00.123456789Z
  token_expires_at = 0001-01-01T00:00:00Z
  executor = "docker"
  [runners.docker]
    image = "alpine:3"
    shm_size = 0

[[runners]]
  name = "mania-autoscale"
  url = "https://gitlab.example.org/"
  id = 42
  token = "glrt-autoscale-host-token-2"
  token_obtained_at = 2025-01-02T03:04:05Z
  token_expires_at = 2025-04-02T03:04:05+02:00
  executor = "docker+machine"
`;

describe('token preservation', () => {
  it('reads id/token/timestamps per runner name, registers tokens as secrets, and keeps the literals exactly', () => {
    const host = parseHostConfig(RUNNER_WRITTEN, '/etc/gitlab-runner/config.toml');
    expect(host.runners.map((r) => r.name)).toEqual(['static', 'mania-autoscale']);
    expect(redact('x glrt-static-host-token-1 glrt-autoscale-host-token-2')).toBe('x ******** ********');
    const creds = new Map<string, Credentials>(host.runners.map((r) => [r.name!, r.credentials!]));
    const text = renderConfig(buildConfig(vars(), creds));
    // Order in vars differs from the host's: matched by name.
    const doc = parse(text) as any;
    expect(doc.runners.map((r: any) => [r.name, r.id, r.token])).toEqual([
      ['mania-autoscale', 42, 'glrt-autoscale-host-token-2'],
      ['static', 41, 'glrt-static-host-token-1'],
    ]);
    expect(text).toContain('token_obtained_at = 2024-05-14T09:00:00.123456789Z'); // nanoseconds kept
    expect(text).toContain('token_expires_at = 0001-01-01T00:00:00Z');
    expect(text).toContain('token_expires_at = 2025-04-02T03:04:05+02:00'); // offset kept
    expect(text).toContain('token_obtained_at = 2025-01-02T03:04:05Z');
  });

  it('compares documents by value: int vs float differ, formatting does not', () => {
    expect(tomlEqual(parseTyped('a = 1\n[t]\nb = [1, 2]\n'), parseTyped('a = 1\n\n[t]\n  b = [ 1, 2 ]\n'))).toBe(true);
    expect(tomlEqual(parseTyped('a = 1'), parseTyped('a = 1.0'))).toBe(false);
    expect(tomlEqual(parseTyped('a = 1\nb = 2'), parseTyped('b = 2\na = 1'))).toBe(true);
    expect(tomlEqual(parseTyped('a = [1, 2]'), parseTyped('a = [2, 1]'))).toBe(false);
    expect(tomlEqual(parseTyped('d = 2024-01-01T00:00:00Z'), parseTyped('d = 2024-01-01T00:00:00.000Z'))).toBe(true);
  });

  it('a file that is not TOML is an error that quotes nothing of it', () => {
    const broken = 'concurrent = 1\n[[runners]]\n  token = "glrt-leaky-token-999"\n  name = \n';
    let err: unknown;
    try {
      parseHostConfig(broken, '/etc/gitlab-runner/config.toml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigParseError);
    expect((err as Error).message).toMatch(/not valid TOML \(line \d+, column \d+\)/);
    expect((err as Error).message).not.toContain('glrt-leaky-token-999');
    expect(redact('glrt-leaky-token-999')).toBe('********'); // registered even though the file did not parse
  });

  it('credentials of a new registration: token registered, seconds precision, zero expiry when none', () => {
    const c = newCredentials({ id: 7, token: 'glrt-brand-new-token', token_expires_at: null }, new Date('2026-02-03T04:05:06.789Z'));
    expect(redact('glrt-brand-new-token')).toBe('********');
    const text = toToml({ ...c });
    expect(text).toBe('id = 7\ntoken = "glrt-brand-new-token"\ntoken_obtained_at = 2026-02-03T04:05:06Z\ntoken_expires_at = 0001-01-01T00:00:00Z\n');
    const c2 = newCredentials({ id: 8, token: 'glrt-expiring-token', token_expires_at: '2026-05-01T00:00:00.000Z' });
    expect(toToml({ e: c2.token_expires_at })).toBe('e = 2026-05-01T00:00:00Z\n');
  });
});

describe('role tasks', () => {
  it('installs pinned, held packages from the configured repository, writes the config, runs the service', async () => {
    const v = vars({
      gitlab_runner_version: '17.7.1',
      gitlab_runner_apt_url: 'file:/srv/fixtures/apt',
      gitlab_runner_apt_key_url: 'file:///srv/fixtures/apt/gpgkey.asc',
      gitlab_runner_apt_key_fingerprint: 'abcd abcd abcd abcd abcd  abcd abcd abcd abcd abcd',
    });
    const out = await role.tasks({ host: 'mania', vars: v, facts: DEBIAN12_FACTS });
    const resources = flat(out);
    const ids = resources.map((r) => r.id);
    expect(ids).toEqual([
      'apt-keyring:/etc/apt/keyrings/runner_gitlab-runner.gpg',
      'file:/etc/apt/sources.list.d/runner_gitlab-runner.sources',
      'gitlab-runner-drain:/etc/gitlab-runner/config.toml',
      'apt:gitlab-runner,gitlab-runner-helper-images',
      'directory:/etc/gitlab-runner',
      'gitlab-runner-host:/etc/gitlab-runner/config.toml',
      ...v.gitlab_runners.map((r) => `gitlab-runner:${r.name}`),
      'gitlab-runner-config:/etc/gitlab-runner/config.toml',
      'service:gitlab-runner.service',
    ]);
    const byId = (id: string) => resources.find((r) => r.id === id)!;
    const apt = byId('apt:gitlab-runner,gitlab-runner-helper-images');
    expect(apt.notify).toEqual([RESTART]);
    expect(apt.probe).toContain('gitlab-runner-helper-images');
    expect(byId('gitlab-runner-config:/etc/gitlab-runner/config.toml').notify).toEqual([]); // gitlab-runner reloads config.toml by itself
    expect(out.handlers?.map((h) => h.name)).toEqual([RESTART, RESUME]);
    expect(PACKAGES).toEqual(['gitlab-runner', 'gitlab-runner-helper-images']);
    // The sources file points at the configured repository and the host's codename.
    const sources = resources[1];
    const plan = await sources.plan({ stdout: 'absent', code: 0 }, { wantDiff: true } as any);
    expect(plan?.diff?.after).toContain('URIs: file:/srv/fixtures/apt\nSuites: bookworm\nComponents: main\n');
    const keyring = resources[0];
    const kplan = await keyring.plan({ stdout: 'absent\n', code: 0 }, {} as any);
    expect(kplan?.summary).toBe('fetch signing key from file:///srv/fixtures/apt/gpgkey.asc');
    expect(v.gitlab_runner_apt_key_fingerprint).toBe('ABCDABCDABCDABCDABCDABCDABCDABCDABCDABCD');
  });

  it('pins both packages to the same version, holds them and sets NO_DOCKER_PRUNE for apt', async () => {
    const out = await role.tasks({ host: 'mania', vars: vars({ gitlab_runner_version: '17.7.1' }), facts: { ...DEBIAN12_FACTS, os: { ...DEBIAN12_FACTS.os, codename: 'trixie' } } });
    const resources = flat(out);
    const apt = resources.find((r) => r.id === 'apt:gitlab-runner,gitlab-runner-helper-images')!;
    const change = await apt.plan({ stdout: '---\n10\n', code: 0 }, {} as any);
    expect(change?.summary).toBe('install gitlab-runner=17.7.1-1 gitlab-runner-helper-images=17.7.1-1, hold gitlab-runner gitlab-runner-helper-images');
    const scripts: string[] = [];
    await apt.apply(change!, { changed: () => false, remote: { run: async (s: string) => (scripts.push(s), { stdout: '', stderr: '', code: 0 }) } } as any);
    expect(scripts[0]).toMatch(/env 'NO_DOCKER_PRUNE=1' apt-get install .* 'gitlab-runner=17\.7\.1-1' 'gitlab-runner-helper-images=17\.7\.1-1'/);
    expect(scripts[0]).toContain('apt-mark hold -- gitlab-runner gitlab-runner-helper-images');
    const sources = await resources[1].plan({ stdout: 'absent', code: 0 }, { wantDiff: true } as any);
    expect(sources?.diff?.after).toContain('URIs: https://packages.gitlab.com/runner/gitlab-runner/debian/\nSuites: trixie\n');
  });
});
