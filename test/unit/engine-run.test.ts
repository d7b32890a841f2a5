import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runHost, type HostRunOptions, type RoleRun, type Session } from '../../lib/engine/run.js';
import { ASSUMED_FACTS, expandRoles } from '../../lib/engine/expand.js';
import { defineRole, type Change, type Handler, type HostContext, type Resource, type ShellResource } from '../../lib/engine/types.js';
import type { TaskResult } from '../../lib/engine/report-types.js';
import { command } from '../../lib/resources/command.js';
import { file } from '../../lib/resources/file.js';
import { HostKeyError, UnreachableError } from '../../lib/transport/ssh.js';
import { FakeRemote } from './helpers/fakeRemote.js';
import { LocalRemote, currentUser, tempDir } from './helpers/localRemote.js';

const me = currentUser();
const OPTS: HostRunOptions = { check: false, wantDiff: false, tags: [], skipTags: [] };

/** A resource whose state is a boolean in memory: probe prints it, apply sets it. */
interface Toggle extends ShellResource {
  planned: number;
  applied: number;
  probes: number;
}
function toggle(id: string, state: { on: boolean }, extra: { notify?: string[]; tags?: string[]; failOnApply?: boolean; failOnPlan?: boolean } = {}): Toggle {
  const r: Toggle = {
    id: `toggle:${id}`,
    tags: extra.tags ?? [],
    notify: extra.notify ?? [],
    planned: 0,
    applied: 0,
    probes: 0,
    get probe() {
      r.probes++;
      return state.on ? 'echo on' : 'echo off';
    },
    plan(current) {
      r.planned++;
      if (extra.failOnPlan) throw new Error(`cannot plan ${id}`);
      return current.stdout.trim() === 'on' ? null : { summary: `turn ${id} on` };
    },
    async apply(_c: Change, ctx: HostContext) {
      r.applied++;
      if (extra.failOnApply) throw new Error(`apply of ${id} failed`);
      await ctx.remote.run('true');
      state.on = true;
    },
  };
  return r;
}

function handler(name: string, log: string[], fail = false): Handler {
  return {
    name,
    async run(ctx) {
      log.push(name);
      await ctx.remote.run('true');
      if (fail) throw new Error(`${name} failed`);
    },
  };
}

const role = (name: string, resources: unknown[], handlers: Handler[] = []): RoleRun => ({
  role: defineRole({ name, tasks: () => ({ resources: resources as Resource[], handlers }) }),
  vars: {},
});

function session(): LocalRemote {
  return new LocalRemote();
}

const brief = (tasks: TaskResult[]) => tasks.map((t) => `${t.status} ${t.resource}${t.summary ? ` (${t.summary})` : ''}`);

