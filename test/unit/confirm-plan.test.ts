// --confirm's plan record and comparison (lib/engine/confirm.ts), runHost's
// expectedPlan (plan again before changing anything; drift changes nothing),
// and the flags. Resources run for real with the local shell in a temp dir.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCli } from '../../lib/cli.js';
import { comparePlans, describeDifference, hasChanges, planOf, type HostPlan } from '../../lib/engine/confirm.js';
import type { HostResult, TaskResult } from '../../lib/engine/report-types.js';
import { runHost, type HostRunOptions, type RoleRun } from '../../lib/engine/run.js';
import { defineRole, type Resource } from '../../lib/engine/types.js';
import { UserError } from '../../lib/errors.js';
import { command } from '../../lib/resources/command.js';
import { file } from '../../lib/resources/file.js';
import { ConsoleReporter } from '../../lib/report/console.js';
import { LocalRemote, currentUser, tempDir } from './helpers/localRemote.js';

const me = currentUser();
const task = (resource: string, status: TaskResult['status'], summary?: string, diff?: TaskResult['diff']): TaskResult => ({ role: 'r', resource, status, summary, diff, durationMs: 7 });

describe('comparePlans', () => {
  const shown: HostPlan = planOf([
    task('file:/a', 'changed', 'content', { path: '/a', before: 'old\n', after: 'new\n' }),
    task('file:/b', 'ok'),
    task('handler:reload', 'changed', 'would run'),
  ]);

  it('the same plan, timings aside: no difference', () => {
    const again = planOf([
      task('file:/a', 'changed', 'content', { path: '/a', before: 'old\n', after: 'new\n' }),
      { ...task('file:/b', 'ok'), durationMs: 900 },
      task('handler:reload', 'changed', 'would run'),
    ]);
    expect(comparePlans(shown, again)).toEqual([]);
    expect(shown[0]).not.toHaveProperty('durationMs');
  });

  it('the same summary over another diff (the file was edited meanwhile) is a difference', () => {
    const again = planOf([task('file:/a', 'changed', 'content', { path: '/a', before: 'edited\n', after: 'new\n' }), task('file:/b', 'ok'), task('handler:reload', 'changed', 'would run')]);
    const d = comparePlans(shown, again);
    expect(d.map((x) => x.resource)).toEqual(['file:/a']);
    expect(describeDifference(d[0])).toBe('file:/a: would change (content), with a different diff than shown');
  });

  it('a resource that needs no change now, or needs one now, or fails now', () => {
    const again = planOf([task('file:/a', 'ok'), task('file:/b', 'changed', 'mode 0600 -> 0644'), { ...task('handler:reload', 'failed'), error: 'boom' }]);
    expect(comparePlans(shown, again).map(describeDifference)).toEqual([
      'file:/a: shown would change (content), now no change',
      'file:/b: shown no change, now would change (mode 0600 -> 0644)',
      'handler:reload: shown would change (would run), now failed (boom)',
    ]);
  });

  it('resources gone, added, or in another order', () => {
    expect(comparePlans(shown, shown.slice(0, 2)).map(describeDifference)).toEqual(['handler:reload: shown would change (would run), now not in the plan']);
    expect(comparePlans(shown, [...shown, ...planOf([task('file:/c', 'changed', 'create')])]).map(describeDifference)).toEqual(['file:/c: shown not in the plan, now would change (create)']);
    expect(comparePlans(shown, [shown[1], shown[0], shown[2]]).map((d) => d.resource)).toEqual(['file:/a', 'file:/b']);
  });

  it('hasChanges: only a changed task counts', () => {
    expect(hasChanges(shown)).toBe(true);
    expect(hasChanges(planOf([task('file:/b', 'ok'), task('x', 'skipped', 'only if y changed')]))).toBe(false);
  });
});

