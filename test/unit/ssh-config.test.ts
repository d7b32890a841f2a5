// ~/.ssh/config for inventory hosts: which Host blocks apply (OpenSSH's
// patterns), first value wins, IdentityFile adds up, and the precedence
// command line > inventory > ssh config > rigger's defaults.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../lib/errors.js';
import { defineRole } from '../../lib/engine/types.js';
import { loadInventory, type Inventory } from '../../lib/inventory/load.js';
import { runPlaybook, type PlaybookDef } from '../../lib/playbook.js';
import { file } from '../../lib/resources/index.js';
import { hostMatches, parseSshConfigFile, readSshConfig, resolveConnection, type ConnectionFlags } from '../../lib/transport/sshConfig.js';

let dir: string;
let home: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rigger-sshconfig-'));
  home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  env = { ...process.env, HOME: home };
});

const NO_FLAGS: ConnectionFlags = { privateKeys: [] };

async function setup(config: string, inventory: string): Promise<Inventory> {
  writeFileSync(join(dir, 'ssh_config'), config);
  writeFileSync(join(dir, 'inv.toml'), inventory.replace('[defaults]', '[defaults]\nssh_config = "ssh_config"'));
  return loadInventory(join(dir, 'inv.toml'), { env });
}

async function resolved(inv: Inventory, name: string, flags = NO_FLAGS) {
  return resolveConnection(inv.hosts.get(name)!, await readSshConfig(inv, env), flags, env);
}

describe('precedence: command line > inventory > ssh config > built-in defaults', () => {
  const CONFIG = `
Host web1
  HostName web1.internal
  Port 2200
  User ops
  IdentityFile ~/.ssh/web_key
Host *
  User fallback
`;

  it('the ssh config fills what the inventory leaves unset', async () => {
    const inv = await setup(CONFIG, '[defaults]\n[hosts]\nweb1 = {}\nother = {}\n');
    expect(await resolved(inv, 'web1')).toEqual({ address: 'web1.internal', port: 2200, user: 'ops', identityFiles: [join(home, '.ssh/web_key')], jumps: [] });
    // Host * is the last block: its User is the default for every host
    expect(await resolved(inv, 'other')).toEqual({ address: 'other', port: 22, user: 'fallback', identityFiles: [join(home, '.ssh/id_ed25519')], jumps: [] });
  });

  it('the host line wins over the ssh config, key by key', async () => {
    const inv = await setup(CONFIG, '[defaults]\n[hosts]\nweb1 = { port = 22, user = "root", private_key = "k" }\n');
    expect(await resolved(inv, 'web1')).toEqual({ address: 'web1.internal', port: 22, user: 'root', identityFiles: [join(dir, 'k')], jumps: [] });
  });

  it('[defaults] wins over the ssh config too', async () => {
    const inv = await setup(CONFIG, '[defaults]\nuser = "admin"\nport = 2222\n[hosts]\nweb1 = {}\n');
    const c = await resolved(inv, 'web1');
    expect([c.user, c.port, c.identityFiles]).toEqual(['admin', 2222, [join(home, '.ssh/web_key')]]);
  });

  it('-u and --private-key win over both', async () => {
    const inv = await setup(CONFIG, '[defaults]\nuser = "admin"\nprivate_key = "k"\n[hosts]\nweb1 = { user = "u1" }\n');
    const c = await resolved(inv, 'web1', { user: 'cli', privateKeys: ['/keys/a', '/keys/b'] });
    expect([c.user, c.identityFiles]).toEqual(['cli', ['/keys/a', '/keys/b']]);
  });

  it('Host patterns match the inventory `host` (else the name); HostName replaces the address only when `host` is unset', async () => {
    const inv = await setup('Host 10.0.0.5\n  HostName elsewhere\n  Port 2201\nHost web1\n  Port 9\n', '[defaults]\n[hosts]\nweb1 = { host = "10.0.0.5" }\n');
    expect(await resolved(inv, 'web1')).toMatchObject({ address: '10.0.0.5', port: 2201 });
  });
});

