// Bad runner vars end to end, through the real runner playbook: placeholder
// checksums, unknown keys, a driver option the driver does not have and an
// unpinned driver each exit 1 with a message naming the key path, before any
// host is contacted (a run that got as far as connecting would exit 2). The
// host is 127.0.0.1:1, so even a wrongly accepted inventory reaches nothing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPlaybook } from '../../lib/playbook.js';
import runner from '../../playbooks/runner.js';
import { SCALEWAY_V2_OPTIONS } from '../fakes/downloads.js';

const DM_SHA = 'b4163ac73e6f331d8fee8ea838fc490323d73a27a3bc88f981f2a9d2ab2b0dd8';
const DRIVER_SHA = '4f1c0b8e2d7a93e6c5b1f0a8d2e4c6b9a7f3e1d5c9b2a8f6e4d0c3b7a1f5e9d2';

function inventory(machineVars: string, extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'rigger-badrunner-'));
  const file = join(dir, 'hosts.toml');
  writeFileSync(
    file,
    `[hosts]
mania = { host = "127.0.0.1", port = 1, groups = ["autoscale_runners"] }

[vars]
gitlab_url = "https://git.example.org"
gitlab_runner_version = "19.3.0"
${extra}

[groups.runners]
children = ["autoscale_runners"]

[groups.autoscale_runners.vars]
${machineVars}
`,
  );
  return file;
}

const driverLine = (over = '') =>
  `docker_machine_driver = { name = "scaleway-v2", binary = "docker-machine-driver-scaleway-v2", version = "v2.0.0-5cfe31f", options = ${JSON.stringify(SCALEWAY_V2_OPTIONS)}${over} }`;
const good = {
  dm: `docker_machine = { version = "v0.16.2-gitlab.30", url = "https://gitlab-docker-machine-downloads.s3.amazonaws.com/v0.16.2-gitlab.30/docker-machine-Linux-x86_64", sha256 = "${DM_SHA}" }`,
  driver: driverLine(`, url = "https://artifacts.example.org/docker-machine-driver-scaleway-v2", sha256 = "${DRIVER_SHA}"`),
  runners: (machine: string) =>
    `gitlab_runners = [{ name = "autoscale", executor = "docker+machine", limit = 5, docker = { image = "debian:bookworm-slim" }, machine = { MachineDriver = "scaleway-v2", MachineName = "fetch-%s"${machine} } }]`,
};

async function run(argv: string[]) {
  let out = '';
  const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (out += t), colour: false };
  const { exitCode } = await runPlaybook(runner, argv, io);
  return { exitCode, out };
}

const cases: Array<[string, string, RegExp]> = [
  [
    'placeholder checksum (64 zeros)',
    [good.dm.replace(DM_SHA, '0'.repeat(64)), good.driver, good.runners('')].join('\n'),
    /host mania, role docker-machine-scaleway: docker_machine\.sha256: sha256 0000000000000000\.\.\. is a placeholder, not a checksum; pin the real one/,
  ],
  ['placeholder checksum (0123...)', [good.dm, good.driver.replace(DRIVER_SHA, '0123456789abcdef'.repeat(4)), good.runners('')].join('\n'), /docker_machine_driver\.sha256: sha256 0123456789abcdef\.\.\. is a placeholder/],
  ['unknown machine key', [good.dm, good.driver, good.runners(', IdleTimeout = 1800')].join('\n'), /role gitlab-runner: gitlab_runners\[0\]\.machine\.IdleTimeout: unknown key; did you mean "IdleTime"\?/],
  ['unknown docker key', [good.dm, good.driver, good.runners('').replace('image = "debian:bookworm-slim"', 'image = "debian:bookworm-slim", pull_polciy = "always"')].join('\n'), /gitlab_runners\[0\]\.docker\.pull_polciy: unknown key; did you mean "pull_policy"\?/],
  [
    'a driver option the driver does not have',
    [good.dm, good.driver, good.runners(', MachineOptions = ["scaleway-zone=fr-par-1", "scaleway-organization=abc"]')].join('\n'),
    /role docker-machine-scaleway: gitlab_runners\[0\]\.machine\.MachineOptions\[1\]: "scaleway-organization" is not an option of docker-machine driver scaleway-v2/,
  ],
];

describe('bad runner vars exit 1 before connecting', () => {
  it.each(cases)('%s', async (_name, vars, message) => {
    const { exitCode, out } = await run(['-i', inventory(vars)]);
    expect(exitCode, out).toBe(1);
    expect(out).toMatch(/^error: invalid declarations \(nothing was contacted\)/);
    expect(out).toMatch(message);
    expect(out).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });

  it('an unpinned driver: a check or apply run refuses before connecting; --list-tasks shows it blocked', async () => {
    const inv = inventory([good.dm, driverLine(', unpinned = "no binary release is published"'), good.runners('')].join('\n'));
    for (const argv of [['-i', inv], ['-i', inv, '--check']]) {
      const { exitCode, out } = await run(argv);
      expect(exitCode, out).toBe(1);
      expect(out).toMatch(/^error: cannot run yet \(nothing was contacted; --render and --list-tasks still work\):/);
      expect(out).toMatch(/host mania, role docker-machine-scaleway, download:\/usr\/local\/bin\/docker-machine-driver-scaleway-v2: driver scaleway-v2 v2\.0\.0-5cfe31f has no verified download yet \(no binary release is published\)/);
    }
    const listed = await run(['-i', inv, '--list-tasks']);
    expect(listed.exitCode, listed.out).toBe(0);
    expect(listed.out).toMatch(/\[docker-machine-scaleway\] download:\/usr\/local\/bin\/docker-machine-driver-scaleway-v2 {2}BLOCKED: driver scaleway-v2/);
  });

  it('a var no role reads is a warning with the nearest name; the run goes on', async () => {
    const { exitCode, out } = await run(['-i', inventory([good.dm, good.driver, good.runners('')].join('\n'), 'timzone = "Europe/Paris"\nswitchover_note = 1'), '--list-hosts']);
    expect(exitCode, out).toBe(0);
    expect(out).toMatch(/^warning: .*hosts\.toml: var timzone \(set for mania\) is read by no role of playbook runner; did you mean "timezone"\?$/m);
    expect(out).toMatch(/^warning: .*var switchover_note .*; did you mean "switchover"\?$/m);
    expect(out).toMatch(/^mania {2}\(common, ssh-hardening, docker-machine-scaleway, gitlab-runner\)$/m);
  });
});
