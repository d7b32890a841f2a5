// Bad input end to end: every malformed inventory and invocation makes a
// playbook exit 1 with one clear message and no stack trace, before any host
// is contacted (a run that got as far as connecting would exit 2, not 1).
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlaybook, type PlaybookDef } from '../../lib/playbook.js';
import { defineRole } from '../../lib/engine/types.js';
import { cron, file } from '../../lib/resources/index.js';
import dockerCleanup from '../../roles/docker-cleanup/index.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/inventories/', import.meta.url));
const inv = (name: string) => join(FIXTURES, name);

const role = defineRole({
  name: 'probe-only',
  vars: z.looseObject({ motd: z.string({ message: 'expected a string' }).default('hi') }),
  tasks: () => ({ resources: [] }),
});
const def: PlaybookDef = { name: 'bad-input', plays: [{ hosts: 'all', roles: [role] }] };

async function run(argv: string[]) {
  let out = '';
  const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (out += t), colour: false };
  const { exitCode } = await runPlaybook(def, argv, io);
  return { exitCode, out };
}

const cases: Array<[string, string[], RegExp]> = [
  ['unknown flag', ['--frobnicate'], /unknown option --frobnicate/],
  ['flag without its value', ['-i'], /option --inventory needs a value/],
  ['--forks 0', ['-i', inv('good.toml'), '--forks', '0'], /--forks: expected a positive integer, got "0"/],
  ['positional argument', ['mania'], /unexpected argument "mania"/],
  ['missing inventory file', ['-i', inv('nope.toml')], /nope\.toml/],
  ['TOML syntax error', ['-i', inv('syntax-error.toml')], /syntax-error\.toml:3:17: invalid TOML/],
  ['YAML syntax error', ['-i', inv('syntax-error.yaml')], /syntax-error\.yaml:3:4: invalid YAML/],
  ['unknown key', ['-i', inv('unknown-key.toml')], /unknown-key\.toml: .*unknown key/s],
  ['wrong types', ['-i', inv('wrong-types.toml')], /wrong-types\.toml: .*expected/s],
  ['port out of range', ['-i', inv('bad-port.toml')], /bad-port\.toml: hosts\.\w+\.port/],
  ['undeclared group', ['-i', inv('unknown-group.toml')], /unknown-group\.toml: hosts\.\w+\.groups/],
  ['cycle of groups', ['-i', inv('cycle.toml')], /cycle\.toml: .*->/s],
  ['host_vars of an unknown host', ['-i', inv('host-vars-unknown.toml')], /host-vars-unknown\.toml: host_vars\./],
  ['unsupported inventory format', ['-i', inv('inventory.ini')], /inventory\.ini/],
  ['--limit matching nothing', ['-i', inv('minimal.toml'), '--limit', 'nosuchhost'], /--limit: pattern "nosuchhost" matches no host or group/],
  ['missing secret', ['-i', inv('good.toml')], /good\.toml: groups\.runners\.vars\.runner_token: expected secret RUNNER_TOKEN/],
];

describe('bad input exits 1 with a clear message and no stack trace', () => {
  it.each(cases)('%s', async (_name, argv, message) => {
    const { exitCode, out } = await run(argv);
    expect(exitCode, out).toBe(1);
    expect(out).toMatch(/^error: /);
    expect(out).toMatch(message);
    expect(out).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });

  it('role vars are checked for every selected host before any connection, naming host, role and key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rigger-badvars-'));
    const file = join(dir, 'inv.toml');
    writeFileSync(file, '[hosts]\nweb1 = { host = "192.0.2.1" }\nweb2 = { host = "192.0.2.2", vars = { motd = 42 } }\n');
    const { exitCode, out } = await run(['-i', file]);
    expect(exitCode, out).toBe(1);
    expect(out).toContain(`${file}: host web2, role probe-only: motd: expected a string`);
    expect(out).not.toContain('web1,');
  });
});

/**
 * Malformed invocations that only a later stage used to catch (after
 * connecting, or after applying everything): each exits 1 with one clear
 * message before anything is contacted. The hosts point at a TCP listener on
 * 127.0.0.1 that counts connections: it must see none.
 */
