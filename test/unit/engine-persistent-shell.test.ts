// lib/transport/shell.ts: the persistent remote shell, run against a local /bin/sh.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { PersistentShell } from '../../lib/transport/shell.js';
import { LocalChannel } from './helpers/localChannel.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('PersistentShell over a local /bin/sh', () => {
  let ch: LocalChannel;
  let sh: PersistentShell;
  beforeEach(() => {
    ch = new LocalChannel();
    // what SshSession sends first
    ch.write('export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive\n');
    sh = new PersistentShell(ch.asChannel());
  });
  afterEach(async () => {
    if (ch.child.exitCode === null && ch.child.signalCode === null) {
      sh.close();
      await once(ch.child, 'close');
    }
  });

  it('runs several commands in sequence on one shell, each with its own output and exit code', async () => {
    expect(await sh.run('echo one')).toEqual({ stdout: 'one\n', stderr: '', code: 0 });
    expect(await sh.run('echo two; exit 3')).toEqual({ stdout: 'two\n', stderr: '', code: 3 });
    expect(await sh.run('false')).toEqual({ stdout: '', stderr: '', code: 1 });
    expect(await sh.run('echo $DEBIAN_FRONTEND')).toEqual({ stdout: 'noninteractive\n', stderr: '', code: 0 });
  });

  it('keeps stdout exactly, with or without a trailing newline, and empty', async () => {
    expect((await sh.run("printf 'no newline'")).stdout).toBe('no newline');
    expect((await sh.run("printf 'two\\n\\n'")).stdout).toBe('two\n\n');
    expect((await sh.run("printf '\\n'")).stdout).toBe('\n');
    expect((await sh.run('true')).stdout).toBe('');
  });

  it('captures stderr separately, with or without a trailing newline', async () => {
    expect(await sh.run('echo out; echo err >&2; printf tail >&2; exit 2')).toEqual({ stdout: 'out\n', stderr: 'err\ntail', code: 2 });
    expect(await sh.run('echo clean')).toEqual({ stdout: 'clean\n', stderr: '', code: 0 });
  });

  it('passes scripts verbatim: quotes, $vars, backticks, heredocs', async () => {
    const script = [`x='it'"'"'s'; echo "$x" \`echo back\` $((1+2))`, "cat <<'EOF'", '$HOME `not run` \\ "q"', 'EOF'].join('\n');
    expect((await sh.run(script)).stdout).toBe(`it's back 3\n$HOME \`not run\` \\ "q"\n`);
  });

  it('keeps set -e and EXIT traps working inside scripts (as writeAtomically relies on)', async () => {
    const r = await sh.run(`set -e\ntrap 'echo cleanup' EXIT\necho before\nfalse\necho after`);
    expect(r).toEqual({ stdout: 'before\ncleanup\n', stderr: '', code: 1 });
  });

  it('feeds binary stdin byte for byte', async () => {
    const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(100_000)]);
    expect((await sh.run('sha256sum | cut -d" " -f1', data)).stdout).toBe(`${sha(data)}\n`);
    expect((await sh.run('wc -c', data)).stdout.trim()).toBe(String(data.length));
    expect((await sh.run('od -An -tx1 -v | tr -d " \\n"', data.subarray(0, 256))).stdout).toBe(data.subarray(0, 256).toString('hex'));
  });

  it('feeds string stdin, and an empty one', async () => {
    expect((await sh.run('cat', 'hello\nworld')).stdout).toBe('hello\nworld');
    expect((await sh.run('wc -c', '')).stdout.trim()).toBe('0');
  });

  it('a command that reads stdin does not eat the next command', async () => {
    const a = sh.run('cat; echo "[end]"');
    const b = sh.run('echo next');
    const c = sh.run('cat > /dev/null; read x; echo "x=$x"', 'given\n');
    const d = sh.run('echo last');
    expect(await a).toEqual({ stdout: '[end]\n', stderr: '', code: 0 });
    expect(await b).toEqual({ stdout: 'next\n', stderr: '', code: 0 });
    expect((await c).stdout).toBe('x=\n');
    expect((await d).stdout).toBe('last\n');
  });

  it('serializes concurrent calls and returns results in order', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => sh.run(`sleep 0.0${i % 3}; echo ${i}; echo e${i} >&2; exit ${i % 4}`)));
    results.forEach((r, i) => expect(r).toEqual({ stdout: `${i}\n`, stderr: `e${i}\n`, code: i % 4 }));
  });

  it('handles output larger than one pipe chunk', async () => {
    const r = await sh.run('head -c 3000000 /dev/zero | tr "\\0" a; echo; head -c 200000 /dev/zero | tr "\\0" b >&2');
    expect(r.stdout.length).toBe(3_000_001);
    expect(r.stdout.startsWith('aaaa')).toBe(true);
    expect(r.stderr).toBe('b'.repeat(200_000));
  });

  it('runs each script in its own process: cd, variables and exit do not leak into the next', async () => {
    const cwd = (await sh.run('pwd')).stdout;
    await sh.run('cd /; X=1; export Y=2; exit 0');
    expect(await sh.run('echo "${X:-unset} ${Y:-unset}"; pwd')).toEqual({ stdout: `unset unset\n${cwd}`, stderr: '', code: 0 });
    expect((await sh.run('exit 9')).code).toBe(9);
    expect((await sh.run('echo alive')).stdout).toBe('alive\n');
  });

  it('never lets the script text reach the persistent shell parser', async () => {
    // a script that would be a syntax error (or a heredoc terminator) for the outer shell
    const nasty = `echo ")"; echo '__RIGGER_x_IN'\nEOF\n)"\n`;
    expect((await sh.run(nasty)).code).not.toBe(0);
    expect((await sh.run('echo still alive')).stdout).toBe('still alive\n');
    expect(ch.written).not.toContain('__RIGGER_x_IN');
  });

  it('handles scripts larger than one exec argument may be (128 KiB), e.g. a big probe batch', async () => {
    const script = Array.from({ length: 12000 }, (_, i) => `echo line${i} >/dev/null`).join('\n') + '\necho done';
    expect(script.length).toBeGreaterThan(256 * 1024);
    expect(await sh.run(script)).toEqual({ stdout: 'done\n', stderr: '', code: 0 });
    expect(await sh.run(script, 'with stdin')).toEqual({ stdout: 'done\n', stderr: '', code: 0 });
  });

  it('rejects the pending and later calls when the shell goes away', async () => {
    const pending = sh.run('sleep 5');
    setTimeout(() => ch.kill(), 50);
    await expect(pending).rejects.toThrow('remote shell exited');
    await expect(sh.run('echo x')).rejects.toThrow('remote shell exited');
  });

  it('reports the shell’s last stderr when it exits (e.g. sudo refusing)', async () => {
    // the persistent shell itself exits, as `sudo -n /bin/sh` does without a password
    ch.child.stdin.write('echo "sudo: a password is required" >&2; exit 1\n');
    await once(ch.child, 'close');
    await expect(sh.run('echo x')).rejects.toThrow('remote shell exited: sudo: a password is required');
  });
});
