// Running a playbook in-process against test hosts, with output and the --json report captured.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'smol-toml';
import { runPlaybook, type JsonReport, type PlaybookDef } from '../../../lib/playbook.js';
import type { TestHosts } from '../../hosts/testhosts.js';

export interface CapturedRun {
  exitCode: number;
  /** the --json file, parsed (undefined when the run wrote none, e.g. exit 1) */
  report?: JsonReport;
  /** stdout and stderr, in order */
  output: string;
  stderr: string;
}

/** runPlaybook with --json into a temp file; console output captured (no colour). */
export async function runCaptured(def: PlaybookDef, argv: string[]): Promise<CapturedRun> {
  const dir = await mkdtemp(join(tmpdir(), 'rigger-it-run-'));
  const jsonPath = join(dir, 'report.json');
  let output = '';
  let stderr = '';
  const io = {
    stdout: (t: string) => void (output += t),
    stderr: (t: string) => {
      output += t;
      stderr += t;
    },
    colour: false,
  };
  try {
    const { exitCode } = await runPlaybook(def, [...argv, '--json', jsonPath], io);
    const text = await readFile(jsonPath, 'utf8').catch(() => undefined);
    return { exitCode, report: text === undefined ? undefined : (JSON.parse(text) as JsonReport), output, stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Writes an inventory next to the generated one (so its relative key and
 * known_hosts paths keep working), with per-host overrides and extra defaults.
 */
export async function writeInventory(
  hosts: TestHosts,
  file: string,
  opts: { hostOverrides?: Record<string, Record<string, unknown>>; defaults?: Record<string, unknown> } = {},
): Promise<string> {
  const inv = parse(await readFile(hosts.inventory, 'utf8')) as Record<string, any>;
  inv.defaults = { ...inv.defaults, ...opts.defaults };
  for (const [name, over] of Object.entries(opts.hostOverrides ?? {})) {
    if (!inv.hosts[name]) throw new Error(`no host ${name} in ${hosts.inventory}`);
    inv.hosts[name] = { ...inv.hosts[name], ...over };
  }
  const path = join(hosts.dir, file);
  await writeFile(path, stringify(inv));
  return path;
}

export type HostReport = JsonReport['hosts'][string];
export type TaskReport = HostReport['tasks'][number];

export function tasksOf(run: CapturedRun, host: string): TaskReport[] {
  const h = run.report?.hosts[host];
  if (!h) throw new Error(`no report for host ${host}:\n${run.output}`);
  return h.tasks;
}

/** resource id -> status, for compact assertions */
export function statusByResource(run: CapturedRun, host: string): Record<string, string> {
  return Object.fromEntries(tasksOf(run, host).map((t) => [t.resource, t.status]));
}
