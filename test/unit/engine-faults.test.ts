// Faults a host run must survive, on a real local /bin/sh through the real
// persistent shell: commands that run too long, SIGINT/SIGTERM, temp files a
// killed run left; and errors recognised by their brand, not their class.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostKeyError, UnreachableError, errorKind, isHostKeyError } from '../../lib/errors.js';
import { Interrupt } from '../../lib/engine/interrupt.js';
import { managedDirs, sweepScript } from '../../lib/engine/leftovers.js';
import { runHost, type HostRunOptions, type RoleRun } from '../../lib/engine/run.js';
import { defineRole, type Resource, type ShellResource } from '../../lib/engine/types.js';
import { command } from '../../lib/resources/command.js';
import { file } from '../../lib/resources/file.js';
import { LocalRemote, currentUser, tempDir } from './helpers/localRemote.js';
import { LocalShellSession } from './helpers/localShellSession.js';

const me = currentUser();
const OPTS: HostRunOptions = { check: false, wantDiff: false, tags: [], skipTags: [] };
const role = (name: string, resources: Resource[]): RoleRun => ({ role: defineRole({ name, tasks: () => ({ resources }) }), vars: {} });

/** Processes whose command line contains `needle` (the tests' own sleeps, by a unique duration). */
function running(needle: string): string[] {
  return execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(needle) && !l.includes('ps -eo'));
}

/** A resource that is never in its desired state and whose apply runs `script`. */
function always(id: string, script: string, timeout?: number): ShellResource {
  return { id, tags: [], notify: [], timeout, probe: 'true', plan: () => ({ summary: `run ${id}` }), apply: async (_c, ctx) => void (await ctx.remote.run(script)) };
}

let dir: string;
let cleanup: () => void;
let sessions: LocalShellSession[] = [];
const session = () => {
  const s = new LocalShellSession();
  sessions.push(s);
  return s;
};
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  for (const s of sessions) {
    s.channel.kill();
  }
  sessions = [];
  cleanup();
});

describe('a remote command that runs too long', () => {
  it('is killed after the resource’s own timeout, with what it started; the host fails with a clear message and stops there', async () => {
    const tag = `30${process.pid}.17`; // a unique duration, to find the process
    const after = always('after', 'true');
    const t0 = Date.now();
    const r = await runHost('h', async () => session(), [role('slow', [command({ name: 'hang', run: `sleep ${tag} & sleep ${tag}`, creates: '/nonexistent/x', timeout: 1 }), after])], OPTS);
    expect(Date.now() - t0).toBeLessThan(6000);
    expect(r.status).toBe('failed');
    expect(r.tasks.map((t) => `${t.status} ${t.resource}`)).toEqual(['failed command:hang']);
    expect(r.tasks[0].error).toMatch(/^timed out after 1 s; the command and everything it started were killed on the host/);
    await new Promise((res) => setTimeout(res, 200));
    expect(running(tag)).toEqual([]);
  });

  it('the run-wide timeout (--timeout / command_timeout) applies to resources without their own', async () => {
    const r = await runHost('h', async () => session(), [role('slow', [always('x', 'sleep 30')])], { ...OPTS, commandTimeoutMs: 300 });
    expect(r.tasks[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/^timed out after 0\.3 s/) });
  });

  it('a resource’s own timeout wins over the run-wide one', async () => {
    const r = await runHost('h', async () => session(), [role('slow', [always('x', 'sleep 0.5; true', 5)])], { ...OPTS, commandTimeoutMs: 100 });
    expect(r.status).toBe('changed');
  });

  it('removes the temp file the killed command left, in the directories the run manages', async () => {
    const tmp = join(dir, '.rigger-0123456789ab.tmp');
    const writer: ShellResource = { ...always(`file:${join(dir, 'big.bin')}`, `echo partial > ${tmp}; sleep 30`, 1) };
    const r = await runHost('h', async () => session(), [role('w', [writer])], OPTS);
    expect(r.tasks[0].error).toMatch(/timed out/);
    expect(existsSync(tmp)).toBe(false);
  });
});

