// Each malformed inventory must produce a UserError naming the file, the key path
// (or line and column) and what was expected.
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { loadInventory } from '../../lib/inventory/load.js';
import { UserError } from '../../lib/errors.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/inventories/', import.meta.url));

async function errorOf(name: string): Promise<UserError> {
  const err = await loadInventory(join(FIXTURES, name), { env: { HOME: '/home/tester' } }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

/** Every line of the message, with the fixture's path replaced by its name. */
async function linesOf(name: string): Promise<string[]> {
  const err = await errorOf(name);
  return err.message.split('\n').map((l) => l.replace(join(FIXTURES, name), name));
}

describe('malformed inventories', () => {
  it('port out of range, a string, a fraction', async () => {
    expect(await linesOf('bad-port.toml')).toEqual([
      'bad-port.toml: hosts.mania.port: expected an integer from 1 to 65535, got 70000',
      'bad-port.toml: hosts.eros.port: expected an integer from 1 to 65535, got "22"',
      'bad-port.toml: hosts.hades.port: expected an integer from 1 to 65535, got 22.5',
    ]);
  });

  it('unknown keys at every level', async () => {
    expect(await linesOf('unknown-key.toml')).toEqual([
      'unknown-key.toml: defaults.usr: expected one of the keys port, user, private_key, known_hosts, connect_timeout, command_timeout, lock_timeout, server_alive_interval, server_alive_count_max, secrets, ssh_config, got an unknown key',
      'unknown-key.toml: hosts.mania.prot: expected one of the keys host, port, user, private_key, known_hosts, connect_timeout, command_timeout, lock_timeout, server_alive_interval, server_alive_count_max, groups, vars, got an unknown key',
      'unknown-key.toml: hostz: expected one of the keys defaults, vars, hosts, groups, host_vars, got an unknown key',
    ]);
  });

  it('a host in an undeclared group', async () => {
    expect(await linesOf('unknown-group.toml')).toEqual([
      'unknown-group.toml: hosts.mania.groups[1]: expected a group declared in [groups], got undeclared group "runers"',
    ]);
  });

  it('an undeclared child group', async () => {
    expect(await linesOf('unknown-child.toml')).toEqual([
      'unknown-child.toml: groups.runners.children[1]: expected a group declared in [groups], got undeclared group "stateful"',
    ]);
  });

  it('cycles among group children, named', async () => {
    expect(await linesOf('cycle.toml')).toEqual([
      'cycle.toml: groups.a.children: expected no cycle among group children, got the cycle a -> b -> a',
      'cycle.toml: groups.c.children: expected no cycle among group children, got the cycle c -> c',
    ]);
  });

  it('host_vars for an unknown host', async () => {
    expect(await linesOf('host-vars-unknown.toml')).toEqual([
      'host-vars-unknown.toml: host_vars.manai: expected a host declared in [hosts], got unknown host "manai"',
    ]);
  });

  it('invalid host names', async () => {
    const lines = await linesOf('bad-host-name.toml');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^bad-host-name\.toml: hosts\."web 1": expected a host name of letters, digits.*, got "web 1"$/);
    expect(lines[1]).toMatch(/^bad-host-name\.toml: hosts\."db\*": expected a host name .*, got "db\*"$/);
  });

  it('TOML syntax error: file, line and column', async () => {
    const lines = await linesOf('syntax-error.toml');
    expect(lines[0]).toBe('syntax-error.toml:3:17: invalid TOML: invalid value');
    expect(lines.join('\n')).toContain('eros = { host = = "eros.example.org" }'); // the source line, to help
  });

  it('YAML syntax error: file, line and column', async () => {
    const lines = await linesOf('syntax-error.yaml');
    expect(lines[0]).toBe('syntax-error.yaml:3:4: invalid YAML: bad indentation of a mapping entry');
  });

  it('wrong types, all listed', async () => {
    expect(await linesOf('wrong-types.toml')).toEqual([
      'wrong-types.toml: defaults.user: expected a non-empty string, got 5',
      'wrong-types.toml: defaults.connect_timeout: expected a positive number of seconds, got -1',
      'wrong-types.toml: vars: expected a table of vars, got 3',
      'wrong-types.toml: hosts.mania.groups: expected a list of group names, got "runners"',
      'wrong-types.toml: hosts.eros: expected a table, got "eros.example.org"',
      'wrong-types.toml: groups.runners.children: expected a list of group names, got "autoscale"',
    ]);
  });

  it('wrong types in YAML', async () => {
    expect(await linesOf('wrong-types.yaml')).toEqual([
      'wrong-types.yaml: hosts.mania.port: expected an integer from 1 to 65535, got "twenty-two"',
      'wrong-types.yaml: groups.runners.chidren: expected one of the keys children, vars, got an unknown key',
    ]);
  });

  it('no [hosts] table', async () => {
    expect(await linesOf('missing-hosts.toml')).toEqual([
      'missing-hosts.toml: hosts: expected a table of hosts ([hosts]), got nothing',
    ]);
  });

  it('malformed secret references', async () => {
    const lines = await linesOf('bad-secret-ref.toml');
    expect(lines).toEqual([
      'bad-secret-ref.toml: hosts.mania.vars.token.secret: expected a secret name usable as an environment variable (letters, digits, "_"), got a number',
      'bad-secret-ref.toml: hosts.mania.vars.other.secret: expected a secret name usable as an environment variable (letters, digits, "_"), got "not-an-env-name"',
    ]);
  });

  it('a group named like a host, and a declared "all"', async () => {
    expect(await linesOf('group-clash.toml')).toEqual([
      'group-clash.toml: groups.runners: expected a group name that is not also a host name, got a clash with hosts.runners',
      'group-clash.toml: groups.all: expected a group other than "all" (it is implicit; put global vars in [vars]), got a declaration of "all"',
    ]);
  });

  it('an unsupported file extension', async () => {
    expect(await linesOf('inventory.ini')).toEqual([
      'inventory.ini: expected a .toml, .yaml or .yml inventory file, got ".ini"',
    ]);
  });

  it('a missing file', async () => {
    expect(await linesOf('does-not-exist.toml')).toEqual(['does-not-exist.toml: cannot read inventory: no such file']);
  });

  it('never includes a stack trace in the message', async () => {
    const err = await errorOf('bad-port.toml');
    expect(err.message).not.toMatch(/\n\s+at /);
    expect(err.name).toBe('UserError');
  });
});
