// Bad input end to end: every malformed inventory and invocation makes a
// playbook exit 1 with one clear message and no stack trace, before any host
// is contacted (a run that got as far as connecting would exit 2, not 1).
import { fileURLToPath } from 'node:url';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { runPlaybook, type PlaybookDef } from '../../lib/playbook.js';
import { defineRole } from '../../lib/engine/types.js';

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
