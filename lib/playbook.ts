// Runs a playbook: flags + inventory -> selected hosts -> (in parallel, bounded
// by --forks) each host's plays -> console recap, JSON report, exit code.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseCli, usage, type CliOptions, type PlaybookFlag } from './cli.js';
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

/** The control machine's target name: `hosts: 'local'` in a play, `--limit local`. */
export const LOCAL = 'local';

export interface Play {
  name?: string;
  /** host pattern, usually a group; 'local' for the control machine (no SSH, the inventory's global vars) */
  hosts: string;
  roles: Role<any>[];
  /**
   * Start only once every earlier play has finished on all its hosts, and only
   * if none of them failed or was unreachable (so this play's roles can use
   * what the earlier ones found, e.g. the docs page uses every host's
   * measurements). Plays between two barriers run together, one connection per host.
   */
  barrier?: boolean;
}

/** A flag of one playbook that replaces the run: it connects to nothing (e.g. `--out FILE`). */
export interface PlaybookAction extends PlaybookFlag {
  /** returns the exit code (default 0); a UserError exits 1 with its message */
  run(value: string, ctx: { inventory: Inventory; io: PlaybookIO }): Promise<number | void>;
}

export interface PlaybookDef {
  name: string;
  plays: Play[];
  /** the playbook's own flags, beside the shared ones */
  actions?: PlaybookAction[];
}

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
    opts = parseCli(argv, def.actions ?? []);
    if (opts.help) {
      io.stdout(usage(def.actions ?? []));
      return { exitCode: 0 };
    }
    return await execute(def, opts, io);
  } catch (e: any) {
    const message = redact(e?.message ?? String(e));
    io.stderr(`error: ${message}\n`);
    if (!isUserError(e) && (opts?.verbose ?? 0) > 1 && e?.stack) io.stderr(redact(e.stack) + '\n');
    return { exitCode: 1 };
  }
}

