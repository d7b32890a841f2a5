/**
 * --confirm against two of the shared test hosts (real SSH, real resources):
 * a directory, two files and a handler (helpers/confirmPlaybook.ts), each case
 * in a directory of its own on the hosts.
 *
 *   - answer "n": the plan is shown with its diffs, the hosts are unchanged, exit 0;
 *   - answer "y": exactly what was shown is applied; a second --confirm run
 *     plans no change and asks nothing;
 *   - drift: a file is changed on one host (docker exec) after the plan was
 *     shown and before the answer: that host is not changed by the apply, it
 *     is shown again with its new plan and asked about again; the other host
 *     is applied at once; a host that keeps drifting fails after 3 rounds;
 *   - the real prompt: the playbook as a child process under a
 *     pseudo-terminal (util-linux `script`), answered on it; and with no
 *     terminal at all, an error before any host is contacted.
 *
 * Most cases answer through PlaybookIO.ask, so that the test can act at the
 * moment the question is asked. The hosts are read back through `docker exec`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runPlaybook } from '../../lib/playbook.js';
import type { ConfirmJsonReport } from '../../lib/confirmRun.js';
import { dexec, sh } from './helpers/hostState.js';
import { MOTD, SETTINGS, confirmPlaybook } from './helpers/confirmPlaybook.js';

const state = inject('testhosts');
const [A, B] = state.hosts;
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSX_LOADER = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const CHILD = fileURLToPath(new URL('./helpers/confirmPlaybook.ts', import.meta.url));

let tmp: string;
let inventory: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'rigger-confirm-it-'));
  inventory = join(tmp, 'confirm.toml');
  const line = (h: typeof A) => `${h.name} = { host = "127.0.0.1", port = ${h.port} }`;
  await writeFile(inventory, `[defaults]\nuser = "root"\nprivate_key = ${JSON.stringify(state.privateKey)}\nknown_hosts = ${JSON.stringify(state.knownHosts)}\n\n[hosts]\n${line(A)}\n${line(B)}\n`);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface ConfirmRun {
  exitCode: number;
  output: string;
  report?: ConfirmJsonReport;
  questions: string[];
}

/**
 * runPlaybook --confirm in-process; `answer(question, n)` is called when the
 * n-th question (from 1) is asked, with everything printed so far, and returns the answer.
 */
async function confirm(dir: string, answer: (question: string, n: number, output: string) => Promise<string> | string, ...flags: string[]): Promise<ConfirmRun> {
  let output = '';
  const questions: string[] = [];
  const io = {
    stdout: (t: string) => void (output += t),
    stderr: (t: string) => void (output += t),
    colour: false,
    ask: async (q: string) => {
      questions.push(q);
      output += q;
      const a = await answer(q, questions.length, output);
      output += `${a}\n`;
      return a;
    },
  };
  const { exitCode, report } = await runPlaybook(confirmPlaybook(dir), ['-i', inventory, '--confirm', ...flags], io);
  return { exitCode, output, report: report as ConfirmJsonReport | undefined, questions };
}

/** The files under `dir` on a host with their content, or "absent". */
async function contents(host: { containerId: string }, dir: string): Promise<string> {
  return sh(host.containerId, `if [ -d ${dir} ]; then for f in $(ls ${dir}); do echo "== $f"; cat ${dir}/$f; done; else echo absent; fi`);
}

const fresh = async (dir: string) => {
  for (const h of [A, B]) await sh(h.containerId, `rm -rf ${dir}`);
};
const changedIn = (r: ConfirmRun, host: string) => (r.report?.hosts[host]?.tasks ?? []).filter((t) => t.status === 'changed').map((t) => t.resource);
const noAnswer = () => {
  throw new Error('--confirm asked although nothing was to change');
};

