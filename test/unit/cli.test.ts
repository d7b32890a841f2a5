import { describe, expect, it } from 'vitest';
import { ENV, parseCli, USAGE, type CliOptions } from '../../lib/cli.js';
import { UserError } from '../../lib/errors.js';
import { runPlaybook } from '../../lib/playbook.js';
import pkg from '../../package.json' with { type: 'json' };

const DEFAULTS: CliOptions = {
  inventory: 'inventory/hosts.toml',
  limit: undefined,
  check: false,
  confirm: false,
  diff: false,
  tags: [],
  skipTags: [],
  forks: 5,
  json: undefined,
  listHosts: false,
  listTasks: false,
  listTags: false,
  timeout: undefined,
  acceptNewHostKeys: false,
  detailedExitcode: false,
  extraVars: [],
  privateKeys: [],
  verbose: 0,
  help: false,
  version: false,
};

function errorOf(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseCli(argv, {}, env);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error(`parseCli(${JSON.stringify(argv)}) did not fail`);
}

describe('parseCli', () => {
  it('defaults', () => {
    expect(parseCli([])).toEqual(DEFAULTS);
  });

  it('long flags', () => {
    expect(
      parseCli([
        '--inventory', 'test/inv.toml', '--limit', 'mania', '--check', '--diff', '--tags', 'ssh,docker',
        '--skip-tags', 'apt', '--forks', '10', '--json', 'out.json', '--list-hosts', '--list-tasks',
        '--list-tags', '--timeout', '90', '--accept-new-host-keys', '--detailed-exitcode', '--verbose', '--help',
      ]),
    ).toEqual({
      inventory: 'test/inv.toml',
      limit: 'mania',
      check: true,
      confirm: false,
      diff: true,
      tags: ['ssh', 'docker'],
      skipTags: ['apt'],
      forks: 10,
      json: 'out.json',
      listHosts: true,
      listTasks: true,
      listTags: true,
      timeout: 90,
      acceptNewHostKeys: true,
      detailedExitcode: true,
      extraVars: [],
      privateKeys: [],
      verbose: 1,
      help: true,
      version: false,
    });
  });

  it('short flags, grouped booleans and --flag=value', () => {
    expect(parseCli(['-i', 'x.yaml', '-l', 'runners,!eros', '-CD', '-t', 'ssh', '-f', '2', '-vvv', '-h'])).toEqual({
      ...DEFAULTS,
      inventory: 'x.yaml',
      limit: 'runners,!eros',
      check: true,
      diff: true,
      tags: ['ssh'],
      forks: 2,
      verbose: 3,
      help: true,
    });
    expect(parseCli(['--forks=3', '--limit=web*']).forks).toBe(3);
    expect(parseCli(['-v', '-v']).verbose).toBe(2);
  });

  it('tags: comma lists, repeatable, trimmed, deduplicated', () => {
    const o = parseCli(['-t', 'ssh, docker', '--tags', 'apt,,ssh', '--skip-tags', 'a', '--skip-tags', 'b,c']);
    expect(o.tags).toEqual(['ssh', 'docker', 'apt']);
    expect(o.skipTags).toEqual(['a', 'b', 'c']);
  });

  it('several --limit flags add up', () => {
    expect(parseCli(['-l', 'mania', '-l', 'eros']).limit).toBe('mania,eros');
  });

  it('rejects an unknown flag', () => {
    expect(errorOf(['--frobnicate'])).toBe('unknown option --frobnicate (see --help)');
    expect(errorOf(['-x'])).toBe('unknown option -x (see --help)');
  });

  it('rejects a missing value', () => {
    expect(errorOf(['--forks'])).toBe('option --forks needs a value (see --help)');
    expect(errorOf(['-i'])).toBe('option --inventory needs a value (see --help)');
    expect(errorOf(['-l', '-C'])).toBe('option -l needs a value, got another option (see --help)');
  });

  it('rejects a bad number of forks', () => {
    for (const bad of ['0', '-1', 'many', '2.5', '']) {
      expect(errorOf(['--forks=' + bad])).toBe(`--forks: expected a positive integer, got ${JSON.stringify(bad)} (see --help)`);
    }
  });

  it('rejects a bad --timeout', () => {
    for (const bad of ['0', '-5', 'soon', '1.5']) {
      expect(errorOf(['--timeout=' + bad])).toBe(`--timeout: expected a positive integer, got ${JSON.stringify(bad)} (see --help)`);
    }
    expect(parseCli(['--timeout', '600']).timeout).toBe(600);
  });

  it('rejects positional arguments and values on boolean flags', () => {
    expect(errorOf(['mania'])).toBe('unexpected argument "mania": playbooks take options only (see --help)');
    expect(errorOf(['--check=yes'])).toBe('option --check does not take a value (see --help)');
  });

  it('--no-progress, and --json - (the report to stdout)', () => {
    expect(parseCli(['--no-progress']).noProgress).toBe(true);
    expect(parseCli([]).noProgress).toBeUndefined();
    expect(parseCli(['--json', '-']).json).toBe('-');
    expect(parseCli(['--json=-']).json).toBe('-');
    expect(USAGE).toMatch(/--json PATH .*"-" writes it\n.*to stdout and the human output to stderr/);
    expect(USAGE).toContain('--no-progress');
  });

    it('rejects empty values', () => {
    expect(errorOf(['--limit='])).toBe('--limit: expected a value, got an empty string (see --help)');
    expect(errorOf(['--inventory', ''])).toBe('--inventory: expected a value, got an empty string (see --help)');
    expect(errorOf(['--json='])).toBe('--json: expected a value, got an empty string (see --help)');
  });

  it('-u/--user and repeatable --private-key (absolute paths, ~ expanded)', () => {
    const o = parseCli(['-u', 'deploy', '--private-key', 'keys/a', '--private-key=~/.ssh/b']);
    expect(o.user).toBe('deploy');
    expect(o.privateKeys).toEqual([`${process.cwd()}/keys/a`, `${process.env.HOME}/.ssh/b`]);
    expect(parseCli(['--user=ops']).user).toBe('ops');
    expect(errorOf(['--user='])).toMatch(/^--user: expected a login user name/);
    expect(errorOf(['--private-key', ''])).toBe('--private-key: expected a value, got an empty string (see --help)');
  });

  it('USAGE documents every flag', () => {
    for (const flag of ['--inventory', '--limit', '--check', '--diff', '--tags', '--skip-tags', '--forks', '--json',
      '--list-hosts', '--list-tasks', '--list-tags', '--timeout', '--accept-new-host-keys', '--user', '--private-key', '--detailed-exitcode', '-v', '--help']) {
      expect(USAGE).toContain(flag);
    }
  });
});

