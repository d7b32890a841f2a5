// Playbook-specific flags (lib/cli.ts, lib/playbook.ts) and the switchover's
// use of them: parsed with the common flags, shown in --help, bad values exit 1
// before anything is contacted, and --list-tasks shows the steps selected.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCli, usage, USAGE } from '../../lib/cli.js';
import { runPlaybook } from '../../lib/playbook.js';
import { selectionOf, SWITCHOVER_FLAGS } from '../../lib/services/gitlab/switchover/role.js';
import switchover from '../../playbooks/switchover.js';

async function run(argv: string[]) {
  let out = '';
  const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (out += t), colour: false };
  const { exitCode } = await runPlaybook(switchover, argv, io);
  return { exitCode, out };
}

function inventory(switchoverVars: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'rigger-switchover-cli-'));
  const path = join(dir, 'inv.toml');
  writeFileSync(
    path,
    `[hosts]
[vars]
gitlab_url = "http://127.0.0.1:9"
gitlab_access_token = { secret = "SWITCHOVER_CLI_TOKEN" }
${switchoverVars}`,
  );
  return path;
}

const GOOD = `[vars.switchover]
fetchers_group = "dbnomics-fetchers"
trial_fetcher = "dbnomics-fetchers/ameco-fetcher"
tag_map = { docker = ["download-convert"] }
static_runner = { host = "eros", runner = "download-convert-stateful" }
retired_runner = { host = "dolos", runner = "docker", id = 3 }
`;

describe('playbook flags', () => {
  it('are parsed with the common flags; without them CliOptions has no flags', () => {
    expect(parseCli(['-C']).flags).toBeUndefined();
    const o = parseCli(['--step', '3', '-C'], SWITCHOVER_FLAGS);
    expect(o.check).toBe(true);
    expect(o.flags).toEqual({ step: '3', through: undefined, rollback: undefined });
    expect(() => parseCli(['--step'], SWITCHOVER_FLAGS)).toThrow(/option --step needs a value/);
    expect(() => parseCli(['--step', '3'])).toThrow(/unknown option --step/);
    expect(() => parseCli([], { check: { type: 'boolean', description: 'x' } })).toThrow(/already a common flag/);
  });

  it('appear in --help after the common ones', async () => {
    const text = usage(SWITCHOVER_FLAGS);
    expect(text.startsWith(USAGE.slice(0, USAGE.indexOf('\nexit codes:')))).toBe(true);
    expect(text).toMatch(/this playbook:\n {6}--step N +do step N/);
    const { exitCode, out } = await run(['--help']);
    expect(exitCode).toBe(0);
    expect(out).toContain('--rollback N');
  });
});

describe('switchover selection', () => {
  it('maps the flags to what the run does', () => {
    expect(selectionOf({})).toEqual({ kind: 'next' });
    expect(selectionOf({ step: '2' })).toEqual({ kind: 'step', n: 2 });
    expect(selectionOf({ through: '5' })).toEqual({ kind: 'through', n: 5 });
    expect(selectionOf({ rollback: '1' })).toEqual({ kind: 'rollback', n: 1 });
  });

  it.each([
    [['--step', '6'], /--step: expected a step number from 1 to 5, got "6"/],
    [['--step', 'two'], /--step: expected a step number/],
    [['--rollback', '5'], /from 1 to 4.*cannot be restored/],
    [['--step', '1', '--through', '3'], /--step and --through cannot be used together/],
  ])('%j exits 1 with a clear message', async (argv, message) => {
    const { exitCode, out } = await run(['-i', inventory(GOOD), ...argv]);
    expect(exitCode).toBe(1);
    expect(out).toMatch(message);
    expect(out).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('missing or wrong switchover vars exit 1, naming the key', async () => {
    process.env.SWITCHOVER_CLI_TOKEN = 'glpat-cli-test-token';
    const { exitCode, out } = await run(['-i', inventory(GOOD.replace('trial_fetcher = "dbnomics-fetchers/ameco-fetcher"\n', 'trial_fetcher = "ameco"\n'))]);
    expect(exitCode).toBe(1);
    expect(out).toMatch(/inv\.toml: .*local.*role switchover: switchover\.trial_fetcher: expected a project path like "group\/project"/);
  });

  it('--list-tasks shows the steps each flag selects, without contacting GitLab', async () => {
    const inv = inventory(GOOD);
    expect((await run(['-i', inv, '--list-tasks'])).out).toContain('[switchover] gitlab:switchover/next-step');
    const through = (await run(['-i', inv, '--list-tasks', '--through', '3'])).out;
    expect(through.match(/gitlab:switchover\/step-\d/g)).toEqual(['gitlab:switchover/step-1', 'gitlab:switchover/step-2', 'gitlab:switchover/step-3']);
    const rollback = (await run(['-i', inv, '--list-tasks', '--rollback', '2'])).out;
    expect(rollback.match(/gitlab:switchover\/rollback-\d/g)).toEqual(['gitlab:switchover/rollback-4', 'gitlab:switchover/rollback-3', 'gitlab:switchover/rollback-2']);
  });
});
