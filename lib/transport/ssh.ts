// An SSH session to one host: strict host-key checking, become via sudo -n,
// one persistent shell for commands, a separate channel for large uploads.
import { readFile } from 'node:fs/promises';
import { NodeSSH } from 'node-ssh';
import type { ClientChannel } from 'ssh2';
import type { Remote, RunOptions, RunResult } from '../engine/types.js';
import { hostKeyAlgorithmsFor, judgeHostKey, keyTypeOf, lookupKnownKeys, recordKnownKey, type HostKeyVerdict } from './knownHosts.js';
import { PersistentShell } from './shell.js';
import { shq } from '../resources/shell.js';

export interface ConnectOptions {
  host: string;
  address: string;
  port: number;
  user: string;
  privateKey: string;
  knownHosts: string;
  acceptNewHostKeys: boolean;
  connectTimeoutMs: number;
}

/** The host could not be reached (network, auth, timeout). */
export class UnreachableError extends Error {}
/** The host presented a key we must not trust. */
export class HostKeyError extends Error {}

export class RemoteError extends Error {
  constructor(
    readonly script: string,
    readonly result: RunResult,
  ) {
    super(`remote command failed (exit ${result.code}): ${firstLines(result.stderr || result.stdout)}`);
  }
}

function firstLines(s: string): string {
  const t = s.trim().split('\n').slice(-6).join('\n');
  return t || '(no output)';
}

const ENV = 'export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive\n';

export class SshSession implements Remote {
  /** Round trips to the host so far (the figure --json reports as remoteCommands). */
  roundTrips = 0;
  private constructor(
    private opts: ConnectOptions,
    private ssh: NodeSSH,
    private shell: PersistentShell,
    readonly become: boolean,
  ) {}

  static async open(opts: ConnectOptions): Promise<SshSession> {
    const ssh = await connectVerified(opts);
    const become = opts.user !== 'root';
    try {
      const channel = await execChannel(ssh, become ? 'sudo -n -H /bin/sh' : '/bin/sh');
      channel.write(ENV);
      return new SshSession(opts, ssh, new PersistentShell(channel), become);
    } catch (e) {
      ssh.dispose();
      throw e;
    }
  }

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.roundTrips++;
    let result: RunResult;
    try {
      result = await this.shell.run(script, opts.stdin);
    } catch (e: any) {
      if (this.become && /password is required|not in the sudoers|may not run sudo/.test(e.message)) {
        throw new Error(`become failed: user ${this.opts.user} cannot run "sudo -n" without a password (${e.message})`, { cause: e });
      }
      throw e;
    }
    if (opts.check !== false && result.code !== 0) throw new RemoteError(script, result);
    return result;
  }

  /** Binary-safe upload over its own channel: the content never passes through a shell's parser. */
  async upload(path: string, content: Buffer): Promise<void> {
    this.roundTrips++;
    // When the connection drops mid-upload, cat sees end-of-file and would leave a
    // truncated file behind: check the size, remove the file unless it is complete.
    const script =
      `f=${shq(path)}; umask 077; trap 'rm -f "$f"; exit 1' HUP INT TERM PIPE; cat > "$f"; n=$(stat -c %s "$f" 2>/dev/null || echo 0); ` +
      `[ "$n" = ${content.length} ] || { rm -f "$f"; echo "incomplete: $n of ${content.length} bytes arrived" >&2; exit 1; }`;
    const cmd = `${this.become ? 'sudo -n ' : ''}/bin/sh -c ${shq(script)}`;
    const channel = await execChannel(this.ssh, cmd);
    const code = await new Promise<number>((resolve, reject) => {
      let stderr = '';
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      channel.on('exit', (c: number | null) => (c === 0 ? resolve(0) : reject(new Error(`upload to ${path} failed: ${stderr.trim() || `exit ${c}`}`))));
      channel.on('error', reject);
      channel.end(content);
    });
    void code;
  }

  async verifyNewConnection(): Promise<void> {
    this.roundTrips++;
    const ssh = await connectVerified({ ...this.opts, acceptNewHostKeys: false });
    try {
      const r = await ssh.execCommand(this.become ? 'sudo -n true' : 'true');
      if (r.code !== 0) throw new Error(`a new SSH connection works but "${this.become ? 'sudo -n true' : 'true'}" failed: ${r.stderr.trim()}`);
    } finally {
      ssh.dispose();
    }
  }

  close(): void {
    this.shell.close();
    this.ssh.dispose();
  }
}

async function connectVerified(opts: ConnectOptions): Promise<NodeSSH> {
  const known = await lookupKnownKeys(opts.knownHosts, opts.address, opts.port);
  let verdict = 'unknown' as HostKeyVerdict;
  let presented: Buffer | undefined;
  const algorithms = hostKeyAlgorithmsFor(known);
  const ssh = new NodeSSH();
  let privateKey: string;
  try {
    privateKey = await readFile(opts.privateKey, 'utf8');
  } catch {
    throw new UnreachableError(`cannot read private key ${opts.privateKey}`);
  }
  try {
    await ssh.connect({
      host: opts.address,
      port: opts.port,
      username: opts.user,
      privateKey,
      readyTimeout: opts.connectTimeoutMs,
      keepaliveInterval: 15000,
      algorithms: algorithms.length ? { serverHostKey: algorithms as any } : undefined,
      hostVerifier: (key: Buffer) => {
        presented = key;
        verdict = judgeHostKey(known, key);
        return verdict === 'trusted' || (verdict === 'unknown' && opts.acceptNewHostKeys);
      },
    });
  } catch (e: any) {
    ssh.dispose();
    const where = `${opts.address}:${opts.port}`;
    if (verdict === 'changed')
      throw new HostKeyError(`host key for ${where} has CHANGED (now ${presented ? keyTypeOf(presented) : '?'}); it does not match ${opts.knownHosts}. Refusing to connect: if the change is expected, remove the old entry from that file.`);
    if (verdict === 'revoked') throw new HostKeyError(`host key for ${where} is marked @revoked in ${opts.knownHosts}`);
    if (verdict === 'unknown' && presented && !opts.acceptNewHostKeys)
      throw new HostKeyError(`host key for ${where} is not in ${opts.knownHosts}; pass --accept-new-host-keys to trust it on first use`);
    throw new UnreachableError(`cannot connect to ${opts.user}@${where}: ${e.message ?? e}`);
  }
  if (verdict === 'unknown' && presented) await recordKnownKey(opts.knownHosts, opts.address, opts.port, presented);
  return ssh;
}

function execChannel(ssh: NodeSSH, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    ssh.connection!.exec(command, (err, channel) => (err ? reject(err) : resolve(channel)));
  });
}
