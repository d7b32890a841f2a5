// Runs a playbook: flags + inventory -> selected hosts -> (in parallel, bounded
// by --forks) each host's plays -> console recap, JSON report, exit code.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseCli, usage, type CliOptions, type PlaybookFlags, type PlaybookFlagValues } from './cli.js';
import { isUserError, UserError } from './errors.js';
import { loadInventory, type Inventory, type InventoryHost } from './inventory/load.js';
import { hostsOfPlay, selectHosts } from './inventory/patterns.js';
import { runHost, type RoleRun } from './engine/run.js';
import type { HostResult } from './engine/report-types.js';
import { resourcesOf, type Facts, type Role } from './engine/types.js';
import { validateRoleVars } from './engine/validateVars.js';
import { ConsoleReporter } from './report/console.js';
import { buildJsonReport, writeJsonReport, type JsonReport } from './report/json.js';
import { redact } from './secrets.js';
import { SshSession } from './transport/ssh.js';
import { LocalSession } from './transport/local.js';
import { renderPlans } from './render.js';

/** The control machine's target name: `hosts: 'local'` in a play, `--limit local`. */
export const LOCAL = 'local';

export interface Play {
  name?: string;
  /** host pattern, usually a group; 'local' for the control machine (no SSH, the inventory's global vars) */
  hosts: string;
  roles: Role<any>[];
}

export interface PlaybookDef {
  name: string;
  /** the plays; or made from the values of the playbook's own `flags` */
  plays: Play[] | ((flags: PlaybookFlagValues) => Play[]);
  /** flags only this playbook has (parsed with the common ones, shown in --help) */
  flags?: PlaybookFlags;
}

type ResolvedPlaybook = PlaybookDef & { plays: Play[] };

export interface PlaybookIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  colour: boolean;
}

export interface PlaybookOutcome {
  exitCode: number;
  report?: JsonReport;
}

const defaultIO = (): PlaybookIO => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  colour: !process.env.NO_COLOR && (Boolean(process.env.FORCE_COLOR) || process.stdout.isTTY === true),
});

/**
 * Entry point of a playbook script: `export default playbook({...}, import.meta.url)`.
 * Run as the main script, it runs the playbook and exits with its exit code;
 * imported (by a test or another playbook), it only returns the definition.
 */
export function playbook(def: PlaybookDef, moduleUrl: string): PlaybookDef {
  const main = process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href === moduleUrl;
  if (main) void runPlaybook(def, process.argv.slice(2)).then(({ exitCode }) => process.exit(exitCode));
  return def;
}

export async function runPlaybook(def: PlaybookDef, argv: string[], io: PlaybookIO = defaultIO()): Promise<PlaybookOutcome> {
  let opts: CliOptions | undefined;
  try {
    opts = parseCli(argv, def.flags);
    if (opts.help) {
      io.stdout(usage(def.flags));
      return { exitCode: 0 };
    }
    const plays = typeof def.plays === 'function' ? def.plays(opts.flags ?? {}) : def.plays;
    return await execute({ ...def, plays }, opts, io);
  } catch (e: any) {
    const message = redact(e?.message ?? String(e));
    io.stderr(`error: ${message}\n`);
    if (!isUserError(e) && (opts?.verbose ?? 0) > 1 && e?.stack) io.stderr(redact(e.stack) + '\n');
    return { exitCode: 1 };
  }
}

async function execute(def: ResolvedPlaybook, opts: CliOptions, io: PlaybookIO): Promise<PlaybookOutcome> {
  const listing = opts.listHosts || opts.listTasks || Boolean(opts.render);
  const inv = await loadInventory(opts.inventory, { resolveSecrets: !listing });
  const { selected, local } = selectTargets(def, inv, opts.limit);
  const plans = planHosts(def, inv, selected, local);

  if (opts.listHosts) {
    for (const [host, roles] of plans) io.stdout(`${host}  (${roles.map((r) => r.role.name).join(', ') || 'no roles'})\n`);
    return { exitCode: 0 };
  }
  if (opts.listTasks) {
    await listTasks(plans, inv, io);
    return { exitCode: 0 };
  }
  if (opts.render) {
    const written = await renderPlans(plans, (h) => assumedFacts(h, inv), opts.render);
    for (const [host, n] of written) io.stdout(`${host}: ${n.files} file(s), ${n.api} API object(s), ${n.unrendered} resource(s) with nothing to render -> ${n.dir}\n`);
    return { exitCode: 0 };
  }

  const reporter = new ConsoleReporter({ showDiffs: opts.check || opts.diff, verbose: opts.verbose, colour: io.colour, check: opts.check, write: io.stdout });
  const hosts = [...plans.keys()].filter((h) => plans.get(h)!.length > 0);
  reporter.header(def.name, hosts);
  const started = Date.now();
  const startupMs = Math.round(process.uptime() * 1000);
  const results = new Map<string, HostResult>();
  await forEachLimited(hosts, opts.forks, async (name) => {
    const connect = name === LOCAL && !inv.hosts.has(LOCAL) ? () => LocalSession.open() : () => SshSession.open(connectOptions(inv.hosts.get(name)!, opts));
    const result = await runHost(name, connect, plans.get(name)!, {
      check: opts.check,
      wantDiff: opts.check || opts.diff || Boolean(opts.json),
      tags: opts.tags,
      skipTags: opts.skipTags,
      onTask: (h, t) => reporter.task(h, t),
      onLog: (h, m) => reporter.log(h, m),
    });
    results.set(name, result);
  });
  // Recap in inventory order, whatever order hosts finished in.
  const ordered = new Map(hosts.map((h) => [h, results.get(h)!]));
  const durationMs = Date.now() - started;
  reporter.recap(ordered, durationMs);
  const report = buildJsonReport(opts.check ? 'check' : 'apply', durationMs, ordered, startupMs);
  if (opts.json) await writeJsonReport(opts.json, report);
  return { exitCode: exitCodeOf(ordered, opts), report };
}

