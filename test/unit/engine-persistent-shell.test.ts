// lib/transport/shell.ts: the persistent remote shell, run against a local /bin/sh.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { PersistentShell } from '../../lib/transport/shell.js';
import { LocalChannel } from './helpers/localChannel.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** What SshSession does over a channel of its own, done locally. */
async function localKill(pgid: number, signal: 'TERM' | 'KILL'): Promise<void> {
  try {
    process.kill(-pgid, `SIG${signal}`);
  } catch {
    // already gone
  }
}


describe('PersistentShell over a local /bin/sh', () => {
  let ch: LocalChannel;
  let sh: PersistentShell;
  beforeEach(() => {
    ch = new LocalChannel();
    // what SshSession sends first
    ch.write('export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive\n');
    sh = new PersistentShell(ch.asChannel(), { killGroup: localKill, killGraceMs: 500 });
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
    expect((await sh.run('sha256sum | cut -d" " -f1', { stdin: data })).stdout).toBe(`${sha(data)}\n`);
    expect((await sh.run('wc -c', { stdin: data })).stdout.trim()).toBe(String(data.length));
    expect((await sh.run('od -An -tx1 -v | tr -d " \\n"', { stdin: data.subarray(0, 256) })).stdout).toBe(data.subarray(0, 256).toString('hex'));
  });

  it('feeds string stdin, and an empty one', async () => {
    expect((await sh.run('cat', { stdin: 'hello\nworld' })).stdout).toBe('hello\nworld');
    expect((await sh.run('wc -c', { stdin: '' })).stdout.trim()).toBe('0');
  });

  it('a command that reads stdin does not eat the next command', async () => {
    const a = sh.run('cat; echo "[end]"');
    const b = sh.run('echo next');
    const c = sh.run('cat > /dev/null; read x; echo "x=$x"', { stdin: 'given\n' });
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
    expect(await sh.run(script, { stdin: 'with stdin' })).toEqual({ stdout: 'done\n', stderr: '', code: 0 });
  });

  it('rejects the pending and later calls when the shell goes away', async () => {
    const pending = sh.run('sleep 1');
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

  describe('stopping a command: timeout and interrupt', () => {
    it('kills a command that runs longer than its timeout, with everything it started, and stays usable', async () => {
      const t0 = Date.now();
      // a child in the background and one in the foreground: both must die
      const run = sh.run('sleep 300 & echo "bg $!"; sleep 300', { timeoutMs: 300 });
      await expect(run).rejects.toMatchObject({ name: 'CommandTimeoutError', message: expect.stringMatching(/^timed out after 0\.3 s; the command and everything it started were killed on the host/) });
      expect(Date.now() - t0).toBeLessThan(3000);
      expect((await sh.run('echo still usable')).stdout).toBe('still usable\n');
      // nothing of it is left running: no sleep 300 among our processes
      const left = (await sh.run('ps -eo pid=,args= | grep "[s]leep 300" || true')).stdout;
      expect(left).toBe('');
    });

    it('a command that ends before its timeout is not touched', async () => {
      expect(await sh.run('sleep 0.1; echo done', { timeoutMs: 5000 })).toEqual({ stdout: 'done\n', stderr: '', code: 0 });
    });

    it('SIGKILL follows when SIGTERM is ignored', async () => {
      const run = sh.run(`trap '' TERM; echo ready; while :; do sleep 0.05; done`, { timeoutMs: 200 });
      await expect(run).rejects.toThrow(/timed out/);
      expect((await sh.run('echo ok')).stdout).toBe('ok\n');
    });

    it('stop() lets the running command finish within the grace, else kills it', async () => {
      const quick = sh.run('sleep 0.2; echo finished');
      await new Promise((r) => setTimeout(r, 50));
      await sh.stop(new Error('interrupted'), 2000);
      expect((await quick).stdout).toBe('finished\n');

      const slow = sh.run('echo $$; sleep 300');
      await new Promise((r) => setTimeout(r, 100));
      const t0 = Date.now();
      await sh.stop(new Error('interrupted by SIGTERM'), 200);
      await expect(slow).rejects.toThrow('interrupted by SIGTERM');
      expect(Date.now() - t0).toBeLessThan(3000);
      expect((await sh.run('echo next')).stdout).toBe('next\n');
    });

    it('scripts run in a session of their own and do not inherit the lock descriptor 9', async () => {
      ch.write('exec 9>/dev/null\n');
      const r = await sh.run('ls -l /proc/$$/fd | grep -c " 9 ->" || true; ps -o sid= -p $$; echo $$');
      const [fd9, sid, pid] = r.stdout.trim().split(/\s+/);
      expect(fd9).toBe('0');
      expect(sid).toBe(pid);
    });
  });

  describe('output in linear time', () => {
    it('64 MiB of output arrive whole in seconds, not minutes', async () => {
      const t0 = Date.now();
      const r = await sh.run(`head -c ${64 * 1024 * 1024} /dev/zero | tr '\\0' a; echo err >&2`);
      const ms = Date.now() - t0;
      expect(r.stdout.length).toBe(64 * 1024 * 1024);
      expect(r.stdout.endsWith('aaaa')).toBe(true);
      expect(r.stderr).toBe('err\n');
      // measured 0.8 s here (a quadratic framing took 35 s locally, 92 s over SSH)
      expect(ms).toBeLessThan(10_000);
    }, 60_000);

    it('finds the end marker when it arrives split across many tiny chunks', async () => {
      // 20000 writes of 3 bytes: the marker lands across chunk boundaries
      const r = await sh.run('i=0; while [ $i -lt 20000 ]; do printf abc; i=$((i+1)); done', {});
      expect(r.stdout).toBe('abc'.repeat(20000));
    }, 60_000);
  });
});
