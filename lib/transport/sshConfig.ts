// The OpenSSH client config (~/.ssh/config, or [defaults] ssh_config) for
// inventory hosts: HostName, Port, User, IdentityFile and ProxyJump of the
// Host blocks that match, as ssh(1) applies them, merged with the inventory
// and the command line into the settings of one connection.
//
// The file is parsed by the `ssh-config` package; the evaluation is ours,
// because its compute() matches `?` as "zero or one character" and
// case-sensitively, and evaluates Match blocks (running `Match exec`
// commands). ssh_config(5): for each parameter the first obtained value is
// used; IdentityFile (like the forwardings) adds up; Host patterns are
// matched, case-insensitively, against the name given to ssh.
import { readdir, readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import SSHConfig, { type Line } from 'ssh-config';
import { UserError } from '../errors.js';
import type { Inventory, InventoryHost } from '../inventory/load.js';
import { displayPath } from '../inventory/paths.js';
import type { JumpHost } from './jump.js';

export type { JumpHost };

/** The settings of one connection, after command line > inventory > ssh config > built-in defaults. */
export interface ResolvedConnection {
  address: string;
  port: number;
  user: string;
  /** in the order to try them */
  identityFiles: string[];
  /** the jump hosts in order, the first one connected to directly; empty for a direct connection */
  jumps: JumpHost[];
}

/** What the command line says about every connection (-u/--user, --private-key). */
export interface ConnectionFlags {
  user?: string;
  privateKeys: string[];
}

type Values = string[];
interface Block {
  /** Host patterns; null: before the first Host line (applies to every host); 'match': a Match block (ignored) */
  patterns: string[] | null | 'match';
  entries: Array<{ key: string; values: Values; file: string } | { include: Block[] }>;
}

/** A parsed ssh config file with its Includes read. */
export class SshConfig {
  constructor(
    readonly file: string,
    private blocks: Block[],
    /** what was read but is not applied (Match blocks), for -v */
    readonly notes: string[] = [],
  ) {}

  /** The options for `name` (lower-case keys), first value winning, IdentityFile accumulating. */
  lookup(name: string): Map<string, Values> {
    const out = new Map<string, Values>();
    apply(this.blocks, name.toLowerCase(), out);
    return out;
  }
}

const ACCUMULATE = new Set(['identityfile', 'certificatefile', 'localforward', 'remoteforward', 'dynamicforward']);

function apply(blocks: Block[], name: string, out: Map<string, Values>): void {
  for (const block of blocks) {
    if (block.patterns === 'match' || (block.patterns && !hostMatches(block.patterns, name))) continue;
    for (const e of block.entries) {
      if ('include' in e) apply(e.include, name, out);
      else if (ACCUMULATE.has(e.key)) out.set(e.key, [...(out.get(e.key) ?? []), ...e.values]);
      else if (!out.has(e.key)) out.set(e.key, e.values);
    }
  }
}

/** A Host line's patterns: any positive match and no negated match (ssh_config(5) PATTERNS). */
export function hostMatches(patterns: string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

/** `*` any run of characters, `?` exactly one; case-insensitive like OpenSSH's host matching. */
function globMatch(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

const valuesOf = (v: Line & { value?: unknown }): Values =>
  Array.isArray(v.value) ? v.value.map((x: { val: string }) => x.val) : typeof v.value === 'string' ? [v.value] : [];

/** Reads and parses `file` and the files it includes (relative Include paths are under ~/.ssh, as for a user's config). */
export async function parseSshConfigFile(file: string, env: NodeJS.ProcessEnv = process.env, depth = 0): Promise<SshConfig> {
  const notes: string[] = [];
  const blocks = await parseFile(file, env, depth, notes);
  return new SshConfig(file, blocks, notes);
}

async function parseFile(file: string, env: NodeJS.ProcessEnv, depth: number, notes: string[]): Promise<Block[]> {
  // OpenSSH stops at 16 levels too (a file that includes itself)
  if (depth > 16) throw new UserError(`${file}: Include nested more than 16 levels deep`);
  const text = await readFile(file, 'utf8');
  let lines: SSHConfig;
  try {
    lines = SSHConfig.parse(text);
  } catch (e: any) {
    throw new UserError(`${file}: not a valid ssh config (${e?.message ?? e})`);
  }
  const blocks: Block[] = [{ patterns: null, entries: [] }];
  const addEntries = async (block: Block, list: Iterable<Line>) => {
    for (const line of list) {
      if (line.type !== SSHConfig.DIRECTIVE) continue;
      const key = line.param.toLowerCase();
      if (key === 'include') {
        for (const pattern of valuesOf(line)) {
          for (const f of await includedFiles(pattern, env)) block.entries.push({ include: await parseFile(f, env, depth + 1, notes) });
        }
      } else block.entries.push({ key, values: valuesOf(line), file });
    }
  };
  for (const line of lines) {
    if (line.type !== SSHConfig.DIRECTIVE) continue;
    const key = line.param.toLowerCase();
    if ((key === 'host' || key === 'match') && 'config' in line) {
      const block: Block = { patterns: key === 'host' ? valuesOf(line) : 'match', entries: [] };
      if (key === 'match') notes.push(`${displayPath(file)}: "Match ${valuesOf(line).join(' ')}" is ignored (rigger applies Host blocks only)`);
      blocks.push(block);
      await addEntries(block, line.config);
    } else await addEntries(blocks[blocks.length - 1], [line]);
  }
  return blocks;
}

/** The files an Include names: `~` expanded, relative to ~/.ssh, `*`/`?` in the last part matched in sorted order. */
async function includedFiles(pattern: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const home = env.HOME || homedir();
  const p = pattern.startsWith('~/') ? join(home, pattern.slice(2)) : isAbsolute(pattern) ? pattern : join(home, '.ssh', pattern);
  const name = basename(p);
  if (!/[*?]/.test(name)) return (await readFile(p).then(() => true, () => false)) ? [p] : []; // a missing Include is no error in OpenSSH
  const dir = dirname(p);
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries.filter((e) => !e.startsWith('.') && globMatch(name, e)).sort().map((e) => join(dir, e));
}

/**
 * The ssh config the inventory asks for: none with `ssh_config = false`,
 * ~/.ssh/config only when it exists, an explicit path that must exist.
 */
export async function readSshConfig(inv: Pick<Inventory, 'file' | 'sshConfig'>, env: NodeJS.ProcessEnv = process.env): Promise<SshConfig | undefined> {
  if (!inv.sshConfig) return undefined;
  const { path, explicit } = inv.sshConfig;
  try {
    return await parseSshConfigFile(path, env);
  } catch (e: any) {
    if (e?.code === 'ENOENT' && !explicit) return undefined;
    if (e instanceof UserError) throw e;
    const why = e?.code === 'ENOENT' ? 'no such file' : e?.code === 'EACCES' ? 'permission denied' : e?.code === 'EISDIR' ? 'a directory, not a file' : (e?.message ?? String(e));
    throw new UserError(
      explicit
        ? `${inv.file}: [defaults] ssh_config: cannot read ${path} (${why}); expected the path of an OpenSSH client config file, or false`
        : `${path}: cannot read it (${why}); set ssh_config = false in [defaults] of ${inv.file} to read no ssh config`,
    );
  }
}

/** rigger's own defaults, used when neither the command line, the inventory nor the ssh config says. */
const BUILT_IN = { user: 'root', port: 22 };

/**
 * The connection to `host`: for each setting the command line wins, then the
 * inventory (host line, then [defaults]), then the ssh config's Host blocks
 * for the host's address as the inventory gives it, then rigger's defaults
 * (which the inventory loader already filled in).
 */
export function resolveConnection(host: InventoryHost, config: SshConfig | undefined, flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ResolvedConnection {
  const o = config?.lookup(host.address) ?? new Map<string, Values>();
  const where = (key: string) => `${config ? displayPath(config.file) : 'ssh config'}: ${key} for ${host.address} (host ${host.name})`;
  const address = host.declared.host ? host.address : o.has('hostname') ? expandTokens(o.get('hostname')![0], { h: host.address }, where('HostName')) : host.address;
  const port = host.declared.port ? host.port : o.has('port') ? portOf(o.get('port')![0], where('Port')) : host.port;
  const user = flags.user ?? (host.declared.user ? host.user : (o.get('user')?.[0] ?? host.user));
  const tokens = { h: address, p: String(port), r: user, n: host.address };
  const identityFiles = flags.privateKeys.length
    ? flags.privateKeys
    : host.declared.privateKey || !o.has('identityfile')
      ? [host.privateKey]
      : o.get('identityfile')!.map((f) => identityPath(f, tokens, where('IdentityFile'), env));
  const jumps = config ? jumpsOf(o.get('proxyjump')?.[0], config, identityFiles, where('ProxyJump'), env, [host.address]) : [];
  return { address, port, user, identityFiles, jumps };
}

/** ProxyJump `[user@]host[:port]` list (or ssh://), each hop configured by its own Host blocks; "none" is none. */
function jumpsOf(spec: string | undefined, config: SshConfig, fallbackKeys: string[], where: string, env: NodeJS.ProcessEnv, seen: string[]): JumpHost[] {
  if (!spec || spec.toLowerCase() === 'none') return [];
  const hops = spec.split(',').map((s) => s.trim()).filter(Boolean);
  const out: JumpHost[] = [];
  for (const [i, hop] of hops.entries()) {
    const m = /^(?:ssh:\/\/)?(?:([^@]+)@)?(\[[^\]]+\]|[^:@/]+)(?::(\d+))?\/?$/.exec(hop);
    if (!m) throw new UserError(`${where}: cannot read jump host ${JSON.stringify(hop)}; expected [user@]host[:port]`);
    const name = m[2].replace(/^\[|\]$/g, '');
    const o = config.lookup(name);
    const hopWhere = (key: string) => `${displayPath(config.file)}: ${key} for jump host ${name}`;
    const address = o.has('hostname') ? expandTokens(o.get('hostname')![0], { h: name }, hopWhere('HostName')) : name;
    const port = m[3] ? portOf(m[3], where) : o.has('port') ? portOf(o.get('port')![0], hopWhere('Port')) : BUILT_IN.port;
    const user = m[1] ?? o.get('user')?.[0] ?? BUILT_IN.user;
    const tokens = { h: address, p: String(port), r: user, n: name };
    const identityFiles = o.has('identityfile') ? o.get('identityfile')!.map((f) => identityPath(f, tokens, hopWhere('IdentityFile'), env)) : fallbackKeys;
    // As `ssh -J a,b` does: the first hop is reached the way its own config says (its ProxyJump too); later hops through the earlier ones.
    if (i === 0) {
      if (seen.includes(name.toLowerCase())) throw new UserError(`${where}: ProxyJump loops back to ${name} (${[...seen, name].join(' -> ')})`);
      out.push(...jumpsOf(o.get('proxyjump')?.[0], config, fallbackKeys, hopWhere('ProxyJump'), env, [...seen, name.toLowerCase()]));
    }
    out.push({ address, port, user, identityFiles });
  }
  return out;
}

function portOf(value: string, where: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new UserError(`${where}: expected a port from 1 to 65535, got ${JSON.stringify(value)}`);
  return n;
}

function identityPath(value: string, tokens: Record<string, string>, where: string, env: NodeJS.ProcessEnv): string {
  const home = env.HOME || homedir();
  const p = expandTokens(value, { ...tokens, d: home, u: localUser(env) }, where);
  if (p === '~' || p.startsWith('~/')) return join(home, p.slice(1));
  return isAbsolute(p) ? p : join(home, p); // OpenSSH: relative to the home directory
}

/** ssh_config(5) TOKENS: %% and those given; any other is an error, as in OpenSSH. */
function expandTokens(value: string, tokens: Record<string, string>, where: string): string {
  return value.replace(/%(.)/g, (all, t: string) => {
    if (t === '%') return '%';
    if (t in tokens) return tokens[t];
    throw new UserError(`${where}: unsupported token %${t} in ${JSON.stringify(value)} (rigger knows %% ${Object.keys(tokens).map((k) => `%${k}`).join(' ')})`);
  });
}

function localUser(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? '';
  }
}
