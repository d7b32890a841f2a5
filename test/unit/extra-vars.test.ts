// -e/--extra-vars: parsing key=value and @files, precedence over every
// inventory layer, secrets by reference only, and problems named by the -e
// they came from, through loadInventory and the real playbook runner (hosts
// at 127.0.0.1:1: a run that got as far as connecting would exit 2).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../lib/errors.js';
import { parseExtraVars, tomlValueOr } from '../../lib/inventory/extraVars.js';
import { loadInventory } from '../../lib/inventory/load.js';
import { runPlaybook, type PlaybookDef } from '../../lib/playbook.js';
import { clearSecretsForTests, isSecret, reveal } from '../../lib/secrets.js';
import common from '../../roles/common/index.js';
import runner from '../../playbooks/runner.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rigger-extravars-'));
  clearSecretsForTests();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('did not fail');
}

async function asyncErrorOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UserError);
  return (e as Error).message;
}

const INVENTORY = `
[vars]
level = "global"
timezone = "Etc/UTC"
gitlab = { url = "https://git.example.org", project = "infra/runners" }

[hosts]
mania = { host = "127.0.0.1", port = 1, groups = ["runners"], vars = { level = "host" } }
eros = { host = "127.0.0.1", port = 1, groups = ["runners"] }

[groups.runners.vars]
level = "group"
common_apt_cache_max_age = 100

[host_vars.mania]
level = "host_vars"
`;

describe('a key=value value', () => {
  it('is read as TOML when it is a TOML value', () => {
    expect(tomlValueOr('3')).toBe(3);
    expect(tomlValueOr('true')).toBe(true);
    expect(tomlValueOr('1.5')).toBe(1.5);
    expect(tomlValueOr('["a", "b"]')).toEqual(['a', 'b']);
    expect(tomlValueOr('"quoted value"')).toBe('quoted value');
    expect(tomlValueOr("'19.3.0'")).toBe('19.3.0');
    expect(tomlValueOr('{ secret = "NAME" }')).toEqual({ secret: 'NAME' });
    expect(tomlValueOr('{ a = 1, b = [true] }')).toEqual({ a: 1, b: [true] });
  });

  it('is a plain string otherwise', () => {
    expect(tomlValueOr('mania')).toBe('mania');
    expect(tomlValueOr('19.3.0')).toBe('19.3.0');
    expect(tomlValueOr('https://git.example.org/x?a=b')).toBe('https://git.example.org/x?a=b');
    expect(tomlValueOr('')).toBe('');
    expect(tomlValueOr('a b # c')).toBe('a b # c');
    // a date would be a Date object: a var wants the text
    expect(tomlValueOr('2026-12-02')).toBe('2026-12-02');
    // inf and nan would be floats: far more likely words
    for (const w of ['inf', 'nan', '+inf', '-nan']) expect(tomlValueOr(w)).toBe(w);
    // never a second key smuggled in after a newline
    expect(tomlValueOr('1\nother = 2')).toBe('1\nother = 2');
  });
});

