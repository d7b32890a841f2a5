import { describe, expect, it } from 'vitest';
import { buildProbeScript, parseProbeOutput, probeAll } from '../../lib/engine/probe.js';
import { FakeRemote } from './helpers/fakeRemote.js';
import { LocalRemote, runSh } from './helpers/localRemote.js';

const M = '__RIGGER_PROBE_0123456789ab';

/** Build, run with /bin/sh and parse: what probeAll does, minus the random marker. */
async function roundTrip(snippets: string[]) {
  const script = buildProbeScript(snippets, M);
  const { stdout } = await runSh(script, undefined);
  return parseProbeOutput(stdout, snippets.length, M);
}

describe('buildProbeScript', () => {
  it('frames each snippet with the marker and its index, in a subshell without stdin or stderr', () => {
    const s = buildProbeScript(['echo a', 'echo b'], M);
    expect(s).toBe(
      `printf '\\n${M} 0\\n'\n(\necho a\n) 2>/dev/null </dev/null\nprintf '\\n${M} rc %s\\n' $?\n` +
        `printf '\\n${M} 1\\n'\n(\necho b\n) 2>/dev/null </dev/null\nprintf '\\n${M} rc %s\\n' $?`,
    );
  });

  it('replaces an empty snippet with ":"', () => {
    expect(buildProbeScript(['  \n'], M)).toContain('(\n:\n)');
  });
});

describe('parseProbeOutput', () => {
  it('parses hand-written output exactly, with and without trailing newlines', () => {
    const out = `\n${M} 0\nabsent\n\n${M} rc 1\n\n${M} 1\nno newline\n${M} rc 0\n\n${M} 2\n\n${M} rc 0\n`;
    expect(parseProbeOutput(out, 3, M)).toEqual([
      { stdout: 'absent\n', code: 1 },
      { stdout: 'no newline', code: 0 },
      { stdout: '', code: 0 },
    ]);
  });

  it('parses a last exit code without a final newline', () => {
    expect(parseProbeOutput(`\n${M} 0\nx\n${M} rc 7`, 1, M)).toEqual([{ stdout: 'x', code: 7 }]);
  });

  it('throws when a resource is missing or its output is truncated', () => {
    expect(() => parseProbeOutput('', 1, M)).toThrow('probe output is missing resource #0');
    expect(() => parseProbeOutput(`\n${M} 0\nabc\n${M} rc 0\n`, 2, M)).toThrow('probe output is missing resource #1');
    expect(() => parseProbeOutput(`\n${M} 0\nabc`, 1, M)).toThrow('probe output of resource #0 is truncated');
  });

  it('returns nothing for zero resources', () => {
    expect(parseProbeOutput('', 0, M)).toEqual([]);
  });
});

describe('batched probes executed with /bin/sh', () => {
  it('round-trips outputs with and without trailing newlines, empty output and exit codes', async () => {
    const results = await roundTrip([
      'echo absent',
      "printf 'no newline'",
      'true',
      'printf "two\\n\\nblank lines\\n\\n"',
      'echo partial; exit 3',
      'false',
      '',
    ]);
    expect(results).toEqual([
      { stdout: 'absent\n', code: 0 },
      { stdout: 'no newline', code: 0 },
      { stdout: '', code: 0 },
      { stdout: 'two\n\nblank lines\n\n', code: 0 },
      { stdout: 'partial\n', code: 3 },
      { stdout: '', code: 1 },
      { stdout: '', code: 0 },
    ]);
  });

  it('keeps going after a snippet exits, and hides stderr', async () => {
    const results = await roundTrip(['echo out; echo err >&2; exit 0', 'exit 42', 'echo still here']);
    expect(results).toEqual([
      { stdout: 'out\n', code: 0 },
      { stdout: '', code: 42 },
      { stdout: 'still here\n', code: 0 },
    ]);
  });

  it('gives snippets an empty stdin', async () => {
    expect(await roundTrip(['cat; echo done', 'read x || echo eof'])).toEqual([
      { stdout: 'done\n', code: 0 },
      { stdout: 'eof\n', code: 0 },
    ]);
  });

  it('copes with case patterns, trailing comments, heredocs and variables that leak nowhere', async () => {
    const results = await roundTrip([
      'case foo in foo) echo yes;; *) echo no;; esac',
      'echo a # a trailing comment',
      "cat <<'EOF'\nheredoc $HOME\nEOF",
      'x=1; echo $x',
      'echo "x=${x:-unset}"',
    ]);
    expect(results.map((r) => r.stdout)).toEqual(['yes\n', 'a\n', 'heredoc $HOME\n', '1\n', 'x=unset\n']);
  });

  it('keeps binary-ish and marker-like output intact', async () => {
    const [r] = await roundTrip([`printf '%s rc 5\\n\\n__RIGGER_PROBE_x 0\\n' ${M}`]);
    expect(r).toEqual({ stdout: `${M} rc 5\n\n__RIGGER_PROBE_x 0\n`, code: 0 });
  });

  it('a snippet with a syntax error fails the batch loudly instead of mixing up outputs', async () => {
    await expect(roundTrip(['echo ok', 'if then fi', 'echo later'])).rejects.toThrow(/probe output is missing resource #1|truncated/);
  });

  it('handles many resources in one script', async () => {
    const snippets = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? `echo ${i}` : i % 3 === 1 ? `printf ${i}` : `exit ${i % 256}`));
    const results = await roundTrip(snippets);
    results.forEach((r, i) => {
      if (i % 3 === 0) expect(r).toEqual({ stdout: `${i}\n`, code: 0 });
      else if (i % 3 === 1) expect(r).toEqual({ stdout: `${i}`, code: 0 });
      else expect(r).toEqual({ stdout: '', code: i % 256 });
    });
  });
});

describe('probeAll', () => {
  it('costs one round trip for any number of snippets, with an unpredictable marker, never failing on exit codes', async () => {
    const remote = new LocalRemote();
    const results = await probeAll(remote, ['echo a', 'exit 1', "printf 'b'"]);
    expect(results).toEqual([
      { stdout: 'a\n', code: 0 },
      { stdout: '', code: 1 },
      { stdout: 'b', code: 0 },
    ]);
    expect(remote.roundTrips).toBe(1);
    await probeAll(remote, ['true']);
    const markers = remote.scripts.map((s) => s.match(/__RIGGER_PROBE_([0-9a-f]{12}) 0/)?.[1]);
    expect(markers[0]).toBeTruthy();
    expect(markers[0]).not.toBe(markers[1]);
  });

  it('does not contact the host for zero snippets', async () => {
    const remote = new FakeRemote();
    expect(await probeAll(remote, [])).toEqual([]);
    expect(remote.roundTrips).toBe(0);
  });

  it('passes check: false so a failing last snippet does not throw', async () => {
    const remote = new FakeRemote(() => ({ code: 1, stdout: '' }));
    await expect(probeAll(remote, ['false'])).rejects.toThrow('probe output is missing resource #0');
    expect(remote.calls[0].check).toBe(false);
  });
});
