// Loads an inventory file: parse, validate, resolve secrets, then build hosts
// with their groups (incl. ancestors) and merged vars.
import { dirname, resolve } from 'node:path';
import type { Vars } from '../engine/types.js';
import { ExtraVars, parseExtraVars } from './extraVars.js';
import { depths, parentsOf, sortForMerge, withAncestors } from './graph.js';
import { formatOf, parseText, readText } from './parse.js';
import { displayPath, resolvePath } from './paths.js';
import { Problems } from './problems.js';
import { checkReferences } from './references.js';
import { validateShape, type InventoryFile } from './schema.js';
import { SecretResolver } from './secrets.js';
import { mergeVars } from './vars.js';

export interface InventoryHost {
  name: string;
  /** what to connect to (the host line's `host`, else the name) */
  address: string;
  port: number;
  user: string;
  /** absolute path */
  privateKey: string;
  /** absolute path */
  knownHosts: string;
  /** seconds */
  connectTimeout: number;
  /** seconds one remote command may run (a resource's own timeout, or --timeout, wins) */
  commandTimeout: number;
  /** seconds to wait for another rigger run's lock on the host */
  lockTimeout: number;
  /** keepalive interval (seconds) and unanswered keepalives before the host counts as gone */
  serverAliveInterval: number;
  serverAliveCountMax: number;
  /** every group of the host incl. ancestors and "all", in merge order */
  groups: string[];
  /** merged vars */
  vars: Vars;
  /**
   * Which connection settings the inventory sets (host line or [defaults]),
   * as opposed to rigger's built-in defaults: only those win over ~/.ssh/config.
   */
  declared: { host: boolean; port: boolean; user: boolean; privateKey: boolean };
}

export interface InventoryGroup {
  name: string;
  /** all members incl. via children, in inventory order */
  hosts: string[];
  children: string[];
  vars: Vars;
}

export interface Inventory {
  /** absolute path */
  file: string;
  /** in inventory order */
  hosts: Map<string, InventoryHost>;
  /** "all" first, then declaration order */
  groups: Map<string, InventoryGroup>;
  /** -e/--extra-vars (secrets resolved), already applied to every host's vars; the control machine's target applies them itself */
  extraVars?: ExtraVars;
  /** the ssh client config to read ([defaults] ssh_config): false for none; `explicit` when the inventory names it (then it must exist) */
  sshConfig: { path: string; explicit: boolean } | false;
}

export interface LoadOptions {
  /** false: leave secrets as unresolved placeholders and read no secret (e.g. --list-hosts). Default true. */
  resolveSecrets?: boolean;
  env?: NodeJS.ProcessEnv;
  /** where warnings go (default: stderr) */
  warn?: (message: string) => void;
  /** -e/--extra-vars values as given (key=value, @file): they win over every inventory var of every host */
  extraVars?: readonly string[];
}

const DEFAULTS = {
  user: 'root',
  port: 22,
  private_key: '~/.ssh/id_ed25519',
  ssh_config: '~/.ssh/config',
  known_hosts: '~/.ssh/known_hosts',
  connect_timeout: 10,
  command_timeout: 3600,
  lock_timeout: 300,
  server_alive_interval: 15,
  server_alive_count_max: 3,
};

export async function loadInventory(path: string, opts: LoadOptions = {}): Promise<Inventory> {
  const extra = opts.extraVars?.length ? parseExtraVars(opts.extraVars) : undefined;
  const format = formatOf(path);
  const raw = parseText(path, await readText(path, 'inventory'), format);
  const problems = new Problems(path);
  const data = validateShape(raw, problems);
  checkReferences(raw, problems);
  problems.throwIfAny();

  const file = resolve(path);
  const env = opts.env ?? process.env;
  const secretsFile = data!.defaults?.secrets ? resolvePath(data!.defaults.secrets, dirname(file), env) : undefined;
  const secrets = new SecretResolver(
    {
      env,
      file: secretsFile,
      fileLabel: secretsFile && displayPath(secretsFile),
      resolve: opts.resolveSecrets ?? true,
      warn: opts.warn ?? ((m) => process.stderr.write(m + '\n')),
    },
    problems,
  );
  const resolved = withSecrets(data!, secrets);
  problems.throwIfAny();
  return build(file, resolved, env, extra?.withSecrets(secrets.opts));
}

