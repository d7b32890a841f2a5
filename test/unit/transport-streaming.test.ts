// RunOptions.onOutput: a remote command's output as it arrives, through the
// persistent shell (against a local /bin/sh, test/unit/helpers/localChannel.ts)
// and LocalSession; the final RunResult stays exactly what it was.
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BodyStream, FrameReader } from '../../lib/transport/frame.js';
import { LocalSession } from '../../lib/transport/local.js';
import { PersistentShell } from '../../lib/transport/shell.js';
import { LocalChannel } from './helpers/localChannel.js';

type Chunk = { at: number; stream: 'stdout' | 'stderr'; text: string };
const collector = () => {
  const chunks: Chunk[] = [];
  const onOutput = (text: string, stream: 'stdout' | 'stderr') => void chunks.push({ at: Date.now(), stream, text });
  const joined = (stream: 'stdout' | 'stderr') => chunks.filter((c) => c.stream === stream).map((c) => c.text).join('');
  return { chunks, onOutput, joined };
};

describe('PersistentShell: onOutput', () => {
  let ch: LocalChannel;
  let sh: PersistentShell;
  beforeEach(() => {
    ch = new LocalChannel();
    sh = new PersistentShell(ch.asChannel(), { killGroup: async () => undefined });
  });
  afterEach(async () => {
    if (ch.child.exitCode === null && ch.child.signalCode === null) {
      sh.close();
      await once(ch.child, 'close');
    }
  });

  it('delivers output while the command runs, not only when it ends', async () => {
    const c = collector();
    const t0 = Date.now();
    const r = await sh.run('echo first; echo err-first >&2; sleep 1; echo second', { onOutput: c.onOutput });
    const end = Date.now();
    expect(r).toEqual({ stdout: 'first\nsecond\n', stderr: 'err-first\n', code: 0 });
    const first = c.chunks.find((x) => x.text.includes('first') && x.stream === 'stdout')!;
    const errFirst = c.chunks.find((x) => x.stream === 'stderr')!;
    expect(first.at - t0).toBeLessThan(800);
    expect(errFirst.at - t0).toBeLessThan(800);
    expect(end - first.at).toBeGreaterThan(500);
  });

  it('streams exactly the result: no process id line, no end marker, multibyte characters whole', async () => {
    const c = collector();
    const script = `i=0; while [ $i -lt 300 ]; do printf 'zeile %s: grüße €\\n' $i; printf 'warn ✓ %s\\n' $i >&2; i=$((i+1)); done; printf 'no newline'`;
    const r = await sh.run(script, { onOutput: c.onOutput });
    expect(r.stdout.split('\n')).toHaveLength(301);
    expect(c.joined('stdout')).toBe(r.stdout);
    expect(c.joined('stderr')).toBe(r.stderr);
    expect(c.chunks.some((x) => x.text.includes('__RIGGER_'))).toBe(false);
    expect(c.chunks.some((x) => x.text.includes('\uFFFD'))).toBe(false);
    // the shell is still usable, and a run without onOutput is unchanged
    expect(await sh.run('echo next; exit 4')).toEqual({ stdout: 'next\n', stderr: '', code: 4 });
  });

  it('empty output streams nothing; a failing command still streams what it printed', async () => {
    const c = collector();
    expect(await sh.run('true', { onOutput: c.onOutput })).toEqual({ stdout: '', stderr: '', code: 0 });
    expect(c.chunks).toEqual([]);
    const d = collector();
    const r = await sh.run('echo partial; echo oops >&2; exit 9', { onOutput: d.onOutput, stdin: 'x' });
    expect(r.code).toBe(9);
    expect(d.joined('stdout')).toBe('partial\n');
    expect(d.joined('stderr')).toBe('oops\n');
  });

  it('a listener that throws does not break the command or the shell', async () => {
    const r = await sh.run('echo a; echo b >&2', {
      onOutput: () => {
        throw new Error('listener bug');
      },
    });
    expect(r).toEqual({ stdout: 'a\n', stderr: 'b\n', code: 0 });
    expect((await sh.run('echo ok')).stdout).toBe('ok\n');
  });
});

describe('BodyStream', () => {
  it('never hands on a byte of the end marker, whatever the chunking', () => {
    const marker = '__RIGGER_0123456789abcdef';
    const needle = Buffer.from(`\n${marker} `);
    const stream = Buffer.from(`${marker}_P 4242\nhello\nw${marker.slice(0, 5)}rld\n${marker} 0\n`);
    for (const size of [1, 2, 3, 7, 16, 1000]) {
      const reader = new FrameReader(needle);
      let out = '';
      const body = new BodyStream(needle, (t) => (out += t), Buffer.from(`${marker}_P `));
      for (let i = 0; i < stream.length; i += size) {
        const d = stream.subarray(i, i + size);
        reader.push(d);
        body.push(d, reader.found);
        expect(out).not.toContain(`\n${marker} `);
        expect(out).not.toContain('_P 4242');
      }
      const frame = reader.complete()!;
      body.finish(frame.body.subarray(frame.body.indexOf(0x0a) + 1));
      expect(out).toBe(`hello\nw${marker.slice(0, 5)}rld`);
    }
  });
});

describe('LocalSession: onOutput', () => {
  it('delivers output while the command runs; the result is unchanged', async () => {
    const s = await LocalSession.open();
    const c = collector();
    const t0 = Date.now();
    const r = await s.run('echo first; sleep 1; echo second; echo e >&2', { onOutput: c.onOutput });
    expect(r).toEqual({ stdout: 'first\nsecond\n', stderr: 'e\n', code: 0 });
    expect(c.chunks[0].text).toBe('first\n');
    expect(c.chunks[0].at - t0).toBeLessThan(800);
    expect(c.joined('stdout')).toBe(r.stdout);
    expect(c.joined('stderr')).toBe(r.stderr);
  });
});