describe('parseExtraVars', () => {
  it('key=value, dotted keys, @toml, @yaml, @yml and @json, in the order given', () => {
    const toml = write('a.toml', 'x = 1\nt = { k = "v" }\n');
    const yaml = write('b.yaml', 'y: [1, 2]\n');
    const yml = write('c.yml', '# nothing set yet\n');
    const json = write('d.json', '{"z": {"secret": "Z_TOKEN"}}');
    const ev = parseExtraVars(['forks=3', 'gitlab.url=https://x.example', `@${toml}`, `@${yaml}`, `@${yml}`, `@${json}`, 'name=mania']);
    expect(ev.assignments).toEqual([
      { path: ['forks'], value: 3, origin: '-e' },
      { path: ['gitlab', 'url'], value: 'https://x.example', origin: '-e' },
      { path: ['x'], value: 1, origin: `-e @${toml}` },
      { path: ['t'], value: { k: 'v' }, origin: `-e @${toml}` },
      { path: ['y'], value: [1, 2], origin: `-e @${yaml}` },
      { path: ['z'], value: { secret: 'Z_TOKEN' }, origin: `-e @${json}` },
      { path: ['name'], value: 'mania', origin: '-e' },
    ]);
  });

  it('refuses what is not key=value or @file, naming the -e (never showing a value without its key)', () => {
    expect(errorOf(() => parseExtraVars(['a=1', 'glpat-looks-like-a-token']))).toBe(
      '-e (the 2nd -e value): expected key=value, @file.toml, @file.yaml, @file.yml or @file.json, got no "=" (see --help)',
    );
    expect(errorOf(() => parseExtraVars(['=3']))).toMatch(/^-e ""=\.\.\.: expected a key of letters, digits, "_" and "-" .*, got an empty key/);
    expect(errorOf(() => parseExtraVars(['a b=3']))).toMatch(/^-e "a b"=\.\.\.: expected a key/);
    expect(errorOf(() => parseExtraVars(['a..b=3']))).toMatch(/^-e "a\.\.b"=\.\.\.: expected a key/);
    expect(errorOf(() => parseExtraVars(['__proto__.x=3']))).toMatch(/^-e "__proto__\.x"=\.\.\.: expected a key/);
    expect(errorOf(() => parseExtraVars(['@']))).toBe('-e @: expected a file name after "@" (see --help)');
  });

  it('names the file of a bad @file', () => {
    const missing = join(dir, 'missing.yml');
    expect(errorOf(() => parseExtraVars([`@${missing}`]))).toBe(`-e @${missing}: cannot read the vars file: no such file`);
    expect(errorOf(() => parseExtraVars([`@${write('v.txt', 'a=1')}`]))).toBe(`-e @${dir}/v.txt: expected a .toml, .yaml, .yml or .json file, got ".txt"`);
    expect(errorOf(() => parseExtraVars([`@${write('l.yaml', '- a\n- b\n')}`]))).toBe(`-e @${dir}/l.yaml: expected a table of vars, got a list`);
    expect(errorOf(() => parseExtraVars([`@${write('bad.toml', 'a = 1\nb = \n')}`]))).toMatch(new RegExp(`^-e @${dir}/bad\\.toml:2:\\d+: invalid TOML`));
    expect(errorOf(() => parseExtraVars([`@${write('bad.yaml', 'a: [1\n')}`]))).toMatch(new RegExp(`^-e @${dir}/bad\\.yaml:\\d+:\\d+: invalid YAML`));
  });

  it('a JSON syntax error gives the line and column, not the text around it', () => {
    const msg = errorOf(() => parseExtraVars([`@${write('bad.json', '{\n  "token": "s3cr3t-literal",\n}')}`]));
    expect(msg).toMatch(new RegExp(`^-e @${dir}/bad\\.json:3:1: invalid JSON`));
    expect(msg).not.toContain('s3cr3t');
    const msg2 = errorOf(() => parseExtraVars([`@${write('bad2.json', '{"token": "s3cr3t-literal" x}')}`]));
    expect(msg2).toMatch(/invalid JSON/);
    expect(msg2).not.toContain('s3cr3t');
  });
});

