// An SSH session to one host: strict host-key checking, become via sudo -n,
// one persistent shell for commands, a separate channel for large uploads,
// keepalives (a host that stops answering fails as unreachable), a lock on
// the host (two rigger runs on one host take turns) and a way to stop the
// command that is running (timeout, interrupt).
import { hostname, userInfo } from 'node:os';
import { NodeSSH } from 'node-ssh';
import type { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import type { Remote, RunOptions, RunResult } from '../engine/types.js';
import { HostError, HostKeyError, UnreachableError, isHostError } from '../errors.js';
import { hostKeyAlgorithmsFor, judgeHostKey, keyTypeOf, lookupKnownKeys, recordKnownKey, type HostKeyVerdict } from './knownHosts.js';
import { PersistentShell, formatMs } from './shell.js';
import { openJumps, type JumpChain, type JumpHost } from './jump.js';
import { AuthSetupError, planAuth, type AuthPlan } from './sshAuth.js';
import { shq } from '../resources/shell.js';

export { HostKeyError, UnreachableError };

export interface ConnectOptions {
  host: string;
  address: string;
  port: number;
  user: string;
  /** private key files, tried in order after the agent's keys (a missing one is skipped) */
  identityFiles: string[];
  /** ssh-agent's socket; undefined: $SSH_AUTH_SOCK; false: no agent */
  agent?: string | false;
  /** ProxyJump: the hops to go through, first one connected to directly */
  jumps?: JumpHost[];
  knownHosts: string;
  acceptNewHostKeys: boolean;
  connectTimeoutMs: number;
  /** keepalive probe interval (OpenSSH's ServerAliveInterval); default 15 s */
  aliveIntervalMs?: number;
  /** unanswered keepalives before the host counts as gone (ServerAliveCountMax); default 3 */
  aliveCountMax?: number;
  /** how long to wait for another rigger run's lock on the host; default 300 s */
  lockTimeoutMs?: number;
  /** a check run: takes the lock shared (checks run together, never beside an apply) and writes nothing */
  check?: boolean;
}

/** The lock two rigger runs on one host take turns on (flock; /run is a tmpfs, so a reboot frees it). */
export const HOST_LOCK = '/run/rigger.lock';

export class RemoteError extends HostError {
  constructor(
    readonly script: string,
    readonly result: RunResult,
  ) {
    super(`remote command failed (exit ${result.code}): ${firstLines(result.stderr || result.stdout)}`, {});
  }
}

function firstLines(s: string): string {
  const t = s.trim().split('\n').slice(-6).join('\n');
  return t || '(no output)';
}

const ENV = 'export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive\n';

/**
 * Taken by the persistent shell before its first command: fd 9 stays open in
 * that shell for the whole session (scripts close their copy), so the lock
 * lasts exactly as long as the session. An apply run takes it exclusive and
 * writes who it is into the file, for the message of a run that gives up
 * waiting; a check run takes it shared, and only if the file exists (it
 * writes nothing).
 */
function lockLine(timeoutS: number, check: boolean): string {
  const who = `rigger pid ${process.pid} on ${hostname()} (user ${userInfo().username}), since ${new Date().toISOString()}`;
  const busy = `another rigger run holds ${HOST_LOCK} on this host (last taken by %s); gave up waiting after ${timeoutS} s\\n`;
  const wait = `{ flock ${check ? '-s' : '-x'} -w ${timeoutS} 9 || { printf '${busy}' "$(head -c 300 ${HOST_LOCK})" >&2; exit 75; }; }`;
  return check
    ? `if command -v flock >/dev/null 2>&1 && [ -f ${HOST_LOCK} ]; then exec 9<${HOST_LOCK} && ${wait}; fi\n`
    : `if command -v flock >/dev/null 2>&1; then exec 9>>${HOST_LOCK} && ${wait} && printf '%s\\n' ${shq(who)} > ${HOST_LOCK}; fi\n`;
}

export class SshSession implements Remote {
  /** Round trips to the host so far (the figure --json reports as remoteCommands). */
  roundTrips = 0;
  private lost?: UnreachableError;
  /** why stop() was called, for the uploads it cut */
  private stopped?: Error;
  private closing = false;
  private uploads = new Set<ClientChannel>();

  private constructor(
    private opts: ConnectOptions,
    private ssh: NodeSSH,
    private shell: PersistentShell,
    readonly become: boolean,
    private jumps: JumpChain,
  ) {}

  static async open(opts: ConnectOptions): Promise<SshSession> {
    const jumps = await openJumps(opts, connectVerified);
    let ssh: NodeSSH | undefined;
    const become = opts.user !== 'root';
    try {
      ssh = await connectVerified(opts, jumps.sock);
      const channel = await execChannel(ssh, become ? 'sudo -n -H /bin/sh' : '/bin/sh');
      const killGroup = (pgid: number, signal: 'TERM' | 'KILL') => execOnce(ssh!, `${become ? 'sudo -n ' : ''}kill -s ${signal} -- -${pgid}`);
      const shell = new PersistentShell(channel, { killGroup });
      const session = new SshSession(opts, ssh, shell, become, jumps);
      session.watchConnection();
      channel.write(ENV + lockLine(Math.ceil((opts.lockTimeoutMs ?? 300_000) / 1000), opts.check ?? false));
      return session;
    } catch (e) {
      ssh?.dispose();
      jumps.close();
      throw e;
    }
  }

  /**
   * Without a listener, the keepalive timeout of a host that stopped
   * answering is an unhandled 'error' event: it would end the whole process.
   * Here it fails this session (as unreachable) and nothing else.
   */
  private watchConnection(): void {
    const conn = this.ssh.connection!;
    const interval = this.opts.aliveIntervalMs ?? 15_000;
    const count = this.opts.aliveCountMax ?? 3;
    const gone = (why: string) => {
      if (this.closing || this.lost) return;
      this.lost = new UnreachableError(`${this.opts.user}@${this.opts.address}:${this.opts.port} ${why}`);
      this.shell.poison(this.lost);
      for (const ch of this.uploads) ch.destroy();
    };
    conn.on('error', (e: Error & { level?: string }) =>
      gone(e.level === 'client-timeout' ? `stopped answering (no reply to ${count} keepalives ${formatMs(interval)} apart)` : `connection failed: ${e.message}`),
    );
    conn.on('close', () => gone('closed the connection'));
  }

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.roundTrips++;
    let result: RunResult;
    try {
      result = await this.shell.run(script, { stdin: opts.stdin, timeoutMs: opts.timeoutMs, onOutput: opts.onOutput });
    } catch (e: any) {
      if (this.lost) throw this.lost;
      if (isHostError(e)) throw e;
      const message = String(e?.message ?? e);
      if (this.become && /password is required|not in the sudoers|may not run sudo/.test(message)) {
        throw new HostError(`become failed: user ${this.opts.user} cannot run "sudo -n" without a password (${message})`, { phase: 'connect' }, { cause: e });
      }
      if (message.includes(`another rigger run holds ${HOST_LOCK}`)) throw new HostError(message.replace(/^remote shell exited: /, ''), { phase: 'connect' }, { cause: e });
      throw new HostError(message, {}, { cause: e });
    }
    if (opts.check !== false && result.code !== 0) throw new RemoteError(script, result);
    return result;
  }

  /** Binary-safe upload over its own channel: the content never passes through a shell's parser. */
  async upload(path: string, content: Buffer, opts: { timeoutMs?: number } = {}): Promise<void> {
    this.roundTrips++;
    if (this.lost) throw this.lost;
    // When the connection drops mid-upload, cat sees end-of-file and would leave a
    // truncated file behind: check the size, remove the file unless it is complete.
    const script =
      `f=${shq(path)}; umask 077; trap 'rm -f "$f"; exit 1' HUP INT TERM PIPE; cat > "$f"; n=$(stat -c %s "$f" 2>/dev/null || echo 0); ` +
      `[ "$n" = ${content.length} ] || { rm -f "$f"; echo "incomplete: $n of ${content.length} bytes arrived" >&2; exit 1; }`;
    const cmd = `${this.become ? 'sudo -n ' : ''}/bin/sh -c ${shq(script)}`;
    const channel = await execChannel(this.ssh, cmd);
    this.uploads.add(channel);
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        let stderr = '';
        if (opts.timeoutMs) timer = setTimeout(() => {
          reject(new HostError(`upload to ${path} timed out after ${formatMs(opts.timeoutMs!)}`, {}));
          channel.destroy();
        }, opts.timeoutMs);
        channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        channel.on('exit', (c: number | null) => (c === 0 ? resolve() : reject(new HostError(`upload to ${path} failed: ${stderr.trim() || `exit ${c}`}`, {}))));
        channel.on('close', () => reject(this.lost ?? this.stopped ?? new HostError(`upload to ${path} failed: the channel closed`, {})));
        channel.on('error', reject);
        channel.end(content);
      });
    } finally {
      clearTimeout(timer);
      this.uploads.delete(channel);
    }
  }

  async verifyNewConnection(): Promise<void> {
    this.roundTrips++;
    const opts = { ...this.opts, acceptNewHostKeys: false };
    const jumps = await openJumps(opts, connectVerified);
    try {
      const ssh = await connectVerified(opts, jumps.sock);
      try {
        const r = await ssh.execCommand(this.become ? 'sudo -n true' : 'true');
        if (r.code !== 0) throw new Error(`a new SSH connection works but "${this.become ? 'sudo -n true' : 'true'}" failed: ${r.stderr.trim()}`);
      } finally {
        ssh.dispose();
      }
    } finally {
      jumps.close();
    }
  }

  /** Stop what is running on the host: a command gets `graceMs` to finish, then its process group is killed; uploads are cut. */
  async stop(failure: Error, graceMs = 0): Promise<void> {
    this.stopped ??= failure;
    for (const ch of this.uploads) ch.destroy();
    await this.shell.stop(failure, graceMs);
  }

  close(): void {
    this.closing = true;
    this.shell.close();
    this.ssh.dispose();
    this.jumps.close();
  }
}