describe('runHost: round trips', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  const files = (n: number) => Array.from({ length: n }, (_, i) => file({ path: join(dir, `f${i}.conf`), content: `line ${i}\n`, ...me }));

  for (const n of [1, 30]) {
    it(`a no-op run of ${n} resource(s) costs exactly 2 round trips (facts + one batched probe)`, async () => {
      for (let i = 0; i < n; i++) writeFileSync(join(dir, `f${i}.conf`), `line ${i}\n`, { mode: 0o644 });
      const s = session();
      const result = await runHost('h', async () => s, [role('conf', files(n))], OPTS);
      expect(result.status).toBe('ok');
      expect(result.counts).toEqual({ ok: n, changed: 0, failed: 0, skipped: 0 });
      expect(result.remoteCommands).toBe(2);
      expect(s.roundTrips).toBe(2);
      expect(s.closed).toBe(true);
      expect(result.tasks.every((t) => t.status === 'ok' && t.role === 'conf')).toBe(true);
    });
  }

  it('after each change probes a fresh batch, halving its size (O(N) probes, not N²/2), and converges to 2 round trips', async () => {
    const s1 = session();
    const first = await runHost('h', async () => s1, [role('conf', files(30))], OPTS);
    expect(first.status).toBe('changed');
    expect(first.counts.changed).toBe(30);
    // facts + (probe + apply) per resource: every change invalidates the batch
    expect(first.remoteCommands).toBe(1 + 30 * 2);
    const probeScripts = s1.scripts.filter((x) => x.includes('__RIGGER_PROBE_'));
    expect(probeScripts).toHaveLength(30);
    // 30, then half the batch a change came in: 15, 8, 4, 2, 1, 1, ...
    const sizes = probeScripts.map((p) => p.match(/printf '\\n__RIGGER_PROBE_\w+ \d+\\n'/g)!.length);
    expect(sizes).toEqual([30, 15, 8, 4, 2, ...Array(25).fill(1)]);
    expect(sizes.reduce((a, b) => a + b)).toBeLessThanOrEqual(3 * 30);
    for (let i = 0; i < 30; i++) expect(readFileSync(join(dir, `f${i}.conf`), 'utf8')).toBe(`line ${i}\n`);

    const s2 = session();
    const second = await runHost('h', async () => s2, [role('conf', files(30))], OPTS);
    expect(second.status).toBe('ok');
    expect(second.remoteCommands).toBe(2);
  }, 30_000);

  it('probe work of a first run grows linearly: 400 new resources cost < 3 probes each', async () => {
    const states = Array.from({ length: 400 }, () => ({ on: false }));
    const toggles = states.map((st, i) => toggle(`t${i}`, st));
    const local = session();
    const result = await runHost('h', async () => local, [role('many', toggles)], OPTS);
    expect(result.counts.changed).toBe(400);
    const probed = toggles.reduce((n, t) => n + t.probes, 0);
    // each toggle's probe text is read once per batch it is in: 400 + 200 + 100 + ... + the single ones
    expect(probed).toBeLessThan(3 * 400);
    expect(result.remoteCommands).toBe(1 + 2 * 400);
  }, 60_000);

  it('a change after a long quiet stretch re-probes half the batch, then doubles', async () => {
    const states = Array.from({ length: 20 }, (_, i) => ({ on: !(i === 0 || i === 12) }));
    const s = session();
    const result = await runHost('h', async () => s, [role('r', states.map((st, i) => toggle(`t${i}`, st)))], OPTS);
    expect(result.counts).toEqual({ ok: 18, changed: 2, failed: 0, skipped: 0 });
    const sizes = s.scripts.filter((x) => x.includes('__RIGGER_PROBE_')).map((p) => p.match(/__RIGGER_PROBE_\w+ \d+\\n'/g)!.length);
    // all 20; t0 changes -> 10 (t1..t10), used up -> 20 (t11..t19: 9 left); t12 changes -> 5 (t13..t17), used up -> 2 (t18, t19)
    expect(sizes).toEqual([20, 10, 9, 5, 2]);
  });

  it('a later resource sees the effect of an earlier change (fresh probe, not the stale batch)', async () => {
    const marker = join(dir, 'installed');
    const s = session();
    const result = await runHost(
      'h',
      async () => s,
      [
        role('install', [
          file({ path: marker, content: 'yes\n', ...me }),
          command({ name: 'install once', run: `echo ran >> ${join(dir, 'ran')}`, creates: marker }),
        ]),
      ],
      OPTS,
    );
    expect(brief(result.tasks)).toEqual([`changed file:${marker} (create (4 bytes, mode 644))`, 'ok command:install once']);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
  });

  it('only changed resources cost extra round trips', async () => {
    const states = Array.from({ length: 10 }, (_, i) => ({ on: i !== 4 }));
    const s = session();
    const result = await runHost('h', async () => s, [role('r', states.map((st, i) => toggle(`t${i}`, st)))], OPTS);
    // facts, probe(all 10), apply t4, probe(t5..t9)
    expect(result.remoteCommands).toBe(4);
    expect(result.counts).toEqual({ ok: 9, changed: 1, failed: 0, skipped: 0 });
  });
});

describe('runHost: check mode', () => {
  it('never applies, reports changes and handlers as "would run", and costs 2 round trips', async () => {
    const log: string[] = [];
    const a = toggle('a', { on: false }, { notify: ['reload a'] });
    const b = toggle('b', { on: false }, { notify: ['reload a'] });
    const s = session();
    const result = await runHost('h', async () => s, [role('r', [a, b], [handler('reload a', log)])], { ...OPTS, check: true });
    expect(a.applied + b.applied).toBe(0);
    expect(log).toEqual([]);
    expect(brief(result.tasks)).toEqual(['changed toggle:a (turn a on)', 'changed toggle:b (turn b on)', 'changed handler:reload a (would run)']);
    expect(result.status).toBe('changed');
    expect(result.remoteCommands).toBe(2);
  });

  it('does not touch files in check mode', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'x.conf');
      const result = await runHost('h', async () => session(), [role('r', [file({ path, content: 'x', ...me })])], { ...OPTS, check: true, wantDiff: true });
      expect(existsSync(path)).toBe(false);
      expect(result.tasks[0]).toMatchObject({ status: 'changed', diff: { path, before: '', after: 'x' } });
    } finally {
      cleanup();
    }
  });
});