function connectOptions(host: InventoryHost, opts: CliOptions) {
  return {
    host: host.name,
    address: host.address,
    port: host.port,
    user: host.user,
    privateKey: host.privateKey,
    knownHosts: host.knownHosts,
    acceptNewHostKeys: opts.acceptNewHostKeys,
    connectTimeoutMs: host.connectTimeout * 1000,
  };
}

/**
 * The inventory hosts --limit selects, and whether the control machine is a
 * target: it is when a play names 'local' and --limit is absent or names it.
 */
function selectTargets(def: ResolvedPlaybook, inv: Inventory, limit: string | undefined): { selected: string[]; local: boolean } {
  const wantsLocal = def.plays.some((p) => p.hosts === LOCAL) && !inv.hosts.has(LOCAL);
  if (limit === undefined) return { selected: [...inv.hosts.keys()], local: wantsLocal };
  const terms = limit.split(/[,:]/).map((t) => t.trim()).filter(Boolean);
  const rest = terms.filter((t) => t !== LOCAL);
  if (rest.length === terms.length || !wantsLocal) return { selected: selectHosts(inv, limit), local: false };
  return { selected: rest.length ? selectHosts(inv, rest.join(',')) : [], local: true };
}

/** For each selected target, the roles of every play that includes it, with validated vars. */
function planHosts(def: ResolvedPlaybook, inv: Inventory, selected: string[], local: boolean): Map<string, RoleRun[]> {
  const plans = new Map<string, RoleRun[]>(selected.map((h) => [h, []]));
  if (local) plans.set(LOCAL, []);
  const problems: string[] = [];
  const localVars = inv.groups.get('all')?.vars ?? {};
  for (const play of def.plays) {
    const isLocal = play.hosts === LOCAL && !inv.hosts.has(LOCAL);
    const members = new Set(isLocal ? (local ? [LOCAL] : []) : hostsOfPlay(inv, play.hosts));
    for (const name of plans.keys()) {
      if (!members.has(name)) continue;
      for (const role of play.roles) {
        const { vars, problems: p } = validateRoleVars(role, name, name === LOCAL && isLocal ? localVars : inv.hosts.get(name)!.vars);
        problems.push(...p.map((x) => `${inv.file}: ${x.host === LOCAL ? 'the control machine (local)' : `host ${x.host}`}, role ${x.role}: ${x.message}`));
        if (vars) plans.get(name)!.push({ role, vars });
      }
    }
  }
  if (problems.length) throw new UserError(`invalid vars:\n  ${problems.join('\n  ')}`);
  if (![...plans.values()].some((r) => r.length)) throw new UserError(`no play of ${def.name} applies to the selected hosts (${[...plans.keys()].join(', ') || 'none'})`);
  return plans;
}

/** Facts assumed for --list-tasks, which does not connect. */
const ASSUMED_FACTS: Facts = {
  os: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
  arch: 'amd64',
  machine: 'x86_64',
  init: 'systemd',
  memoryMb: 0,
  rootFreeBytes: 0,
  opensshVersion: '9.2p1',
  hostname: '',
  loginUser: 'root',
};

/** The facts a target is assumed to have when nothing is contacted (--list-tasks, --render). */
function assumedFacts(host: string, inv: Inventory): Facts {
  return { ...ASSUMED_FACTS, hostname: host, loginUser: inv.hosts.get(host)?.user ?? 'root' };
}

async function listTasks(plans: Map<string, RoleRun[]>, inv: Inventory, io: PlaybookIO): Promise<void> {
  io.stdout('(facts assumed: Debian 12 amd64; nothing is contacted)\n');
  for (const [host, roles] of plans) {
    io.stdout(`${host}:\n`);
    for (const { role, vars } of roles) {
      const out = await role.tasks({ host, vars, facts: assumedFacts(host, inv) });
      for (const r of resourcesOf(out))
        io.stdout(`  [${role.name}] ${r.id}${r.tags.length ? `  tags: ${[role.name, ...r.tags].join(',')}` : ''}\n`);
      for (const h of out.handlers ?? []) io.stdout(`  [${role.name}] handler:${h.name}\n`);
    }
  }
}

function exitCodeOf(results: Map<string, HostResult>, opts: CliOptions): number {
  const statuses = [...results.values()].map((r) => r.status);
  if (statuses.some((s) => s === 'failed' || s === 'unreachable')) return 2;
  if (opts.detailedExitcode && statuses.includes('changed')) return 3;
  return 0;
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

export type { JsonReport };