describe('--confirm', () => {
  it('answering no: shows the diffs, asks once, changes nothing, exits 0', async () => {
    const dir = '/opt/rigger-it-confirm-no';
    await fresh(dir);
    const json = join(tmp, 'no.json');
    const r = await confirm(dir, () => 'n', '--json', json, '--detailed-exitcode');
    expect(r.exitCode, r.output).toBe(0);
    expect(r.questions).toEqual([`\nApply these changes to 2 host(s) (${A.name}, ${B.name})? [y/N] `]);
    // the check run's output: would-lines and the diffs of both files
    expect(r.output).toContain(`would   ${A.name} [confirm] file:${dir}/settings.conf: create`);
    expect(r.output).toContain('+name=rigger-it');
    expect(r.output).toContain(`+${MOTD.trim()}`);
    expect(r.output).toContain('Nothing was applied: the answer was not yes.');
    for (const h of [A, B]) expect(await contents(h, dir)).toBe('absent\n');
    expect(r.report?.mode).toBe('apply');
    expect(r.report?.hosts[A.name].confirm).toBe('declined');
    expect(r.report?.confirm.rounds).toEqual([{ hosts: [A.name, B.name], answer: 'no', drifted: [] }]);
    // the file written is that report: each host's last plan, marked as not applied
    const written = JSON.parse(await readFile(json, 'utf8')) as ConfirmJsonReport;
    expect(written.confirm.rounds).toEqual(r.report?.confirm.rounds);
    expect(written.hosts[B.name]).toMatchObject({ confirm: 'declined', status: 'changed' });
    expect(written.hosts[B.name].tasks.find((t) => t.resource === `file:${dir}/motd`)?.diff).toContain(`+${MOTD.trim()}`);
  });

  it('a host that cannot be planned is not applied; the others are asked about', async () => {
    const dir = '/opt/rigger-it-confirm-planfail';
    await fresh(dir);
    await sh(B.containerId, `mkdir -p /opt && echo 'not a directory' > ${dir}`);
    const r = await confirm(dir, () => 'y');
    expect(r.exitCode, r.output).toBe(2);
    expect(r.output).toContain(`Not applied, their plan failed: ${B.name}`);
    expect(r.questions).toEqual([`\nApply these changes to 1 host(s) (${A.name})? [y/N] `]);
    expect(r.report?.hosts[B.name]).toMatchObject({ confirm: 'plan failed', status: 'failed' });
    expect(r.report?.hosts[A.name]).toMatchObject({ confirm: 'applied', status: 'changed' });
    expect(await sh(B.containerId, `cat ${dir}`)).toBe('not a directory\n');
    expect(await sh(A.containerId, `cat ${dir}/motd`)).toBe(MOTD);
    await sh(B.containerId, `rm -f ${dir}`);
  });

  it('answering yes: applies exactly what was shown; then a run with nothing to change asks nothing', async () => {
    const dir = '/opt/rigger-it-confirm-yes';
    await fresh(dir);
    // one file already right on B: its plan (and apply) leaves it alone
    await sh(B.containerId, `mkdir -p ${dir} && printf '${SETTINGS.replace(/\n/g, '\\n')}' > ${dir}/settings.conf && chmod 644 ${dir}/settings.conf`);
    let shownPlan = '';
    const r = await confirm(
      dir,
      (_q, _n, out) => {
        shownPlan = out;
        return 'yes';
      },
      '--detailed-exitcode',
    );
    expect(r.exitCode, r.output).toBe(3);
    expect(r.questions).toHaveLength(1);
    // what was shown per host is what was applied per host
    const shown = (host: string) => [...shownPlan.matchAll(new RegExp(`^would   ${host} \\[confirm\\] (.+?): `, 'gm'))].map((m) => m[1]);
    expect(shown(A.name)).toEqual([`directory:${dir}`, `file:${dir}/settings.conf`, `file:${dir}/motd`, 'handler:touch stamp']);
    expect(shown(B.name)).toEqual([`file:${dir}/motd`, 'handler:touch stamp']);
    expect(changedIn(r, A.name)).toEqual(shown(A.name));
    expect(changedIn(r, B.name)).toEqual(shown(B.name));
    expect(r.report?.hosts[A.name].confirm).toBe('applied');
    for (const h of [A, B]) {
      expect(await sh(h.containerId, `cat ${dir}/settings.conf ${dir}/motd`)).toBe(SETTINGS + MOTD);
      expect((await sh(h.containerId, `wc -l < ${dir}/handler.log`)).trim()).toBe('1');
    }

    const again = await confirm(dir, noAnswer, '--detailed-exitcode');
    expect(again.exitCode, again.output).toBe(0);
    expect(again.questions).toEqual([]);
    expect(again.output).toContain('No changes planned: nothing to apply.');
    expect(again.report?.hosts[A.name].confirm).toBe('no changes');
    expect(again.report?.confirm.rounds).toEqual([]);
  });

  it('drift between plan and apply: that host is not changed, is shown again with its new plan, and asked about again', async () => {
    const dir = '/opt/rigger-it-confirm-drift';
    await fresh(dir);
    for (const h of [A, B]) await sh(h.containerId, `mkdir -p ${dir} && echo old > ${dir}/motd`);
    const seen: string[] = [];
    const r = await confirm(dir, async (_q, n) => {
      if (n === 1) {
        // someone edits A's file after the plan was shown
        await sh(A.containerId, `echo 'edited by hand' > ${dir}/motd`);
      } else {
        // the first apply changed nothing on A, and applied B
        seen.push(await contents(A, dir), await contents(B, dir));
      }
      return 'y';
    });
    expect(r.exitCode, r.output).toBe(0);
    expect(r.questions).toEqual([`\nApply these changes to 2 host(s) (${A.name}, ${B.name})? [y/N] `, `\nApply the new plan to 1 host(s) (${A.name})? [y/N] `]);
    expect(seen[0]).toBe('== motd\nedited by hand\n');
    expect(seen[1]).toContain(`== motd\n${MOTD}`);
    // the drift is said, with the new plan's diff
    const second = r.output.slice(r.output.indexOf(r.questions[0]) + r.questions[0].length, r.output.indexOf(r.questions[1]));
    expect(second).toContain(`drifted ${A.name}: its state changed since its plan was shown; nothing was changed on it`);
    expect(second).toContain(`file:${dir}/motd: would change (content), with a different diff than shown`);
    expect(second).toContain('-edited by hand');
    expect(second).not.toContain(`drifted ${B.name}`);
    for (const h of [A, B]) expect(await sh(h.containerId, `cat ${dir}/settings.conf ${dir}/motd`)).toBe(SETTINGS + MOTD);
    expect(r.report?.confirm.rounds).toEqual([
      { hosts: [A.name, B.name], answer: 'yes', drifted: [A.name] },
      { hosts: [A.name], answer: 'yes', drifted: [] },
    ]);
    expect(r.report?.hosts[A.name].confirm).toBe('applied');
    expect(changedIn(r, A.name)).toEqual([`file:${dir}/settings.conf`, `file:${dir}/motd`, 'handler:touch stamp']);
  });

  it('a host someone brought to the desired state meanwhile: drifted, nothing left to apply, not asked about again', async () => {
    const dir = '/opt/rigger-it-confirm-done';
    await fresh(dir);
    const r = await confirm(dir, async () => {
      const put = (name: string, content: string) => `printf '${content.replace(/\n/g, '\\n')}' > ${dir}/${name} && chmod 644 ${dir}/${name}`;
      await sh(A.containerId, `mkdir -p ${dir} && chmod 755 ${dir} && ${put('settings.conf', SETTINGS)} && ${put('motd', MOTD)}`);
      return 'y';
    });
    expect(r.exitCode, r.output).toBe(0);
    expect(r.questions).toHaveLength(1);
    expect(r.output).toContain(`drifted ${A.name}`);
    expect(r.output).toContain('its plan now changes nothing: nothing to apply');
    expect(r.report?.hosts[A.name]).toMatchObject({ confirm: 'no changes', status: 'ok' });
    expect(r.report?.hosts[B.name].confirm).toBe('applied');
    expect(await sh(A.containerId, `ls ${dir}`)).toBe('motd\nsettings.conf\n');
  });

  it('a host whose state changes before every apply fails after 3 rounds, unchanged', async () => {
    const dir = '/opt/rigger-it-confirm-restless';
    await fresh(dir);
    const r = await confirm(dir, async (_q, n) => {
      await sh(A.containerId, `mkdir -p ${dir} && echo 'edit ${n}' > ${dir}/motd`);
      return 'y';
    });
    expect(r.exitCode, r.output).toBe(2);
    expect(r.questions).toHaveLength(3);
    expect(await sh(A.containerId, `cat ${dir}/motd; ls ${dir}`)).toBe('edit 3\nmotd\n');
    expect(r.report?.hosts[A.name]).toMatchObject({ status: 'failed', confirm: 'drifted', error: 'its state changed between plan and apply 3 times in a row; nothing was changed on it' });
    expect(r.report?.hosts[B.name].confirm).toBe('applied');
    expect(r.output).toContain(`Not applied: ${A.name}: its state changed between plan and apply 3 times in a row`);
  });
});

