import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { loadInventory, type LoadOptions } from '../../lib/inventory/load.js';
import { UserError } from '../../lib/errors.js';
import { clearSecretsForTests, isSecret, redact, reveal } from '../../lib/secrets.js';

const FILE_TOKEN = 'file-token-9f8e7d6c';
const ENV_TOKEN = 'env-token-1a2b3c4d';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rigger-inv-'));
  clearSecretsForTests();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string, mode = 0o600): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
}

const INVENTORY = `
[defaults]
secrets = "secrets.toml"

[vars]
gitlab_token = { secret = "GITLAB_TOKEN" }

[hosts]
mania = { host = "mania.example.org", groups = ["runners"] }

[groups.runners.vars]
runner_token = { secret = "RUNNER_TOKEN" }
runners = [{ name = "docker", token = { secret = "RUNNER_TOKEN" } }]
`;

async function load(opts: LoadOptions & { warnings?: string[] } = {}) {
  const warnings = opts.warnings ?? [];
  return loadInventory(write('hosts.toml', INVENTORY), { env: {}, warn: (m) => warnings.push(m), ...opts });
}

async function loadError(opts: LoadOptions = {}): Promise<string> {
  const err = await load(opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return (err as Error).message;
}

describe('secrets', () => {
  it('come from the environment first', async () => {
    write('secrets.toml', `RUNNER_TOKEN = "${FILE_TOKEN}"\nGITLAB_TOKEN = "glpat-from-file"\n`);
    const inv = await load({ env: { RUNNER_TOKEN: ENV_TOKEN } });
    const vars = inv.hosts.get('mania')!.vars;
    expect(isSecret(vars.runner_token)).toBe(true);
    expect(reveal(vars.runner_token)).toBe(ENV_TOKEN);
    expect(reveal(vars.gitlab_token)).toBe('glpat-from-file');
    expect(String(vars.runner_token)).toBe('[secret RUNNER_TOKEN from env]');
  });

  it('come from the secrets file, relative to the inventory', async () => {
    write('secrets.toml', `RUNNER_TOKEN = "${FILE_TOKEN}"\nGITLAB_TOKEN = "glpat-from-file"\n`);
    const inv = await load();
    const vars = inv.hosts.get('mania')!.vars;
    expect(reveal(vars.runner_token)).toBe(FILE_TOKEN);
    expect(vars.runners).toEqual([{ name: 'docker', token: vars.runner_token }]); // nested references too
    expect(String(vars.runner_token)).toMatch(/^\[secret RUNNER_TOKEN from .*secrets\.toml\]$/);
  });

  it('never show their value when printed, inspected or serialized', async () => {
    write('secrets.toml', `RUNNER_TOKEN = "${FILE_TOKEN}"\nGITLAB_TOKEN = "glpat-from-file"\n`);
    const inv = await load();
    const host = inv.hosts.get('mania')!;
    expect(JSON.stringify(host)).not.toContain(FILE_TOKEN);
    expect(inspect(inv, { depth: 10 })).not.toContain(FILE_TOKEN);
    expect(redact(`token is ${FILE_TOKEN}`)).toBe('token is ********');
  });

  it('missing: one error per reference naming the key path, env var and secrets file', async () => {
    write('secrets.toml', `GITLAB_TOKEN = "glpat-from-file"\n`);
    const msg = await loadError();
    const lines = msg.split('\n').map((l) => l.replace(dir + '/', ''));
    expect(lines).toHaveLength(1); // RUNNER_TOKEN is looked up once
    expect(lines[0]).toMatch(
      /^hosts\.toml: groups\.runners\.vars\.runner_token: expected secret RUNNER_TOKEN from env var RUNNER_TOKEN or key RUNNER_TOKEN in .*secrets\.toml, got neither$/,
    );
  });

  it('missing secrets file: says so', async () => {
    const msg = await loadError();
    expect(msg).toContain('vars.gitlab_token: expected secret GITLAB_TOKEN from env var GITLAB_TOKEN or key GITLAB_TOKEN in');
    expect(msg).toContain('(file not found)');
  });

  it('no secrets file configured: names env var and the missing setting', async () => {
    const inv = write('hosts.toml', '[vars]\ntoken = { secret = "API_TOKEN" }\n[hosts]\nh = {}\n');
    const err = await loadInventory(inv, { env: {} }).catch((e: Error) => e);
    expect((err as Error).message).toBe(
      `${inv}: vars.token: expected secret API_TOKEN from env var API_TOKEN or a secrets file (none set: [defaults] secrets), got neither`,
    );
  });

  it('an empty env var counts as unset', async () => {
    write('secrets.toml', `RUNNER_TOKEN = "${FILE_TOKEN}"\nGITLAB_TOKEN = "glpat-from-file"\n`);
    const inv = await load({ env: { RUNNER_TOKEN: '' } });
    expect(reveal(inv.hosts.get('mania')!.vars.runner_token)).toBe(FILE_TOKEN);
  });

  it('too short to be redacted: refused, without showing the value', async () => {
    write('secrets.toml', `RUNNER_TOKEN = "x7q"\nGITLAB_TOKEN = "glpat-from-file"\n`);
    const msg = await loadError();
    expect(msg).toMatch(/groups\.runners\.vars\.runner_token: expected secret RUNNER_TOKEN \(from .*secrets\.toml\) of at least 4 characters, got 3$/);
    expect(msg).not.toContain('x7q');
  });

  it('secrets file with a non-string value: names the key, not the value', async () => {
    write('secrets.toml', `RUNNER_TOKEN = "${FILE_TOKEN}"\nGITLAB_TOKEN = 987654321987\n`);
    const msg = await loadError();
    expect(msg).toMatch(/secrets\.toml: GITLAB_TOKEN: expected a string, got a number$/);
    expect(msg).not.toContain('987654321987');
    expect(msg).not.toContain(FILE_TOKEN);
  });

  it('secrets file syntax error: file, line and column, but not the line itself', async () => {
    write('secrets.toml', `GITLAB_TOKEN = "glpat-from-file"\nRUNNER_TOKEN = ${FILE_TOKEN}\n`);
    const msg = await loadError();
    expect(msg).toMatch(/secrets\.toml:2:16: invalid TOML: /);
    expect(msg).not.toContain(FILE_TOKEN);
    expect(msg).not.toContain('glpat-from-file');
  });

  it('warns when the secrets file is readable by group or others', async () => {
    write('secrets.toml', `RUNNER_TOKEN = "${FILE_TOKEN}"\nGITLAB_TOKEN = "glpat-from-file"\n`, 0o644);
    const warnings: string[] = [];
    await load({ warnings });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: secrets file .*secrets\.toml is readable by group or others \(mode 0644\); run: chmod 600 /);
    expect(warnings[0]).not.toContain(FILE_TOKEN);
  });

  it('does not warn for a 0600 secrets file', async () => {
    write('secrets.toml', `RUNNER_TOKEN = "${FILE_TOKEN}"\nGITLAB_TOKEN = "glpat-from-file"\n`);
    const warnings: string[] = [];
    await load({ warnings });
    expect(warnings).toEqual([]);
  });

  it('resolveSecrets: false leaves placeholders and reads nothing', async () => {
    // No secrets file, no env: still loads (for --list-hosts / --list-tasks).
    const inv = await load({ resolveSecrets: false, env: { RUNNER_TOKEN: ENV_TOKEN } });
    const token = inv.hosts.get('mania')!.vars.runner_token;
    expect(isSecret(token)).toBe(true);
    expect(String(token)).toBe('[secret RUNNER_TOKEN (unresolved)]');
    expect(reveal(token)).toBe('');
    expect(redact('nothing to hide')).toBe('nothing to hide'); // no empty value registered
  });
});
