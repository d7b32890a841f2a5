// Runs a playbook: flags + inventory -> selected hosts -> every role expanded
// with assumed facts (declaration errors exit 1 before anything is contacted)
// -> (in parallel, bounded by --forks) each host's plays -> console recap,
// JSON report, exit code.
import './zodSetup.js';
import { access, constants, open, stat, unlink } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseCli, usage, versionText, type CliOptions, type PlaybookFlags, type PlaybookFlagValues } from './cli.js';
import { isUserError, UserError } from './errors.js';
import { loadInventory, type Inventory, type InventoryHost } from './inventory/load.js';
import { hostsOfPlay, selectHosts } from './inventory/patterns.js';
import { expandAll, type ExpandTarget, type ExpandedRun } from './engine/expand.js';
import { Interrupt } from './engine/interrupt.js';
import { runHost } from './engine/run.js';
import type { RoleRun } from './engine/expand.js';
import type { HostResult } from './engine/report-types.js';
import type { TagFilter } from './engine/tags.js';
import type { Role, Vars } from './engine/types.js';
import { ConsoleReporter } from './report/console.js';
import { buildJsonReport, jsonReportText, writeJsonReport, type JsonReport } from './report/json.js';
import { LiveStatus, progressWanted } from './report/progress.js';
import { redact } from './secrets.js';
import { SshSession, type ConnectOptions } from './transport/ssh.js';
import { AuthSetupError, displayPath, planAuth } from './transport/sshAuth.js';
import { LocalSession } from './transport/local.js';
import { readSshConfig, resolveConnection, type ResolvedConnection } from './transport/sshConfig.js';
import { unreadExtraVarWarnings, unreadVars, unreadVarWarnings } from './engine/validateVars.js';
import { assumedFacts } from './engine/expand.js';
import { renderPlans } from './render.js';
import { confirmRun } from './confirmRun.js';
import type { HostPlan } from './engine/confirm.js';

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

/** A flag of one playbook that replaces the run: it connects to nothing (e.g. the docs page's `--out FILE`). */
export interface PlaybookAction {
  /** long name without the dashes, e.g. "out" */
  name: string;
  /** what the value is, shown in --help, e.g. "FILE" */
  value: string;
  help: string;
  /** returns the exit code (default 0); a UserError exits 1 with its message */
  run(value: string, ctx: { inventory: Inventory; io: PlaybookIO }): Promise<number | void>;
}

export interface PlaybookDef {
  name: string;
  plays: Play[];
  /** flags only this playbook has (parsed with the common ones, shown in --help) */
  flags?: PlaybookFlags;
  /** the plays for the values of those flags (default: `plays`) */
  playsFor?: (flags: PlaybookFlagValues) => Play[];
  /** flags that replace the run (parsed like `flags`) */
  actions?: PlaybookAction[];
}

export interface PlaybookIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  colour: boolean;
  /** stdout is a terminal: live status lines (see progressWanted) */
  tty?: boolean;
  /** the terminal's size */
  columns?: () => number | undefined;
  rows?: () => number | undefined;
  /** --confirm's question and its answer (default: asked on the terminal, lib/prompt.ts); tests answer here */
  ask?: (question: string, signal: AbortSignal) => Promise<string>;
}

export interface PlaybookOutcome {
  exitCode: number;
  report?: JsonReport;
}

export interface RunPlaybookOptions {
  /** SIGINT/SIGTERM, routed here by playbook() when it runs as the main script (tests trigger it themselves) */
  interrupt?: Interrupt;
}

const defaultIO = (): PlaybookIO => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  colour: !process.env.NO_COLOR && (Boolean(process.env.FORCE_COLOR) || process.stdout.isTTY === true),
  tty: process.stdout.isTTY === true,
  columns: () => process.stdout.columns,
  rows: () => process.stdout.rows,
});

/**
 * Entry point of a playbook script: `export default playbook({...}, import.meta.url)`
 * (`import.meta.url` may be left out: the caller's module is then found on the stack).
 * Run as the main script, it runs the playbook and exits with its exit code;
 * imported (by a test or another playbook), it only returns the definition.
 */
