// --confirm (pyinfra asks before applying; terraform applies the plan that
// was approved): every selected host is planned in check mode and its plan
// shown with diffs; one question for the whole run; then only the hosts with
// changes are applied, each with its approved plan. A host whose state changed
// between plan and apply is planned again before anything is changed on it
// (runHost's expectedPlan): it changes nothing, its new plan is shown, and the
// question is asked again for the drifted hosts only, at most MAX_ROUNDS times.
import { UserError } from './errors.js';
import type { CliOptions } from './cli.js';
import { hasChanges, planOf, describeDifference, type HostPlan } from './engine/confirm.js';
import type { Interrupt } from './engine/interrupt.js';
import type { HostResult, TaskResult } from './engine/report-types.js';
import type { Play, PlaybookIO, PlaybookOutcome } from './playbook.js';
import { terminalAsk } from './prompt.js';
import { ConsoleReporter } from './report/console.js';
import { buildJsonReport, type JsonReport } from './report/json.js';

/** Questions asked at most: the first, and one per round of drifted hosts. */
export const MAX_ROUNDS = 3;

/** What became of a host in a --confirm run (`hosts.<name>.confirm` in the JSON report). */
export type ConfirmOutcome =
  /** its approved plan was applied (its status says how that went) */
  | 'applied'
  /** the answer was not yes: nothing was changed */
  | 'declined'
  /** its plan changes nothing: not connected again */
  | 'no changes'
  /** it could not be planned (failed or unreachable): not applied */
  | 'plan failed'
  /** its state changed between plan and apply in every round: nothing was changed, it fails */
  | 'drifted'
  /** a signal stopped the run before it was applied */
  | 'interrupted';

export interface ConfirmRound {
  /** the hosts the question was about */
  hosts: string[];
  answer: 'yes' | 'no' | 'interrupted';
  /** hosts whose state changed before their apply: planned again, nothing changed */
  drifted: string[];
}

export type ConfirmJsonReport = JsonReport & {
  hosts: Record<string, JsonReport['hosts'][string] & { confirm: ConfirmOutcome }>;
  confirm: { rounds: ConfirmRound[] };
};

export interface ConfirmInput {
  name: string;
  plays: Play[];
  /** the selected targets, in inventory order */
  hosts: string[];
  opts: CliOptions;
  io: PlaybookIO;
  interrupt: Interrupt;
  /** one pass over these hosts, check or apply as `opts.check` says, with the approved plans */
  run(hosts: string[], opts: CliOptions, reporter: ConsoleReporter, expected?: (host: string) => HostPlan | undefined): Promise<Map<string, HostResult>>;
  /** writes the JSON report where --json says (a file, or stdout for `-`) */
  emitReport(report: JsonReport): Promise<void>;
}

