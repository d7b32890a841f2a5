// Declarations checked before connecting: every selected host's roles expand
// with assumed facts (expandAll), tags decide which roles need valid vars at
// all, --list-tasks honours tags, unknown tags are errors, --list-tags.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { isUserError } from '../../lib/errors.js';
import { expandAll, type ExpandTarget } from '../../lib/engine/expand.js';
import { defineRole } from '../../lib/engine/types.js';
import { runPlaybook, type PlaybookDef } from '../../lib/playbook.js';
import { cron, file } from '../../lib/resources/index.js';
import runner from '../../playbooks/runner.js';

const dir = mkdtempSync(join(tmpdir(), 'rigger-expand-'));
function inventory(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function run(def: PlaybookDef, argv: string[]) {
  let out = '';
  const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (out += t), colour: false };
  const { exitCode } = await runPlaybook(def, argv, io);
  return { exitCode, out };
}

// A static runner host (in runners and static_runners) without any gitlab-runner settings,
// and a docker-cleanup schedule that the role's schema accepts but the cron factory refuses.
const RUNNER_INV = `[hosts]
eros = { host = "192.0.2.7", groups = ["static_runners"] }
[groups.runners]
children = ["static_runners"]
[groups.static_runners]
[host_vars.eros]
timezone = "Europe/Paris"
docker_cleanup_schedule = "every 15 minutes"
`;

describe('the runner playbook, offline', () => {
  const inv = inventory('runner.toml', RUNNER_INV);

  it('refuses to run, before connecting, when a factory refuses a value the role schema let through', async () => {
    const r = await run(runner, ['-i', inv, '--check']);
    expect(r.exitCode, r.out).toBe(1);
    expect(r.out).toContain(`${inv}: host eros, role docker-cleanup: cron docker-cleanup: schedule "every 15 minutes" is not five cron fields or an @keyword`);
    expect(r.out).toContain(`${inv}: host eros, role gitlab-runner: gitlab_runner_version:`);
    expect(r.out).not.toContain('PLAYBOOK');
  });

  it('--tags common,ssh-hardening needs no valid vars for the roles it leaves out', async () => {
    const r = await run(runner, ['-i', inv, '--list-tasks', '--tags', 'common,ssh-hardening']);
    expect(r.exitCode, r.out).toBe(0);
    expect(r.out).toContain('[common] apt:');
    expect(r.out).toContain('[ssh-hardening] template:/etc/ssh/sshd_config.d/00-rigger-hardening.conf');
    expect(r.out).not.toMatch(/\[gitlab-runner\]|\[docker-cleanup\]/);
  });

  it('--skip-tags gitlab-runner,docker-cleanup does the same', async () => {
    const r = await run(runner, ['-i', inv, '--list-tasks', '--skip-tags', 'gitlab-runner,docker-cleanup']);
    expect(r.exitCode, r.out).toBe(0);
    expect(r.out).toContain('[common]');
    expect(r.out).not.toMatch(/\[gitlab-runner\]|\[docker-cleanup\]/);
  });

  it('--skip-tags gitlab-runner alone still reports the docker-cleanup problem (that role is not left out)', async () => {
    const r = await run(runner, ['-i', inv, '--list-tasks', '--skip-tags', 'gitlab-runner']);
    expect(r.exitCode).toBe(1);
    expect(r.out).toContain('role docker-cleanup: cron docker-cleanup');
    expect(r.out).not.toContain('role gitlab-runner');
  });

  it('--list-tasks honours --tags on a resource tag: only the matching resources, and their role handlers', async () => {
    const r = await run(runner, ['-i', inv, '--list-tasks', '--tags', 'timezone']);
    expect(r.exitCode, r.out).toBe(0);
    const tasks = r.out.split('\n').filter((l) => l.startsWith('  ['));
    expect(tasks.length).toBeGreaterThan(0);
    for (const l of tasks.filter((t) => !t.includes('handler:'))) expect(l).toMatch(/tags: .*\btimezone\b/);
    expect(r.out).toContain('--tags timezone');
  });

  it('an unknown tag is an error that lists the known ones', async () => {
    const r = await run(runner, ['-i', inv, '--list-tasks', '--tags', 'sshd,timezon']);
    expect(r.exitCode).toBe(1);
    expect(r.out).toMatch(/^error: unknown tag "timezon"; the selected hosts know: .*\bcommon\b.*\bsshd\b.*\btimezone\b/);
  });

  it('--list-tags prints every role’s tags, and says which roles it could not expand', async () => {
    const r = await run(runner, ['-i', inv, '--list-tags']);
    expect(r.exitCode, r.out).toBe(0);
    expect(r.out).toMatch(/^common: common, packages, timezone, unattended-upgrades, users$/m);
    expect(r.out).toMatch(/^ssh-hardening: ssh-hardening, sshd$/m);
    expect(r.out).toContain('not expanded');
    expect(r.out).toContain('role docker-cleanup: cron docker-cleanup');
  });
});

describe('expandAll (what --render and the run both build on)', () => {
  const web = defineRole({
    name: 'web',
    vars: z.looseObject({ port: z.number().default(80), schedule: z.string().default('@daily') }),
    tasks: ({ vars, host, facts }) => ({
      resources: [file({ path: `/etc/web-${host}.conf`, content: `port=${vars.port} on ${facts.os.codename} as ${facts.loginUser}\n`, tags: ['config'] }), cron({ name: 'web', schedule: vars.schedule, command: 'true' })],
    }),
  });
  const targets = (vars: Record<string, Record<string, unknown>>): ExpandTarget[] =>
    Object.entries(vars).map(([host, v]) => ({ host, vars: v, loginUser: 'deploy', roles: [web] }));

  it('expands every host with assumed facts, vars validated and defaulted, tags computed once', async () => {
    const { hosts, tagsByRole } = await expandAll(targets({ a: {}, b: { port: 8080 } }), { only: [], skip: [] }, { source: 'inv.toml' });
    expect([...hosts.keys()]).toEqual(['a', 'b']);
    const b = hosts.get('b')!;
    expect(b.roles.map((r) => r.vars.port)).toEqual([8080]);
    expect(b.items.map((it) => [it.resource.id, it.tags, it.selected, it.roleEnd])).toEqual([
      ['file:/etc/web-b.conf', ['web', 'config'], true, false],
      ['cron:web', ['web'], true, true],
    ]);
    const rendered = b.items[0].resource as unknown as { probe: string };
    expect(rendered.probe).toContain('/etc/web-b.conf');
    expect([...tagsByRole.get('web')!]).toEqual(['web', 'config']);
  });

  it('collects every problem of every host in one UserError', async () => {
    const err = await expandAll(targets({ a: { port: 'x' }, b: { schedule: 'often' }, c: {} }), { only: [], skip: [] }, { source: 'inv.toml' }).catch((e) => e);
    expect(isUserError(err)).toBe(true);
    expect(err.message.split('\n').slice(1).map((l: string) => l.trim())).toEqual([
      'inv.toml: host a, role web: port: Invalid input: expected number, received string',
      'inv.toml: host b, role web: cron web: schedule "often" is not five cron fields or an @keyword',
    ]);
  });

  it('--tags selects resources; a filter that leaves the role out drops it (and its problems)', async () => {
    const only = await expandAll(targets({ a: {} }), { only: ['config'], skip: [] }, { source: 'i' });
    expect(only.hosts.get('a')!.items.map((it) => it.selected)).toEqual([true, false]);
    const out = await expandAll(targets({ a: { port: 'x' } }), { only: [], skip: ['web'] }, { source: 'i' });
    expect(out.hosts.get('a')!.roles).toEqual([]);
  });
});