function withoutForceColor(): NodeJS.ProcessEnv {
  const { FORCE_COLOR: _f, ...env } = process.env;
  return env;
}

describe('--confirm on a real terminal', () => {
  /** The playbook as a child process; under `script` it gets a pseudo-terminal as its controlling terminal. */
  function child(dir: string, opts: { pty: boolean; stdoutTo?: string }) {
    const cmd = [process.execPath, '--import', TSX_LOADER, CHILD, '-i', inventory, '--limit', A.name, '--confirm'];
    const line = cmd.map((a) => `'${a}'`).join(' ') + (opts.stdoutTo ? ` > '${opts.stdoutTo}'` : '');
    const argv = opts.pty ? ['script', '-qec', line, '/dev/null'] : cmd;
    const p = spawn(argv[0], argv.slice(1), {
      cwd: REPO,
      env: { ...withoutForceColor(), NO_COLOR: '1', RIGGER_IT_CONFIRM_DIR: dir },
      stdio: ['pipe', 'pipe', 'pipe'],
      // no pty: a session of its own has no controlling terminal, so /dev/tty cannot be opened
      detached: !opts.pty,
    });
    let output = '';
    const onData = (d: Buffer) => void (output += d.toString());
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
    /** resolves once `text` has been printed `times` times */
    const printed = (text: string, times = 1) =>
      new Promise<void>((resolve, reject) => {
        const check = () => output.split(text).length - 1 >= times;
        if (check()) return resolve();
        const timer = setTimeout(() => reject(new Error(`not printed: ${JSON.stringify(text)} x${times}\n${output}`)), 120_000);
        const poll = setInterval(() => {
          if (check()) {
            clearInterval(poll);
            clearTimeout(timer);
            resolve();
          }
        }, 50);
      });
    return { p, exited, printed, output: () => output };
  }

  it('asks on the terminal and takes the answers typed there, also after a drift', async () => {
    const dir = '/opt/rigger-it-confirm-pty';
    await sh(A.containerId, `rm -rf ${dir}`);
    const c = child(dir, { pty: true });
    await c.printed('[y/N] ');
    expect(c.output()).toContain(`Apply these changes to 1 host(s) (${A.name})? [y/N] `);
    await sh(A.containerId, `mkdir -p ${dir} && echo 'edited on the host' > ${dir}/motd`);
    c.p.stdin.write('y\n');
    await c.printed('[y/N] ', 2);
    expect(c.output()).toContain(`drifted ${A.name}`);
    expect(await sh(A.containerId, `ls ${dir}; cat ${dir}/motd`)).toBe('motd\nedited on the host\n');
    c.p.stdin.write('yes\n');
    expect(await c.exited, c.output()).toBe(0);
    expect(await sh(A.containerId, `cat ${dir}/settings.conf ${dir}/motd`)).toBe(SETTINGS + MOTD);
    expect(c.output()).toContain('CONFIRM: applied: ');
  });

  it('the question goes to the terminal even when stdout is redirected', async () => {
    const dir = '/opt/rigger-it-confirm-redirected';
    await sh(A.containerId, `rm -rf ${dir}`);
    const out = join(tmp, 'redirected.out');
    const c = child(dir, { pty: true, stdoutTo: out });
    await c.printed('[y/N] ');
    c.p.stdin.write('n\n');
    expect(await c.exited, c.output()).toBe(0);
    const file = await readFile(out, 'utf8');
    // the plan and the outcome in the file, the question on the terminal only
    expect(file).toContain(`would   ${A.name} [confirm] file:${dir}/motd: create`);
    expect(file).toContain('Nothing was applied: the answer was not yes.');
    expect(file).not.toContain('[y/N]');
    expect(c.output()).toContain(`Apply these changes to 1 host(s) (${A.name})? [y/N] `);
    expect(c.output()).not.toContain('PLAYBOOK');
  });

  it('Ctrl-C at the question applies nothing and exits 130', async () => {
    const dir = '/opt/rigger-it-confirm-ctrlc';
    await sh(A.containerId, `rm -rf ${dir}`);
    const c = child(dir, { pty: true });
    await c.printed('[y/N] ');
    // the terminal's interrupt character: the line discipline sends SIGINT to the playbook
    c.p.stdin.write('\x03');
    expect(await c.exited, c.output()).toBe(130);
    expect(c.output()).toContain('Nothing was applied: interrupted at the question.');
    expect((await dexec(A.containerId, `test -e ${dir}`)).code).toBe(1);
  });

  it('with no terminal: an error before anything is contacted, exit 1', async () => {
    const dir = '/opt/rigger-it-confirm-notty';
    await sh(A.containerId, `rm -rf ${dir}`);
    const c = child(dir, { pty: false });
    c.p.stdin.end('y\n');
    expect(await c.exited, c.output()).toBe(1);
    expect(c.output()).toContain('error: --confirm asks on the terminal, and this run has none');
    expect(c.output()).not.toContain('PLAYBOOK');
    expect((await dexec(A.containerId, `test -e ${dir}`)).code).toBe(1);
  });
});