async function execute(def: PlaybookDef, opts: CliOptions, io: PlaybookIO): Promise<PlaybookOutcome> {
  const action = (def.actions ?? []).find((a) => opts.playbookFlags?.[a.name] !== undefined);
  const listing = opts.listHosts || opts.listTasks || Boolean(action);
  const inv = await loadInventory(opts.inventory, { resolveSecrets: !listing });
  if (action) return { exitCode: (await action.run(opts.playbookFlags![action.name]!, { inventory: inv, io })) ?? 0 };
  const { selected, local } = selectTargets(def, inv, opts.limit);
  // Every phase is planned (and its vars validated) before any host is contacted.
  const phases = phasesOf(def).map((plays) => planHosts(plays, inv, selected, local));
  const plans = mergePlans(phases);
  if (![...plans.values()].some((r) => r.length)) throw new UserError(`no play of ${def.name} applies to the selected hosts (${[...plans.keys()].join(', ') || 'none'})`);

  if (opts.listHosts) {
    for (const [host, roles] of plans) io.stdout(`${host}  (${roles.map((r) => r.role.name).join(', ') || 'no roles'})\n`);
    return { exitCode: 0 };
  }
  if (opts.listTasks) {
    await listTasks(plans, inv, io);
    return { exitCode: 0 };
  }

  const reporter = new ConsoleReporter({ showDiffs: opts.check || opts.diff, verbose: opts.verbose, colour: io.colour, check: opts.check, write: io.stdout });
  const hosts = [...plans.keys()].filter((h) => plans.get(h)!.length > 0);
  reporter.header(def.name, hosts);
  const started = Date.now();
  const startupMs = Math.round(process.uptime() * 1000);
  const results = new Map<string, HostResult>();
  for (const [i, phase] of phases.entries()) {
    const targets = [...phase.keys()].filter((h) => phase.get(h)!.length > 0);
    const failedBefore = [...results].filter(([, r]) => r.status === 'failed' || r.status === 'unreachable').map(([h]) => h);
    if (i > 0 && failedBefore.length) {
      const why = `not run: a barrier play waits for the earlier plays, which failed on ${failedBefore.join(', ')}`;
      for (const name of targets) results.set(name, mergeResults(results.get(name), skippedResult(phase.get(name)!, why)));
      continue;
    }
    await forEachLimited(targets, opts.forks, async (name) => {
      const connect = name === LOCAL && !inv.hosts.has(LOCAL) ? () => LocalSession.open() : () => SshSession.open(connectOptions(inv.hosts.get(name)!, opts));
      const result = await runHost(name, connect, phase.get(name)!, {
        check: opts.check,
        wantDiff: opts.check || opts.diff || Boolean(opts.json),
        tags: opts.tags,
        skipTags: opts.skipTags,
        onTask: (h, t) => reporter.task(h, t),
        onLog: (h, m) => reporter.log(h, m),
        inventory: inv,
      });
      results.set(name, mergeResults(results.get(name), result));
    });
  }
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
function selectTargets(def: PlaybookDef, inv: Inventory, limit: string | undefined): { selected: string[]; local: boolean } {
  const wantsLocal = def.plays.some((p) => p.hosts === LOCAL) && !inv.hosts.has(LOCAL);
  if (limit === undefined) return { selected: [...inv.hosts.keys()], local: wantsLocal };
  const terms = limit.split(/[,:]/).map((t) => t.trim()).filter(Boolean);
  const rest = terms.filter((t) => t !== LOCAL);
  if (rest.length === terms.length || !wantsLocal) return { selected: selectHosts(inv, limit), local: false };
  return { selected: rest.length ? selectHosts(inv, rest.join(',')) : [], local: true };
}

/** The plays in phases: a new phase starts at each play with `barrier`. */
function phasesOf(def: PlaybookDef): Play[][] {
  const phases: Play[][] = [[]];
  for (const play of def.plays) {
    if (play.barrier && phases[phases.length - 1].length) phases.push([]);
    phases[phases.length - 1].push(play);
  }
  return phases;
}

/** For each selected target, the roles of every play (of one phase) that includes it, with validated vars. */
function planHosts(plays: Play[], inv: Inventory, selected: string[], local: boolean): Map<string, RoleRun[]> {
  const plans = new Map<string, RoleRun[]>(selected.map((h) => [h, []]));
  if (local) plans.set(LOCAL, []);
  const problems: string[] = [];
  const localVars = inv.groups.get('all')?.vars ?? {};
  for (const play of plays) {
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
  return plans;
}

/** Every target's roles across phases, in order (for --list-hosts, --list-tasks and the header). */
function mergePlans(phases: Map<string, RoleRun[]>[]): Map<string, RoleRun[]> {
  const out = new Map<string, RoleRun[]>();
  for (const phase of phases) for (const [h, roles] of phase) out.set(h, [...(out.get(h) ?? []), ...roles]);
  return out;
}

/** One target's results over several phases: counts and round trips add up, the worst status wins. */
function mergeResults(a: HostResult | undefined, b: HostResult): HostResult {
  if (!a) return b;
  const rank = { ok: 0, changed: 1, failed: 2, unreachable: 3 } as const;
  const sum = <K extends string>(x: Record<K, number>, y: Record<K, number>) => Object.fromEntries(Object.keys(x).map((k) => [k, x[k as K] + y[k as K]])) as Record<K, number>;
  return {
    status: rank[b.status] > rank[a.status] ? b.status : a.status,
    counts: sum(a.counts, b.counts),
    remoteCommands: a.remoteCommands + b.remoteCommands,
    apiRequests: a.apiRequests + b.apiRequests,
    tasks: [...a.tasks, ...b.tasks],
    error: [a.error, b.error].filter(Boolean).join('; ') || undefined,
    durationMs: a.durationMs + b.durationMs,
    phases: sum(a.phases, b.phases),
  };
}

/** The result of a phase that did not run on a target because an earlier one failed. */
function skippedResult(roles: RoleRun[], why: string): HostResult {
  return {
    status: 'ok',
    error: why,
    counts: { ok: 0, changed: 0, failed: 0, skipped: roles.length },
    remoteCommands: 0,
    apiRequests: 0,
    tasks: roles.map(({ role }) => ({ role: role.name, resource: `role:${role.name}`, status: 'skipped' as const, summary: 'not run: an earlier play failed', durationMs: 0 })),
    durationMs: 0,
    phases: { connectMs: 0, factsMs: 0, convergeMs: 0, probeMs: 0 },
  };
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

async function listTasks(plans: Map<string, RoleRun[]>, inv: Inventory, io: PlaybookIO): Promise<void> {
  io.stdout('(facts assumed: Debian 12 amd64; nothing is contacted)\n');
  for (const [host, roles] of plans) {
    io.stdout(`${host}:\n`);
    for (const { role, vars } of roles) {
      const out = await role.tasks({ host, vars, facts: { ...ASSUMED_FACTS, hostname: host, loginUser: inv.hosts.get(host)?.user ?? 'root' }, inventory: inv });
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
