// How rigger logs in over SSH, the way OpenSSH does: the keys of ssh-agent
// first, then the identity files in order (a missing one is skipped); a
// passphrase-protected file is decrypted once per run, its passphrase asked
// for on the terminal (never echoed, never logged), unless the agent already
// holds that key. The result is the ordered list of methods handed to ssh2's
// `authHandler`, and a description of them for error messages.
import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { ReadStream, WriteStream } from 'node:tty';
import { read } from 'read';
import ssh2 from 'ssh2';
import type { AgentAuthMethod, IdentityCallback, ParsedKey, PublicKeyAuthMethod, SignCallback, SigningRequestOptions } from 'ssh2';

export interface AuthOptions {
  user: string;
  /** tried in order, after the agent's keys */
  identityFiles: string[];
  /** the agent's socket; undefined: $SSH_AUTH_SOCK; false: no agent */
  agent?: string | false;
}

export interface AuthPlan {
  /** for ssh2's authHandler, in the order they are tried */
  methods: Array<AgentAuthMethod | PublicKeyAuthMethod>;
  /** what the methods are, for messages: `agent (2 keys), ~/.ssh/id_ed25519` */
  tried: string;
  /** identity files left out, and why (`~/.ssh/id_rsa: no such file`) */
  skipped: string[];
}

/** No way to log in is left, or a key cannot be used as given: nothing was sent to any host. */
export class AuthSetupError extends Error {
  constructor(
    /** the identity file concerned, when there is one */
    readonly file: string | undefined,
    /** what is wrong, without the file's name (`no such file, and no ssh-agent …`) */
    readonly detail: string,
    message = file ? `private key ${displayPath(file)}: ${detail}` : detail,
  ) {
    super(message);
  }
}

/** Asks for a passphrase without echo; undefined when there is no terminal to ask on. */
export type AskPassphrase = (prompt: string) => Promise<string | undefined>;

/** A path as a person would type it: under the home directory as `~/…`. */
export function displayPath(path: string): string {
  const home = homedir();
  return home && home !== '/' && path.startsWith(home + '/') ? `~${path.slice(home.length)}` : path;
}

// ---------------------------------------------------------------- the agent

export interface AgentState {
  /** the socket, when one is configured */
  socket?: string;
  /** the agent's public keys; undefined when it cannot be used */
  keys?: ParsedKey[];
  /** why it cannot be used, for messages */
  why?: string;
}

/** The agent `agent` names (see AuthOptions) and its keys, asked for now: keys can be added while rigger runs. */
export async function agentState(agent: string | false | undefined, env: NodeJS.ProcessEnv = process.env): Promise<AgentState> {
  if (agent === false) return { why: 'no ssh-agent (not used for this host)' };
  const socket = agent ?? (env.SSH_AUTH_SOCK || undefined);
  if (!socket) return { why: 'no ssh-agent (SSH_AUTH_SOCK is not set)' };
  const st = await stat(socket).catch(() => undefined);
  if (!st?.isSocket()) return { socket, why: `no ssh-agent at ${socket} (${st ? 'not a socket' : 'no such file'})` };
  try {
    const keys = await listAgentKeys(socket);
    return keys.length ? { socket, keys } : { socket, keys, why: `the ssh-agent at ${socket} holds no keys` };
  } catch (e: any) {
    return { socket, why: `the ssh-agent at ${socket} does not answer (${e?.message ?? e})` };
  }
}

function listAgentKeys(socket: string): Promise<ParsedKey[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
    ssh2.createAgent(socket).getIdentities((err, keys) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve((keys ?? []).map((k) => firstKey(ssh2.utils.parseKey(k as ParsedKey))).filter((k): k is ParsedKey => k !== undefined));
    });
  });
}

/** The public half of a protected key file, from `file.pub` beside it (as ssh-keygen writes it). */
async function publicBeside(file: string): Promise<Buffer | undefined> {
  const pub = await readFile(`${file}.pub`, 'utf8').catch(() => undefined);
  return pub === undefined ? undefined : firstKey(ssh2.utils.parseKey(pub))?.getPublicSSH();
}

const holds = (agent: AgentState, blob: Buffer | undefined) => Boolean(blob && agent.keys?.some((k) => k.getPublicSSH().equals(blob)));

/**
 * The agent, offering first the keys that are also identity files, as OpenSSH
 * does: the key meant for these hosts is tried before the server's
 * MaxAuthTries (6 by default) is used up by the agent's other keys.
 */