describe('Host blocks as OpenSSH applies them', () => {
  it('patterns: * any run, ? exactly one character, ! excludes, several per line, case-insensitive', () => {
    expect(hostMatches(['web*'], 'web12')).toBe(true);
    expect(hostMatches(['web?'], 'web1')).toBe(true);
    expect(hostMatches(['web?'], 'web')).toBe(false); // the ssh-config package's glob would say true
    expect(hostMatches(['web?'], 'web12')).toBe(false);
    expect(hostMatches(['*.example.com', '!db.example.com'], 'www.example.com')).toBe(true);
    expect(hostMatches(['*.example.com', '!db.example.com'], 'db.example.com')).toBe(false);
    expect(hostMatches(['!db*'], 'web1')).toBe(false); // a negation alone matches nothing
    expect(hostMatches(['alpha', 'beta', 'gam?a'], 'gamma')).toBe(true);
    expect(hostMatches(['Web1'], 'web1')).toBe(true);
    expect(hostMatches(['a.b'], 'axb')).toBe(false); // `.` is literal
  });

  it('the first obtained value wins, across blocks and within one', async () => {
    const inv = await setup('Host web*\n  Port 1001\n  Port 1002\nHost web1\n  Port 1003\n  User first\nHost *\n  User last\n', '[defaults]\n[hosts]\nweb1 = {}\n');
    expect(await resolved(inv, 'web1')).toMatchObject({ port: 1001, user: 'first' });
  });

  it('options before the first Host apply to every host; keywords are case-insensitive; `=` separates too', async () => {
    const inv = await setup('port=2022\nHost web1\n  PORT 1\n  user=alice\n', '[defaults]\n[hosts]\nweb1 = {}\n');
    expect(await resolved(inv, 'web1')).toMatchObject({ port: 2022, user: 'alice' });
  });

  it('IdentityFile adds up in file order, with ~, %h %p %r %u %d %% and paths relative to the home directory', async () => {
    const config = 'Host web1\n  HostName w1.lan\n  IdentityFile ~/.ssh/%h_%p_%r\n  Port 2200\nHost *\n  IdentityFile keys/100%%_%n\n  IdentityFile "%d/with space"\n';
    const inv = await setup(config, '[defaults]\n[hosts]\nweb1 = { user = "deploy" }\n');
    expect((await resolved(inv, 'web1')).identityFiles).toEqual([join(home, '.ssh/w1.lan_2200_deploy'), join(home, 'keys/100%_web1'), join(home, 'with space')]);
  });

  it('HostName may use %h (the name matched)', async () => {
    const inv = await setup('Host *.lan\n  HostName %h.example.com\n', '[defaults]\n[hosts]\n"db.lan" = {}\n');
    expect((await resolved(inv, 'db.lan')).address).toBe('db.lan.example.com');
  });

  it('an unknown token is an error naming the file and key', async () => {
    const inv = await setup('Host *\n  IdentityFile ~/.ssh/%C\n', '[defaults]\n[hosts]\nweb1 = {}\n');
    await expect(resolved(inv, 'web1')).rejects.toThrow(/ssh_config: IdentityFile for web1 \(host web1\): unsupported token %C/);
  });

  it('a bad Port in the file is an error naming the file, key and host', async () => {
    const inv = await setup('Host web1\n  Port twenty\n', '[defaults]\n[hosts]\nweb1 = {}\n');
    await expect(resolved(inv, 'web1')).rejects.toThrow(/ssh_config: Port for web1 \(host web1\): expected a port from 1 to 65535, got "twenty"/);
  });

  it('Match blocks are not applied, and say so (for -v)', async () => {
    const inv = await setup('Match host web1 exec "touch %d/ran"\n  Port 1\nHost web1\n  Port 2\n', '[defaults]\n[hosts]\nweb1 = {}\n');
    const config = (await readSshConfig(inv, env))!;
    expect(resolveConnection(inv.hosts.get('web1')!, config, NO_FLAGS, env).port).toBe(2);
    expect(config.notes).toEqual([expect.stringMatching(/"Match host web1 exec touch %d\/ran" is ignored/)]);
  });

  it('Include: relative to ~/.ssh, globs in sorted order, inside a Host block only for that host', async () => {
    mkdirSync(join(home, '.ssh/conf.d'));
    writeFileSync(join(home, '.ssh/conf.d/20-b.conf'), 'Host web1\n  User from-b\n  Port 2002\n');
    writeFileSync(join(home, '.ssh/conf.d/10-a.conf'), 'Host web1\n  User from-a\n');
    writeFileSync(join(home, '.ssh/only-db'), 'Port 3306\n');
    const inv = await setup('Include conf.d/*.conf missing-is-fine\nHost db\n  Include only-db\n', '[defaults]\n[hosts]\nweb1 = {}\ndb = {}\n');
    expect(await resolved(inv, 'web1')).toMatchObject({ user: 'from-a', port: 2002 });
    expect(await resolved(inv, 'db')).toMatchObject({ port: 3306, user: 'root' });
    // an Include below a Host line belongs to that block, as in OpenSSH
    const inv2 = await setup('Host db\n  Include conf.d/*.conf\n', '[defaults]\n[hosts]\nweb1 = {}\n');
    expect(await resolved(inv2, 'web1')).toMatchObject({ user: 'root', port: 22 });
  });
});

