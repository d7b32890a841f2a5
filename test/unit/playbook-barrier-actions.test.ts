// lib/playbook.ts: plays with `barrier` run after every earlier play, and not
// at all when one failed; a playbook's own flags (actions) replace the run;
// roles see the whole inventory. Targets are the control machine (`local`) and
// an inventory host on a closed loopback port (unreachable).
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlaybook, type PlaybookDef } from '../../lib/playbook.js';
import { defineRole, type ApiResource, type Role } from '../../lib/engine/types.js';

let dir: string;
let closedPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rigger-barrier-'));
  // a port nobody listens on: bind, note it, close
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  closedPort = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function inventory(text: string): Promise<string> {
  const path = join(dir, `inv-${Math.random().toString(36).slice(2)}.toml`);
  await writeFile(path, text);
  return path;
}

function capture() {
  let out = '';
  return { io: { stdout: (t: string) => void (out += t), stderr: (t: string) => void (out += t), colour: false }, text: () => out };
}

/** A role whose one API resource records, when planned, the order it ran in. */
function recorder(name: string, log: string[]): Role {
  return defineRole({
    name,
    tasks: ({ host, inventory }) => ({
      resources: [
        {
          id: `record:${name}`,
          tags: [],
          notify: [],
          read: async () => null,
          plan: () => {
            log.push(`${name}@${host} sees ${[...(inventory?.hosts.keys() ?? [])].join(',')}`);
            return null;
          },
          apply: async () => {},
        } satisfies ApiResource,
      ],
    }),
  });
}

describe('barrier plays', () => {
  it('run after the earlier plays, on the control machine, and their roles see every inventory host', async () => {
    const log: string[] = [];
    const inv = await inventory('[hosts]\nweb1 = { host = "127.0.0.1" }\nweb2 = { host = "127.0.0.1" }\n');
    const def: PlaybookDef = { name: 't', plays: [{ hosts: 'local', roles: [recorder('first', log)] }, { hosts: 'local', barrier: true, roles: [recorder('second', log)] }] };
    const c = capture();
    const { exitCode, report } = await runPlaybook(def, ['-i', inv, '--limit', 'local'], c.io);
    expect(exitCode, c.text()).toBe(0);
    expect(log).toEqual(['first@local sees web1,web2', 'second@local sees web1,web2']);
    // one target, two phases: the results add up
    expect(report!.hosts.local.counts.ok).toBe(2);
    expect(report!.hosts.local.remoteCommands).toBe(2); // facts, once per phase
  });

  it('do not run when an earlier play failed on a host', async () => {
    const log: string[] = [];
    // a key that preflight accepts (it loads every key), for a host nothing listens for
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'some_key')]);
    const inv = await inventory(`[defaults]\nprivate_key = "some_key"\nknown_hosts = "known_hosts"\n[hosts]\nweb1 = { host = "127.0.0.1", port = ${closedPort}, connect_timeout = 2 }\n`);
    const def: PlaybookDef = { name: 't', plays: [{ hosts: 'all', roles: [recorder('measure', log)] }, { hosts: 'local', barrier: true, roles: [recorder('publish', log)] }] };
    const c = capture();
    const { exitCode, report } = await runPlaybook(def, ['-i', inv], c.io);
    expect(exitCode, c.text()).toBe(2);
    expect(log).toEqual([]);
    expect(report!.hosts.web1.status).toMatch(/unreachable|failed/);
    expect(report!.hosts.local.counts.skipped).toBe(1);
    expect(report!.hosts.local.tasks[0]).toMatchObject({ role: 'publish', status: 'skipped', summary: 'not run: an earlier play failed' });
    expect(c.text()).toMatch(/local .*skipped=1.*\n +not run: a barrier play waits for the earlier plays, which failed on web1\n/);
  });
});

describe('playbook actions (own flags)', () => {
  const seen: string[] = [];
  const def: PlaybookDef = {
    name: 't',
    plays: [{ hosts: 'all', roles: [recorder('never', seen)] }],
    actions: [
      {
        name: 'out',
        value: 'FILE',
        help: 'write the hosts to FILE, connecting to nothing',
        run: async (file, { inventory }) => {
          await writeFile(file, [...inventory.hosts.keys()].join('\n') + '\n');
          return 0;
        },
      },
    ],
  };

  it('replace the run: nothing is contacted, secrets are not resolved', async () => {
    // the secret is in no environment: an ordinary run would fail on it, the action does not need it
    const inv = await inventory(`[hosts]\nweb1 = { host = "127.0.0.1", port = ${closedPort} }\n[vars]\ntoken = { secret = "RIGGER_TEST_UNSET_SECRET" }\n`);
    const out = join(dir, 'hosts.txt');
    const c = capture();
    const { exitCode } = await runPlaybook(def, ['-i', inv, '--out', out], c.io);
    expect(exitCode, c.text()).toBe(0);
    expect(await readFile(out, 'utf8')).toBe('web1\n');
    expect(seen).toEqual([]);
  });

  it('are listed by --help and need a value', async () => {
    const c = capture();
    expect((await runPlaybook(def, ['--help'], c.io)).exitCode).toBe(0);
    expect(c.text()).toMatch(/this playbook:\n {6}--out FILE {12}write the hosts to FILE, connecting to nothing\n/);
    const bad = capture();
    expect((await runPlaybook(def, ['--out', ''], bad.io)).exitCode).toBe(1);
    expect(bad.text()).toMatch(/--out: expected a value/);
    const other = capture();
    expect((await runPlaybook({ ...def, actions: [] }, ['--out', 'x'], other.io)).exitCode).toBe(1);
    expect(other.text()).toMatch(/unknown option --out/);
  });
});
