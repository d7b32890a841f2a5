// docker-machine-scaleway: verified releases (bare binary or archive member),
// placeholder checksums and unpinned drivers refused, MachineOptions checked
// against the option names of the driver the inventory chose.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import role, { DOCKER_MACHINE_CREATE_FLAGS } from '../../roles/docker-machine-scaleway/index.js';
import { validateRoleVars } from '../../lib/engine/validateVars.js';
import { Secret } from '../../lib/secrets.js';
import type { Vars } from '../../lib/engine/types.js';
import { SCALEWAY_V2_OPTIONS } from '../fakes/downloads.js';
import { expandRole } from './helpers/roles.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
// The real pin: docker-machine v0.16.2-gitlab.30, linux/amd64 (GitLab's own image build, gitlab-runner v17.7.0 magefiles/images/runner.go).
const DM_SHA = 'b4163ac73e6f331d8fee8ea838fc490323d73a27a3bc88f981f2a9d2ab2b0dd8';
const dockerMachine = { version: 'v0.16.2-gitlab.30', url: 'https://gitlab-docker-machine-downloads.s3.amazonaws.com/v0.16.2-gitlab.30/docker-machine-Linux-x86_64', sha256: DM_SHA };
const driver = (over: Record<string, unknown> = {}) => ({
  name: 'scaleway-v2',
  binary: 'docker-machine-driver-scaleway-v2',
  version: 'v2.0.0-5cfe31f',
  url: 'https://artifacts.example.org/docker-machine-driver-scaleway-v2_linux_amd64.tar.gz',
  sha256: sha('driver archive'),
  member: 'docker-machine-driver-scaleway-v2',
  options: [...SCALEWAY_V2_OPTIONS],
  ...over,
});
const runner = (options: unknown[], over: Record<string, unknown> = {}) => ({
  name: 'autoscale',
  executor: 'docker+machine',
  limit: 5,
  machine: { MachineDriver: 'scaleway-v2', MachineName: 'fetch-%s', MachineOptions: options },
  ...over,
});
const problems = (vars: Vars) => validateRoleVars(role, 'mania', vars).problems.map((p) => p.message);