describe('ProxyJump', () => {
  it('a list of [user@]host[:port], each hop configured by its own Host block, keys falling back to the target\'s', async () => {
    const config = `
Host target
  ProxyJump bastion,ops@inner:2201
Host bastion
  HostName 203.0.113.7
  User jumper
  IdentityFile ~/.ssh/bastion_key
`;
    const inv = await setup(config, '[defaults]\nprivate_key = "k"\n[hosts]\ntarget = { host = "target" }\n');
    expect((await resolved(inv, 'target')).jumps).toEqual([
      { address: '203.0.113.7', port: 22, user: 'jumper', identityFiles: [join(home, '.ssh/bastion_key')] },
      { address: 'inner', port: 2201, user: 'ops', identityFiles: [join(dir, 'k')] },
    ]);
  });

  it("the first hop's own ProxyJump is followed (as ssh -J does); a loop is an error; none is none", async () => {
    const inv = await setup('Host t1\n  ProxyJump b\nHost b\n  ProxyJump outer\nHost t2\n  ProxyJump none\nHost t3\n  ProxyJump t3\n', '[defaults]\n[hosts]\nt1 = {}\nt2 = {}\nt3 = {}\n');
    expect((await resolved(inv, 't1')).jumps.map((j) => j.address)).toEqual(['outer', 'b']);
    expect((await resolved(inv, 't2')).jumps).toEqual([]);
    await expect(resolved(inv, 't3')).rejects.toThrow(/ProxyJump loops back to t3/);
  });

  it('a jump host that cannot be read is an error naming it', async () => {
    const inv = await setup('Host t\n  ProxyJump a@b@c\n', '[defaults]\n[hosts]\nt = {}\n');
    await expect(resolved(inv, 't')).rejects.toThrow(/ProxyJump for t \(host t\): cannot read jump host "a@b@c"; expected \[user@\]host\[:port\]/);
  });
});

describe('[defaults] ssh_config', () => {
  it('defaults to ~/.ssh/config when it exists, and reads nothing when it does not', async () => {
    writeFileSync(join(dir, 'inv.toml'), '[hosts]\nweb1 = {}\n');
    const inv = await loadInventory(join(dir, 'inv.toml'), { env });
    expect(inv.sshConfig).toEqual({ path: join(home, '.ssh/config'), explicit: false });
    expect(await readSshConfig(inv, env)).toBeUndefined();
    writeFileSync(join(home, '.ssh/config'), 'Host web1\n  Port 2222\n');
    expect(await resolved(inv, 'web1')).toMatchObject({ port: 2222 });
  });

  it('ssh_config = false reads no file, not even ~/.ssh/config', async () => {
    writeFileSync(join(home, '.ssh/config'), 'Host web1\n  Port 2222\n');
    writeFileSync(join(dir, 'inv.toml'), '[defaults]\nssh_config = false\n[hosts]\nweb1 = {}\n');
    const inv = await loadInventory(join(dir, 'inv.toml'), { env });
    expect(inv.sshConfig).toBe(false);
    expect(await readSshConfig(inv, env)).toBeUndefined();
    expect(await resolved(inv, 'web1')).toMatchObject({ port: 22 });
  });

  it('an explicit path that does not exist is an error naming the inventory key', async () => {
    writeFileSync(join(dir, 'inv.toml'), '[defaults]\nssh_config = "nope/config"\n[hosts]\nweb1 = {}\n');
    const inv = await loadInventory(join(dir, 'inv.toml'), { env });
    const e = await readSshConfig(inv, env).catch((x) => x);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`${join(dir, 'inv.toml')}: [defaults] ssh_config: cannot read ${join(dir, 'nope/config')} (no such file); expected the path of an OpenSSH client config file, or false`);
  });

  it('a file the parser cannot read is an error naming it', async () => {
    writeFileSync(join(home, '.ssh/broken'), 'Host "unterminated\n  Port 1\n');
    const inv = await setup('Include broken\n', '[defaults]\n[hosts]\nweb1 = {}\n');
    await expect(readSshConfig(inv, env)).rejects.toThrow(`${join(home, '.ssh/broken')}: not a valid ssh config (Unexpected line break at unterminated)`);
  });

  it('anything but false or a path is a schema error', async () => {
    writeFileSync(join(dir, 'inv.toml'), '[defaults]\nssh_config = true\n[hosts]\nweb1 = {}\n');
    await expect(loadInventory(join(dir, 'inv.toml'), { env })).rejects.toThrow(/defaults\.ssh_config: expected false or the path of an ssh config file, got true/);
  });

  it('parses a file directly too', async () => {
    writeFileSync(join(dir, 'c'), 'Host x\n  User y\n');
    expect((await parseSshConfigFile(join(dir, 'c'), env)).lookup('X').get('user')).toEqual(['y']);
  });
});

