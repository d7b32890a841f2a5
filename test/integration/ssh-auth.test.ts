/**
 * Logging in as OpenSSH does, against the real sshd of the shared test hosts
 * (h1, h2, h3; their authorised key is the state folder's id_ed25519):
 *
 *  1. a key held only by an ssh-agent of the test's own (the inventory's
 *     private_key does not exist): the run succeeds; without the agent it
 *     stops before connecting, saying why (exit 1);
 *  2. a passphrase-protected copy of the key: the passphrase is typed on a
 *     pseudo-terminal (util-linux `script`), asked once for three hosts, and
 *     appears nowhere in what the run printed or reported; without a
 *     terminal, a clear error (exit 1);
 *  3. several identity files: an unauthorised one first, then the right one;
 *     and when none is accepted, the error names what was tried.
 *
 * Playbook runs are child processes (helpers/bigFilePlaybook.ts) so that each
 * has, or has not, a terminal: without one they run in a session of their own
 * (detached), with no controlling terminal even when vitest has one. Every run
 * sets SSH_AUTH_SOCK itself: the developer's own agent must not take part.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SshSession, type ConnectOptions } from '../../lib/transport/ssh.js';
import { shq } from '../../lib/resources/shell.js';
import { run } from '../hosts/exec.js';
import { dexec } from './helpers/hostState.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSX_LOADER = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const CHILD = fileURLToPath(new URL('./helpers/bigFilePlaybook.ts', import.meta.url));
const PASSPHRASE = 'rigger it passphrase 4f1c';
const WRONG = 'not-the-passphrase-93ab';

const state = inject('testhosts');
let dir: string;
let agent: ChildProcess | undefined;
let agentSock: string;

interface ChildRun {
  code: number | null;
  output: string;
  report: string;
}

/** An inventory of `names` (all of the test hosts by default) whose one private_key is `key`. */
async function inventory(file: string, key: string, names = state.hosts.map((h) => h.name)): Promise<string> {
  const lines = state.hosts.filter((h) => names.includes(h.name)).map((h) => `${h.name} = { host = "127.0.0.1", port = ${h.port} }`);
  const path = join(dir, file);
  await writeFile(path, `[defaults]\nuser = "root"\nprivate_key = ${JSON.stringify(key)}\nknown_hosts = ${JSON.stringify(state.knownHosts)}\n\n[hosts]\n${lines.join('\n')}\n`);
  return path;
}

function childEnv(target: string, agentSocket: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', RIGGER_IT_TARGET: target, SSH_AUTH_SOCK: agentSocket };
  delete env.FORCE_COLOR;
  return env;
}

