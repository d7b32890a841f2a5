import { beforeEach, describe, expect, it } from 'vitest';
import { colourDiff, unifiedDiff } from '../../lib/report/diff.js';
import { ConsoleReporter, type ConsoleOptions } from '../../lib/report/console.js';
import type { HostResult, TaskResult } from '../../lib/engine/report-types.js';
import { Secret, clearSecretsForTests, registerSecretValue } from '../../lib/secrets.js';

const ESC = String.fromCharCode(27);
const ANSI = new RegExp(`${ESC}\\[\\d+m`);
const strip = (s: string) => s.replace(new RegExp(`${ESC}\\[\\d+m`, 'g'), '');

beforeEach(() => clearSecretsForTests());

describe('unifiedDiff', () => {
  it('prints ---/+++ headers with a/ and b/ paths and hunks with 3 lines of context, no Index header', () => {
    const before = ['Port 22', 'AddressFamily any', 'ListenAddress 0.0.0.0', 'PermitRootLogin yes', 'MaxAuthTries 6', 'LoginGraceTime 2m', 'X11Forwarding yes', 'UseDNS no', ''].join('\n');
    const after = before.replace('PermitRootLogin yes', 'PermitRootLogin prohibit-password');
    expect(unifiedDiff({ path: '/etc/ssh/sshd_config', before, after })).toBe(
      [
        '--- a/etc/ssh/sshd_config',
        '+++ b/etc/ssh/sshd_config',
        '@@ -1,7 +1,7 @@',
        ' Port 22',
        ' AddressFamily any',
        ' ListenAddress 0.0.0.0',
        '-PermitRootLogin yes',
        '+PermitRootLogin prohibit-password',
        ' MaxAuthTries 6',
        ' LoginGraceTime 2m',
        ' X11Forwarding yes',
      ].join('\n'),
    );
  });

  it('shows a new file as all additions', () => {
    expect(unifiedDiff({ path: '/etc/x.conf', before: '', after: 'a\nb\n' })).toBe('--- a/etc/x.conf\n+++ b/etc/x.conf\n@@ -0,0 +1,2 @@\n+a\n+b');
  });

  it('marks a missing final newline', () => {
    expect(unifiedDiff({ path: '/x', before: 'a', after: 'b' })).toBe('--- a/x\n+++ b/x\n@@ -1,1 +1,1 @@\n-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file');
  });

  it('has no trailing newline and no hunk when nothing differs', () => {
    expect(unifiedDiff({ path: '/x', before: 'same\n', after: 'same\n' })).toBe('--- a/x\n+++ b/x');
  });

  it('masks registered secret values on both sides', () => {
    const token = new Secret('glrt-NEW-runner-token-0123456789', 'env:RUNNER_TOKEN');
    registerSecretValue('glrt-OLD-runner-token-9876543210');
    const d = unifiedDiff({
      path: '/etc/gitlab-runner/config.toml',
      before: 'concurrent = 4\ntoken = "glrt-OLD-runner-token-9876543210"\n',
      after: `concurrent = 8\ntoken = "${token.reveal()}"\n`,
    });
    expect(d).not.toContain('runner-token');
    // the rotation shows as a change, with neither value: the old one as an earlier secret
    expect(d).toContain('-concurrent = 4\n-token = "[earlier secret]"\n+concurrent = 8\n+token = "********"');
  });
});

describe('colourDiff', () => {
  const d = unifiedDiff({ path: '/x', before: 'a\nb\n', after: 'a\nc\n' });

  it('returns the text unchanged with colours off', () => {
    expect(colourDiff(d, false)).toBe(d);
  });

  it('colours headers, hunks, removals and additions when asked, whatever the terminal', () => {
    const c = colourDiff(d, true);
    const lines = c.split('\n');
    expect(lines[0]).toBe('\u001b[1m--- a/x\u001b[22m');
    expect(lines[1]).toBe('\u001b[1m+++ b/x\u001b[22m');
    expect(lines[2]).toBe('\u001b[36m@@ -1,2 +1,2 @@\u001b[39m');
    expect(lines[3]).toBe(' a');
    expect(lines[4]).toBe('\u001b[31m-b\u001b[39m');
    expect(lines[5]).toBe('\u001b[32m+c\u001b[39m');
    expect(strip(c)).toBe(d);
  });
});

