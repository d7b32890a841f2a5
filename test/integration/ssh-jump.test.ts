/**
 * Jump hosts and ~/.ssh/config against real hosts: a `jump` host with its
 * sshd published on 127.0.0.1, and a `target` that publishes no port at all:
 * it runs in the jump host's network namespace with its sshd on 2222, so it
 * is reachable only as 127.0.0.1:2222 from inside the jump host. Every
 * connection stays on loopback. Own hosts, removed in afterAll.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineRole } from '../../lib/engine/types.js';
import type { PlaybookDef } from '../../lib/playbook.js';
import { file } from '../../lib/resources/index.js';
import { upHosts, type TestHosts } from '../hosts/testhosts.js';
import { catFile, dexec } from './helpers/hostState.js';
import { runCaptured, statusByResource } from './helpers/run.js';

const execFileP = promisify(execFile);
const TARGET_PORT = 2222;

let hosts: TestHosts;
let dir: string;
let jumpPort: number;

/** A role that writes who it logged in as (the facts are read on the host) into a file. */
const role = defineRole({
  name: 'it-jump',
  tasks: ({ facts, host }) => ({
    resources: [
      file({ path: '/etc/rigger-jump/marker', content: `host=${host}\n`, makeDirs: true }),
      file({ path: '/etc/rigger-jump/login', content: `${facts.loginUser}\n`, makeDirs: true }),
    ],
  }),
});
const def: PlaybookDef = { name: 'it-jump', plays: [{ hosts: 'all', roles: [role] }] };

/** The test's ssh config: `target` behind `jumpbox` (the jump host), both by name only. */
const sshConfig = (o: { jumpboxPort?: number; targetPort?: number } = {}) => `
Host target
  HostName 127.0.0.1
  Port ${o.targetPort ?? TARGET_PORT}
  ProxyJump jumpbox

Host jumpbox
  HostName 127.0.0.1
  Port ${o.jumpboxPort ?? jumpPort}
  User root

Host direct
  HostName 127.0.0.1
  # wrong on purpose: the inventory's port wins
  Port 1
  User deploy

Host *
  User root
`;

async function inventory(name: string, o: { config?: string; knownHosts?: string; hosts: string; defaults?: string }): Promise<string> {
  await writeFile(join(dir, `${name}.ssh_config`), o.config ?? sshConfig());
  const text = `[defaults]
ssh_config = "${name}.ssh_config"
private_key = "id_ed25519"
known_hosts = "${o.knownHosts ?? 'known_hosts'}"
${o.defaults ?? ''}
[hosts]
${o.hosts}
`;
  await writeFile(join(dir, `${name}.toml`), text);
  return join(dir, `${name}.toml`);
}