export async function confirmRun(c: ConfirmInput): Promise<PlaybookOutcome> {
  const { opts, io, interrupt } = c;
  if (c.plays.some((p, i) => i > 0 && p.barrier)) {
    throw new UserError(`--confirm: playbook ${c.name} has a barrier play, planned from what the earlier plays do on every host; its plan cannot be shown before they apply (run --check, then apply)`);
  }
  const ask = io.ask ?? terminalAsk();
  if (!ask) throw new UserError('--confirm asks on the terminal, and this run has none (no /dev/tty, stdin is not a terminal); nothing was contacted. Run --check, then apply without --confirm');

  const shown = new ConsoleReporter({ showDiffs: true, verbose: opts.verbose, colour: io.colour, check: true, write: io.stdout });
  const applying = new ConsoleReporter({ showDiffs: opts.diff, verbose: opts.verbose, colour: io.colour, check: false, write: io.stdout });
  const started = Date.now();
  const startupMs = Math.round(process.uptime() * 1000);

  shown.header(c.name, c.hosts);
  const planned = await c.run(c.hosts, { ...opts, check: true }, shown);
  shown.recap(planned, Date.now() - started);

  /** each host's last result: its apply, or the last plan shown */
  const final = new Map(planned);
  const outcome = new Map<string, ConfirmOutcome>();
  const plans = new Map<string, HostPlan>();
  let pending: string[] = [];
  for (const [h, r] of planned) {
    plans.set(h, planOf(r.tasks));
    if (r.status === 'failed' || r.status === 'unreachable') outcome.set(h, 'plan failed');
    else if (hasChanges(plans.get(h)!)) pending.push(h);
    else outcome.set(h, 'no changes');
  }
  const failedPlans = [...outcome].filter(([, o]) => o === 'plan failed').map(([h]) => h);
  if (failedPlans.length) io.stdout(`\nNot applied, their plan failed: ${failedPlans.join(', ')}\n`);
  if (!pending.length && !interrupt.signal.aborted) io.stdout(`\nNo changes planned${failedPlans.length ? ' on the other hosts' : ''}: nothing to apply.\n`);

  const rounds: ConfirmRound[] = [];
  for (let round = 1; pending.length; round++) {
    if (interrupt.signal.aborted) {
      for (const h of pending) outcome.set(h, 'interrupted');
      break;
    }
    const question = `\n${round === 1 ? 'Apply these changes' : 'Apply the new plan'} to ${pending.length} host(s) (${pending.join(', ')})? [y/N] `;
    const answer = await ask(question, interrupt.signal).then(
      (a) => (/^\s*(y|yes)\s*$/i.test(a) ? ('yes' as const) : ('no' as const)),
      () => 'interrupted' as const,
    );
    rounds.push({ hosts: pending, answer, drifted: [] });
    if (answer !== 'yes') {
      for (const h of pending) outcome.set(h, answer === 'no' ? 'declined' : 'interrupted');
      io.stdout(`${answer === 'no' ? '' : '\n'}Nothing was applied${round > 1 ? ` to ${pending.join(', ')}` : ''}: ${answer === 'no' ? 'the answer was not yes' : 'interrupted at the question'}.\n`);
      break;
    }

    const t0 = Date.now();
    applying.header(c.name, pending);
    const applied = await c.run(pending, { ...opts, check: false }, applying, (h) => plans.get(h));
    applying.recap(applied, Date.now() - t0);
    const drifted: string[] = [];
    for (const [h, r] of applied) {
      if (!r.drift) {
        final.set(h, r);
        outcome.set(h, 'applied');
        continue;
      }
      plans.set(h, r.drift.plan);
      final.set(h, planResult(r, r.drift.plan));
      io.stdout('\n');
      shown.drifted(h, r.drift.differences.map(describeDifference));
      if (!hasChanges(r.drift.plan)) {
        io.stdout(`  its plan now changes nothing: nothing to apply\n`);
        outcome.set(h, 'no changes');
        continue;
      }
      io.stdout(`  its plan now:\n`);
      for (const t of r.drift.plan) shown.task(h, { ...t, durationMs: 0 });
      drifted.push(h);
    }
    rounds[rounds.length - 1].drifted = drifted;
    pending = drifted;
    if (pending.length && round === MAX_ROUNDS) {
      const why = `its state changed between plan and apply ${MAX_ROUNDS} times in a row; nothing was changed on it`;
      for (const h of pending) {
        outcome.set(h, 'drifted');
        final.set(h, { ...final.get(h)!, status: 'failed', error: why });
      }
      io.stdout(`\nNot applied: ${pending.join(', ')}: ${why}.\n`);
      break;
    }
  }

  const ordered = new Map(c.hosts.map((h) => [h, final.get(h)!]));
  io.stdout(`\nCONFIRM: ${summary(c.hosts, outcome)}\n`);
  const base = buildJsonReport('apply', Date.now() - started, ordered, startupMs);
  const report: ConfirmJsonReport = {
    ...base,
    hosts: Object.fromEntries(Object.entries(base.hosts).map(([h, r]) => [h, { ...r, confirm: outcome.get(h)! }])),
    confirm: { rounds },
  };
  await c.emitReport(report);
  return { exitCode: interrupt.exitCode ?? exitCode(ordered, outcome, opts), report };
}

/** A host's result as its plan shows it (a drifted host that was not applied). */
function planResult(r: HostResult, plan: HostPlan): HostResult {
  const tasks: TaskResult[] = plan.map((t) => ({ ...t, durationMs: 0 }));
  const count = (s: TaskResult['status']) => tasks.filter((t) => t.status === s).length;
  return { ...r, drift: undefined, status: hasChanges(plan) ? 'changed' : 'ok', tasks, counts: { ok: count('ok'), changed: count('changed'), failed: count('failed'), skipped: count('skipped') } };
}

/** "applied: h1; declined: h2; no changes: h3" */
function summary(hosts: string[], outcome: Map<string, ConfirmOutcome>): string {
  const by = new Map<ConfirmOutcome, string[]>();
  for (const h of hosts) by.set(outcome.get(h)!, [...(by.get(outcome.get(h)!) ?? []), h]);
  return [...by].map(([o, hs]) => `${o}: ${hs.join(', ')}`).join('; ');
}

/** 2 when a host failed (in its plan, its apply, or by drifting every round); 3 with --detailed-exitcode when an apply changed something; else 0 (a "no" is not an error). */
function exitCode(results: Map<string, HostResult>, outcome: Map<string, ConfirmOutcome>, opts: CliOptions): number {
  const rs = [...results];
  if (rs.some(([, r]) => r.status === 'failed' || r.status === 'unreachable')) return 2;
  if (opts.detailedExitcode && rs.some(([h, r]) => outcome.get(h) === 'applied' && r.status === 'changed')) return 3;
  return 0;
}