describe('ConsoleReporter', () => {
  const make = (over: Partial<ConsoleOptions> = {}) => {
    const out: string[] = [];
    const rep = new ConsoleReporter({ showDiffs: false, verbose: 0, colour: false, check: false, write: (t) => out.push(t), ...over });
    return { rep, out, text: () => out.join('') };
  };
  const task = (t: Partial<TaskResult>): TaskResult => ({ role: 'ssh', resource: 'file:/etc/ssh/sshd_config.d/00-rigger.conf', status: 'changed', durationMs: 3, ...t });

  it('prints a header, with the check-mode notice when checking', () => {
    const a = make();
    a.rep.header('runner.ts', ['mania', 'eros']);
    expect(a.text()).toBe('PLAYBOOK runner.ts on 2 host(s)\n');
    const b = make({ check: true });
    b.rep.header('runner.ts', ['mania']);
    expect(b.text()).toBe('PLAYBOOK runner.ts (check mode: nothing will be changed) on 1 host(s)\n');
  });

  it('prints changed and failed tasks, hides ok and skipped unless verbose', () => {
    const { rep, text } = make();
    rep.task('mania', task({ summary: 'content' }));
    rep.task('mania', task({ status: 'ok' }));
    rep.task('mania', task({ status: 'skipped' }));
    rep.task('mania', task({ status: 'failed', resource: 'service:ssh.service', error: 'remote command failed (exit 1): Job for ssh.service failed.' }));
    expect(text()).toBe(
      'changed mania [ssh] file:/etc/ssh/sshd_config.d/00-rigger.conf: content\n' + 'failed  mania [ssh] service:ssh.service: remote command failed (exit 1): Job for ssh.service failed.\n',
    );
    const v = make({ verbose: 1 });
    v.rep.task('mania', task({ status: 'ok' }));
    v.rep.task('mania', task({ status: 'skipped' }));
    expect(v.text()).toBe('ok      mania [ssh] file:/etc/ssh/sshd_config.d/00-rigger.conf\nskipped mania [ssh] file:/etc/ssh/sshd_config.d/00-rigger.conf\n');
  });

  it('says "would" for changes in check mode', () => {
    const { rep, text } = make({ check: true });
    rep.task('mania', task({ resource: 'handler:reload ssh', summary: 'would run' }));
    expect(text()).toBe('would   mania [ssh] handler:reload ssh: would run\n');
  });

  it('prints diffs only when asked', () => {
    const diff = { path: '/etc/x', before: 'a\n', after: 'b\n' };
    const off = make();
    off.rep.task('mania', task({ summary: 'content', diff }));
    expect(off.out).toHaveLength(1);
    const on = make({ showDiffs: true });
    on.rep.task('mania', task({ summary: 'content', diff }));
    expect(on.out[1]).toBe('--- a/etc/x\n+++ b/etc/x\n@@ -1,1 +1,1 @@\n-a\n+b\n');
  });

  it('uses no escape codes with colours off and some with colours on', () => {
    const off = make({ showDiffs: true });
    off.rep.task('mania', task({ summary: 'content', diff: { path: '/x', before: 'a\n', after: 'b\n' } }));
    off.rep.recap(new Map([['mania', hostResult()]]), 1234);
    expect(off.text()).not.toMatch(ANSI);
    const on = make({ colour: true, showDiffs: true });
    on.rep.task('mania', task({ summary: 'content', diff: { path: '/x', before: 'a\n', after: 'b\n' } }));
    expect(on.out[0]).toMatch(ANSI);
    expect(on.out[1]).toMatch(ANSI);
    expect(strip(on.text())).toBe(off.out.slice(0, 2).join(''));
  });

  it('redacts secret values from every line: summaries, errors, diffs and logs', () => {
    const token = new Secret('glpat-SuperSecretValue42', 'secrets.toml:gitlab_token');
    const { rep, text } = make({ verbose: 1, showDiffs: true, colour: true });
    rep.task('mania', task({ summary: `register with ${token.reveal()}` }));
    rep.task('mania', task({ status: 'failed', error: `HTTP 401 for PRIVATE-TOKEN: ${token.reveal()}` }));
    rep.task('mania', task({ summary: 'content', diff: { path: '/etc/t', before: '', after: `token=${token.reveal()}\n` } }));
    rep.log('mania', `POST /api/v4/user/runners token=${token.reveal()}`);
    rep.recap(new Map([['mania', { ...hostResult(), status: 'failed', error: `gave up: ${token.reveal()}` }]]), 10);
    const all = text();
    expect(all).not.toContain('SuperSecretValue');
    expect(strip(all).match(/\*{8}/g)).toHaveLength(5);
  });

  it('prints log lines only when verbose', () => {
    const quiet = make();
    quiet.rep.log('mania', 'probing 41 resources');
    expect(quiet.out).toEqual([]);
    const v = make({ verbose: 1 });
    v.rep.log('mania', 'probing 41 resources');
    expect(v.text()).toBe('  mania: probing 41 resources\n');
  });

  it('prints a recap line per host with counts, round trips, and errors', () => {
    const { rep, text } = make();
    rep.recap(
      new Map<string, HostResult>([
        ['mania', hostResult()],
        ['eros', { ...hostResult(), status: 'unreachable', counts: { ok: 0, changed: 0, failed: 0, skipped: 0 }, apiRequests: 0, remoteCommands: 0, durationMs: 15000, error: 'connect ETIMEDOUT' }],
      ]),
      15234,
    );
    expect(text()).toBe(
      '\nRECAP (15.23 s)\n' +
        'mania : ok=41 changed=2 failed=0 skipped=1 unreachable=0 remote=5 812 ms\n' +
        'eros  : ok=0 changed=0 failed=0 skipped=0 unreachable=1 remote=0 15000 ms\n' +
        '        UNREACHABLE: connect ETIMEDOUT\n',
    );
  });
});

function hostResult(): HostResult {
  return { status: 'changed', counts: { ok: 41, changed: 2, failed: 0, skipped: 1 }, apiRequests: 0, remoteCommands: 5, tasks: [], durationMs: 812, phases: { connectMs: 150, factsMs: 20, convergeMs: 600, probeMs: 80 } };
}
