// The one flag parser every playbook shares (see "CLI contract" in ARCHITECTURE.md).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from './errors.js';

export interface CliOptions {
  inventory: string;
  limit?: string;
  check: boolean;
  diff: boolean;
  tags: string[];
  skipTags: string[];
  forks: number;
  /** the report's path; "-": stdout (the human output then goes to stderr) */
  json?: string;
  /** no live status lines on a terminal */
  noProgress?: boolean;
  /** connect to nothing; write what the run would write under DIR/<host>/ */
  render?: string;
  listHosts: boolean;
  listTasks: boolean;
  listTags: boolean;
  /** seconds one remote command may run (unless its resource says otherwise); undefined: the inventory's command_timeout */
  timeout?: number;
  acceptNewHostKeys: boolean;
  detailedExitcode: boolean;
  verbose: number;
  help: boolean;
  /** values of the playbook's own flags (see PlaybookFlags), when it declares some */
  flags?: PlaybookFlagValues;
}

/** A flag only one playbook has, e.g. the switchover's `--step N`: declared in its playbook({ flags }). */
export interface PlaybookFlag {
  type: 'string' | 'boolean';
  description: string;
  /** the value's name in --help, e.g. "N" */
  value?: string;
}

export type PlaybookFlags = Record<string, PlaybookFlag>;
export type PlaybookFlagValues = Record<string, string | boolean | undefined>;

export const DEFAULT_INVENTORY = 'inventory/hosts.toml';
export const DEFAULT_FORKS = 5;

export const USAGE = `usage: npx tsx playbooks/<playbook>.ts [options]

  -i, --inventory PATH      inventory file (default ${DEFAULT_INVENTORY})
  -l, --limit PATTERN       only these hosts: names, groups, globs (web*), !excluded,
                            &intersection, comma-separated; matching nothing is an error
  -C, --check               change nothing; show what would change, with diffs
  -D, --diff                show diffs when applying too
  -t, --tags TAGS           run only resources with these tags (comma list, repeatable)
      --skip-tags TAGS      skip resources with these tags (comma list, repeatable)
  -f, --forks N             hosts in parallel (default ${DEFAULT_FORKS})
      --json PATH           write the machine-readable report to PATH; "-" writes it
                            to stdout and the human output to stderr (--json - | jq)
      --no-progress         no live status line per running host (shown only on a
                            terminal, never with --json -)
      --render DIR          connect to nothing; write under DIR/<host>/ every file the
                            run would write and the desired state of its API objects
      --list-hosts          print the selected hosts and exit, without connecting
      --list-tasks          print the tasks per host (as --tags/--skip-tags select them)
                            and exit, without connecting
      --list-tags           print the tags of every role and exit, without connecting
      --timeout SECONDS     stop a remote command that runs longer (default: the
                            inventory's command_timeout, else 3600; a resource's own
                            timeout wins)
      --accept-new-host-keys
                            trust and record a host key seen for the first time
      --detailed-exitcode   exit 3 when something changed (or would change)
  -v, --verbose             more detail, repeat for more (never secrets)
  -h, --help                show this help

exit codes: 0 ok, 1 invocation/inventory/playbook error (nothing run),
            2 a host failed or was unreachable, 3 changed (with --detailed-exitcode),
            130/143 interrupted by SIGINT/SIGTERM (recap and report still written)
`;

