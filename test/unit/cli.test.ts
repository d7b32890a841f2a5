import { describe, expect, it } from 'vitest';
import { parseCli, USAGE, type CliOptions } from '../../lib/cli.js';
import { UserError } from '../../lib/errors.js';

const DEFAULTS: CliOptions = {
  inventory: 'inventory/hosts.toml',
  limit: undefined,
  check: false,
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
  verbose: 0,
  help: false,
};

function errorOf(argv: string[]): string {
  try {
    parseCli(argv);
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
      verbose: 1,
      help: true,
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

  it('USAGE documents every flag', () => {
    for (const flag of ['--inventory', '--limit', '--check', '--diff', '--tags', '--skip-tags', '--forks', '--json',
      '--list-hosts', '--list-tasks', '--list-tags', '--timeout', '--accept-new-host-keys', '--detailed-exitcode', '-v', '--help']) {
      expect(USAGE).toContain(flag);
    }
  });
});