describe('runHost with expectedPlan', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  const OPTS: HostRunOptions = { check: false, wantDiff: false, tags: [], skipTags: [] };
  const role = (resources: Resource[]): RoleRun => ({ role: defineRole({ name: 'r', tasks: () => ({ resources }) }), vars: {} });
  /** a file, and a command that reads it (`after`): in check mode it is not planned while the file would change */
  const roles = () => {
    const conf = file({ path: join(dir, 'app.conf'), content: 'port=80\n', ...me });
    const marker = join(dir, 'started');
    return [role([conf, command({ name: 'start', run: `cat ${join(dir, 'app.conf')} > ${marker}`, creates: marker, after: conf })])];
  };
  const check = async () => runHost('h', async () => new LocalRemote(), roles(), { ...OPTS, check: true, wantDiff: true });

  it('the plan is the same: it is applied, including what the check run could only skip', async () => {
    writeFileSync(join(dir, 'app.conf'), 'port=8080\n');
    const shown = await check();
    expect(shown.tasks.map((t) => `${t.status} ${t.resource}`)).toEqual([`changed file:${join(dir, 'app.conf')}`, 'skipped command:start']);
    const s = new LocalRemote();
    const applied = await runHost('h', async () => s, roles(), { ...OPTS, expectedPlan: planOf(shown.tasks) });
    expect(applied.drift).toBeUndefined();
    expect(applied.tasks.map((t) => `${t.status} ${t.resource}`)).toEqual([`changed file:${join(dir, 'app.conf')}`, 'changed command:start']);
    expect(readFileSync(join(dir, 'started'), 'utf8')).toBe('port=80\n');
  });

  it('the host changed since the plan was shown: nothing is changed, the new plan comes back as drift', async () => {
    writeFileSync(join(dir, 'app.conf'), 'port=8080\n');
    const shown = await check();
    writeFileSync(join(dir, 'app.conf'), 'port=9090\n');
    const s = new LocalRemote();
    const r = await runHost('h', async () => s, roles(), { ...OPTS, expectedPlan: planOf(shown.tasks) });
    expect(r.status).toBe('ok');
    expect(r.tasks).toEqual([]);
    expect(r.counts.changed).toBe(0);
    expect(r.drift?.differences.map((d) => d.resource)).toEqual([`file:${join(dir, 'app.conf')}`]);
    expect(r.drift?.plan[0].diff?.before).toBe('port=9090\n');
    expect(readFileSync(join(dir, 'app.conf'), 'utf8')).toBe('port=9090\n');
    // only reads: facts, one probe batch, the file's content for its diff; nothing written
    expect(s.roundTrips).toBe(3);
    expect(readdirSync(dir)).toEqual(['app.conf']);

    // the new plan, approved, is applied
    const again = await runHost('h', async () => new LocalRemote(), roles(), { ...OPTS, expectedPlan: r.drift!.plan });
    expect(again.drift).toBeUndefined();
    expect(readFileSync(join(dir, 'app.conf'), 'utf8')).toBe('port=80\n');
  });

  it('someone made the change already: drift, with a plan that changes nothing', async () => {
    const shown = await check();
    writeFileSync(join(dir, 'app.conf'), 'port=80\n', { mode: 0o644 });
    const r = await runHost('h', async () => new LocalRemote(), roles(), { ...OPTS, expectedPlan: planOf(shown.tasks) });
    expect(r.drift).toBeDefined();
    expect(hasChanges(r.drift!.plan.filter((t) => t.resource.startsWith('file:')))).toBe(false);
  });
});

describe('--confirm flag', () => {
  it('parses, and refuses what it cannot go with', () => {
    expect(parseCli(['--confirm']).confirm).toBe(true);
    for (const other of ['--check', '-C', '--list-tasks', '--render=out']) {
      expect(() => parseCli(['--confirm', other])).toThrow(UserError);
    }
    expect(() => parseCli(['--confirm', '--check'])).toThrow('--confirm applies what it shows; it cannot go with --check (see --help)');
  });
});

describe('console: a drifted host', () => {
  it('says that nothing was changed and what differs, in the live lines and the recap', () => {
    let out = '';
    const reporter = new ConsoleReporter({ showDiffs: true, verbose: 0, colour: false, check: true, write: (t) => void (out += t) });
    reporter.drifted('h1', ['file:/a: would change (content), with a different diff than shown']);
    const result: HostResult = {
      status: 'ok',
      counts: { ok: 0, changed: 0, failed: 0, skipped: 0 },
      remoteCommands: 3,
      apiRequests: 0,
      tasks: [],
      durationMs: 5,
      phases: { connectMs: 0, factsMs: 0, convergeMs: 0, probeMs: 0 },
      drift: { plan: [], differences: [] },
    };
    reporter.recap(new Map([['h1', result]]), 5);
    expect(out).toBe(
      'drifted h1: its state changed since its plan was shown; nothing was changed on it\n' +
        '  file:/a: would change (content), with a different diff than shown\n' +
        '\nRECAP (0.01 s)\n' +
        'h1   : ok=0 changed=0 failed=0 skipped=0 unreachable=0 remote=3 5 ms\n' +
        '       drifted: nothing was changed; its state changed since its plan was shown\n',
    );
  });
});