describe('bad input found before any host is contacted', () => {
  let server: Server;
  let port: number;
  let connections = 0;
  let dir: string;
  let savedAgent: string | undefined;
  beforeAll(async () => {
    server = createServer((sock) => {
      connections++;
      sock.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    dir = mkdtempSync(join(tmpdir(), 'rigger-badinput-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id_test')]);
    // A missing key file is an error only without an ssh-agent: the developer's own agent must not count.
    savedAgent = process.env.SSH_AUTH_SOCK;
    delete process.env.SSH_AUTH_SOCK;
  });
  afterAll(() => {
    server.close();
    if (savedAgent !== undefined) process.env.SSH_AUTH_SOCK = savedAgent;
  });

  /** An inventory of two hosts on the counting listener, plus `extra` TOML. */
  function inventory(name: string, extra = '', defaults = '', key = 'id_test') {
    const path = join(dir, name);
    writeFileSync(path, `[defaults]\nprivate_key = "${key}"\nknown_hosts = "known_hosts"\n${defaults}\n[hosts]\nweb1 = { host = "127.0.0.1", port = ${port} }\nweb2 = { host = "127.0.0.1", port = ${port} }\n${extra}`);
    return path;
  }

  const tagged = defineRole({
    name: 'web',
    tasks: () => ({ resources: [file({ path: '/etc/web.conf', content: 'x\n', tags: ['config'] }), file({ path: '/etc/motd', content: 'hi\n' })] }),
  });
  const webDef: PlaybookDef = { name: 'web', plays: [{ hosts: 'all', roles: [tagged] }] };
  const factoryDef = (schedule: string): PlaybookDef => ({
    name: 'cron',
    plays: [{ hosts: 'all', roles: [defineRole({ name: 'sched', tasks: () => ({ resources: [cron({ name: 'job', schedule, command: 'true' })] }) })] }],
  });
  const handlerDef: PlaybookDef = {
    name: 'handlers',
    plays: [{ hosts: 'all', roles: [defineRole({ name: 'ssh', tasks: () => ({ resources: [file({ path: '/etc/x', content: '', notify: 'relaod ssh' })], handlers: [] }) })] }],
  };
  const cleanupDef: PlaybookDef = { name: 'cleanup', plays: [{ hosts: 'all', roles: [dockerCleanup] }] };

  async function runDef(d: PlaybookDef, argv: string[]) {
    let out = '';
    const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (out += t), colour: false };
    const { exitCode } = await runPlaybook(d, argv, io);
    return { exitCode, out };
  }

  const cases: Array<[string, () => [PlaybookDef, string[]], RegExp]> = [
    ['an unknown --tags tag lists the known ones', () => [webDef, ['-i', inventory('a.toml'), '--tags', 'confg']], /unknown tag "confg"; the selected hosts know: config, web \(and "all"\)/],
    ['an unknown --skip-tags tag', () => [webDef, ['-i', inventory('b.toml'), '--skip-tags', 'nope,config']], /unknown tag "nope"/],
    ['--tags that leave nothing to run', () => [webDef, ['-i', inventory('c.toml'), '--skip-tags', 'web']], /no play of web applies to the selected hosts \(web1, web2\) once --tags\/--skip-tags are applied/],
    ['--json into a directory that does not exist', () => [webDef, ['-i', inventory('d.toml'), '--json', join(dir, 'no/such/dir/report.json')]], /--json .*no\/such\/dir\/report\.json: cannot write the report there \(no such directory\)/],
    ['--json naming a directory', () => [webDef, ['-i', inventory('e.toml'), '--json', dir]], /--json .*: cannot write the report there \(it is a directory\)/],
    ['a missing private key (not "unreachable")', () => [webDef, ['-i', inventory('f.toml', '', '', 'id_missing')]], /f\.toml: private_key .*id_missing of hosts web1, web2: no such file, and no ssh-agent \(SSH_AUTH_SOCK is not set\)/],
    ['a resource factory refusing a value that passed the role schema (docker_cleanup_schedule)', () => [cleanupDef, ['-i', inventory('g.toml', '[vars]\ndocker_cleanup_schedule = "every 15 minutes"\n')]], /g\.toml: host web1, role docker-cleanup: cron docker-cleanup: schedule "every 15 minutes" is not five cron fields/],
    ['a factory error in a role of the playbook', () => [factoryDef('hourly'), ['-i', inventory('h.toml'), '--check']], /host web1, role sched: cron job: schedule "hourly"/],
    ['a resource notifying a handler its role does not define', () => [handlerDef, ['-i', inventory('i.toml')]], /host web1, role ssh: file:\/etc\/x notifies unknown handler "relaod ssh"/],
    ['--timeout 0', () => [webDef, ['-i', inventory('j.toml'), '--timeout', '0']], /--timeout: expected a positive integer, got "0"/],
    ['a negative command_timeout', () => [webDef, ['-i', inventory('k.toml', '', 'command_timeout = -5')]], /k\.toml: defaults\.command_timeout: expected a positive number of seconds, got -5/],
    ['server_alive_count_max = 0', () => [webDef, ['-i', inventory('l.toml', '', 'server_alive_count_max = 0')]], /l\.toml: defaults\.server_alive_count_max: expected a positive integer/],
    ['lock_timeout as text', () => [webDef, ['-i', inventory('m.toml', '', 'lock_timeout = "soon"')]], /m\.toml: defaults\.lock_timeout: expected a positive number of seconds/],
    ['a YAML alias bomb (nested aliases)', () => [webDef, ['-i', inv('alias-bomb.yaml')]], /alias-bomb\.yaml: invalid YAML: aliases expand it to more than 100000 values/],
    ['a YAML alias bomb, even with --list-hosts', () => [webDef, ['-i', inv('alias-bomb.yaml'), '--list-hosts']], /alias-bomb\.yaml: invalid YAML: aliases expand/],
  ];

  it.each(cases)('%s', async (_name, make, message) => {
    const [d, argv] = make();
    const before = connections;
    const files = readdirSync(dir).sort();
    const t0 = Date.now();
    const { exitCode, out } = await runDef(d, argv);
    expect(exitCode, out).toBe(1);
    expect(out).toMatch(/^error: /);
    expect(out).toMatch(message);
    expect(out).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(out).not.toContain('PLAYBOOK');
    expect(connections - before).toBe(0);
    // nothing written (the inventory of this case aside)
    expect(readdirSync(dir).filter((f) => !f.endsWith('.toml')).sort()).toEqual(files.filter((f) => !f.endsWith('.toml')));
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('the listener does count a run that gets as far as connecting (so 0 above means something)', async () => {
    const before = connections;
    const { exitCode, out } = await runDef(webDef, ['-i', inventory('z.toml'), '--check']);
    expect(exitCode, out).toBe(2);
    expect(connections - before).toBe(2);
    expect(existsSync(join(dir, 'known_hosts'))).toBe(false);
  });
});
