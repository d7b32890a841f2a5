// The one flag parser every playbook shares (see "CLI contract" in ARCHITECTURE.md).
import { delimiter } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pkg from '../package.json' with { type: 'json' };
import { UserError } from './errors.js';
import { resolvePath } from './inventory/paths.js';

export interface CliOptions {
  inventory: string;
  limit?: string;
  check: boolean;
  /** plan every host, show it, ask once, then apply exactly what was shown (lib/confirmRun.ts) */
  confirm: boolean;
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
  /** -e/--extra-vars values as given, in order (parsed by lib/inventory/extraVars.ts when the inventory is loaded) */
  extraVars: string[];
  /** -u/--user: the login user of every inventory host (wins over the inventory and ~/.ssh/config) */
  user?: string;
  /** --private-key PATHs (absolute), in order, tried in turn; win over the inventory and ~/.ssh/config ([] when none) */
  privateKeys: string[];
  verbose: number;
  help: boolean;
  version: boolean;
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

/**
 * Environment defaults of the common flags: the flag wins. An empty variable
 * counts as unset (CI systems often define variables empty).
 */
export const ENV = {
  inventory: 'RIGGER_INVENTORY',
  limit: 'RIGGER_LIMIT',
  forks: 'RIGGER_FORKS',
  timeout: 'RIGGER_TIMEOUT',
  user: 'RIGGER_USER',
  privateKey: 'RIGGER_PRIVATE_KEY',
  acceptNewHostKeys: 'RIGGER_ACCEPT_NEW_HOST_KEYS',
} as const;

export const USAGE = `usage: npx tsx playbooks/<playbook>.ts [options]

  -i, --inventory PATH      inventory file (default ${DEFAULT_INVENTORY})
                            [env ${ENV.inventory}]
  -l, --limit PATTERN       only these hosts: names, groups, globs (web*), !excluded,
                            &intersection, comma-separated; matching nothing is an error
                            [env ${ENV.limit}]
  -e, --extra-vars VARS     key=value (the value read as TOML when it is one, else as
                            a string; a.b=v sets b inside table a), @file.toml,
                            @file.yaml|yml or @file.json; repeatable, later wins; wins over
                            every inventory var; secrets only as { secret = "NAME" }
  -C, --check               change nothing; show what would change, with diffs
  -D, --diff                show diffs when applying too
      --confirm             plan every host and show it (as --check), ask once on the
                            terminal, then apply exactly what was shown; a host whose
                            state changed meanwhile is shown again, not applied
  -t, --tags TAGS           run only resources with these tags (comma list, repeatable)
      --skip-tags TAGS      skip resources with these tags (comma list, repeatable)
  -f, --forks N             hosts in parallel (default ${DEFAULT_FORKS}) [env ${ENV.forks}]
  -u, --user USER           log in as USER on every host (wins over the inventory
                            and ~/.ssh/config) [env ${ENV.user}]
      --private-key PATH    offer this private key (repeatable, tried in order;
                            wins over the inventory and ~/.ssh/config)
                            [env ${ENV.privateKey}: paths separated by "${delimiter}"]
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
                            timeout wins) [env ${ENV.timeout}]
      --accept-new-host-keys
                            trust and record a host key seen for the first time
                            [env ${ENV.acceptNewHostKeys}=1]
      --detailed-exitcode   exit 3 when something changed (or would change)
  -v, --verbose             more detail, repeat for more (never secrets)
      --version             print rigger's version and exit
  -h, --help                show this help

environment: a flag wins over its variable; an empty variable counts as unset.

exit codes: 0 ok, 1 invocation/inventory/playbook error (nothing run),
            2 a host failed or was unreachable, 3 changed (with --detailed-exitcode),
            130/143 interrupted by SIGINT/SIGTERM (recap and report still written)
`;

/** `rigger 0.1.0 (node v20.20.2)` */
export function versionText(): string {
  return `rigger ${pkg.version} (node ${process.version})\n`;
}

const OPTIONS = {
  inventory: { type: 'string', short: 'i' },
  limit: { type: 'string', short: 'l', multiple: true },
  'extra-vars': { type: 'string', short: 'e', multiple: true },
  check: { type: 'boolean', short: 'C' },
  confirm: { type: 'boolean' },
  diff: { type: 'boolean', short: 'D' },
  tags: { type: 'string', short: 't', multiple: true },
  'skip-tags': { type: 'string', multiple: true },
  forks: { type: 'string', short: 'f' },
  user: { type: 'string', short: 'u' },
  'private-key': { type: 'string', multiple: true },
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
  version: { type: 'boolean' },
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

export function parseCli(argv: string[] = process.argv.slice(2), extra: PlaybookFlags = {}, env: NodeJS.ProcessEnv = process.env): CliOptions {
  for (const n of Object.keys(extra)) if (n in OPTIONS) throw new Error(`playbook flag --${n} is already a common flag`);
  const options = { ...OPTIONS, ...Object.fromEntries(Object.entries(extra).map(([n, f]) => [n, { type: f.type }])) } as typeof OPTIONS;
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UserError(`${rephrase(e as Error & { code?: string })} (see --help)`);
  }
  const own = values as Record<string, string | boolean | undefined>;
  // --help and --version work whatever the environment holds.
  const fromEnv = values.help || values.version ? (_: string) => undefined : (name: string) => env[name] || undefined;
  const envForks = fromEnv(ENV.forks);
  const envTimeout = fromEnv(ENV.timeout);
  const envKeys = fromEnv(ENV.privateKey);
  if (values.confirm) {
    const clash = (['check', 'render', 'list-hosts', 'list-tasks', 'list-tags'] as const).find((f) => values[f]);
    if (clash) throw new UserError(`--confirm applies what it shows; it cannot go with --${clash} (see --help)`);
  }
  return {
    ...(Object.keys(extra).length ? { flags: Object.fromEntries(Object.keys(extra).map((n) => [n, typeof own[n] === 'string' ? nonEmpty(`--${n}`, own[n] as string) : own[n]])) } : {}),
    inventory: nonEmpty('--inventory', values.inventory) ?? fromEnv(ENV.inventory) ?? DEFAULT_INVENTORY,
    // Several --limit flags add up, like one comma-separated pattern.
    limit: values.limit ? values.limit.map((l) => nonEmpty('--limit', l)).join(',') : fromEnv(ENV.limit),
    check: values.check ?? false,
    confirm: values.confirm ?? false,
    diff: values.diff ?? false,
    tags: commaList(values.tags),
    skipTags: commaList(values['skip-tags']),
    forks: values.forks !== undefined ? positiveInt('--forks', values.forks) : envForks !== undefined ? positiveInt(ENV.forks, envForks, ENV_HINT) : DEFAULT_FORKS,
    json: nonEmpty('--json', values.json),
    noProgress: values['no-progress'],
    render: nonEmpty('--render', values.render),
    listHosts: values['list-hosts'] ?? false,
    listTasks: values['list-tasks'] ?? false,
    listTags: values['list-tags'] ?? false,
    timeout: values.timeout !== undefined ? positiveInt('--timeout', values.timeout) : envTimeout !== undefined ? positiveInt(ENV.timeout, envTimeout, ENV_HINT) : undefined,
    acceptNewHostKeys: values['accept-new-host-keys'] ?? envBoolean(ENV.acceptNewHostKeys, fromEnv(ENV.acceptNewHostKeys)) ?? false,
    detailedExitcode: values['detailed-exitcode'] ?? false,
    extraVars: (values['extra-vars'] ?? []).map((v) => nonEmpty('--extra-vars', v)!),
    user: values.user !== undefined ? userName('--user', values.user) : fromEnv(ENV.user) !== undefined ? userName(ENV.user, fromEnv(ENV.user)!, ENV_HINT) : undefined,
    privateKeys: (values['private-key'] ? values['private-key'].map((k) => nonEmpty('--private-key', k)!) : envKeys ? envKeys.split(delimiter).filter(Boolean) : []).map((k) => resolvePath(k, process.cwd(), process.env)),
    verbose: values.verbose?.length ?? 0,
    help: values.help ?? false,
    version: values.version ?? false,
  };
}

const ENV_HINT = '(an environment variable; unset it or see --help)';

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

function positiveInt(flag: string, value: string, hint = '(see --help)'): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UserError(`${flag}: expected a positive integer, got ${JSON.stringify(value)} ${hint}`);
  }
  return Number(value);
}

// A login name: no whitespace, "@" or ":" (ssh would read them as host syntax), not starting with "-" (an option).
function userName(flag: string, value: string, hint = '(see --help)'): string {
  if (!/^[^\s@:-][^\s@:]*$/.test(value)) {
    throw new UserError(`${flag}: expected a login user name (no spaces, "@" or ":"), got ${JSON.stringify(value)} ${hint}`);
  }
  return value;
}

function envBoolean(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new UserError(`${name}: expected 1, true, yes or on (or 0, false, no, off), got ${JSON.stringify(value)} ${ENV_HINT}`);
}