describe('SIGINT/SIGTERM (the Interrupt of a run)', () => {
  it('no new resource starts; the running command is killed on the host after the grace; the host fails as interrupted', async () => {
    const tag = `30${process.pid}.23`;
    const interrupt = new Interrupt(() => {}, 300);
    const next = always('next', 'true');
    const s = session();
    setTimeout(() => interrupt.trigger('SIGTERM'), 300);
    const t0 = Date.now();
    const r = await runHost('h', async () => s, [role('r', [always('first', 'true'), always('long', `sleep ${tag}`), next])], { ...OPTS, signal: interrupt.signal, hurry: interrupt.hurry, interruptGraceMs: interrupt.graceMs });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.status).toBe('failed');
    expect(r.tasks.map((t) => `${t.status} ${t.resource}`)).toEqual(['changed first', 'failed long']);
    expect(r.tasks[1].error).toBe('interrupted by SIGTERM: the running command was stopped on the host');
    expect(r.error).toBe('interrupted by SIGTERM: the running command was stopped on the host');
    expect(running(tag)).toEqual([]);
    expect(interrupt.exitCode).toBe(143);
  });

  it('a command that ends within the grace finishes; what follows does not start', async () => {
    const interrupt = new Interrupt(() => {}, 3000);
    const marker = join(dir, 'finished');
    setTimeout(() => interrupt.trigger('SIGINT'), 200);
    const r = await runHost('h', async () => session(), [role('r', [always('short', `sleep 0.6; touch ${marker}`), always('next', `touch ${join(dir, 'next')}`)])], { ...OPTS, signal: interrupt.signal, interruptGraceMs: interrupt.graceMs });
    expect(existsSync(marker)).toBe(true);
    expect(existsSync(join(dir, 'next'))).toBe(false);
    expect(r.tasks.map((t) => `${t.status} ${t.resource}`)).toEqual(['changed short']);
    expect(r.error).toBe('interrupted by SIGINT: 1 resource(s) not run');
    expect(interrupt.exitCode).toBe(130);
  });

  it('a second signal kills the running command at once, whatever the grace', async () => {
    const interrupt = new Interrupt(() => {}, 60_000);
    setTimeout(() => interrupt.trigger('SIGINT'), 200);
    setTimeout(() => interrupt.trigger('SIGINT'), 400);
    const t0 = Date.now();
    const r = await runHost('h', async () => session(), [role('r', [always('long', 'sleep 300')])], { ...OPTS, signal: interrupt.signal, hurry: interrupt.hurry, interruptGraceMs: interrupt.graceMs });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.tasks[0].error).toMatch(/^interrupted by SIGINT/);
  });

  it('a host whose turn comes after the signal is not contacted', async () => {
    const interrupt = new Interrupt();
    interrupt.trigger('SIGTERM');
    let connected = false;
    const r = await runHost('later', async () => ((connected = true), session()), [role('r', [always('x', 'true')])], { ...OPTS, signal: interrupt.signal });
    expect(connected).toBe(false);
    expect(r).toMatchObject({ status: 'failed', error: 'SIGTERM before this host was started; nothing was done', tasks: [] });
  });
});