const OPTIONS = {
  inventory: { type: 'string', short: 'i' },
  limit: { type: 'string', short: 'l', multiple: true },
  check: { type: 'boolean', short: 'C' },
  diff: { type: 'boolean', short: 'D' },
  tags: { type: 'string', short: 't', multiple: true },
  'skip-tags': { type: 'string', multiple: true },
  forks: { type: 'string', short: 'f' },
  json: { type: 'string' },
  'no-progress': { type: 'boolean' },
  render: { type: 'string' },
  'list-hosts': { type: 'boolean' },
  'list-tasks': { type: 'boolean' },
  'list-tags': { type: 'boolean' },
  timeout: { type: 'string' },
  'accept-new-host-keys': { type: 'boolean' },
  'detailed-exitcode': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** The usage text, with a playbook's own flags after the common ones. */
export function usage(extra: PlaybookFlags = {}): string {
  const names = Object.keys(extra);
  if (!names.length) return USAGE;
  const lines = names.map((n) => {
    const left = `      --${n}${extra[n].type === 'string' ? ` ${extra[n].value ?? 'VALUE'}` : ''}`;
    return left.length < 28 ? `${left.padEnd(28)}${extra[n].description}` : `${left}\n${' '.repeat(28)}${extra[n].description}`;
  });
  const at = USAGE.indexOf('\nexit codes:');
  return `${USAGE.slice(0, at)}\nthis playbook:\n${lines.join('\n')}\n${USAGE.slice(at)}`;
}

export function parseCli(argv: string[] = process.argv.slice(2), extra: PlaybookFlags = {}): CliOptions {
  for (const n of Object.keys(extra)) if (n in OPTIONS) throw new Error(`playbook flag --${n} is already a common flag`);
  const options = { ...OPTIONS, ...Object.fromEntries(Object.entries(extra).map(([n, f]) => [n, { type: f.type }])) } as typeof OPTIONS;
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UserError(`${rephrase(e as Error & { code?: string })} (see --help)`);
  }
  const own = values as Record<string, string | boolean | undefined>;
  return {
    ...(Object.keys(extra).length ? { flags: Object.fromEntries(Object.keys(extra).map((n) => [n, typeof own[n] === 'string' ? nonEmpty(`--${n}`, own[n] as string) : own[n]])) } : {}),
    inventory: nonEmpty('--inventory', values.inventory) ?? DEFAULT_INVENTORY,
    // Several --limit flags add up, like one comma-separated pattern.
    limit: values.limit ? values.limit.map((l) => nonEmpty('--limit', l)).join(',') : undefined,
    check: values.check ?? false,
    diff: values.diff ?? false,
    tags: commaList(values.tags),
    skipTags: commaList(values['skip-tags']),
    forks: values.forks === undefined ? DEFAULT_FORKS : positiveInt('--forks', values.forks),
    json: nonEmpty('--json', values.json),
    noProgress: values['no-progress'],
    render: nonEmpty('--render', values.render),
    listHosts: values['list-hosts'] ?? false,
    listTasks: values['list-tasks'] ?? false,
    listTags: values['list-tags'] ?? false,
    timeout: values.timeout === undefined ? undefined : positiveInt('--timeout', values.timeout),
    acceptNewHostKeys: values['accept-new-host-keys'] ?? false,
    detailedExitcode: values['detailed-exitcode'] ?? false,
    verbose: values.verbose?.length ?? 0,
    help: values.help ?? false,
  };
}

/** node:util's messages are long and suggest `--`; say the same thing in one short line. */
function rephrase(e: Error & { code?: string }): string {
  const flag = /'([^']+)'/.exec(e.message)?.[1] ?? '';
  const long = flag.split(', ').pop()?.replace(/ <value>$/, '') ?? flag;
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${flag}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(flag)}: playbooks take options only`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing/.test(e.message)) return `option ${long} needs a value`;
      if (/does not take an argument/.test(e.message)) return `option ${long} does not take a value`;
      if (/ambiguous/.test(e.message)) return `option ${long} needs a value, got another option`;
      return e.message;
    default:
      return e.message;
  }
}

function nonEmpty(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '') throw new UserError(`${flag}: expected a value, got an empty string (see --help)`);
  return value;
}

function commaList(values: string[] | undefined): string[] {
  const items = (values ?? []).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
  return [...new Set(items)];
}

function positiveInt(flag: string, value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UserError(`${flag}: expected a positive integer, got ${JSON.stringify(value)} (see --help)`);
  }
  return Number(value);
}