describe('-e in the inventory', () => {
  it('wins over host vars, host_vars, group vars and global vars, for every host; later -e wins', async () => {
    const inv = await loadInventory(write('hosts.toml', INVENTORY), { env: {}, extraVars: ['level=cli-1', 'common_apt_cache_max_age=5', 'level=cli-2'] });
    for (const h of ['mania', 'eros']) {
      expect(inv.hosts.get(h)!.vars.level).toBe('cli-2');
      expect(inv.hosts.get(h)!.vars.common_apt_cache_max_age).toBe(5);
    }
    // the inventory's own tables are unchanged
    expect(inv.groups.get('runners')!.vars.level).toBe('group');
    expect(inv.groups.get('all')!.vars.level).toBe('global');
  });

  it('without -e, nothing changes', async () => {
    const inv = await loadInventory(write('hosts.toml', INVENTORY), { env: {} });
    expect(inv.hosts.get('mania')!.vars.level).toBe('host_vars');
    expect(inv.hosts.get('eros')!.vars.level).toBe('group');
    expect(inv.extraVars).toBeUndefined();
  });

  it('a dotted key sets one value inside a table; a whole table replaces it', async () => {
    const path = write('hosts.toml', INVENTORY);
    const dotted = await loadInventory(path, { env: {}, extraVars: ['gitlab.url=https://other.example', 'new.deep.key=1'] });
    expect(dotted.hosts.get('mania')!.vars.gitlab).toEqual({ url: 'https://other.example', project: 'infra/runners' });
    expect(dotted.hosts.get('mania')!.vars.new).toEqual({ deep: { key: 1 } });
    expect(dotted.groups.get('all')!.vars.gitlab).toEqual({ url: 'https://git.example.org', project: 'infra/runners' });
    const whole = await loadInventory(path, { env: {}, extraVars: ['gitlab={ url = "https://other.example" }'] });
    expect(whole.hosts.get('mania')!.vars.gitlab).toEqual({ url: 'https://other.example' });
  });

  it('a dotted key into a value that is not a table is an error naming it', async () => {
    const msg = await asyncErrorOf(loadInventory(write('hosts.toml', INVENTORY), { env: {}, extraVars: ['timezone.x=1'] }));
    expect(msg).toBe('-e timezone.x: cannot set a key inside timezone: for host mania it is a string, not a table (give timezone whole instead)');
  });

  it('an @file replaces each of its vars whole', async () => {
    const vars = write('vars.yaml', 'level: from-file\ngitlab:\n  url: https://file.example\n');
    const inv = await loadInventory(write('hosts.toml', INVENTORY), { env: {}, extraVars: [`@${vars}`] });
    expect(inv.hosts.get('mania')!.vars).toMatchObject({ level: 'from-file', gitlab: { url: 'https://file.example' } });
    expect(inv.hosts.get('mania')!.vars.gitlab).not.toHaveProperty('project');
  });

  it('secrets by reference are resolved like the inventory\'s; problems name the -e', async () => {
    const path = write('hosts.toml', INVENTORY);
    const file = write('s.json', '{"other": {"secret": "OTHER_TOKEN"}}');
    const inv = await loadInventory(path, { env: { CLI_TOKEN: 'glpat-from-env-123' }, extraVars: ['token={ secret = "CLI_TOKEN" }'] });
    const token = inv.hosts.get('eros')!.vars.token;
    expect(isSecret(token)).toBe(true);
    expect(reveal(token)).toBe('glpat-from-env-123');
    expect(String(token)).toBe('[secret CLI_TOKEN from env]');
    const msg = await asyncErrorOf(loadInventory(path, { env: {}, extraVars: ['token={secret="CLI_TOKEN"}', `@${file}`] }));
    expect(msg).toBe(
      [
        '-e: token: expected secret CLI_TOKEN from env var CLI_TOKEN or a secrets file (none set: [defaults] secrets), got neither',
        `-e @${file}: other: expected secret OTHER_TOKEN from env var OTHER_TOKEN or a secrets file (none set: [defaults] secrets), got neither`,
      ].join('\n'),
    );
    // --list-hosts and the like read no secret
    const listing = await loadInventory(path, { env: {}, resolveSecrets: false, extraVars: ['token={secret="CLI_TOKEN"}'] });
    expect(String(listing.hosts.get('mania')!.vars.token)).toBe('[secret CLI_TOKEN (unresolved)]');
  });

  it('originOf names the -e that set a key path, or a table around it, or a value inside it', () => {
    const ev = parseExtraVars(['a.b=1', 'c=2', `@${write('v.toml', 'a = { x = 1 }\n')}`]);
    expect(ev.originOf(['c'])).toBe('-e');
    expect(ev.originOf(['c', 0, 'k'])).toBe('-e');
    expect(ev.originOf(['a', 'x'])).toBe(`-e @${dir}/v.toml`);
    expect(ev.originOf(['d'])).toBeUndefined();
    expect(ev.originOf([])).toBeUndefined();
    const dotted = parseExtraVars(['a.b=1']);
    expect(dotted.originOf(['a', 'b'])).toBe('-e');
    expect(dotted.originOf(['a'])).toBe('-e');
    expect(dotted.originOf(['a', 'other'])).toBeUndefined();
  });
});

async function run(def: PlaybookDef, argv: string[]) {
  let out = '';
  let err = '';
  const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t), colour: false };
  const { exitCode } = await runPlaybook(def, argv, io);
  return { exitCode, out, err };
}

const commonEverywhere: PlaybookDef = { name: 'base', plays: [{ hosts: 'runners', roles: [common] }, { hosts: 'local', roles: [common] }] };