describe('--render and --list-tasks use the resolved login user, connecting to nothing', () => {
  const role = defineRole({ name: 'whoami', tasks: ({ facts }) => ({ resources: [file({ path: '/etc/login', content: `${facts.loginUser}\n` })] }) });
  const def: PlaybookDef = { name: 'whoami', plays: [{ hosts: 'all', roles: [role] }] };
  const run = async (argv: string[]) => {
    let out = '';
    const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (out += t), colour: false };
    return { ...(await runPlaybook(def, argv, io)), out };
  };

  it('the ssh config User, or -u over it', async () => {
    // unroutable addresses: anything that tried to connect would fail
    await setup('Host 192.0.2.*\n  User from-config\n', '[defaults]\n[hosts]\nweb1 = { host = "192.0.2.1" }\n');
    const out = join(dir, 'out');
    expect((await run(['-i', join(dir, 'inv.toml'), '--render', out])).exitCode).toBe(0);
    expect(readFileSync(join(out, 'web1/files/etc/login'), 'utf8')).toBe('from-config\n');
    expect((await run(['-i', join(dir, 'inv.toml'), '--render', out, '-u', 'cli-user'])).exitCode).toBe(0);
    expect(readFileSync(join(out, 'web1/files/etc/login'), 'utf8')).toBe('cli-user\n');
    const listed = await run(['-i', join(dir, 'inv.toml'), '--list-tasks', '-u', 'cli-user']);
    expect(listed.exitCode).toBe(0);
    expect(listed.out).toContain('[whoami] file:/etc/login');
  });

  it('-v says which Match blocks are ignored', async () => {
    await setup('Match user x\n  Port 1\n', '[defaults]\n[hosts]\nweb1 = { host = "192.0.2.1" }\n');
    expect((await run(['-i', join(dir, 'inv.toml'), '--list-tasks', '-v'])).out).toMatch(/note: \S*ssh_config: "Match user x" is ignored \(rigger applies Host blocks only\)/);
    expect((await run(['-i', join(dir, 'inv.toml'), '--list-tasks'])).out).not.toContain('Match');
  });

  it('unreadable IdentityFiles of the ssh config (target or jump host) stop a run before anything is contacted', async () => {
    writeFileSync(join(dir, 'key'), 'not used\n');
    const config = 'Host 192.0.2.1\n  IdentityFile /nonexistent/a\n  IdentityFile /nonexistent/b\nHost 192.0.2.2\n  ProxyJump bastion\nHost bastion\n  HostName 192.0.2.3\n  IdentityFile /nonexistent/c\n';
    await setup(config, `[defaults]\n[hosts]\nweb1 = { host = "192.0.2.1" }\nweb2 = { host = "192.0.2.2", private_key = "key" }\n`);
    // an agent could hold the keys: this case is about a control machine without one
    const agent = process.env.SSH_AUTH_SOCK;
    delete process.env.SSH_AUTH_SOCK;
    const r = await run(['-i', join(dir, 'inv.toml')]).finally(() => agent !== undefined && (process.env.SSH_AUTH_SOCK = agent));
    expect(r.exitCode).toBe(1);
    expect(r.out).toContain(`${join(dir, 'ssh_config')}: IdentityFile: host web1: no way to log in: /nonexistent/a: no such file; /nonexistent/b: no such file; and no ssh-agent (SSH_AUTH_SOCK is not set)`);
    expect(r.out).toContain(`${join(dir, 'ssh_config')}: IdentityFile /nonexistent/c of host web2 (jump host root@192.0.2.3:22): no such file, and no ssh-agent`);
  });

  it('a missing explicit ssh_config stops --list-tasks with exit 1', async () => {
    writeFileSync(join(dir, 'inv.toml'), '[defaults]\nssh_config = "gone"\n[hosts]\nweb1 = { host = "192.0.2.1" }\n');
    const r = await run(['-i', join(dir, 'inv.toml'), '--list-tasks']);
    expect(r.exitCode).toBe(1);
    expect(r.out).toMatch(/\[defaults\] ssh_config: cannot read .*gone \(no such file\)/);
  });
});

describe("the README's bastion example, as written", () => {
  it('reaches mania through the bastion with the bastion\'s own user and key', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Connections'));
    const config = /```ssh-config\n([\s\S]*?)```/.exec(section)![1];
    const hostsToml = /```toml\n([\s\S]*?)```/.exec(section)![1];
    const inv = await setup(config, `[defaults]\n${hostsToml}\n[groups.runners]\n`);
    expect(await resolved(inv, 'mania')).toEqual({
      address: '10.0.1.5',
      port: 22,
      user: 'root',
      identityFiles: [join(home, '.ssh/id_ed25519')],
      jumps: [{ address: '203.0.113.7', port: 22, user: 'jump', identityFiles: [join(home, '.ssh/bastion_ed25519')] }],
    });
  });
});
