// lib/report/progress.ts: the live status block, drawn on a fake terminal
// (test/unit/helpers/fakeTerminal.ts applies the writes), alone, through the
// console reporter, and in real playbook runs on the control machine
// (`hosts: 'local'`: real commands, no SSH).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { defineRole } from '../../lib/engine/types.js';
import { runPlaybook, type PlaybookDef, type PlaybookIO } from '../../lib/playbook.js';
import { ConsoleReporter } from '../../lib/report/console.js';
import { LiveStatus, progressWanted } from '../../lib/report/progress.js';
import { command } from '../../lib/resources/index.js';
import { FakeTerminal } from './helpers/fakeTerminal.js';

const APT = { role: 'gitlab-runner', resource: 'apt:gitlab-runner', phase: 'apply' as const };

describe('LiveStatus on a terminal', () => {
  let term: FakeTerminal;
  let live: LiveStatus;
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    term = new FakeTerminal();
    live = new LiveStatus({ write: term.write, colour: false, columns: () => 100 });
  });
  afterEach(() => {
    live.stop();
    vi.useRealTimers();
  });

  it('shows a line per running host with its resource and elapsed seconds, redrawn every second', () => {
    live.hostStart('mania');
    expect(term.screen).toEqual(['  mania  connecting  0s']);
    live.taskStart('mania', APT);
    vi.advanceTimersByTime(12_000);
    expect(term.screen).toEqual(['  mania  gitlab-runner  apt:gitlab-runner  12s  applying']);
    live.note('mania', 'unpacking gitlab-runner 1/2');
    vi.advanceTimersByTime(100);
    expect(term.screen).toEqual(['  mania  gitlab-runner  apt:gitlab-runner  12s  unpacking gitlab-runner 1/2']);
    live.hostStart('eros');
    live.taskStart('eros', { role: 'common', resource: 'file:/etc/motd', phase: 'probe' });
    // the clock is looked at every 250 ms
    vi.advanceTimersByTime(1200);
    expect(term.screen).toEqual([
      '  mania  gitlab-runner  apt:gitlab-runner  13s  unpacking gitlab-runner 1/2',
      '  eros   common         file:/etc/motd      1s  checking',
    ]);
  });

  it('a resource that ends turns its line into the result line; the other lines stay below, the block goes at the end', () => {
    live.hostStart('mania');
    live.hostStart('eros');
    live.taskStart('mania', APT);
    live.taskStart('eros', { role: 'common', resource: 'command:sleep', phase: 'apply' });
    vi.advanceTimersByTime(3000);
    live.taskEnd('mania', 'changed mania [gitlab-runner] apt:gitlab-runner: install gitlab-runner\n');
    expect(term.screen).toEqual([
      'changed mania [gitlab-runner] apt:gitlab-runner: install gitlab-runner',
      '  mania  between resources      3s',
      '  eros   common  command:sleep  3s  applying',
    ]);
    live.print('  eros: a log line\n');
    live.hostEnd('mania');
    live.taskEnd('eros', 'changed eros [common] command:sleep: run sleep\n');
    live.hostEnd('eros');
    expect(term.screen).toEqual(['changed mania [gitlab-runner] apt:gitlab-runner: install gitlab-runner', '  eros: a log line', 'changed eros [common] command:sleep: run sleep']);
    // nothing is drawn once no host runs
    const writes = term.writes.length;
    vi.advanceTimersByTime(5000);
    expect(term.writes.length).toBe(writes);
  });

  it('never leaves a broken line: after every write, the printed lines are intact and the block is whole', () => {
    const printed: string[] = [];
    live.hostStart('mania');
    live.taskStart('mania', APT);
    for (let i = 1; i <= 20; i++) {
      vi.advanceTimersByTime(700);
      live.note('mania', `downloading ${i}/20 (${i * 5}%)`);
      if (i % 3 === 0) {
        const line = `result ${i}`;
        printed.push(line);
        live.print(line + '\n');
      }
      // every write is one whole frame: the screen is the result lines, then exactly one live line
      expect(term.screen.slice(0, printed.length)).toEqual(printed);
      expect(term.screen.slice(printed.length)).toHaveLength(1);
      expect(term.screen.at(-1)).toMatch(/^ {2}mania {2}gitlab-runner {2}apt:gitlab-runner {2}\d+s {2}downloading \d+\/20 \(\d+%\)$/);
    }
  });

  it('cuts lines to the terminal width (a wrapped line would break the erase)', () => {
    const narrow = new FakeTerminal();
    const l = new LiveStatus({ write: narrow.write, colour: false, columns: () => 40 });
    l.hostStart('mania');
    l.taskStart('mania', { role: 'docs', resource: `file:/srv/${'x'.repeat(80)}`, phase: 'apply' });
    expect(narrow.screen).toHaveLength(1);
    expect([...narrow.screen[0]]).toHaveLength(39);
    expect(narrow.screen[0].endsWith('…')).toBe(true);
    l.stop();
    expect(narrow.screen).toEqual([]);
  });

  it('redraws for progress notes at most every 100 ms, and shows the last note', () => {
    live.hostStart('mania');
    live.taskStart('mania', APT);
    const before = term.writes.length;
    for (let i = 0; i < 50; i++) live.note('mania', `note ${i}`);
    expect(term.writes.length - before).toBeLessThanOrEqual(1);
    vi.advanceTimersByTime(150);
    expect(term.screen.at(-1)).toMatch(/note 49$/);
  });

  it('masks secrets in live lines like in result lines', async () => {
    const { clearSecretsForTests, registerSecretValue } = await import('../../lib/secrets.js');
    registerSecretValue('s3cr3t-token-value');
    try {
      live.hostStart('mania');
      live.taskStart('mania', { role: 'r', resource: 'command:login s3cr3t-token-value', phase: 'apply' });
      live.note('mania', 'sending s3cr3t-token-value');
      vi.advanceTimersByTime(200);
      expect(term.writes.join('')).toContain('command:login ********');
      expect(term.writes.join('')).not.toContain('s3cr3t-token-value');
    } finally {
      clearSecretsForTests();
    }
  });
});