describe('-e through a playbook run (nothing contacted: the hosts are 127.0.0.1:1)', () => {
  it('an invalid -e value exits 1 naming -e, the host, the role and the key path', async () => {
    const { exitCode, err } = await run(commonEverywhere, ['-i', write('hosts.toml', INVENTORY), '-e', 'common_apt_cache_max_age=x']);
    expect(exitCode, err).toBe(1);
    expect(err).toBe(
      [
        'error: invalid declarations (nothing was contacted):',
        '  -e: host mania, role common: common_apt_cache_max_age: Invalid input: expected number, received string',
        '  -e: host eros, role common: common_apt_cache_max_age: Invalid input: expected number, received string',
        '  -e: host local, role common: common_apt_cache_max_age: Invalid input: expected number, received string',
        '',
      ].join('\n'),
    );
  });

  it('the same value in the inventory is named by the inventory file (the parallel message)', async () => {
    const path = write('hosts.toml', INVENTORY.replace('common_apt_cache_max_age = 100', 'common_apt_cache_max_age = "x"'));
    const { exitCode, err } = await run(commonEverywhere, ['-i', path, '--limit', 'eros']);
    expect(exitCode).toBe(1);
    expect(err).toContain(`  ${path}: host eros, role common: common_apt_cache_max_age: Invalid input: expected number, received string`);
  });

  it('an @file value is named by its file', async () => {
    const vars = write('vars.toml', 'admin_users = [{ name = "Bad Name" }]\n');
    const { exitCode, err } = await run(commonEverywhere, ['-i', write('hosts.toml', INVENTORY), '--limit', 'mania', '-e', `@${vars}`]);
    expect(exitCode).toBe(1);
    expect(err).toMatch(new RegExp(`  -e @${vars}: host mania, role common: admin_users\\[0\\]\\.name: not a valid user name`));
  });

  it('an unknown key inside a strict table: the did-you-mean of inventory vars', async () => {
    const { exitCode, err } = await run(commonEverywhere, ['-i', write('hosts.toml', INVENTORY), '--limit', 'mania', '-e', 'admin_users=[{ name = "ops", shel = "/bin/sh" }]']);
    expect(exitCode).toBe(1);
    expect(err).toContain('  -e: host mania, role common: admin_users[0].shel: unknown key; did you mean "shell"?');
  });

  it('a var no role reads is a warning naming -e, with the nearest name', async () => {
    const path = write('hosts.toml', INVENTORY);
    const { exitCode, err } = await run(commonEverywhere, ['-i', path, '--limit', 'mania', '--list-hosts', '-e', 'timzone=Etc/UTC', '-e', 'frobnicate=1']);
    expect(exitCode, err).toBe(0);
    expect(err).toContain('warning: -e: var timzone is read by no role of playbook base; did you mean "timezone"?\n');
    expect(err).toContain('warning: -e: var frobnicate is read by no role of playbook base; remove it, or check its spelling\n');
    // the inventory's own unread var (level) is not blamed on -e, and -e's not on the inventory
    expect(err).not.toContain(`${path}: var timzone`);
  });

  it('the control machine target gets -e too (rendered files show the value)', async () => {
    const out = join(dir, 'render');
    const { exitCode, err } = await run(commonEverywhere, ['-i', write('hosts.toml', INVENTORY), '--render', out, '-e', 'timezone=Europe/Paris', '-e', 'hostname=web1']);
    expect(exitCode, err).toBe(0);
    for (const h of ['mania', 'eros', 'local']) {
      expect(readFileSync(join(out, h, 'files/etc/timezone'), 'utf8')).toBe('Europe/Paris\n');
      expect(readFileSync(join(out, h, 'files/etc/hostname'), 'utf8')).toBe('web1\n');
    }
  });

  it('a literal for a var the role marks secret is refused, and never printed', async () => {
    const inv = write(
      'run.toml',
      '[hosts]\nmania = { host = "127.0.0.1", port = 1, groups = ["runners"] }\n[vars]\ngitlab_url = "https://git.example.org"\ngitlab_runner_version = "19.3.0"\n[groups.runners]\n',
    );
    const literal = 'glpat-literal-on-the-command-line';
    const { exitCode, out, err } = await run(runner, ['-i', inv, '--check', '-e', `gitlab_access_token=${literal}`]);
    expect(exitCode).toBe(1);
    expect(err).toContain('  -e: host mania, role gitlab-runner: gitlab_access_token: expected a secret ({ secret = "NAME" })');
    expect(out + err).not.toContain('literal-on-the-command-line');
    const asFile = await run(runner, ['-i', inv, '--check', '-e', `@${write('t.yml', `gitlab_access_token: ${literal}\n`)}`]);
    expect(asFile.exitCode).toBe(1);
    expect(asFile.err).toContain(`  -e @${dir}/t.yml: host mania, role gitlab-runner: gitlab_access_token: expected a secret`);
    expect(asFile.out + asFile.err).not.toContain('literal-on-the-command-line');
  });

  it('--list-tags and --list-tasks see -e: a timezone given with -e adds its resources', async () => {
    const path = write('hosts.toml', INVENTORY.replace('timezone = "Etc/UTC"\n', ''));
    const without = await run(commonEverywhere, ['-i', path, '--list-tags']);
    expect(without.exitCode, without.err).toBe(0);
    expect(without.out).toMatch(/^common: common, packages, unattended-upgrades, users$/m);
    const withTz = await run(commonEverywhere, ['-i', path, '--list-tags', '-e', 'timezone=Europe/Paris']);
    expect(withTz.out).toMatch(/^common: common, packages, timezone, unattended-upgrades, users$/m);
    const tasks = await run(commonEverywhere, ['-i', path, '--list-tasks', '--tags', 'timezone', '-e', 'timezone=Europe/Paris']);
    expect(tasks.exitCode, tasks.err).toBe(0);
    expect(tasks.out).toContain('local:\n  [common] link:/etc/localtime  tags: common,timezone\n');
  });

  it('a bad -e exits 1 before the inventory is even read', async () => {
    const { exitCode, err } = await run(commonEverywhere, ['-i', join(dir, 'no-such-inventory.toml'), '-e', 'oops']);
    expect(exitCode).toBe(1);
    expect(err).toBe('error: -e (the 1st -e value): expected key=value, @file.toml, @file.yaml, @file.yml or @file.json, got no "=" (see --help)\n');
  });
});