export function playbook(def: PlaybookDef, moduleUrl: string | undefined = callerUrl()): PlaybookDef {
  if (moduleUrl && isMainScript(moduleUrl)) {
    const io = defaultIO();
    const interrupt = new Interrupt(io.stderr);
    const unlisten = interrupt.listen();
    void runPlaybook(def, process.argv.slice(2), io, { interrupt }).then(({ exitCode }) => {
      unlisten();
      process.exit(exitCode);
    });
  }
  return def;
}

function isMainScript(moduleUrl: string): boolean {
  const main = process.argv[1];
  if (!main) return false;
  try {
    return pathToFileURL(realpathSync(main)).href === pathToFileURL(realpathSync(fileURLToPath(moduleUrl))).href;
  } catch {
    return false;
  }
}

/** The URL of the module that called playbook(), from V8's structured stack. */
function callerUrl(): string | undefined {
  const prepare = Error.prepareStackTrace;
  try {
    Error.prepareStackTrace = (_e, frames) => frames;
    const frames = new Error().stack as unknown as NodeJS.CallSite[];
    const here = frames[0]?.getFileName();
    const caller = frames.find((f) => f.getFileName() && f.getFileName() !== here)?.getFileName();
    if (!caller) return undefined;
    return caller.startsWith('file:') ? caller : pathToFileURL(caller).href;
  } catch {
    return undefined;
  } finally {
    Error.prepareStackTrace = prepare;
  }
}

export async function runPlaybook(def: PlaybookDef, argv: string[], io: PlaybookIO = defaultIO(), runOpts: RunPlaybookOptions = {}): Promise<PlaybookOutcome> {
  let opts: CliOptions | undefined;
  try {
    const flags = { ...def.flags, ...Object.fromEntries((def.actions ?? []).map((a) => [a.name, { type: 'string' as const, value: a.value, description: a.help }])) };
    opts = parseCli(argv, flags);
    if (opts.help) {
      io.stdout(usage(flags));
      return { exitCode: 0 };
    }
    if (opts.version) {
      io.stdout(versionText());
      return { exitCode: 0 };
    }
    const action = (def.actions ?? []).find((a) => typeof opts!.flags?.[a.name] === 'string');
    if (action) {
      const inventory = await loadInventory(opts.inventory, { resolveSecrets: false, extraVars: opts.extraVars });
      return { exitCode: (await action.run(opts.flags![action.name] as string, { inventory, io })) ?? 0 };
    }
    const plays = def.playsFor ? def.playsFor(opts.flags ?? {}) : def.plays;
    return await execute({ ...def, plays }, opts, io, runOpts.interrupt ?? new Interrupt());
  } catch (e: any) {
    const message = redact(e?.message ?? String(e));
    io.stderr(`error: ${message}\n`);
    if (!isUserError(e) && (opts?.verbose ?? 0) > 1 && e?.stack) io.stderr(redact(e.stack) + '\n');
    return { exitCode: 1 };
  }
}