describe('ConsoleReporter with a live block', () => {
  it('prints result lines through it, one frame per ended resource; ok resources leave no line', () => {
    vi.useFakeTimers();
    try {
      const term = new FakeTerminal();
      const live = new LiveStatus({ write: term.write, colour: false });
      const r = new ConsoleReporter({ showDiffs: false, verbose: 0, colour: false, check: false, write: () => expect.unreachable('written past the block'), live });
      r.header('site', ['mania']);
      r.hostStart('mania');
      r.taskStart('mania', { role: 'common', resource: 'file:/etc/motd', phase: 'probe' });
      r.task('mania', { role: 'common', resource: 'file:/etc/motd', status: 'ok', durationMs: 1 });
      r.taskStart('mania', APT);
      r.progress('mania', 'setting up gitlab-runner 2/2');
      vi.advanceTimersByTime(100);
      expect(term.screen.at(-1)).toMatch(/apt:gitlab-runner {2}0s {2}setting up gitlab-runner 2\/2$/);
      const writes = term.writes.length;
      r.task('mania', { role: 'gitlab-runner', resource: 'apt:gitlab-runner', status: 'changed', summary: 'install gitlab-runner', durationMs: 5 });
      expect(term.writes.length).toBe(writes + 1);
      r.hostEnd('mania');
      r.close();
      expect(term.screen).toEqual(['PLAYBOOK site on 1 host(s)', 'changed mania [gitlab-runner] apt:gitlab-runner: install gitlab-runner']);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('progressWanted', () => {
  it('only on a terminal that understands ANSI, without --no-progress, with stdout not carrying the JSON report', () => {
    const base = { tty: true, term: 'xterm-256color', noProgress: false, jsonToStdout: false };
    expect(progressWanted(base)).toBe(true);
    expect(progressWanted({ ...base, tty: false })).toBe(false);
    expect(progressWanted({ ...base, term: 'dumb' })).toBe(false);
    expect(progressWanted({ ...base, noProgress: true })).toBe(false);
    expect(progressWanted({ ...base, jsonToStdout: true })).toBe(false);
  });
});

describe('playbook runs on the control machine', () => {
  let dir: string;
  let inv: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rigger-progress-'));
    inv = join(dir, 'inv.toml');
    writeFileSync(inv, '[hosts]\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let n = 0;
  const def = (): PlaybookDef => {
    const marker = join(dir, `done-${n++}`);
    return {
      name: 'progress',
      plays: [{ hosts: 'local', roles: [defineRole({ name: 'slow', tasks: () => ({ resources: [command({ name: 'nap', run: `sleep 1.3; touch ${marker}`, creates: marker })] }) })] }],
    };
  };
  const capture = (tty: boolean) => {
    const term = new FakeTerminal();
    const out: string[] = [];
    const err: string[] = [];
    const io: PlaybookIO = { stdout: (t) => (out.push(t), term.write(t)), stderr: (t) => void err.push(t), colour: false, tty, columns: () => 120 };
    return { io, term, out, err };
  };

  it('on a terminal: the running resource and its seconds while it runs, then only the result lines', async () => {
    const c = capture(true);
    const r = await runPlaybook(def(), ['-i', inv], c.io);
    expect(r.exitCode).toBe(0);
    const all = c.out.join('');
    expect(all).toMatch(/ {2}local {2}slow {2}command:nap {2}1s {2}applying\n/);
    expect(all).toContain('\x1b[');
    expect(c.term.screen[1]).toMatch(/^changed local \[slow\] command:nap: /);
    expect(c.term.screen.join('\n')).not.toMatch(/applying|checking|connecting/);
  });

  it('not a terminal, --no-progress, TERM=dumb: no live lines and no escape sequences', async () => {
    for (const [tty, args, term] of [[false, [], 'xterm'], [true, ['--no-progress'], 'xterm'], [true, [], 'dumb']] as const) {
      vi.stubEnv('TERM', term);
      try {
        const c = capture(tty);
        expect((await runPlaybook(def(), ['-i', inv, ...args], c.io)).exitCode).toBe(0);
        const all = c.out.join('') + c.err.join('');
        expect(all).toMatch(/changed local \[slow\] command:nap/);
        expect(all).not.toContain('\x1b');
        expect(all).not.toMatch(/applying|connecting/);
      } finally {
        vi.unstubAllEnvs();
      }
    }
  });

  it('--json -: stdout is the JSON report alone, the human output goes to stderr, no live lines', async () => {
    const c = capture(true);
    const r = await runPlaybook(def(), ['-i', inv, '--json', '-'], c.io);
    expect(r.exitCode).toBe(0);
    const report = JSON.parse(c.out.join(''));
    expect(report.hosts.local.tasks.map((t: { resource: string; status: string }) => `${t.status} ${t.resource}`)).toEqual(['changed command:nap']);
    const human = c.err.join('');
    expect(human).toMatch(/^PLAYBOOK progress on 1 host\(s\)\n/);
    expect(human).toMatch(/changed local \[slow\] command:nap/);
    expect(human).toMatch(/RECAP/);
    expect(human).not.toContain('\x1b');
  });
});

describe('LiveStatus after someone else wrote to the terminal', () => {
  it('forget(): the next block is drawn below that text instead of erasing it', () => {
    vi.useFakeTimers();
    try {
      const term = new FakeTerminal();
      const live = new LiveStatus({ write: term.write, colour: false });
      live.hostStart('mania');
      live.taskStart('mania', APT);
      term.write('\nSIGINT: stopping\n');
      live.forget();
      live.taskEnd('mania', 'failed mania [gitlab-runner] apt:gitlab-runner: interrupted\n');
      live.hostEnd('mania');
      expect(term.screen).toEqual(['  mania  gitlab-runner  apt:gitlab-runner  0s  applying', '', 'SIGINT: stopping', 'failed mania [gitlab-runner] apt:gitlab-runner: interrupted']);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('LiveStatus with more hosts than the screen has lines', () => {
  it('cuts the block to the terminal height (a block taller than the screen could not be erased)', () => {
    vi.useFakeTimers();
    try {
      const term = new FakeTerminal();
      const live = new LiveStatus({ write: term.write, colour: false, rows: () => 6 });
      for (let i = 1; i <= 9; i++) live.hostStart(`h${i}`);
      expect(term.screen).toEqual(['  h1  connecting  0s', '  h2  connecting  0s', '  h3  connecting  0s', '  … and 6 more host(s) running']);
      for (let i = 1; i <= 9; i++) live.hostEnd(`h${i}`);
      expect(term.screen).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });
});