class FilesFirstAgent extends ssh2.BaseAgent<ParsedKey> {
  private inner: ssh2.OpenSSHAgent;
  constructor(
    socket: string,
    private first: Buffer[],
  ) {
    super();
    this.inner = new ssh2.OpenSSHAgent(socket);
  }
  getIdentities(cb: IdentityCallback<ParsedKey>): void {
    this.inner.getIdentities((err, keys) => {
      if (err || !keys) return cb(err, keys);
      // an OpenSSH agent's identities are parsed keys
      const parsed = keys as ParsedKey[];
      const rank = (k: ParsedKey) => {
        const i = this.first.findIndex((b) => b.equals(k.getPublicSSH()));
        return i < 0 ? this.first.length : i;
      };
      cb(null, [...parsed].sort((a, b) => rank(a) - rank(b)));
    });
  }
  sign(pubKey: ParsedKey, data: Buffer, options: SigningRequestOptions | SignCallback, cb?: SignCallback): void {
    if (typeof options === 'function') this.inner.sign(pubKey, data, options);
    else this.inner.sign(pubKey, data, options, cb);
  }
}

// ---------------------------------------------------------- identity files

type Loaded =
  | { kind: 'key'; key: ParsedKey }
  | { kind: 'encrypted'; text: string; hash: string }
  | { kind: 'skip'; why: string };

const ENCRYPTED = /no passphrase given/i;
const BAD_PASSPHRASE = /bad passphrase|integrity check failed/i;

function firstKey(k: ParsedKey | ParsedKey[] | Error): ParsedKey | undefined {
  if (k instanceof Error) return undefined;
  return Array.isArray(k) ? k[0] : k;
}

/** Reads and parses one identity file; a file that is not there is skipped, as OpenSSH skips its default identities. */
async function loadFile(file: string): Promise<Loaded> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e: any) {
    if (e?.code === 'ENOENT') return { kind: 'skip', why: 'no such file' };
    throw new AuthSetupError(file, e?.code === 'EISDIR' ? 'is a directory' : e?.code === 'EACCES' ? 'permission denied' : `cannot read it (${e?.code ?? e})`);
  }
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error) {
    if (ENCRYPTED.test(parsed.message)) return { kind: 'encrypted', text, hash: createHash('sha256').update(text).digest('hex') };
    throw new AuthSetupError(file, `not a private key ssh2 can read (${parsed.message})`);
  }
  const key = firstKey(parsed)!;
  if (!key.isPrivateKey()) throw new AuthSetupError(file, 'holds a public key, not a private one');
  return { kind: 'key', key };
}

/**
 * Decrypted keys of this process (one run), by the sha256 of the file's text:
 * each passphrase is asked for once, whatever the number of hosts. A failure
 * is kept too, so that fifty hosts do not ask fifty times.
 */
const decrypted = new Map<string, Promise<ParsedKey | { declined: true }>>();
/** One prompt at a time on the terminal. */
let promptQueue: Promise<unknown> = Promise.resolve();

const MAX_PASSPHRASE_TRIES = 3;

const NO_TERMINAL = 'protected by a passphrase and there is no terminal to ask for it';

function noTerminal(file: string): AuthSetupError {
  const p = displayPath(file);
  const detail = `${NO_TERMINAL}: add it to ssh-agent (ssh-add ${p})`;
  return new AuthSetupError(file, detail, `private key ${p} is ${detail}`);
}

async function decrypt(file: string, enc: { text: string; hash: string }, ask: AskPassphrase): Promise<ParsedKey | { declined: true }> {
  const p = displayPath(file);
  for (let attempt = 1; attempt <= MAX_PASSPHRASE_TRIES; attempt++) {
    const prompt = attempt === 1 ? `Enter passphrase for key '${p}':` : `Bad passphrase, try again for '${p}' (${attempt} of ${MAX_PASSPHRASE_TRIES}):`;
    const passphrase = await ask(prompt);
    if (passphrase === undefined) throw noTerminal(file);
    // An empty answer declines the key, as with OpenSSH.
    if (passphrase === '') return { declined: true };
    const parsed = ssh2.utils.parseKey(enc.text, passphrase);
    if (parsed instanceof Error && !BAD_PASSPHRASE.test(parsed.message)) throw new AuthSetupError(file, `cannot decrypt it (${parsed.message})`);
    const key = firstKey(parsed);
    if (key) return key;
  }
  throw new AuthSetupError(file, `wrong passphrase (${MAX_PASSPHRASE_TRIES} tries)`);
}

function decryptOnce(file: string, enc: { text: string; hash: string }, ask: AskPassphrase): Promise<ParsedKey | { declined: true }> {
  let done = decrypted.get(enc.hash);
  if (!done) {
    done = promptQueue.then(() => decrypt(file, enc, ask));
    promptQueue = done.catch(() => undefined);
    decrypted.set(enc.hash, done);
  }
  return done;
}