async function execute(def: PlaybookDef, opts: CliOptions, io: PlaybookIO, interrupt: Interrupt): Promise<PlaybookOutcome> {
  const listing = opts.listHosts || opts.listTasks || opts.listTags || Boolean(opts.render);
  const inv = await loadInventory(opts.inventory, { resolveSecrets: !listing, extraVars: opts.extraVars });
  const { selected, local } = selectTargets(def, inv, opts.limit);
  const filter: TagFilter = { only: opts.tags, skip: opts.skipTags };
  // Each host's connection (ssh config, -u, --private-key), worked out locally before anything is contacted.
  const conns = opts.listHosts || opts.listTags ? new Map<string, ResolvedConnection>() : await connectionsOf(inv, selected, opts, io);
  // --list-tags shows what it can even when some role cannot be expanded
  const targets = targetsOf(def, inv, selected, local, conns);
  const expanded = await expandAll(targets, filter, { source: inv.file, keepGoing: opts.listTags, inventory: inv });
  const unread = unreadVars(new Set(def.plays.flatMap((p) => p.roles)), new Map(targets.map((t) => [t.host, t.vars])));
  const fromCli = unread.filter((u) => inv.extraVars?.sets(u.name));
  for (const w of unreadVarWarnings(inv.file, def.name, unread.filter((u) => !fromCli.includes(u)))) io.stderr(`warning: ${w}\n`);
  for (const w of unreadExtraVarWarnings(def.name, fromCli)) io.stderr(`warning: ${w}\n`);
  const hosts = [...expanded.hosts.keys()].filter((h) => expanded.hosts.get(h)!.roles.length > 0);
  if (hosts.length === 0) {
    const why = opts.tags.length || opts.skipTags.length ? ' once --tags/--skip-tags are applied' : '';
    throw new UserError(`no play of ${def.name} applies to the selected hosts (${targets.map((t) => t.host).join(', ') || 'none'})${why}`);
  }

  if (opts.listHosts) {
    for (const [host, { roles }] of expanded.hosts) io.stdout(`${host}  (${roles.map((r) => r.role.name).join(', ') || 'no roles'})\n`);
    return { exitCode: 0 };
  }
  if (opts.listTags) {
    listTags(expanded, io);
    return { exitCode: 0 };
  }
  if (opts.listTasks) {
    listTasks(expanded, filter, io);
    return { exitCode: 0 };
  }

  if (opts.render) {
    const plans = new Map([...expanded.hosts].map(([h, e]) => [h, e.roles]));
    const login = new Map(targets.map((t) => [t.host, t.loginUser]));
    const written = await renderPlans(plans, (h) => assumedFacts(h, login.get(h) ?? 'root'), opts.render);
    for (const [host, n] of written) io.stdout(`${host}: ${n.files} file(s), ${n.api} API object(s), ${n.unrendered} resource(s) with nothing to render -> ${n.dir}\n`);
    return { exitCode: 0 };
  }

  // A resource that cannot run yet (e.g. an unverifiable download) stops a real run before it starts.
  const blocked = [...expanded.hosts].flatMap(([h, e]) => e.items.filter((it) => it.selected && it.resource.blocked).map((it) => `${inv.file}: host ${h}, role ${it.role}, ${it.resource.id}: ${it.resource.blocked}`));
  if (blocked.length) throw new UserError(`cannot run yet (nothing was contacted; --render and --list-tasks still work):\n  ${blocked.join('\n  ')}`);

  // What would only fail after the hosts were changed is checked first.
  await preflight(opts, hosts.filter((h) => isInventoryHost(h, inv)), conns, inv);

  // `--json -`: stdout carries the report alone, the human output goes to stderr
  const jsonToStdout = opts.json === '-';
  const human = jsonToStdout ? io.stderr : io.stdout;
  const emitReport = async (report: JsonReport) => {
    if (jsonToStdout) io.stdout(jsonReportText(report));
    else if (opts.json) await writeJsonReport(opts.json, report);
  };
  const pass = (targetsNow: string[], o: CliOptions, reporter: ConsoleReporter, expected?: (host: string) => HostPlan | undefined) =>
    runTargets({ def, inv, expanded, interrupt, conns }, targetsNow, o, reporter, expected);
  // --confirm draws no live lines: its question must not share the screen with them
  if (opts.confirm) return await confirmRun({ name: def.name, plays: def.plays, hosts, opts, io: { ...io, stdout: human }, interrupt, run: pass, emitReport });

  const live = progressWanted({ tty: io.tty ?? false, term: process.env.TERM, noProgress: opts.noProgress ?? false, jsonToStdout })
    ? new LiveStatus({ write: human, colour: io.colour, columns: io.columns, rows: io.rows })
    : undefined;
  const reporter = new ConsoleReporter({ showDiffs: opts.check || opts.diff, verbose: opts.verbose, colour: io.colour, check: opts.check, write: human, live });
  reporter.header(def.name, hosts);
  // the interrupt message goes to stderr, past the block: draw the next block below it
  for (const s of [interrupt.signal, interrupt.hurry]) s.addEventListener('abort', () => live?.forget(), { once: true });
  const started = Date.now();
  const startupMs = Math.round(process.uptime() * 1000);
  const ordered = await pass(hosts, opts, reporter);
  const durationMs = Date.now() - started;
  reporter.close();
  reporter.recap(ordered, durationMs);
  const report = buildJsonReport(opts.check ? 'check' : 'apply', durationMs, ordered, startupMs);
  await emitReport(report);
  return { exitCode: interrupt.exitCode ?? exitCodeOf(ordered, opts), report };
}