describe('docker-machine-scaleway: vars', () => {
  it('accepts the real docker-machine pin and a driver archive member', () => {
    expect(problems({ docker_machine: dockerMachine, docker_machine_driver: driver(), gitlab_runners: [runner(['scaleway-zone=fr-par-1', 'engine-registry-mirror=https://mirror.gcr.io'])] })).toEqual([]);
  });

  it('refuses placeholder checksums at their key path, saying how to pin one', () => {
    const lines = problems({ docker_machine: { ...dockerMachine, sha256: '0'.repeat(64) }, docker_machine_driver: driver({ sha256: 'deadbeef'.repeat(8) }) });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^docker_machine\.sha256: sha256 0000000000000000\.\.\. is a placeholder, not a checksum; pin the real one: .*sha256sum FILE$/);
    expect(lines[1]).toMatch(/^docker_machine_driver\.sha256: sha256 deadbeefdeadbeef\.\.\. is a placeholder/);
  });

  it('an unpinned driver is a blocked resource saying what to do, never an unverified download', async () => {
    const vars = { docker_machine: dockerMachine, docker_machine_driver: driver({ url: undefined, sha256: undefined, member: undefined, unpinned: 'no binary release is published' }) };
    expect(problems(vars)).toEqual([]);
    const { resources } = await expandRole(role, vars);
    const drv = resources.find((r) => r.id === 'download:/usr/local/bin/docker-machine-driver-scaleway-v2')!;
    expect(drv.blocked).toBe(
      'driver scaleway-v2 v2.0.0-5cfe31f has no verified download yet (no binary release is published). rigger installs only what it can verify: ' +
        'publish the binary (or a release archive) at a URL you control, take its sha256 (sha256sum FILE), then set url, sha256 (and member for an archive) in docker_machine_driver and remove unpinned',
    );
    expect(resources.filter((r) => r.blocked)).toHaveLength(1);
    expect(problems({ docker_machine: dockerMachine, docker_machine_driver: driver({ url: undefined }) })).toEqual(['docker_machine_driver.url: is required (or unpinned, saying why no verified binary exists yet)']);
  });

  it('a MachineOptions entry the driver does not have is an error with a hint; a secret entry shows its name only', () => {
    const lines = problems({
      docker_machine: dockerMachine,
      docker_machine_driver: driver(),
      gitlab_runners: [
        runner([
          'scaleway-zone=fr-par-1',
          'scaleway-token=abc', // the old driver's flag
          { key: 'scaleway-organization', value: new Secret('org-uuid-secret-1', 'test') },
          new Secret('scaleway-secret-key=very-secret-2', 'test'),
          'scaleway-comercial-type=DEV1-S',
        ]),
      ],
    });
    expect(lines).toEqual([
      `gitlab_runners[0].machine.MachineOptions[1]: "scaleway-token" is not an option of docker-machine driver scaleway-v2 (it has: ${SCALEWAY_V2_OPTIONS.join(', ')})`,
      `gitlab_runners[0].machine.MachineOptions[2]: "scaleway-organization" is not an option of docker-machine driver scaleway-v2 (it has: ${SCALEWAY_V2_OPTIONS.join(', ')})`,
      'gitlab_runners[0].machine.MachineOptions[3]: "scaleway-secret-key" is not an option of docker-machine driver scaleway-v2; did you mean "scaleway-secretkey"?',
      'gitlab_runners[0].machine.MachineOptions[4]: "scaleway-comercial-type" is not an option of docker-machine driver scaleway-v2; did you mean "scaleway-commercial-type"?',
    ]);
    expect(lines.join('\n')).not.toMatch(/very-secret-2|org-uuid-secret-1/);
    expect(DOCKER_MACHINE_CREATE_FLAGS).toContain('engine-registry-mirror');
  });

  it('keeps the earlier guards: a limit, the installed driver, the binary name docker-machine looks for', () => {
    const lines = problems({
      docker_machine: dockerMachine,
      docker_machine_driver: driver({ binary: 'docker-machine-driver-scaleway' }),
      gitlab_runners: [runner([], { limit: undefined, machine: { MachineDriver: 'scaleway', MachineName: 'x-%s' } })],
    });
    expect(lines).toEqual([
      'docker_machine_driver.binary: expected "docker-machine-driver-scaleway-v2": docker-machine looks for the driver of MachineDriver "scaleway-v2" under that name',
      'gitlab_runners[0].limit: runner autoscale: docker+machine needs limit >= 1 (upper bound on machines)',
      'gitlab_runners[0].machine.MachineDriver: runner autoscale: expected "scaleway-v2" (the driver this role installs)',
    ]);
  });

  it('an archive member needs an archive URL or a format', () => {
    expect(problems({ docker_machine: dockerMachine, docker_machine_driver: driver({ url: 'https://artifacts.example.org/driver' }) })).toEqual([
      'docker_machine_driver.format: https://artifacts.example.org/driver does not end in .tar.gz, .tgz or .zip: set format = "tar.gz" or "zip" for member docker-machine-driver-scaleway-v2',
    ]);
  });
});

describe('docker-machine-scaleway: resources', () => {
  it('two verified downloads into the bin dir; unzip only for a .zip release', async () => {
    const { resources } = await expandRole(role, { docker_machine: dockerMachine, docker_machine_driver: driver() });
    expect(resources.map((r) => r.id)).toEqual(['download:/usr/local/bin/docker-machine', 'download:/usr/local/bin/docker-machine-driver-scaleway-v2']);
    const zip = await expandRole(role, { docker_machine: dockerMachine, docker_machine_driver: driver({ url: 'https://artifacts.example.org/driver.zip' }) });
    expect(zip.resources.map((r) => r.id)).toEqual(['apt:unzip', 'download:/usr/local/bin/docker-machine', 'download:/usr/local/bin/docker-machine-driver-scaleway-v2']);
  });
});