describe('temp files a killed run left', () => {
  const leftover = () => join(dir, '.rigger-00aa11bb22cc.tmp');
  const keep = ['.rigger-notours.tmp', '.rigger-00aa11bb22cc.tmp.bak', 'app.conf'];
  beforeEach(() => {
    writeFileSync(leftover(), 'complete but never renamed');
    for (const k of keep) writeFileSync(join(dir, k), 'x');
    mkdirSync(join(dir, '.rigger-ddeeff001122.tmp'));
  });

  it('the next apply run removes rigger’s own, only those, in the same round trip as the first probes', async () => {
    writeFileSync(join(dir, 'app.conf'), 'port=1\n', { mode: 0o644 });
    const s = new LocalRemote();
    const logs: string[] = [];
    const r = await runHost('h', async () => s, [role('conf', [file({ path: join(dir, 'app.conf'), content: 'port=1\n', ...me })])], { ...OPTS, onLog: (_h, m) => logs.push(m) });
    expect(r.status).toBe('ok');
    expect(r.remoteCommands).toBe(2);
    expect(readdirSync(dir).sort()).toEqual([...keep, '.rigger-ddeeff001122.tmp'].sort());
    expect(logs).toEqual([`removed ${leftover()}, a temp file left by an interrupted run`]);
  });

  it('check mode leaves them alone (it writes nothing)', async () => {
    await runHost('h', async () => new LocalRemote(), [role('conf', [file({ path: join(dir, 'app.conf'), content: 'port=2\n', ...me })])], { ...OPTS, check: true });
    expect(existsSync(leftover())).toBe(true);
  });

  it('directories come from the paths resources manage', () => {
    const rs = [file({ path: '/etc/ssh/sshd_config.d/a.conf', content: '' }), file({ path: '/etc/ssh/sshd_config.d/b.conf', content: '' }), command({ name: 'x', run: 'true', creates: '/tmp/x' }), always('service:ssh', 'true')];
    expect(managedDirs(rs)).toEqual(['/etc/ssh/sshd_config.d']);
    expect(sweepScript([])).toBe('');
    expect(sweepScript(["/srv/it's"])).toContain(`'/srv/it'\\''s'`);
  });
});

describe('errors are recognised by their brand, not their class', () => {
  it('a HostKeyError whose class a bundler renamed still fails the host (it is not "unreachable")', async () => {
    const Renamed = class extends HostKeyError {};
    Object.defineProperty(Renamed, 'name', { value: 'e' });
    const err = new Renamed('host key for h:22 has CHANGED');
    expect(err.name).toBe('e');
    const r = await runHost('h', () => Promise.reject(err), [], OPTS);
    expect(r.status).toBe('failed');
  });

  it('an error from another copy of the module (same brand, other class) is recognised', async () => {
    const foreign = Object.defineProperty(new Error('host key for h:22 is marked @revoked'), Symbol.for('rigger.error.kind'), { value: 'host-key' });
    expect(isHostKeyError(foreign)).toBe(true);
    expect((await runHost('h', () => Promise.reject(foreign), [], OPTS)).status).toBe('failed');
    const gone = Object.defineProperty(new Error('cannot connect'), Symbol.for('rigger.error.kind'), { value: 'unreachable' });
    expect((await runHost('h', () => Promise.reject(gone), [], OPTS)).status).toBe('unreachable');
  });

  it('a plain Error merely named HostKeyError is not one', () => {
    const fake = Object.assign(new Error('x'), { name: 'HostKeyError' });
    expect(isHostKeyError(fake)).toBe(false);
    expect(errorKind(new UnreachableError('x'))).toBe('unreachable');
  });

  it('a failed host says which resource and which phase', async () => {
    const failing: ShellResource = { id: 'thing:a', tags: [], notify: [], probe: 'true', plan: () => ({ summary: 's' }), apply: async () => Promise.reject(new Error('boom')) };
    const r = await runHost('h', async () => new LocalRemote(), [role('r', [failing])], OPTS);
    expect(r.tasks[0]).toMatchObject({ status: 'failed', error: 'boom' });
    expect(r.failure).toEqual({ kind: 'host', phase: 'apply', resource: 'thing:a' });
    const badPlan: ShellResource = { ...failing, plan: () => Promise.reject(new Error('no')) };
    expect((await runHost('h', async () => new LocalRemote(), [role('r', [badPlan])], OPTS)).failure).toEqual({ kind: 'host', phase: 'plan', resource: 'thing:a' });
    const gone = new LocalRemote();
    gone.run = () => Promise.reject(new UnreachableError('h stopped answering'));
    const unreach = await runHost('h', async () => gone, [role('r', [failing])], OPTS);
    expect(unreach).toMatchObject({ status: 'unreachable', error: 'h stopped answering', failure: { kind: 'unreachable', phase: 'facts' } });
  });
});
