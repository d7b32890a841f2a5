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
  json?: string;
  listHosts: boolean;
  listTasks: boolean;
  acceptNewHostKeys: boolean;
  detailedExitcode: boolean;
  verbose: number;
  help: boolean;
  /** values of the playbook's own flags (PlaybookFlag), by name; absent when it declares none */
  playbookFlags?: Record<string, string | undefined>;
}

/**
 * A flag one playbook adds to the shared ones (e.g. the docs playbook's
 * `--out FILE`): a long option taking a value, listed by --help.
 */
export interface PlaybookFlag {
  /** long name without the dashes, e.g. "out" */
  name: string;
  /** what the value is, shown in --help, e.g. "FILE" */
  value: string;
  help: string;
}

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
      --json PATH           write the machine-readable report to PATH
      --list-hosts          print the selected hosts and exit, without connecting
      --list-tasks          print the tasks per host and exit, without connecting
      --accept-new-host-keys
                            trust and record a host key seen for the first time
      --detailed-exitcode   exit 3 when something changed (or would change)
  -v, --verbose             more detail, repeat for more (never secrets)
  -h, --help                show this help

exit codes: 0 ok, 1 invocation/inventory/playbook error (nothing run),
            2 a host failed or was unreachable, 3 changed (with --detailed-exitcode)
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
  'list-hosts': { type: 'boolean' },
  'list-tasks': { type: 'boolean' },
  'accept-new-host-keys': { type: 'boolean' },
  'detailed-exitcode': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export function parseCli(argv: string[] = process.argv.slice(2), flags: readonly PlaybookFlag[] = []): CliOptions {
  const extra: Record<string, { type: 'string' }> = {};
  for (const f of flags) {
    if (f.name in OPTIONS || f.name in extra || !/^[a-z][a-z0-9-]*$/.test(f.name)) throw new Error(`playbook flag --${f.name}: invalid or already defined`);
    extra[f.name] = { type: 'string' };
  }
  let values;
  let own: Record<string, string | undefined>;
  try {
    const parsed = parseArgs({ args: argv, options: { ...OPTIONS, ...extra }, strict: true, allowPositionals: false });
    values = parsed.values as { [K in keyof typeof OPTIONS]?: ParsedValue<(typeof OPTIONS)[K]> };
    own = Object.fromEntries(flags.map((f) => [f.name, nonEmpty(`--${f.name}`, (parsed.values as Record<string, string | undefined>)[f.name])]));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${rephrase(e as Error & { code?: string })} (see --help)`);
  }
  return {
    inventory: nonEmpty('--inventory', values.inventory) ?? DEFAULT_INVENTORY,
    // Several --limit flags add up, like one comma-separated pattern.
    limit: values.limit ? values.limit.map((l) => nonEmpty('--limit', l)).join(',') : undefined,
    check: values.check ?? false,
    diff: values.diff ?? false,
    tags: commaList(values.tags),
    skipTags: commaList(values['skip-tags']),
    forks: values.forks === undefined ? DEFAULT_FORKS : positiveInt('--forks', values.forks),
    json: nonEmpty('--json', values.json),
    listHosts: values['list-hosts'] ?? false,
    listTasks: values['list-tasks'] ?? false,
    acceptNewHostKeys: values['accept-new-host-keys'] ?? false,
    detailedExitcode: values['detailed-exitcode'] ?? false,
    verbose: values.verbose?.length ?? 0,
    help: values.help ?? false,
    ...(flags.length ? { playbookFlags: own } : {}),
  };
}

type ParsedValue<O> = O extends { type: 'boolean'; multiple: true } ? boolean[] : O extends { type: 'string'; multiple: true } ? string[] : O extends { type: 'boolean' } ? boolean : string;

/** --help text: the shared flags, then the playbook's own. */
export function usage(flags: readonly PlaybookFlag[] = []): string {
  if (!flags.length) return USAGE;
  const own = flags.map((f) => {
    const left = `      --${f.name} ${f.value}`;
    return left.length < 28 ? `${left.padEnd(28)}${f.help}` : `${left}\n${' '.repeat(28)}${f.help}`;
  });
  return USAGE.replace('\nexit codes:', `\nthis playbook:\n${own.join('\n')}\n\nexit codes:`);
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