describe('-e, -u, --private-key, --version', () => {
  it('-e/--extra-vars: repeatable, in the order given, kept as given', () => {
    expect(parseCli(['-e', 'forks=3', '--extra-vars', '@vars.yml', '--extra-vars=a.b="x y"', '-e', 'k={secret="N"}']).extraVars).toEqual([
      'forks=3',
      '@vars.yml',
      'a.b="x y"',
      'k={secret="N"}',
    ]);
    expect(errorOf(['-e', ''])).toBe('--extra-vars: expected a value, got an empty string (see --help)');
    expect(errorOf(['-e'])).toBe('option --extra-vars needs a value (see --help)');
  });

  it('-u/--user and --private-key (repeatable; paths made absolute)', () => {
    const o = parseCli(['-u', 'deploy', '--private-key', 'k1', '--private-key=~/.ssh/k2'], {}, {});
    expect(o.user).toBe('deploy');
    expect(o.privateKeys).toEqual([`${process.cwd()}/k1`, `${process.env.HOME}/.ssh/k2`]);
    expect(parseCli(['--user=admin'], {}, {}).user).toBe('admin');
    expect(errorOf(['-u', 'root@mania'])).toBe('--user: expected a login user name (no spaces, "@" or ":"), got "root@mania" (see --help)');
    expect(errorOf(['--user='])).toMatch(/^--user: expected a login user name/);
    expect(errorOf(['--private-key='])).toBe('--private-key: expected a value, got an empty string (see --help)');
  });

  it('--version', () => {
    expect(parseCli(['--version'], {}, {}).version).toBe(true);
  });

  it('--version prints the package version and the node version, before loading any inventory', async () => {
    let out = '';
    const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (out += t), colour: false };
    const def = { name: 'x', plays: [] };
    // the inventory does not exist and RIGGER_FORKS is bad: neither is looked at
    process.env.RIGGER_FORKS = 'many';
    try {
      const { exitCode } = await runPlaybook(def, ['--version', '-i', '/nonexistent/hosts.toml'], io);
      expect(exitCode).toBe(0);
    } finally {
      delete process.env.RIGGER_FORKS;
    }
    expect(out).toBe(`rigger ${pkg.version} (node ${process.version})\n`);
  });
});