describe('runHost: handlers', () => {
  it('run once after their role, before the next role, only when notified by a change', async () => {
    const log: string[] = [];
    const r1 = role(
      'ssh',
      [toggle('a', { on: false }, { notify: ['reload ssh'] }), toggle('b', { on: false }, { notify: ['reload ssh'] }), toggle('c', { on: true }, { notify: ['restart other'] })],
      [handler('reload ssh', log), handler('restart other', log)],
    );
    const r2 = role('docker', [toggle('d', { on: true }, { notify: ['restart docker'] })], [handler('restart docker', log)]);
    const result = await runHost('h', async () => session(), [r1, r2], OPTS);
    expect(log).toEqual(['reload ssh']);
    expect(brief(result.tasks)).toEqual(['changed toggle:a (turn a on)', 'changed toggle:b (turn b on)', 'ok toggle:c', 'changed handler:reload ssh (ran)', 'ok toggle:d']);
    expect(result.tasks.find((t) => t.resource === 'handler:reload ssh')?.role).toBe('ssh');
  });

  it('reprobes after a handler ran', async () => {
    const log: string[] = [];
    const s = session();
    await runHost(
      'h',
      async () => s,
      [role('one', [toggle('a', { on: false }, { notify: ['h1'] })], [handler('h1', log)]), role('two', [toggle('b', { on: true })])],
      OPTS,
    );
    // facts, probe(a,b), apply a, handler h1, probe(b)
    expect(s.roundTrips).toBe(5);
  });

  it('still run after a later failure in the same role, and the host stops there', async () => {
    const log: string[] = [];
    const later = toggle('later-role', { on: false });
    const result = await runHost(
      'h',
      async () => session(),
      [
        role('ssh', [toggle('a', { on: false }, { notify: ['reload ssh'] }), toggle('b', { on: false }, { failOnApply: true }), toggle('c', { on: false })], [handler('reload ssh', log)]),
        role('next', [later]),
      ],
      OPTS,
    );
    expect(log).toEqual(['reload ssh']);
    expect(brief(result.tasks)).toEqual(['changed toggle:a (turn a on)', 'failed toggle:b', 'changed handler:reload ssh (ran)']);
    expect(result.tasks[1].error).toBe('apply of b failed');
    expect(result.status).toBe('failed');
    expect(result.counts).toEqual({ ok: 0, changed: 2, failed: 1, skipped: 0 });
    expect(later.planned).toBe(0);
  });

  it('a failing handler fails the host and stops the run', async () => {
    const log: string[] = [];
    const next = toggle('n', { on: false });
    const result = await runHost(
      'h',
      async () => session(),
      [role('ssh', [toggle('a', { on: false }, { notify: ['reload ssh'] })], [handler('reload ssh', log, true)]), role('next', [next])],
      OPTS,
    );
    expect(result.status).toBe('failed');
    expect(result.tasks.at(-1)).toMatchObject({ resource: 'handler:reload ssh', status: 'failed', error: 'reload ssh failed' });
    expect(next.planned).toBe(0);
  });

  it('a role that notifies an unknown handler fails the host before anything runs', async () => {
    const a = toggle('a', { on: false }, { notify: ['relaod ssh'] });
    const s = session();
    const result = await runHost('h', async () => s, [role('ssh', [a], [handler('reload ssh', [])])], OPTS);
    expect(result.status).toBe('failed');
    expect(result.error).toBe('role ssh: toggle:a notifies unknown handler "relaod ssh"');
    expect(result.counts.failed).toBe(1);
    expect(a.planned).toBe(0);
    expect(s.closed).toBe(true);
    expect(s.roundTrips).toBe(1);
  });
});

describe('runHost: failures and connection problems', () => {
  it('a plan that throws fails that task and stops the host', async () => {
    const after = toggle('after', { on: false });
    const result = await runHost('h', async () => session(), [role('r', [toggle('x', { on: false }, { failOnPlan: true }), after])], OPTS);
    expect(result.status).toBe('failed');
    expect(result.tasks).toHaveLength(1);
    expect(result.tasks[0]).toMatchObject({ resource: 'toggle:x', status: 'failed', error: 'cannot plan x' });
    expect(after.planned).toBe(0);
  });

  it('an unreachable host gets status unreachable and its error', async () => {
    const result = await runHost(
      'h',
      async () => {
        throw new UnreachableError('cannot connect to root@h:22: connect ECONNREFUSED');
      },
      [role('r', [toggle('a', { on: false })])],
      OPTS,
    );
    expect(result.status).toBe('unreachable');
    expect(result.error).toBe('cannot connect to root@h:22: connect ECONNREFUSED');
    expect(result.tasks).toEqual([]);
    expect(result.remoteCommands).toBe(0);
  });

  it('a changed host key fails the host rather than marking it unreachable', async () => {
    const result = await runHost('h', async () => Promise.reject(new HostKeyError('host key for h:22 has CHANGED')), [], OPTS);
    expect(result.status).toBe('failed');
    expect(result.error).toContain('CHANGED');
  });

  it('a failing facts command fails the host and closes the session', async () => {
    const s = new FakeRemote(() => ({ code: 127, stderr: 'sh: 1: awk: not found' }));
    const result = await runHost('h', async () => s as Session, [role('r', [toggle('a', { on: false })])], OPTS);
    expect(result.status).toBe('failed');
    expect(result.error).toContain('awk: not found');
    expect(s.closed).toBe(true);
  });

  it('reports each task through onTask as it happens', async () => {
    const seen: string[] = [];
    await runHost('h1', async () => session(), [role('r', [toggle('a', { on: false }), toggle('b', { on: true })])], {
      ...OPTS,
      onTask: (host, t) => seen.push(`${host} ${t.status} ${t.resource}`),
    });
    expect(seen).toEqual(['h1 changed toggle:a', 'h1 ok toggle:b']);
  });

  it('passes facts and vars to roles and flattens nested resource lists', async () => {
    let gotFacts: unknown;
    const rr: RoleRun = {
      role: defineRole({
        name: 'nested',
        tasks: ({ facts, vars, host }) => {
          gotFacts = { facts, vars, host };
          return { resources: [[toggle('a', { on: true })], [[toggle('b', { on: true })]]] as unknown as Resource[] };
        },
      }),
      vars: { answer: 42 },
    };
    const result = await runHost('web1', async () => session(), [rr], OPTS);
    expect(brief(result.tasks)).toEqual(['ok toggle:a', 'ok toggle:b']);
    expect(gotFacts).toMatchObject({ vars: { answer: 42 }, host: 'web1', facts: { loginUser: me.owner } });
  });
});