/** Established TCP connections to the jump host's sshd (22) or the target's (2222), in their shared namespace; waits up to 5 s for them to go. */
async function establishedSsh(): Promise<number> {
  let n = -1;
  for (let i = 0; i < 50 && n !== 0; i++) {
    if (i) await new Promise((r) => setTimeout(r, 100));
    const r = await dexec(hosts.get('jump').containerId, `ss -Htn state established '( sport = :22 or sport = :${TARGET_PORT} )' | wc -l`);
    n = Number(r.stdout.trim());
  }
  return n;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('jump hosts (ProxyJump) and the ssh config, on real hosts', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigger-it-jump-'));
    hosts = await upHosts({ names: ['jump', 'target'], networkOf: { target: 'jump' }, sshPort: { target: TARGET_PORT }, dir, log: () => {} });
    jumpPort = hosts.get('jump').port;
  }, 900_000);

  afterAll(async () => {
    await hosts?.down();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('the target publishes no port: nothing on the control machine reaches its sshd directly', async () => {
    expect(hosts.get('target').networkOf).toBe('jump');
    const published = await execFileP('docker', ['port', hosts.get('target').containerId]);
    expect(published.stdout.trim()).toBe('');
    // its sshd listens in the jump host's network namespace (IPv4 and IPv6)
    const r = await dexec(hosts.get('jump').containerId, `ss -Hltn 'sport = :${TARGET_PORT}' | wc -l`);
    expect(Number(r.stdout.trim())).toBeGreaterThan(0);
    // the target's own view: the same sockets, its sshd configured for that port only
    expect(await catFile(hosts.get('target').containerId, '/etc/ssh/sshd_config.d/rigger-port.conf')).toBe(`Port ${TARGET_PORT}\n`);
  });

  it('converges the target through the jump host, and a second run changes nothing', async () => {
    const inv = await inventory('through', { hosts: 'target = {}' });
    const first = await runCaptured(def, ['-i', inv]);
    expect(first.exitCode, first.output).toBe(0);
    expect(statusByResource(first, 'target')).toEqual({ 'file:/etc/rigger-jump/marker': 'changed', 'file:/etc/rigger-jump/login': 'changed' });
    // written on the target, not on the jump host
    expect(await catFile(hosts.get('target').containerId, '/etc/rigger-jump/marker')).toBe('host=target\n');
    expect((await dexec(hosts.get('jump').containerId, 'test -e /etc/rigger-jump/marker')).code).not.toBe(0);
    // the ssh config's `Host *` User applies: the inventory sets none
    expect(await catFile(hosts.get('target').containerId, '/etc/rigger-jump/login')).toBe('root\n');

    const second = await runCaptured(def, ['-i', inv]);
    expect(second.exitCode, second.output).toBe(0);
    expect(second.report!.hosts.target.counts.changed).toBe(0);
    expect(second.report!.hosts.target.status).toBe('ok');
    // no-op run: facts + one batch of probes, over the one shell
    expect(second.report!.hosts.target.remoteCommands).toBe(2);
    // the session closed its jump connection too: no SSH connection is left on the jump host or the target
    expect(await establishedSsh()).toBe(0);
  });

  it("an unknown jump host key is refused, naming the jump host; --accept-new-host-keys trusts and records it", async () => {
    const known = (await readFile(hosts.knownHosts, 'utf8')).split('\n').filter((l) => !l.startsWith(`[127.0.0.1]:${jumpPort} `));
    await writeFile(join(dir, 'known_hosts.nojump'), known.join('\n'));
    const inv = await inventory('nojump', { knownHosts: 'known_hosts.nojump', hosts: 'target = {}' });
    const refused = await runCaptured(def, ['-i', inv]);
    expect(refused.exitCode).toBe(2);
    expect(refused.report!.hosts.target.status).toBe('failed');
    expect(refused.report!.hosts.target.error).toMatch(new RegExp(`jump host root@127\\.0\\.0\\.1:${jumpPort}: host key for 127\\.0\\.0\\.1:${jumpPort} is not in .*known_hosts\\.nojump`));

    const accepted = await runCaptured(def, ['-i', inv, '--accept-new-host-keys']);
    expect(accepted.exitCode, accepted.output).toBe(0);
    const recorded = await readFile(join(dir, 'known_hosts.nojump'), 'utf8');
    expect(recorded).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${jumpPort} ssh-ed25519 `, 'm'));
  });

  it("the target's key is checked under its own address:port, through the jump", async () => {
    const known = (await readFile(hosts.knownHosts, 'utf8')).split('\n').filter((l) => !l.startsWith(`[127.0.0.1]:${TARGET_PORT} `));
    await writeFile(join(dir, 'known_hosts.notarget'), known.join('\n'));
    const inv = await inventory('notarget', { knownHosts: 'known_hosts.notarget', hosts: 'target = {}' });
    const r = await runCaptured(def, ['-i', inv]);
    expect(r.exitCode).toBe(2);
    expect(r.report!.hosts.target.error).toMatch(`host key for 127.0.0.1:${TARGET_PORT} is not in`);
    expect(r.report!.hosts.target.error).not.toMatch('jump host');
  });

  it('an unreachable jump host, and a target the jump host cannot reach, are unreachable with the hop named', async () => {
    const port = await closedPort();
    const down = await runCaptured(def, ['-i', await inventory('jumpdown', { config: sshConfig({ jumpboxPort: port }), hosts: 'target = {}' })]);
    expect(down.exitCode).toBe(2);
    expect(down.report!.hosts.target.status).toBe('unreachable');
    expect(down.report!.hosts.target.error).toMatch(`jump host root@127.0.0.1:${port}: cannot connect to root@127.0.0.1:${port}`);

    const behind = await runCaptured(def, ['-i', await inventory('behind', { config: sshConfig({ targetPort: TARGET_PORT + 1 }), hosts: 'target = {}' })]);
    expect(behind.exitCode).toBe(2);
    expect(behind.report!.hosts.target.status).toBe('unreachable');
    expect(behind.report!.hosts.target.error).toMatch(`cannot reach 127.0.0.1:${TARGET_PORT + 1} through jump host root@127.0.0.1:${jumpPort}`);
  });

  it('the inventory wins over the ssh config (its port over a wrong Port); the config User wins when the inventory has none; -u over both', async () => {
    const inv = await inventory('direct', { hosts: `direct = { port = ${jumpPort} }` });
    const r = await runCaptured(def, ['-i', inv]);
    expect(r.exitCode, r.output).toBe(0);
    // logged in as the config's User (deploy, with sudo)
    expect(await catFile(hosts.get('jump').containerId, '/etc/rigger-jump/login')).toBe('deploy\n');
    const cli = await runCaptured(def, ['-i', inv, '-u', 'root']);
    expect(cli.exitCode, cli.output).toBe(0);
    expect(statusByResource(cli, 'direct')['file:/etc/rigger-jump/login']).toBe('changed');
    expect(await catFile(hosts.get('jump').containerId, '/etc/rigger-jump/login')).toBe('root\n');
  });

  it('--private-key wins over the inventory private_key; several are tried in order; a missing one stops the run before any host is contacted', async () => {
    await rm(join(dir, 'unauthorized'), { force: true });
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'unauthorized')]);
    await copyFile(hosts.privateKey, join(dir, 'good_key'));
    const inv = await inventory('keys', { hosts: `direct = { port = ${jumpPort}, user = "root", private_key = "unauthorized" }` });
    const wrong = await runCaptured(def, ['-i', inv]);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.report!.hosts.direct.status).toBe('unreachable');
    const right = await runCaptured(def, ['-i', inv, '--private-key', join(dir, 'good_key')]);
    expect(right.exitCode, right.output).toBe(0);
    // several keys are offered in turn: the refused one first, then the one that works
    const both = await runCaptured(def, ['-i', inv, '--private-key', join(dir, 'unauthorized'), '--private-key', join(dir, 'good_key')]);
    expect(both.exitCode, both.output).toBe(0);
    const missing = await runCaptured(def, ['-i', inv, '--private-key', join(dir, 'nope')]);
    expect(missing.exitCode).toBe(1);
    expect(missing.output).toContain(`--private-key ${join(dir, 'nope')}: no such file`);
  });
});
