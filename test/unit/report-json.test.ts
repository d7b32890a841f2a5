import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildJsonReport, writeJsonReport } from '../../lib/report/json.js';
import type { HostResult } from '../../lib/engine/report-types.js';
import { Secret, clearSecretsForTests, registerSecretValue } from '../../lib/secrets.js';
import { tempDir } from './helpers/localRemote.js';

beforeEach(() => clearSecretsForTests());

function results(): Map<string, HostResult> {
  return new Map<string, HostResult>([
    [
      'mania',
      {
        status: 'changed',
        counts: { ok: 1, changed: 1, failed: 0, skipped: 1 },
        apiRequests: 0, remoteCommands: 4,
        durationMs: 640,
        phases: { connectMs: 120, factsMs: 30, convergeMs: 480, probeMs: 90 },
        tasks: [
          { role: 'ssh-hardening', resource: 'file:/etc/ssh/sshd_config.d/00-hardening.conf', status: 'changed', summary: 'content', diff: { path: '/etc/ssh/sshd_config.d/00-hardening.conf', before: 'a\n', after: 'b\n' }, durationMs: 3 },
          { role: 'ssh-hardening', resource: 'service:ssh.service', status: 'ok', durationMs: 1 },
          { role: 'docker', resource: 'apt:docker-ce', status: 'skipped', durationMs: 0 },
        ],
      },
    ],
    ['eros', { status: 'unreachable', counts: { ok: 0, changed: 0, failed: 0, skipped: 0 }, apiRequests: 0, remoteCommands: 0, durationMs: 15000, phases: { connectMs: 0, factsMs: 0, convergeMs: 0, probeMs: 0 }, tasks: [], error: 'connect ETIMEDOUT 192.0.2.9:2222' }],
  ]);
}

describe('buildJsonReport', () => {
  it('has the shape documented in ARCHITECTURE.md', () => {
    const r = buildJsonReport('apply', 812, results());
    expect(r).toEqual({
      mode: 'apply',
      durationMs: 812,
      startupMs: 0,
      hosts: {
        mania: {
          status: 'changed',
          counts: { ok: 1, changed: 1, failed: 0, skipped: 1 },
          apiRequests: 0, remoteCommands: 4,
          phases: { connectMs: 120, factsMs: 30, convergeMs: 480, probeMs: 90 },
          tasks: [
            {
              role: 'ssh-hardening',
              resource: 'file:/etc/ssh/sshd_config.d/00-hardening.conf',
              status: 'changed',
              summary: 'content',
              diff: '--- a/etc/ssh/sshd_config.d/00-hardening.conf\n+++ b/etc/ssh/sshd_config.d/00-hardening.conf\n@@ -1,1 +1,1 @@\n-a\n+b',
              durationMs: 3,
            },
            { role: 'ssh-hardening', resource: 'service:ssh.service', status: 'ok', durationMs: 1 },
            { role: 'docker', resource: 'apt:docker-ce', status: 'skipped', durationMs: 0 },
          ],
        },
        eros: { status: 'unreachable', counts: { ok: 0, changed: 0, failed: 0, skipped: 0 }, apiRequests: 0, remoteCommands: 0, phases: { connectMs: 0, factsMs: 0, convergeMs: 0, probeMs: 0 }, error: 'connect ETIMEDOUT 192.0.2.9:2222', tasks: [] },
      },
    });
  });

  it('omits optional fields rather than writing null or undefined', () => {
    const r = buildJsonReport('check', 1, results());
    const ok = r.hosts.mania.tasks[1];
    expect(Object.keys(ok).sort()).toEqual(['durationMs', 'resource', 'role', 'status']);
    expect('error' in r.hosts.mania).toBe(false);
    expect(r.mode).toBe('check');
  });

  it('masks secrets in summaries, errors, diffs and host errors', () => {
    const token = new Secret('glrt-0123456789abcdefghij', 'env:RUNNER_TOKEN');
    const res = results();
    const mania = res.get('mania')!;
    mania.tasks[0].summary = `token ${token.reveal()}`;
    mania.tasks[0].diff = { path: '/etc/gitlab-runner/config.toml', before: '', after: `token = "${token.reveal()}"\n` };
    mania.tasks.push({ role: 'gitlab-runner', resource: 'command:register', status: 'failed', error: `401 with ${token.reveal()}`, durationMs: 9 });
    res.get('eros')!.error = `ssh said ${token.reveal()}`;
    const text = JSON.stringify(buildJsonReport('apply', 5, res));
    expect(text).not.toContain('0123456789abcdefghij');
    expect(text.match(/\*{8}/g)).toHaveLength(4);
  });
});

describe('writeJsonReport', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('writes pretty JSON with a final newline that parses back to the report', async () => {
    const path = join(dir, 'report.json');
    const report = buildJsonReport('apply', 812, results());
    await writeJsonReport(path, report);
    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "mode": "apply",\n');
    expect(JSON.parse(text)).toEqual(report);
  });

  it('masks a secret anywhere in the file, even in fields the builder does not redact', async () => {
    registerSecretValue('scw-secret-key-ABCDEF');
    const res = results();
    res.get('mania')!.tasks[1].resource = 'command:login scw-secret-key-ABCDEF';
    res.get('mania')!.tasks[1].role = 'role-scw-secret-key-ABCDEF';
    const path = join(dir, 'r.json');
    await writeJsonReport(path, buildJsonReport('apply', 1, res));
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('scw-secret-key-ABCDEF');
    expect(JSON.parse(text).hosts.mania.tasks[1].resource).toBe('command:login ********');
  });

  it('masks a secret containing characters JSON escapes (" and \\)', async () => {
    registerSecretValue('pa"ss\\word-123');
    const res = results();
    res.get('mania')!.tasks[1].resource = 'command:login pa"ss\\word-123';
    const path = join(dir, 'q.json');
    await writeJsonReport(path, buildJsonReport('apply', 1, res));
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('word-123');
    expect(JSON.parse(text).hosts.mania.tasks[1].resource).toBe('command:login ********');
  });

  it('never serialises a Secret object’s value', async () => {
    const s = new Secret('hunter2-but-longer', 'secrets.toml:x');
    const path = join(dir, 's.json');
    const report = buildJsonReport('apply', 1, results()) as any;
    report.extra = { s };
    await writeJsonReport(path, report);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('hunter2');
    expect(JSON.parse(text).extra.s).toBe('[secret secrets.toml:x]');
  });
});