describe('environment defaults', () => {
  const env = {
    RIGGER_INVENTORY: 'env/hosts.toml',
    RIGGER_LIMIT: 'runners,!eros',
    RIGGER_FORKS: '7',
    RIGGER_TIMEOUT: '120',
    RIGGER_USER: 'deploy',
    RIGGER_PRIVATE_KEY: '/keys/a:/keys/b',
    RIGGER_ACCEPT_NEW_HOST_KEYS: '1',
  };

  it('apply when the flag is absent', () => {
    expect(parseCli([], {}, env)).toEqual({
      ...DEFAULTS,
      inventory: 'env/hosts.toml',
      limit: 'runners,!eros',
      forks: 7,
      timeout: 120,
      user: 'deploy',
      privateKeys: ['/keys/a', '/keys/b'],
      acceptNewHostKeys: true,
    });
  });

  it('the flag wins (an overridden variable is not even read)', () => {
    const o = parseCli(['-i', 'x.toml', '-l', 'mania', '-f', '2', '--timeout', '5', '-u', 'root', '--private-key', 'k'], {}, { ...env, RIGGER_FORKS: 'bad', RIGGER_TIMEOUT: 'bad' });
    expect(o).toMatchObject({ inventory: 'x.toml', limit: 'mania', forks: 2, timeout: 5, user: 'root', privateKeys: [`${process.cwd()}/k`] });
    expect(parseCli(['--accept-new-host-keys'], {}, { RIGGER_ACCEPT_NEW_HOST_KEYS: '0' }).acceptNewHostKeys).toBe(true);
  });

  it('an empty variable counts as unset', () => {
    expect(parseCli([], {}, Object.fromEntries(Object.keys(env).map((k) => [k, ''])))).toEqual(DEFAULTS);
  });

  it('booleans: 1/true/yes/on and 0/false/no/off', () => {
    for (const v of ['1', 'true', 'YES', 'on']) expect(parseCli([], {}, { RIGGER_ACCEPT_NEW_HOST_KEYS: v }).acceptNewHostKeys).toBe(true);
    for (const v of ['0', 'false', 'No', 'off']) expect(parseCli([], {}, { RIGGER_ACCEPT_NEW_HOST_KEYS: v }).acceptNewHostKeys).toBe(false);
  });

  it('an invalid value exits 1 naming the variable', () => {
    const hint = '(an environment variable; unset it or see --help)';
    expect(errorOf([], { RIGGER_FORKS: 'x' })).toBe(`RIGGER_FORKS: expected a positive integer, got "x" ${hint}`);
    expect(errorOf([], { RIGGER_TIMEOUT: '0' })).toBe(`RIGGER_TIMEOUT: expected a positive integer, got "0" ${hint}`);
    expect(errorOf([], { RIGGER_USER: 'a b' })).toBe(`RIGGER_USER: expected a login user name (no spaces, "@" or ":"), got "a b" ${hint}`);
    expect(errorOf([], { RIGGER_ACCEPT_NEW_HOST_KEYS: 'sure' })).toBe(`RIGGER_ACCEPT_NEW_HOST_KEYS: expected 1, true, yes or on (or 0, false, no, off), got "sure" ${hint}`);
  });

  it('--help and --version work whatever the environment holds', () => {
    expect(parseCli(['--help'], {}, { RIGGER_FORKS: 'x' }).help).toBe(true);
    expect(parseCli(['--version'], {}, { RIGGER_TIMEOUT: 'x' }).version).toBe(true);
  });

  it('--help names the variable beside each flag it applies to', () => {
    const flagOf: Record<keyof typeof ENV, string> = {
      inventory: '--inventory',
      limit: '--limit',
      forks: '--forks',
      timeout: '--timeout',
      user: '--user',
      privateKey: '--private-key',
      acceptNewHostKeys: '--accept-new-host-keys',
    };
    const blocks = USAGE.split(/\n(?= {2}-| {6}--|\n)/);
    for (const [k, name] of Object.entries(ENV)) {
      const block = blocks.find((b) => b.includes(flagOf[k as keyof typeof ENV] + ' ') || b.includes(flagOf[k as keyof typeof ENV] + '\n'));
      expect(block, name).toBeDefined();
      expect(block, name).toContain(`[env ${name}`);
    }
    for (const flag of ['--extra-vars', '--user', '--private-key', '--version']) expect(USAGE).toContain(flag);
  });
});