describe('runHost: tags', () => {
  const roles = () => [role('ssh', [toggle('a', { on: false }, { tags: ['config'] }), toggle('b', { on: false })]), role('docker', [toggle('c', { on: false }, { tags: ['config'] })])];

  it('tags every resource with its role name, once, without changing the resource', async () => {
    const a = toggle('a', { on: true }, { tags: ['config'] });
    const b = toggle('b', { on: true }, { tags: ['ssh'] });
    const rs = [role('ssh', [a, b])];
    await runHost('h', async () => session(), rs, OPTS);
    const items = await expandRoles(rs, { host: 'h', facts: ASSUMED_FACTS }, { only: [], skip: [] });
    expect(items.map((it) => it.tags)).toEqual([['ssh', 'config'], ['ssh']]);
    expect(a.tags).toEqual(['config']);
    expect(b.tags).toEqual(['ssh']);
  });

  it('--tags runs only matching resources (role name or own tag) and skips the rest without probing them', async () => {
    const r1 = await runHost('h', async () => session(), roles(), { ...OPTS, check: true, tags: ['docker'] });
    expect(brief(r1.tasks)).toEqual(['skipped toggle:a', 'skipped toggle:b', 'changed toggle:c (turn c on)']);
    expect(r1.counts).toEqual({ ok: 0, changed: 1, failed: 0, skipped: 2 });
    const s = session();
    const r2 = await runHost('h', async () => s, roles(), { ...OPTS, check: true, tags: ['config'] });
    expect(brief(r2.tasks).map((t) => t.split(' ')[0])).toEqual(['changed', 'skipped', 'changed']);
    const probe = s.scripts.find((x) => x.includes('__RIGGER_PROBE_'))!;
    expect(probe.match(/__RIGGER_PROBE_\w+ \d+\\n'/g)).toHaveLength(2);
  });

  it('--skip-tags skips matching resources, and wins over --tags', async () => {
    const r1 = await runHost('h', async () => session(), roles(), { ...OPTS, check: true, skipTags: ['config'] });
    expect(brief(r1.tasks).map((t) => t.split(' ')[0])).toEqual(['skipped', 'changed', 'skipped']);
    const r2 = await runHost('h', async () => session(), roles(), { ...OPTS, check: true, tags: ['ssh'], skipTags: ['config'] });
    expect(brief(r2.tasks).map((t) => t.split(' ')[0])).toEqual(['skipped', 'changed', 'skipped']);
  });

  it('handlers still run when the last resource of the role is skipped', async () => {
    const log: string[] = [];
    const result = await runHost(
      'h',
      async () => session(),
      [role('ssh', [toggle('a', { on: false }, { notify: ['reload'], tags: ['config'] }), toggle('b', { on: false })], [handler('reload', log)]), role('other', [toggle('c', { on: true })])],
      { ...OPTS, tags: ['config'] },
    );
    expect(log).toEqual(['reload']);
    expect(brief(result.tasks)).toEqual(['changed toggle:a (turn a on)', 'skipped toggle:b', 'changed handler:reload (ran)', 'skipped toggle:c']);
  });

  it('a skipped resource does not notify, and a run with everything skipped only gathers facts', async () => {
    const log: string[] = [];
    const s = session();
    const result = await runHost('h', async () => s, [role('ssh', [toggle('a', { on: false }, { notify: ['reload'] })], [handler('reload', log)])], { ...OPTS, skipTags: ['ssh'] });
    expect(log).toEqual([]);
    expect(result.status).toBe('ok');
    expect(s.roundTrips).toBe(1);
  });
});