/** The file's data with every secret reference replaced by a Secret. */
function withSecrets(data: InventoryFile, secrets: SecretResolver): InventoryFile {
  const vars = (v: Vars | undefined, path: string[]) => (v ? (secrets.transform(v, path) as Vars) : undefined);
  const mapValues = <T>(o: Record<string, T> | undefined, f: (v: T, k: string) => T) =>
    Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k, f(v, k)]));
  return {
    ...data,
    vars: vars(data.vars, ['vars']),
    hosts: mapValues(data.hosts, (h, k) => ({ ...h, vars: vars(h.vars, ['hosts', k, 'vars']) })),
    groups: mapValues(data.groups, (g, k) => ({ ...g, vars: vars(g.vars, ['groups', k, 'vars']) })),
    host_vars: mapValues(data.host_vars, (v, k) => vars(v, ['host_vars', k])!),
  };
}

function build(file: string, data: InventoryFile, env: NodeJS.ProcessEnv, extra: ExtraVars | undefined): Inventory {
  const baseDir = dirname(file);
  const d = { ...DEFAULTS, ...data.defaults };
  const declared = data.groups ?? {};
  const children = new Map(Object.entries(declared).map(([g, v]) => [g, unique(v.children ?? [])]));
  const parents = parentsOf(children);
  const depth = depths(parents);

  const hosts = new Map<string, InventoryHost>();
  for (const [name, h] of Object.entries(data.hosts)) {
    const direct = (h.groups ?? []).filter((g) => g !== 'all');
    const groups = ['all', ...sortForMerge(withAncestors(direct, parents), depth)];
    hosts.set(name, {
      name,
      address: h.host ?? name,
      port: h.port ?? d.port,
      user: h.user ?? d.user,
      privateKey: resolvePath(h.private_key ?? d.private_key, baseDir, env),
      knownHosts: resolvePath(h.known_hosts ?? d.known_hosts, baseDir, env),
      connectTimeout: h.connect_timeout ?? d.connect_timeout,
      commandTimeout: h.command_timeout ?? d.command_timeout,
      lockTimeout: h.lock_timeout ?? d.lock_timeout,
      serverAliveInterval: h.server_alive_interval ?? d.server_alive_interval,
      serverAliveCountMax: h.server_alive_count_max ?? d.server_alive_count_max,
      groups,
      vars: withExtra(mergeVars(data.vars, ...groups.slice(1).map((g) => declared[g]?.vars), h.vars, data.host_vars?.[name]), extra, `host ${name}`),
      declared: {
        host: h.host !== undefined,
        port: (h.port ?? data.defaults?.port) !== undefined,
        user: (h.user ?? data.defaults?.user) !== undefined,
        privateKey: (h.private_key ?? data.defaults?.private_key) !== undefined,
      },
    });
  }

  const membersOf = (g: string) => [...hosts.values()].filter((h) => h.groups.includes(g)).map((h) => h.name);
  const groups = new Map<string, InventoryGroup>();
  const topLevel = [...children.keys()].filter((g) => parents.get(g)!.length === 0);
  groups.set('all', { name: 'all', hosts: [...hosts.keys()], children: topLevel, vars: { ...data.vars } });
  for (const [name, g] of Object.entries(declared)) {
    groups.set(name, { name, hosts: membersOf(name), children: children.get(name)!, vars: { ...g.vars } });
  }
  const sshConfig = d.ssh_config === false ? false : { path: resolvePath(d.ssh_config, baseDir, env), explicit: data.defaults?.ssh_config !== undefined };
  return { file, hosts, groups, sshConfig, ...(extra ? { extraVars: extra } : {}) };
}

/** -e wins over every inventory layer. */
const withExtra = (vars: Vars, extra: ExtraVars | undefined, target: string): Vars => (extra ? extra.apply(vars, target) : vars);

const unique = <T>(xs: T[]): T[] => [...new Set(xs)];