/** The playbook without a terminal: a session of its own, stdin closed. */
function runWithoutTerminal(inv: string, target: string, agentSocket: string): Promise<ChildRun> {
  const report = join(dir, `report-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CHILD, '-i', inv, '--json', report], {
    cwd: REPO,
    env: childEnv(target, agentSocket),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return new Promise((resolve) =>
    child.on('close', async (code) => resolve({ code, output, report: await readFile(report, 'utf8').catch(() => '') })),
  );
}

/**
 * The playbook on a pseudo-terminal (util-linux `script` gives it one, as its
 * controlling terminal); each time a passphrase prompt appears, the next of
 * `answers` is typed. Returns what the terminal showed.
 */
function runOnTerminal(inv: string, target: string, answers: string[]): Promise<ChildRun & { prompts: number }> {
  const report = join(dir, `report-tty-${Date.now()}.json`);
  const cmd = [process.execPath, '--import', TSX_LOADER, CHILD, '-i', inv, '--json', report].map(shq).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: REPO, env: childEnv(target, ''), stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let prompts = 0;
  const onData = (d: Buffer) => {
    output += d.toString();
    const seen = output.match(/passphrase[^\n]*for (key )?'[^']*'[^:\n]*:/g)?.length ?? 0;
    while (prompts < seen) {
      prompts++;
      child.stdin!.write(`${answers.shift() ?? ''}\r`);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve) =>
    child.on('close', async (code) => {
      clearTimeout(timer);
      child.stdin!.destroy();
      resolve({ code, output, prompts, report: await readFile(report, 'utf8').catch(() => '') });
    }),
  );
}

async function exists(host: string, path: string): Promise<boolean> {
  const h = state.hosts.find((x) => x.name === host)!;
  return (await dexec(h.containerId, `test -e ${shq(path)}`)).code === 0;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rigger-it-sshauth-'));
  const r = await run(['sh', '-c', 'command -v script && command -v ssh-agent && command -v ssh-add'], { allowFail: true });
  if (r.code !== 0) throw new Error('these tests need util-linux `script`, ssh-agent and ssh-add');
});

afterAll(async () => {
  agent?.kill();
  const cleanup = 'rm -rf /opt/rigger-it-sshauth';
  await Promise.all(state.hosts.map((h) => dexec(h.containerId, cleanup)));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a key held only by ssh-agent', () => {
  beforeAll(async () => {
    agentSock = join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(agentSock); i++) await new Promise((r) => setTimeout(r, 50));
    await run(['ssh-add', '-q', state.privateKey], { env: { ...process.env, SSH_AUTH_SOCK: agentSock } });
  });

  it('logs in with the agent when the inventory key file does not exist', async () => {
    const inv = await inventory('agent.toml', join(dir, 'no_such_key'), ['h1', 'h2']);
    const target = '/opt/rigger-it-sshauth/agent.txt';
    const r = await runWithoutTerminal(inv, target, agentSock);
    expect(r.code, r.output).toBe(0);
    expect(JSON.parse(r.report).hosts.h1.status).toBe('changed');
    expect(await exists('h1', target)).toBe(true);
    expect(await exists('h2', target)).toBe(true);
  });

  it('without the agent, the missing key file stops the run before any host is contacted', async () => {
    const inv = await inventory('agent.toml', join(dir, 'no_such_key'), ['h1', 'h2']);
    const target = '/opt/rigger-it-sshauth/no-agent.txt';
    for (const sock of ['', join(dir, 'gone.sock')]) {
      const r = await runWithoutTerminal(inv, target, sock);
      expect(r.code, r.output).toBe(1);
      const why = sock ? `no ssh-agent at ${sock} \\(no such file\\)` : 'no ssh-agent \\(SSH_AUTH_SOCK is not set\\)';
      expect(r.output).toMatch(new RegExp(`^error: .*agent\\.toml: private_key .*no_such_key of hosts h1, h2: no such file, and ${why}`, 'm'));
      expect(r.output).not.toContain('PLAYBOOK');
      expect(await exists('h1', target)).toBe(false);
    }
  });

  it("the identity file's key goes first in a crowded agent, before the server's MaxAuthTries is used up", async () => {
    // an agent of its own: six unauthorised keys, then the right one (sshd's MaxAuthTries is 6)
    const sock = join(dir, 'crowded-agent.sock');
    const crowded = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      const env = { ...process.env, SSH_AUTH_SOCK: sock };
      for (let i = 0; i < 6; i++) {
        const k = join(dir, `id_crowd${i}`);
        await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', k]);
        await run(['ssh-add', '-q', k], { env });
      }
      const inv = await inventory('crowded.toml', state.privateKey, ['h1']);
      // the right key only as a file: the agent's six use up the tries first (OpenSSH does no better), and the error says so
      const refused = await runWithoutTerminal(inv, '/opt/rigger-it-sshauth/crowded.txt', sock);
      expect(refused.code, refused.output).toBe(2);
      expect(JSON.parse(refused.report).hosts.h1.error).toBe(
        `cannot log in as root@127.0.0.1:${state.hosts[0].port}: the server stopped accepting attempts (its MaxAuthTries) while trying agent (6 keys), ${state.privateKey}`,
      );
      await run(['ssh-add', '-q', state.privateKey], { env });
      const r = await runWithoutTerminal(inv, '/opt/rigger-it-sshauth/crowded.txt', sock);
      expect(r.code, r.output).toBe(0);
      expect(await exists('h1', '/opt/rigger-it-sshauth/crowded.txt')).toBe(true);
    } finally {
      crowded.kill();
    }
  });

  it('when no key is accepted, the error names the methods tried, and no key material', async () => {
    const wrong = join(dir, 'id_wrong');
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', wrong]);
    const inv = await inventory('wrong.toml', wrong, ['h1']);
    // an agent of its own that holds the unauthorised key only
    const sock = join(dir, 'wrong-agent.sock');
    const other = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      const other2 = join(dir, 'id_wrong2');
      await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', other2]);
      await run(['ssh-add', '-q', other2], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      const r = await runWithoutTerminal(inv, '/opt/rigger-it-sshauth/wrong.txt', sock);
      expect(r.code, r.output).toBe(2);
      const error = JSON.parse(r.report).hosts.h1.error as string;
      expect(error).toMatch(new RegExp(`cannot log in as root@127\\.0\\.0\\.1:${state.hosts[0].port}: the server accepted none of agent \\(1 key\\), ${wrong}$`));
      const secret = (await readFile(wrong, 'utf8')).split('\n').slice(1, -2).join('');
      expect(r.output + r.report).not.toContain(secret.slice(0, 40));
      expect(r.output + r.report).not.toContain('PRIVATE KEY');
    } finally {
      other.kill();
    }
  });
});

describe('a passphrase-protected key', () => {
  let enc: string;
  beforeAll(async () => {
    enc = join(dir, 'id_protected');
    await copyFile(state.privateKey, enc);
    await copyFile(`${state.privateKey}.pub`, `${enc}.pub`);
    await run(['ssh-keygen', '-q', '-p', '-P', '', '-N', PASSPHRASE, '-f', enc]);
    expect(await readFile(enc, 'utf8')).not.toBe(await readFile(state.privateKey, 'utf8'));
  });

  it('asks once on the terminal for three hosts (a wrong passphrase first), and the passphrase shows nowhere', async () => {
    const inv = await inventory('protected.toml', enc);
    const target = '/opt/rigger-it-sshauth/tty.txt';
    const r = await runOnTerminal(inv, target, [WRONG, PASSPHRASE]);
    expect(r.code, r.output).toBe(0);
    expect(r.prompts).toBe(2);
    expect(r.output.match(/Enter passphrase for key '[^']*id_protected':/g)).toHaveLength(1);
    expect(r.output.match(/Bad passphrase, try again for '[^']*id_protected' \(2 of 3\):/g)).toHaveLength(1);
    const report = JSON.parse(r.report);
    for (const h of state.hosts) {
      expect(report.hosts[h.name].status).toBe('changed');
      expect(await exists(h.name, target)).toBe(true);
    }
    for (const text of [r.output, r.report]) {
      expect(text).not.toContain(PASSPHRASE);
      expect(text).not.toContain(WRONG);
    }
  });

  it('three wrong passphrases: a clear error, exit 1, nothing contacted', async () => {
    const inv = await inventory('protected3.toml', enc, ['h1']);
    const target = '/opt/rigger-it-sshauth/tty-wrong.txt';
    const r = await runOnTerminal(inv, target, [WRONG, WRONG, WRONG]);
    expect(r.code, r.output).toBe(1);
    expect(r.prompts).toBe(3);
    expect(r.output).toMatch(/error: .*protected3\.toml: private_key .*id_protected of host h1: wrong passphrase \(3 tries\)/);
    expect(r.output).not.toContain(WRONG);
    expect(await exists('h1', target)).toBe(false);
  });

  it('without a terminal: exit 1, saying to add the key to ssh-agent', async () => {
    const inv = await inventory('protected-notty.toml', enc, ['h1']);
    const target = '/opt/rigger-it-sshauth/notty.txt';
    const r = await runWithoutTerminal(inv, target, '');
    expect(r.code, r.output).toBe(1);
    expect(r.output).toContain(`private_key ${enc} of host h1: protected by a passphrase and there is no terminal to ask for it: add it to ssh-agent (ssh-add ${enc})`);
    expect(r.output).not.toContain('PLAYBOOK');
    expect(await exists('h1', target)).toBe(false);
  });
});

describe('several identity files', () => {
  const h = () => state.hosts[0];
  const options = (identityFiles: string[]): ConnectOptions => ({
    host: h().name,
    address: '127.0.0.1',
    port: h().port,
    user: 'root',
    identityFiles,
    agent: false,
    knownHosts: state.knownHosts,
    acceptNewHostKeys: false,
    connectTimeoutMs: 10_000,
  });

  it('an unauthorised key first, a missing one, then the right one: logs in', async () => {
    const wrong = join(dir, 'id_unauthorised');
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', wrong]);
    const session = await SshSession.open(options([wrong, join(dir, 'absent'), state.privateKey]));
    try {
      expect((await session.run('id -un')).stdout.trim()).toBe('root');
    } finally {
      session.close();
    }
    // and the unauthorised one alone is refused, naming it
    await expect(SshSession.open(options([wrong]))).rejects.toThrow(new RegExp(`cannot log in as root@127\\.0\\.0\\.1:${h().port}: the server accepted none of ${wrong}$`));
  });
});