/**
 * One pass over `hosts` (check or apply, as `opts` says): every phase of
 * plays, up to --forks hosts at once; `expected` gives a host's approved
 * plan under --confirm. The results are in the order of `hosts`.
 */
async function runTargets(
  { def, inv, expanded, interrupt, conns }: { def: PlaybookDef; inv: Inventory; expanded: ExpandedRun; interrupt: Interrupt; conns: Map<string, ResolvedConnection> },
  hosts: string[],
  opts: CliOptions,
  reporter: ConsoleReporter,
  expected?: (host: string) => HostPlan | undefined,
): Promise<Map<string, HostResult>> {
  const results = new Map<string, HostResult>();
  // Plays run in phases: a play with `barrier` starts once every earlier one is done everywhere.
  for (const [i, phase] of phasesOf(def).entries()) {
    const inPhase = new Set(phase.flatMap((p) => p.roles));
    const roles = new Map(hosts.map((h) => [h, expanded.hosts.get(h)!.roles.filter((r) => inPhase.has(r.role))]));
    const targetsNow = hosts.filter((h) => roles.get(h)!.length > 0);
    const failedBefore = [...results].filter(([, r]) => r.status === 'failed' || r.status === 'unreachable').map(([h]) => h);
    if (i > 0 && failedBefore.length) {
      const why = `not run: a barrier play waits for the earlier plays, which failed on ${failedBefore.join(', ')}`;
      for (const name of targetsNow) results.set(name, mergeResults(results.get(name), skippedResult(roles.get(name)!, why)));
      continue;
    }
    if (interrupt.signal.aborted) break;
    await forEachLimited(targetsNow, opts.forks, async (name) => {
      const connect = isInventoryHost(name, inv) ? () => SshSession.open(connectOptions(inv.hosts.get(name)!, conns.get(name)!, opts)) : () => LocalSession.open();
      reporter.hostStart(name);
      const result = await runHost(name, connect, roles.get(name)!, {
        check: opts.check,
        wantDiff: opts.check || opts.diff || Boolean(opts.json),
        tags: opts.tags,
        skipTags: opts.skipTags,
        commandTimeoutMs: (opts.timeout ?? inv.hosts.get(name)?.commandTimeout ?? 3600) * 1000,
        signal: interrupt.signal,
        hurry: interrupt.hurry,
        interruptGraceMs: interrupt.graceMs,
        onTask: (h, t) => reporter.task(h, t),
        onLog: (h, m) => reporter.log(h, m),
        onTaskStart: (h, t) => reporter.taskStart(h, t),
        onProgress: (h, note) => reporter.progress(h, note),
        inventory: inv,
        expectedPlan: expected?.(name),
      }).finally(() => reporter.hostEnd(name));
      results.set(name, mergeResults(results.get(name), result));
    });
  }
  // Recap in inventory order, whatever order hosts finished in.
  return new Map(hosts.map((h) => [h, results.get(h)!]));
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

/** One target's results over several phases: counts and round trips add up, the worst status wins. */
function mergeResults(a: HostResult | undefined, b: HostResult): HostResult {
  if (!a) return b;
  const rank = { ok: 0, changed: 1, failed: 2, unreachable: 3 } as const;
  const sum = <K extends string>(x: Record<K, number>, y: Record<K, number>) => Object.fromEntries(Object.keys(x).map((k) => [k, x[k as K] + y[k as K]])) as Record<K, number>;
  return {
    ...a,
    ...b,
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

/** The connection of every selected inventory host: command line > inventory > ssh config > built-in defaults. */
async function connectionsOf(inv: Inventory, selected: string[], opts: CliOptions, io: PlaybookIO): Promise<Map<string, ResolvedConnection>> {
  const config = await readSshConfig(inv);
  if (config && opts.verbose) for (const note of config.notes) io.stderr(`note: ${note}\n`);
  const flags = { user: opts.user, privateKeys: opts.privateKeys };
  return new Map(selected.filter((h) => isInventoryHost(h, inv)).map((h) => [h, resolveConnection(inv.hosts.get(h)!, config, flags)]));
}

function connectOptions(host: InventoryHost, conn: ResolvedConnection, opts: CliOptions): ConnectOptions {
  return {
    host: host.name,
    address: conn.address,
    port: conn.port,
    user: conn.user,
    identityFiles: conn.identityFiles,
    jumps: conn.jumps,
    knownHosts: host.knownHosts,
    acceptNewHostKeys: opts.acceptNewHostKeys,
    connectTimeoutMs: host.connectTimeout * 1000,
    aliveIntervalMs: host.serverAliveInterval * 1000,
    aliveCountMax: host.serverAliveCountMax,
    lockTimeoutMs: host.lockTimeout * 1000,
    check: opts.check,
  };
}

/** The control machine is a target of its own unless the inventory names a host "local". */
function isInventoryHost(name: string, inv: Inventory): boolean {
  return name !== LOCAL || inv.hosts.has(LOCAL);
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

/**
 * For each selected target, the roles of every play that includes it (in play
 * order), with its vars; the control machine gets the inventory's global vars.
 */
function targetsOf(def: PlaybookDef, inv: Inventory, selected: string[], local: boolean, conns: Map<string, ResolvedConnection>): ExpandTarget[] {
  const names = local ? [...selected, LOCAL] : selected;
  const roles = new Map<string, Role<any>[]>(names.map((h) => [h, []]));
  for (const play of def.plays) {
    const members = new Set(play.hosts === LOCAL && local ? [LOCAL] : hostsOfPlay(inv, play.hosts));
    for (const name of names) if (members.has(name)) roles.get(name)!.push(...play.roles);
  }
  return names.map((h) =>
    isInventoryHost(h, inv)
      ? { host: h, vars: inv.hosts.get(h)!.vars, loginUser: conns.get(h)?.user ?? inv.hosts.get(h)!.user, roles: roles.get(h)! }
      : { host: h, vars: extraApplied(inv.groups.get('all')?.vars ?? {}, inv), loginUser: process.env.USER ?? 'root', roles: roles.get(h)! },
  );
}

/** The control machine's vars: the global [vars], then -e (inventory hosts got theirs when the inventory was loaded). */
const extraApplied = (vars: Vars, inv: Inventory): Vars => inv.extraVars?.apply(vars, `target ${LOCAL}`) ?? vars;

/**
 * Problems that would otherwise surface only after hosts were changed (an
 * unwritable report) or be mistaken for an unreachable host (no key to log in
 * with). Keys are loaded here, so a passphrase is asked for before any host is
 * contacted; a missing key file is fine while an agent holds keys.
 */
async function preflight(opts: CliOptions, hosts: string[], conns: Map<string, ResolvedConnection>, inv: Inventory): Promise<void> {
  const problems: string[] = [];
  if (opts.json && opts.json !== '-') {
    const why = await unwritable(opts.json);
    if (why) problems.push(`--json ${opts.json}: cannot write the report there (${why})`);
  }
  const unreadable = async (key: string) =>
    access(key, constants.R_OK).then(
      () => stat(key).then((s) => (s.isFile() ? undefined : 'not a file')),
      (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : String(e.code ?? e)),
    );
  const before = problems.length;
  for (const key of opts.privateKeys) {
    const why = await unreadable(key);
    if (why) problems.push(`--private-key ${key}: ${why}`);
  }
  const cliKeysBad = problems.length > before;
  // Of several identity files (ssh config), missing ones are skipped as OpenSSH does; none at all is an error.
  const cliKeys = JSON.stringify(opts.privateKeys);
  const sets = new Map<string, { files: string[]; user: string; source: string; what: string; names: string[] }>();
  for (const h of hosts) {
    const c = conns.get(h)!;
    const own = inv.hosts.get(h)!.privateKey;
    const sourceOf = (files: string[]) => (files.length === 1 && files[0] === own ? `${inv.file}: private_key` : `${inv.sshConfig ? inv.sshConfig.path : 'ssh config'}: IdentityFile`);
    const uses = [{ files: c.identityFiles, user: c.user, what: '' }, ...c.jumps.map((j) => ({ files: j.identityFiles, user: j.user, what: ` (jump host ${j.user}@${j.address}:${j.port})` }))];
    for (const u of uses) {
      const fromCli = JSON.stringify(u.files) === cliKeys;
      if (fromCli && cliKeysBad) continue; // already reported
      const id = JSON.stringify(u);
      if (!sets.has(id)) sets.set(id, { ...u, source: fromCli ? '--private-key' : sourceOf(u.files), names: [] });
      sets.get(id)!.names.push(h);
    }
  }
  // Loading the keys here asks for a passphrase before any host is contacted; a
  // missing key file is fine while an agent holds keys (planAuth says when not).
  for (const { files, user, source, what, names } of sets.values()) {
    try {
      await planAuth({ user, identityFiles: files });
    } catch (e) {
      if (!(e instanceof AuthSetupError)) throw e;
      const of = `of host${names.length > 1 ? 's' : ''} ${names.join(', ')}${what}`;
      problems.push(e.file ? `${source} ${displayPath(e.file)} ${of}: ${e.detail}` : `${source}: host${names.length > 1 ? 's' : ''} ${names.join(', ')}${what}: ${e.message}`);
    }
  }
  if (problems.length) throw new UserError(problems.join('\n  '));
}

/** Why `path` cannot be written as a file, or undefined. Tries it: only the real open knows (read-only file systems, ACLs). */
async function unwritable(path: string): Promise<string | undefined> {
  const existed = await stat(path).catch(() => undefined);
  if (existed?.isDirectory()) return 'it is a directory';
  try {
    const fh = await open(path, 'a');
    await fh.close();
    if (!existed) await unlink(path);
    return undefined;
  } catch (e: any) {
    return e?.code === 'ENOENT' ? 'no such directory' : e?.code === 'EACCES' ? 'permission denied' : e?.code === 'EROFS' ? 'read-only file system' : String(e?.code ?? e);
  }
}

function listTasks(expanded: ExpandedRun, filter: TagFilter, io: PlaybookIO): void {
  const filtered = filter.only.length || filter.skip.length;
  io.stdout(`(facts assumed: Debian 12 amd64; nothing is contacted${filtered ? `; ${describeFilter(filter)}` : ''})\n`);
  for (const [host, { items }] of expanded.hosts) {
    io.stdout(`${host}:\n`);
    const shown = items.filter((it) => it.selected);
    for (const it of shown) io.stdout(`  [${it.role}] ${it.resource.id}${it.tags.length > 1 ? `  tags: ${it.tags.join(',')}` : ''}${it.resource.blocked ? `  BLOCKED: ${it.resource.blocked}` : ''}\n`);
    const roles = [...new Set(shown.map((it) => it.role))];
    for (const role of roles) {
      const handlers = shown.find((it) => it.role === role)!.handlers;
      for (const name of handlers.keys()) io.stdout(`  [${role}] handler:${name}\n`);
    }
  }
}

function listTags(expanded: ExpandedRun, io: PlaybookIO): void {
  io.stdout('(every resource also carries its role\'s name; "all" selects everything)\n');
  for (const [role, tags] of expanded.tagsByRole) io.stdout(`${role}: ${[...tags].sort().join(', ')}\n`);
  if (expanded.problems.length) io.stdout(`(not expanded, so their tags may be missing:\n  ${expanded.problems.join('\n  ')})\n`);
}

function describeFilter(f: TagFilter): string {
  return [f.only.length ? `--tags ${f.only.join(',')}` : '', f.skip.length ? `--skip-tags ${f.skip.join(',')}` : ''].filter(Boolean).join(' ');
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
