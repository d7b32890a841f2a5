// The measuring probe, run for real with /bin/sh on this machine (the same
// script the docs playbook sends to each server), and the parsing of what
// it prints: ss listeners, df, du with its timeout.
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Measurements, measureResource, measureScript, parseListener, parseMeasure } from '../../lib/docs/measure.js';
import { makeCtx } from './helpers/context.js';

const execFileP = promisify(execFile);
let dir: string;

async function runProbe(script: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  // as the engine runs a probe: a subshell, stdin from /dev/null
  const { stdout } = await execFileP('/bin/sh', ['-c', `(\n${script}\n) </dev/null`], { env });
  return stdout;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rigger-measure-'));
  await mkdir(join(dir, 'data', 'sub'), { recursive: true });
  await writeFile(join(dir, 'data', 'sub', 'a.bin'), Buffer.alloc(3 * 1024 * 1024, 1));
  await mkdir(join(dir, "it's spaced out"));
  await writeFile(join(dir, "it's spaced out", 'b'), Buffer.alloc(64 * 1024, 2));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('measure.sh, run for real', () => {
  it('reports CPUs, memory, filesystems and the disk usage of each path', async () => {
    const paths = [join(dir, 'data'), join(dir, 'missing'), join(dir, "it's spaced out")];
    const m = parseMeasure('here', await runProbe(measureScript(paths, 30)), paths, '2026-12-02');
    expect(m.cpus).toBeGreaterThanOrEqual(1);
    expect(m.memBytes).toBeGreaterThan(100 * 2 ** 20);
    expect(m.filesystems.map((f) => f.mount)).toContain('/');
    for (const f of m.filesystems) expect(f.sizeBytes).toBeGreaterThan(f.usedBytes);
    expect(m.paths[0]).toMatchObject({ status: 'ok' });
    expect(m.paths[0].bytes!).toBeGreaterThanOrEqual(3 * 1024 * 1024);
    expect(m.paths[1]).toEqual({ path: paths[1], status: 'missing' });
    expect(m.paths[2].bytes!).toBeGreaterThanOrEqual(64 * 1024);
  });

  it('gives up on a path whose du outlasts the timeout', async () => {
    // a du that hangs, first on PATH
    const bin = join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'du'), '#!/bin/sh\nsleep 10\n');
    await chmod(join(bin, 'du'), 0o755);
    const t0 = Date.now();
    const paths = [join(dir, 'data')];
    const out = await runProbe(measureScript(paths, 1), { ...process.env, PATH: `${bin}:${process.env.PATH}` });
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(parseMeasure('here', out, paths, 'd').paths[0]).toEqual({ path: paths[0], status: 'timeout' });
  });

  it('is one probe whose plan records the measurement and changes nothing', async () => {
    const into = new Measurements();
    const paths = [join(dir, 'data')];
    const r = measureResource({ host: 'h1', paths, duTimeout: 30, into, today: () => '2026-12-02' });
    const stdout = await runProbe(r.probe);
    const ctx = makeCtx({ run: async () => ({ stdout: '', stderr: '', code: 0 }), upload: async () => {}, verifyNewConnection: async () => {} });
    expect(await r.plan({ stdout, code: 0 }, ctx)).toBeNull();
    expect(into.get('h1')).toMatchObject({ host: 'h1', date: '2026-12-02' });
    expect(into.get('h1')!.paths[0].bytes!).toBeGreaterThan(0);
  });
});

describe('parsing', () => {
  it('reads ss listeners: address, port, process, loopback or not', () => {
    expect(parseListener('tcp', '127.0.0.1:8983', 'users:(("java",pid=812,fd=41))')).toEqual({ proto: 'tcp', address: '127.0.0.1', port: 8983, process: 'java', local: true });
    expect(parseListener('tcp', '[::1]:25', '')).toMatchObject({ address: '::1', port: 25, local: true });
    expect(parseListener('tcp', '0.0.0.0:22', undefined)).toMatchObject({ address: '0.0.0.0', port: 22, local: false, process: undefined });
    expect(parseListener('tcp', '*:80', 'users:(("nginx",pid=1,fd=6),("nginx",pid=2,fd=6))')).toMatchObject({ address: '*', port: 80, process: 'nginx', local: false });
    expect(parseListener('udp', '127.0.0.53%lo:53', '')).toMatchObject({ address: '127.0.0.53', port: 53, local: true });
    expect(parseListener('tcp', '[::]:443', '')).toMatchObject({ address: '::', local: false });
    expect(parseListener('tcp', 'garbage', '')).toBeUndefined();
  });

  it('keeps one record per filesystem and listener, sorted', () => {
    const m = parseMeasure(
      'h',
      ['fs\t/\t100\t50', 'fs\t/\t100\t51', 'fs\t/srv\t200\t10', 'listen\ttcp\t0.0.0.0:22\t', 'listen\ttcp\t0.0.0.0:22\t', 'listen\ttcp\t127.0.0.1:8\t', 'unit\tb.service', 'unit\ta.service'].join('\n'),
      [],
      'd',
    );
    expect(m.filesystems).toEqual([
      { mount: '/', sizeBytes: 100, usedBytes: 50 },
      { mount: '/srv', sizeBytes: 200, usedBytes: 10 },
    ]);
    expect(m.listeners.map((l) => l.port)).toEqual([8, 22]);
    expect(m.runningUnits).toEqual(['a.service', 'b.service']);
  });
});
