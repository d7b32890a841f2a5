/**
 * lib/transport/sshAuth.ts without a server: which methods a login would try
 * and in what order, what is skipped and why, passphrases (asked once per key
 * however many hosts ask at once, three tries, never in a message), and a real
 * ssh-agent (ssh-agent on a socket in a temp dir, keys added with ssh-add).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParsedKey } from 'ssh2';
import { AuthSetupError, displayPath, planAuth, type AskPassphrase } from '../../lib/transport/sshAuth.js';

const PASSPHRASE = 'correct horse 7';
let dir: string;
let n = 0;

/** A fresh key pair (a new file content each time: decrypted keys are remembered by content). */
function keygen(passphrase = ''): string {
  const file = join(dir, `id_${++n}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', `unit-${n}`, '-f', file]);
  return file;
}

/** A prompt that answers from a list, and remembers what it was asked. */
function answers(...replies: Array<string | undefined>): AskPassphrase & { prompts: string[] } {
  const prompts: string[] = [];
  const ask = async (prompt: string) => {
    prompts.push(prompt);
    return replies.length ? replies.shift() : undefined;
  };
  return Object.assign(ask, { prompts });
}

async function setupError(p: Promise<unknown>): Promise<AuthSetupError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(AuthSetupError);
  return e as AuthSetupError;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rigger-sshauth-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('identity files, without an agent', () => {
  it('tries the files that exist, in order; a missing one is skipped', async () => {
    const a = keygen();
    const b = keygen();
    const plan = await planAuth({ user: 'deploy', identityFiles: [join(dir, 'missing'), b, a], agent: false }, answers());
    expect(plan.methods.map((m) => m.type)).toEqual(['publickey', 'publickey']);
    expect(plan.methods.every((m) => m.username === 'deploy')).toBe(true);
    expect(plan.tried).toBe(`${b}, ${a}`);
    expect(plan.skipped).toEqual([`${join(dir, 'missing')}: no such file`]);
    // the keys are parsed private keys, in that order
    const comments = plan.methods.map((m) => (m.type === 'publickey' && typeof m.key === 'object' && 'comment' in m.key ? m.key.comment : '?'));
    expect(comments).toEqual([`unit-${n}`, `unit-${n - 1}`]);
  });

  it('no file and no agent: an error that names both', async () => {
    const e = await setupError(planAuth({ user: 'x', identityFiles: [join(dir, 'nope')], agent: false }, answers()));
    expect(e.file).toBe(join(dir, 'nope'));
    expect(e.message).toBe(`private key ${join(dir, 'nope')}: no such file, and no ssh-agent (not used for this host)`);
    const e2 = await setupError(planAuth({ user: 'x', identityFiles: [join(dir, 'n1'), join(dir, 'n2')], agent: false }, answers()));
    expect(e2.message).toBe(`no way to log in: ${join(dir, 'n1')}: no such file; ${join(dir, 'n2')}: no such file; and no ssh-agent (not used for this host)`);
  });

  it('a file that is not a key, or a directory, is an error (not skipped)', async () => {
    writeFileSync(join(dir, 'garbage'), 'not a key\n');
    mkdirSync(join(dir, 'adir'));
    const good = keygen();
    expect((await setupError(planAuth({ user: 'x', identityFiles: [join(dir, 'garbage'), good], agent: false }, answers()))).detail).toMatch(/^not a private key ssh2 can read/);
    expect((await setupError(planAuth({ user: 'x', identityFiles: [`${good}.pub`], agent: false }, answers()))).detail).toBe('holds a public key, not a private one');
    expect((await setupError(planAuth({ user: 'x', identityFiles: [join(dir, 'adir')], agent: false }, answers()))).detail).toBe('is a directory');
  });

  it('shows paths under the home directory as ~/', () => {
    expect(displayPath(join(homedir(), '.ssh/id_ed25519'))).toBe('~/.ssh/id_ed25519');
    expect(displayPath('/etc/ssh/key')).toBe('/etc/ssh/key');
  });
});

describe('passphrases', () => {
  it('asks once per key, even when many hosts ask at the same time, and never again in the run', async () => {
    const enc = keygen(PASSPHRASE);
    const ask = answers(PASSPHRASE);
    const plans = await Promise.all(Array.from({ length: 5 }, () => planAuth({ user: 'root', identityFiles: [enc], agent: false }, ask)));
    expect(ask.prompts).toEqual([`Enter passphrase for key '${enc}':`]);
    expect(plans.every((p) => p.methods.length === 1 && p.tried === enc)).toBe(true);
    const again = await planAuth({ user: 'root', identityFiles: [enc], agent: false }, ask);
    expect(again.methods).toHaveLength(1);
    expect(ask.prompts).toHaveLength(1);
  });

  it('a wrong passphrase: asked again, up to three times', async () => {
    const enc = keygen(PASSPHRASE);
    const ask = answers('wrong one', 'wrong two', PASSPHRASE);
    const plan = await planAuth({ user: 'root', identityFiles: [enc], agent: false }, ask);
    expect(plan.methods).toHaveLength(1);
    expect(ask.prompts).toEqual([`Enter passphrase for key '${enc}':`, `Bad passphrase, try again for '${enc}' (2 of 3):`, `Bad passphrase, try again for '${enc}' (3 of 3):`]);
  });

  it('three wrong passphrases: an error without any of them, and no more prompts for that key', async () => {
    const enc = keygen(PASSPHRASE);
    const ask = answers('guess-1', 'guess-2', 'guess-3', PASSPHRASE);
    const e = await setupError(planAuth({ user: 'root', identityFiles: [enc], agent: false }, ask));
    expect(e.message).toBe(`private key ${enc}: wrong passphrase (3 tries)`);
    expect(e.message).not.toMatch(/guess/);
    await setupError(planAuth({ user: 'root', identityFiles: [enc], agent: false }, ask));
    expect(ask.prompts).toHaveLength(3);
  });

  it('no terminal: the error says how to use the key anyway', async () => {
    const enc = keygen(PASSPHRASE);
    const e = await setupError(planAuth({ user: 'root', identityFiles: [enc], agent: false }, answers(undefined)));
    expect(e.message).toBe(`private key ${enc} is protected by a passphrase and there is no terminal to ask for it: add it to ssh-agent (ssh-add ${enc})`);
  });

  it('no terminal, but another key is usable: the protected one is left out, and said so', async () => {
    const enc = keygen(PASSPHRASE);
    const plain = keygen();
    const plan = await planAuth({ user: 'root', identityFiles: [enc, plain], agent: false }, answers(undefined));
    expect(plan.tried).toBe(plain);
    expect(plan.skipped).toEqual([`${enc}: protected by a passphrase and no terminal to ask for it (ssh-add ${enc})`]);
  });

  it('an empty answer declines the key, as with OpenSSH', async () => {
    const enc = keygen(PASSPHRASE);
    const plain = keygen();
    const plan = await planAuth({ user: 'root', identityFiles: [enc, plain], agent: false }, answers(''));
    expect(plan.tried).toBe(plain);
    expect(plan.skipped).toEqual([`${enc}: no passphrase given`]);
  });
});

describe('with a real ssh-agent', () => {
  let agent: ChildProcess;
  let sock: string;
  let inAgent: string;
  let encInAgent: string;
  const env = () => ({ ...process.env, SSH_AUTH_SOCK: sock });

  beforeAll(async () => {
    sock = join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    inAgent = keygen();
    encInAgent = keygen(PASSPHRASE);
    execFileSync('ssh-add', ['-q', inAgent], { env: env(), stdio: 'ignore' });
    // ssh-add asks for a passphrase through SSH_ASKPASS when there is no terminal
    const askpass = join(dir, 'askpass.sh');
    writeFileSync(askpass, `#!/bin/sh\nprintf '%s\\n' '${PASSPHRASE}'\n`, { mode: 0o700 });
    execFileSync('ssh-add', ['-q', encInAgent], { env: { ...env(), SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' }, stdio: 'ignore' });
  });
  afterAll(() => agent?.kill());

  it('the agent comes first and counts its keys; a file the agent holds is not tried twice', async () => {
    const other = keygen();
    const plan = await planAuth({ user: 'root', identityFiles: [inAgent, join(dir, 'missing'), other], agent: sock }, answers());
    expect(plan.methods.map((m) => m.type)).toEqual(['agent', 'publickey']);
    expect(plan.methods[0]).toMatchObject({ type: 'agent', username: 'root' });
    expect(plan.tried).toBe(`agent (2 keys), ${other}`);
    expect(plan.skipped).toEqual([`${inAgent}: in the agent`, `${join(dir, 'missing')}: no such file`]);
  });

  it('SSH_AUTH_SOCK is the default socket; agent: false leaves it out', async () => {
    const saved = process.env.SSH_AUTH_SOCK;
    process.env.SSH_AUTH_SOCK = sock;
    try {
      expect((await planAuth({ user: 'root', identityFiles: [join(dir, 'missing')] }, answers())).tried).toBe('agent (2 keys)');
      const e = await setupError(planAuth({ user: 'root', identityFiles: [join(dir, 'missing')], agent: false }, answers()));
      expect(e.detail).toBe('no such file, and no ssh-agent (not used for this host)');
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
    }
  });

  it('the agent offers first the keys that are also identity files (as OpenSSH), so MaxAuthTries is not spent on others', async () => {
    const offered = async (files: string[]) => {
      const m = (await planAuth({ user: 'root', identityFiles: files, agent: sock }, answers())).methods[0];
      const agentObj = m.type === 'agent' ? m.agent : undefined;
      if (!agentObj || typeof agentObj === 'string') throw new Error('expected an agent object');
      const keys = await new Promise<ParsedKey[]>((resolve, reject) => agentObj.getIdentities((err, k) => (err ? reject(err) : resolve(k as ParsedKey[]))));
      return keys.map((k) => k.comment);
    };
    const [added, encAdded] = [inAgent, encInAgent].map((f) => `unit-${f.split('_').pop()}`);
    expect(await offered([])).toEqual([added, encAdded]); // the agent's own order
    expect(await offered([encInAgent])).toEqual([encAdded, added]); // its public half from the .pub beside it
    expect(await offered([join(dir, 'missing'), encInAgent, inAgent])).toEqual([encAdded, added]);
  });

  it('a protected file whose key the agent holds: no passphrase asked', async () => {
    const ask = answers(PASSPHRASE);
    const plan = await planAuth({ user: 'root', identityFiles: [encInAgent], agent: sock }, ask);
    expect(ask.prompts).toEqual([]);
    expect(plan.tried).toBe('agent (2 keys)');
    expect(plan.skipped).toEqual([`${encInAgent}: in the agent`]);
  });

  it('a socket that is not there, or an agent without keys, does not count as an agent', async () => {
    const e = await setupError(planAuth({ user: 'root', identityFiles: [join(dir, 'missing')], agent: join(dir, 'gone.sock') }, answers()));
    expect(e.detail).toBe(`no such file, and no ssh-agent at ${join(dir, 'gone.sock')} (no such file)`);
    const emptySock = join(dir, 'empty.sock');
    const empty = spawn('ssh-agent', ['-D', '-a', emptySock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(emptySock); i++) await new Promise((r) => setTimeout(r, 50));
      const e2 = await setupError(planAuth({ user: 'root', identityFiles: [join(dir, 'missing')], agent: emptySock }, answers()));
      expect(e2.detail).toBe(`no such file, and the ssh-agent at ${emptySock} holds no keys`);
    } finally {
      empty.kill();
    }
  });
});
