// Credentials: inventory secrets, else SCW_* in the environment, else the scw
// CLI's profile file (environment over file), SCW_API_URL honoured; clear
// messages that never show a value; the `scaleway` var's other keys.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveCredentials } from '../../lib/services/scaleway/credentials.js';
import { fleetConfigSchema } from '../../lib/services/scaleway/config.js';
import { Secret, redact } from '../../lib/secrets.js';

const ACCESS = 'SCWAAAAAAAAAAAAAAAAA';
const SECRET = '11111111-2222-4333-8444-555555555555';
const FILE_ACCESS = 'SCWFFFFFFFFFFFFFFFFF';
const FILE_SECRET = '99999999-2222-4333-8444-555555555555';
const P = '0b7c5a2e-4f1d-4c3b-9a8e-6d5f4e3c2b1a';
const VARS = ['SCW_ACCESS_KEY', 'SCW_SECRET_KEY', 'SCW_API_URL', 'SCW_CONFIG_PATH', 'SCW_PROFILE', 'XDG_CONFIG_HOME'];

let dir: string;
let saved: Record<string, string | undefined>;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rigger-scw-creds-'));
  saved = Object.fromEntries(VARS.map((k) => [k, process.env[k]]));
  for (const k of VARS) delete process.env[k];
  process.env.SCW_CONFIG_PATH = join(dir, 'config.yaml');
});
afterEach(() => {
  for (const k of VARS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  rmSync(dir, { recursive: true, force: true });
});

const profileFile = (text: string) => writeFileSync(join(dir, 'config.yaml'), text);

describe('resolveCredentials', () => {
  it('takes the inventory secrets first', () => {
    process.env.SCW_ACCESS_KEY = FILE_ACCESS;
    const { credentials, problems } = resolveCredentials({ access_key: new Secret(ACCESS, 'SCW_ACCESS_KEY (secrets file)'), secret_key: new Secret(SECRET, 'SCW_SECRET_KEY (secrets file)') });
    expect(problems).toEqual([]);
    expect(credentials!.accessKey.reveal()).toBe(ACCESS);
    expect(credentials!.secretKey.reveal()).toBe(SECRET);
    expect(credentials!.apiUrl).toBe('https://api.scaleway.com');
  });

  it('else the environment, over the profile file, field by field; SCW_API_URL honoured', () => {
    profileFile(`access_key: ${FILE_ACCESS}\nsecret_key: "${FILE_SECRET}"\napi_url: http://127.0.0.1:1\n`);
    process.env.SCW_SECRET_KEY = SECRET;
    process.env.SCW_API_URL = 'http://127.0.0.1:9999/';
    const { credentials } = resolveCredentials({});
    expect(credentials!.accessKey.reveal()).toBe(FILE_ACCESS);
    expect(credentials!.secretKey.reveal()).toBe(SECRET);
    expect(credentials!.apiUrl).toBe('http://127.0.0.1:9999');
    expect(credentials!.origin).toMatchObject({ secretKey: 'SCW_SECRET_KEY', apiUrl: 'SCW_API_URL' });
    expect(credentials!.origin.accessKey).toContain('config.yaml (profile default)');
    // values found outside the inventory are secrets too: the redactor knows them
    expect(redact(`x ${SECRET} ${FILE_ACCESS}`)).toBe('x ******** ********');
  });

  it('an empty environment variable counts as unset', () => {
    profileFile(`access_key: ${FILE_ACCESS}\nsecret_key: ${FILE_SECRET}\n`);
    process.env.SCW_SECRET_KEY = '';
    expect(resolveCredentials({}).credentials!.secretKey.reveal()).toBe(FILE_SECRET);
  });

  it("reads the profile the scw CLI would use: scaleway.profile, else SCW_PROFILE, else the file's active_profile", () => {
    profileFile(
      `active_profile: runners\naccess_key: ${FILE_ACCESS}\nsecret_key: ${FILE_SECRET}\nprofiles:\n  runners:\n    access_key: ${ACCESS}\n    secret_key: ${SECRET}\n  other:\n    access_key: SCWOOOOOOOOOOOOOOOOO\n    secret_key: 00000000-2222-4333-8444-555555555555\n`,
    );
    expect(resolveCredentials({}).credentials!.secretKey.reveal()).toBe(SECRET);
    process.env.SCW_PROFILE = 'other';
    expect(resolveCredentials({}).credentials!.accessKey.reveal()).toBe('SCWOOOOOOOOOOOOOOOOO');
    expect(resolveCredentials({ profile: 'default' }).credentials!.accessKey.reveal()).toBe(FILE_ACCESS);
    expect(resolveCredentials({ profile: 'nope' }).problems.map((p) => p.message).join('\n')).toMatch(/has no profile "nope"/);
  });

  it('missing credentials: a message naming the inventory key, the variable and the file', () => {
    const { credentials, problems } = resolveCredentials({});
    expect(credentials).toBeUndefined();
    expect(problems.map((p) => p.key)).toEqual(['access_key', 'secret_key']);
    expect(problems[1].message).toBe(`no Scaleway secret key: set scaleway.secret_key in the inventory (a secret), SCW_SECRET_KEY in the environment, or secret_key in the scw profile file ${join(dir, 'config.yaml')}, which does not exist`);
  });

  it('malformed credentials: said so, without the value', () => {
    process.env.SCW_ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
    const bad = 'not-a-uuid-but-a-secret-value';
    const { problems } = resolveCredentials({ secret_key: new Secret(bad, 'SCW_SECRET_KEY (env)') });
    expect(problems.map((p) => p.message)).toEqual([
      'the Scaleway access key from SCW_ACCESS_KEY is malformed: expected "SCW" and 17 letters or digits',
      'the Scaleway secret key from the inventory (SCW_SECRET_KEY (env)) is malformed: expected a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)',
    ]);
    expect(JSON.stringify(problems)).not.toContain(bad);
    expect(JSON.stringify(problems)).not.toContain('AKIAIOSFODNN7EXAMPLE');
  });

  it('an unresolved inventory secret (listing without secrets) is not checked', () => {
    expect(resolveCredentials({ access_key: new Secret('', 'X (unresolved)'), secret_key: new Secret('', 'Y (unresolved)') }).problems).toEqual([]);
  });
});

describe('the scaleway var', () => {
  const base = { project_id: P, zones: ['fr-par-1'], access_key: new Secret(ACCESS, 'A'), secret_key: new Secret(SECRET, 'S') };
  const issues = (v: unknown) => {
    const r = fleetConfigSchema.safeParse(v);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('fills defaults and parses durations', () => {
    const c = fleetConfigSchema.parse({ ...base, ledger: '~/fleet.json' });
    expect(c).toMatchObject({ projectId: P, zones: ['fr-par-1'], graceMs: 3_600_000, maxDeletions: 3, keep: [], machineStore: '/root/.docker/machine', requestTimeoutMs: 30_000 });
    expect(c.ledgerPath).not.toContain('~');
  });

  it('an unknown zone, a bad project id, a bad duration, a marker without %s are errors naming the key', () => {
    expect(issues({ ...base, zones: ['fr-par-9'] })).toEqual(['zones.0: expected a Scaleway zone (fr-par-1, fr-par-2, fr-par-3, nl-ams-1, nl-ams-2, nl-ams-3, pl-waw-1, pl-waw-2, pl-waw-3)']);
    expect(issues({ ...base, zones: [] })).toEqual(['zones: expected at least one zone, e.g. ["fr-par-1"]']);
    expect(issues({ ...base, project_id: 'runners' })).toEqual(['project_id: expected the UUID of the Scaleway Project that holds the runner machines']);
    expect(issues({ ...base, grace: '1 hour' })).toEqual(['grace: expected a duration like "90s", "30m", "2h" or "7d"']);
    expect(issues({ ...base, marker_tag: 'docker-machine' })).toEqual(['marker_tag: must contain %s once']);
    expect(issues({ ...base, secret_key: undefined })[0]).toMatch(/^secret_key: no Scaleway secret key: set scaleway.secret_key/);
  });
});

describe('the production block of the README', () => {
  it('loads and validates offline (secrets from the environment)', async () => {
    const { loadInventory } = await import('../../lib/inventory/load.js');
    const { validateRoleVars } = await import('../../lib/engine/validateVars.js');
    const { scalewayFleetRole } = await import('../../roles/scaleway-fleet/index.js');
    const path = new URL('./fixtures/scaleway-fleet-production-block.toml', import.meta.url).pathname;
    const inv = await loadInventory(path, { env: { SCW_ACCESS_KEY: ACCESS, SCW_SECRET_KEY: SECRET }, warn: () => {} });
    const { vars, problems } = validateRoleVars(scalewayFleetRole(), 'mania', inv.hosts.get('mania')!.vars);
    expect(problems).toEqual([]);
    expect(vars!.scaleway).toMatchObject({ projectId: P, zones: ['fr-par-1'], fleetCap: 5, maxDeletions: 3, graceMs: 3_600_000, prices: { ipMonth: 2.92 } });
  });
});