/** One SSH connection, directly or over `sock` (a channel through a jump host). */
async function connectVerified(opts: ConnectOptions, sock?: Duplex): Promise<NodeSSH> {
  const where = `${opts.address}:${opts.port}`;
  let auth: AuthPlan;
  try {
    auth = await planAuth({ user: opts.user, identityFiles: opts.identityFiles, agent: opts.agent });
  } catch (e: any) {
    // Not "unreachable": nothing was tried. (The CLI checks every host's keys before connecting to any.)
    if (e instanceof AuthSetupError) throw new HostError(e.message, { phase: 'connect' });
    throw e;
  }
  const known = await lookupKnownKeys(opts.knownHosts, opts.address, opts.port);
  let verdict = 'unknown' as HostKeyVerdict;
  let presented: Buffer | undefined;
  const algorithms = hostKeyAlgorithmsFor(known);
  const ssh = new NodeSSH();
  try {
    await ssh.connect({
      host: opts.address,
      port: opts.port,
      username: opts.user,
      authHandler: auth.methods,
      sock: sock as any,
      readyTimeout: opts.connectTimeoutMs,
      keepaliveInterval: opts.aliveIntervalMs ?? 15_000,
      keepaliveCountMax: opts.aliveCountMax ?? 3,
      algorithms: algorithms.length ? { serverHostKey: algorithms as any } : undefined,
      hostVerifier: (key: Buffer) => {
        presented = key;
        verdict = judgeHostKey(known, key);
        return verdict === 'trusted' || (verdict === 'unknown' && opts.acceptNewHostKeys);
      },
    });
  } catch (e: any) {
    ssh.dispose();
    if (verdict === 'changed')
      throw new HostKeyError(`host key for ${where} has CHANGED (now ${presented ? keyTypeOf(presented) : '?'}); it does not match ${opts.knownHosts}. Refusing to connect: if the change is expected, remove the old entry from that file.`);
    if (verdict === 'revoked') throw new HostKeyError(`host key for ${where} is marked @revoked in ${opts.knownHosts}`);
    if (verdict === 'unknown' && presented && !opts.acceptNewHostKeys)
      throw new HostKeyError(`host key for ${where} is not in ${opts.knownHosts}; pass --accept-new-host-keys to trust it on first use`);
    const skipped = auth.skipped.length ? ` (skipped: ${auth.skipped.join('; ')})` : '';
    if (e?.level === 'client-authentication') throw new UnreachableError(`cannot log in as ${opts.user}@${where}: the server accepted none of ${auth.tried}${skipped}`, { phase: 'connect' });
    if (/too many authentication failures/i.test(e?.message ?? ''))
      throw new UnreachableError(`cannot log in as ${opts.user}@${where}: the server stopped accepting attempts (its MaxAuthTries) while trying ${auth.tried}${skipped}`, { phase: 'connect' });
    throw new UnreachableError(`cannot connect to ${opts.user}@${where}: ${e.message ?? e}`, { phase: 'connect' });
  }
  if (verdict === 'unknown' && presented) await recordKnownKey(opts.knownHosts, opts.address, opts.port, presented);
  return ssh;
}

function execChannel(ssh: NodeSSH, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    ssh.connection!.exec(command, (err, channel) => (err ? reject(err) : resolve(channel)));
  });
}

/** Run a short command on a channel of its own and wait for it to exit. */
async function execOnce(ssh: NodeSSH, command: string): Promise<void> {
  const channel = await execChannel(ssh, command);
  await new Promise<void>((resolve) => {
    channel.on('close', () => resolve());
    channel.resume();
    channel.stderr.resume();
    channel.end();
  });
}