// ---------------------------------------------------------------- the plan

/**
 * The methods to try, in order: the agent (when it answers and holds keys),
 * then each identity file that exists and is not already in the agent.
 * Throws AuthSetupError when a file cannot be used as given (unreadable, not
 * a key, wrong passphrase) or when no method is left.
 */
export async function planAuth(opts: AuthOptions, ask: AskPassphrase = askOnTerminal): Promise<AuthPlan> {
  const agent = await agentState(opts.agent);
  const methods: AuthPlan['methods'] = [];
  const tried: string[] = [];
  const skipped: Array<{ file: string; why: string }> = [];
  const skip = (file: string, why: string) => void skipped.push({ file, why });
  const loaded: Array<[string, Loaded]> = [];
  for (const file of opts.identityFiles) loaded.push([file, await loadFile(file)]);
  if (agent.keys?.length) {
    const blobs = await Promise.all(loaded.map(([file, l]) => (l.kind === 'key' ? l.key.getPublicSSH() : l.kind === 'encrypted' ? publicBeside(file) : undefined)));
    methods.push({ type: 'agent', username: opts.user, agent: new FilesFirstAgent(agent.socket!, blobs.filter((b): b is Buffer => b !== undefined)) });
    tried.push(`agent (${agent.keys.length} key${agent.keys.length > 1 ? 's' : ''})`);
  }
  // Without a terminal, a protected key is left out while another way remains;
  // when none does, its error says what to do.
  const usable = (l: Loaded) => l.kind === 'key';
  const otherWay = methods.length > 0 || loaded.some(([, l]) => usable(l));
  for (const [file, l] of loaded) {
    const p = displayPath(file);
    if (l.kind === 'skip') {
      skip(file, l.why);
      continue;
    }
    let key: ParsedKey;
    if (l.kind === 'encrypted') {
      if (holds(agent, await publicBeside(file))) {
        skip(file, 'in the agent');
        continue;
      }
      let got: ParsedKey | { declined: true };
      try {
        got = await decryptOnce(file, l, ask);
      } catch (e) {
        if (e instanceof AuthSetupError && e.detail.startsWith(NO_TERMINAL) && otherWay) {
          skip(file, `protected by a passphrase and no terminal to ask for it (ssh-add ${p})`);
          continue;
        }
        throw e;
      }
      if ('declined' in got) {
        skip(file, 'no passphrase given');
        continue;
      }
      key = got;
    } else {
      key = l.key;
    }
    // A key the agent holds is tried there already: trying it twice costs one of the server's MaxAuthTries.
    if (holds(agent, key.getPublicSSH())) {
      skip(file, 'in the agent');
      continue;
    }
    methods.push({ type: 'publickey', username: opts.user, key });
    tried.push(p);
  }
  if (!methods.length) {
    const why = agent.why ?? 'no ssh-agent';
    if (skipped.length === 1 && opts.identityFiles.length === 1) throw new AuthSetupError(skipped[0].file, `${skipped[0].why}, and ${why}`);
    const files = opts.identityFiles.length ? skipped.map((s) => `${displayPath(s.file)}: ${s.why}`).join('; ') : 'no identity file configured';
    throw new AuthSetupError(undefined, `no way to log in: ${files}; and ${why}`);
  }
  return { methods, tried: tried.join(', '), skipped: skipped.map((s) => `${displayPath(s.file)}: ${s.why}`) };
}

// ------------------------------------------------------- the terminal prompt

/**
 * Asks on the controlling terminal (/dev/tty, as ssh does), not on stdin or
 * stdout, which may be a pipe or a log; undefined when there is none. The
 * answer is not echoed (`read`'s silent mode turns echo off and mutes output).
 */
export async function askOnTerminal(prompt: string): Promise<string | undefined> {
  let inFd: number;
  let outFd: number;
  try {
    inFd = openSync('/dev/tty', 'r');
  } catch {
    return undefined;
  }
  try {
    outFd = openSync('/dev/tty', 'w');
  } catch {
    closeSync(inFd);
    return undefined;
  }
  const input = new ReadStream(inFd);
  const output = new WriteStream(outFd);
  try {
    return String(await read({ prompt, silent: true, input, output, terminal: true }));
  } catch (e: any) {
    throw new AuthSetupError(undefined, e?.message === 'canceled' ? 'the passphrase prompt was interrupted' : `cannot read a passphrase from the terminal: ${e?.message ?? e}`);
  } finally {
    output.write('\n');
    input.destroy();
    output.destroy();
  }
}
