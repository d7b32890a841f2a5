// The leaks an adversarial pass found (issue 10), each reproduced through
// the real engine (runHost on a LocalRemote in a temp dir) and the real
// reporters: console (check mode, --diff, -v), the --json report and error
// lines. Every test here fails on the code before the fix.
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runHost, type HostRunOptions } from '../../lib/engine/run.js';
import type { HostResult } from '../../lib/engine/report-types.js';
import { defineRole, type Resource } from '../../lib/engine/types.js';
import { HttpClient } from '../../lib/http/client.js';
import { ConsoleReporter } from '../../lib/report/console.js';
import { buildJsonReport } from '../../lib/report/json.js';
import { command, file, sh, template } from '../../lib/resources/index.js';
import { clearSecretsForTests, Secret } from '../../lib/secrets.js';
import { LocalRemote, currentUser, tempDir } from './helpers/localRemote.js';

const me = currentUser();
let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  clearSecretsForTests();
  tmp = tempDir('rigger-leaks-');
});
afterEach(() => tmp.cleanup());

/** Runs resources through the engine and every reporter; returns all the text a user could see. */
async function outputs(resources: () => Resource[], opts: Partial<HostRunOptions> & { verbose?: number } = {}): Promise<{ console: string; json: string; result: HostResult }> {
  let console = '';
  const reporter = new ConsoleReporter({ showDiffs: true, verbose: opts.verbose ?? 1, colour: false, check: opts.check ?? false, write: (t) => (console += t) });
  const role = defineRole({ name: 'leaks', tasks: () => ({ resources: resources() }) });
  const result = await runHost('testhost', async () => new LocalRemote(), [{ role, vars: {} }], {
    check: false,
    wantDiff: true,
    tags: [],
    skipTags: [],
    ...opts,
    onTask: (h, t) => reporter.task(h, t),
    onLog: (h, m) => reporter.log(h, m),
  });
  reporter.recap(new Map([['testhost', result]]), 1);
  const json = JSON.stringify(buildJsonReport(opts.check ? 'check' : 'apply', 1, new Map([['testhost', result]])));
  return { console, json, result };
}

/** The secret, and every prefix of it of 6 characters or more (a cut secret leaks its prefix). */
function expectNoTrace(text: string, ...secrets: string[]): void {
  for (const s of secrets) for (let n = 6; n <= s.length; n++) expect(text, `leaks ${JSON.stringify(s.slice(0, n))}`).not.toContain(s.slice(0, n));
}

describe('a rotated secret: its old value, still in the file on the host, is never shown', () => {
  const OLD = 'glrt-OLDcanary-a1b2c3d4e5f6';
  const NEW = 'glrt-NEWcanary-0f9e8d7c6b5a';
  const conf = (token: string, concurrent: number) => `concurrent = ${concurrent}\n[[runners]]\n  name = "mania"\n  token = "${token}"\n`;

  for (const [mode, check] of [
    ['--check', true],
    ['--diff (apply)', false],
  ] as const)
    it(`${mode}: console and --json mask the old token line; other changes stay readable`, async () => {
      const path = join(tmp.dir, 'config.toml');
      writeFileSync(path, conf(OLD, 4), { mode: 0o600 });
      const secret = new Secret(NEW, 'env:RUNNER_TOKEN');
      const { console, json, result } = await outputs(() => [file({ path, content: conf(secret.reveal(), 8), ...me })], { check });
      expect(result.status, console).toBe('changed');
      expectNoTrace(console + json, OLD, NEW);
      expect(console).toContain('-  token = "[earlier secret]"');
      expect(console).toContain('+  token = "********"');
      expect(console).toContain('-concurrent = 4');
      expect(console).toContain('+concurrent = 8');
    });

  it('a secret that makes up a whole line (no key before it): the changed earlier lines are masked', async () => {
    const path = join(tmp.dir, 'token');
    writeFileSync(path, `${OLD}\n`);
    const secret = new Secret(NEW, 'env:T');
    const { console, json } = await outputs(() => [file({ path, content: `${secret.reveal()}\n`, mode: '0600', ...me })], { check: true });
    expectNoTrace(console + json, OLD, NEW);
    expect(console).toContain('-[earlier secret]\n+********');
  });
});

describe('a secret cut by a summary length limit', () => {
  it('console and --json: redacted before it is cut, so no prefix is left', async () => {
    const secret = new Secret('canary-cut-in-the-summary-0123456789', 'env:CUT');
    // the secret starts at character 61 of the command: a cut at 80 falls inside it
    const run = sh`curl --retry 3 --max-time 30 --fail --header ${`PRIVATE-TOKEN: ${secret.reveal()}`} https://gitlab.example.org/api/v4/projects/42/trigger`;
    expect(run.text.indexOf(secret.reveal())).toBeLessThan(80);
    expect(run.text.indexOf(secret.reveal()) + secret.reveal().length).toBeGreaterThan(80);
    const { console, json } = await outputs(() => [command({ name: 'trigger', run, creates: join(tmp.dir, 'never') })], { check: true });
    expect(console).toContain('PRIVATE-TOKEN: ********');
    expectNoTrace(console + json, secret.reveal());
  });
});

describe('a file holding a secret, with no explicit mode', () => {
  it('is written 0600 (the README promise), a file or a template', async () => {
    const secret = new Secret('canary-mode-0600-secret', 'env:M');
    const tpl = join(tmp.dir, 't.ejs');
    writeFileSync(tpl, 'token = <%= token %>\n');
    const a = join(tmp.dir, 'a.conf');
    const b = join(tmp.dir, 'b.conf');
    const plain = join(tmp.dir, 'plain.conf');
    const { result } = await outputs(() => [
      file({ path: a, content: `token = ${secret.reveal()}\n`, ...me }),
      template({ path: b, src: tpl, vars: { token: secret }, ...me }),
      file({ path: plain, content: 'no secret\n', ...me }),
    ]);
    expect(result.status).toBe('changed');
    expect(statSync(a).mode & 0o777).toBe(0o600);
    expect(statSync(b).mode & 0o777).toBe(0o600);
    expect(statSync(plain).mode & 0o777).toBe(0o644);
    // an explicit mode is the role's decision
    expect(file({ path: a, content: secret.reveal(), mode: '0640' }).id).toBe(`file:${a}`);
  });
});

describe('errors: a secret inside a failing validate command or command', () => {
  it('validate message: quoted as written (not stripped of " $ `), so it is masked', async () => {
    // the old message stripped " $ ` and \ from the command: "canary-valid$ate" came out as "canary-validate", unknown to the redactor
    const secret = new Secret('canary-"valid$ate`-99', 'env:V');
    const path = join(tmp.dir, 'x.conf');
    const validate = sh`grep -q ${secret} %s`.text;
    const { console, json, result } = await outputs(() => [file({ path, content: 'something else\n', validate, ...me })]);
    expect(result.status).toBe('failed');
    expect(console).toContain('validation failed: grep -q');
    expectNoTrace(console + json, secret.reveal(), secret.reveal().replace(/["$`\\]/g, ''));
  });

  it('a failing command that prints forms rigger derived from the secret (URL-encoded, shell-quoted)', async () => {
    const secret = new Secret("canary p@ss/w'rd+=?", 'env:P');
    const url = `https://deploy:${encodeURIComponent(secret.reveal())}@registry.example.org/v2/`;
    // a role printing the command line it built: the secret in it is shell-quoted
    const shown = sh`docker login -p ${secret} registry.example.org`.text;
    const run = sh`printf 'cannot log in to %s (command: %s)\n' ${url} ${shown} >&2; exit 7`;
    const { console, json, result } = await outputs(() => [command({ name: 'login', run, creates: join(tmp.dir, 'never') })]);
    expect(result.status).toBe('failed');
    expect(console).toContain("remote command failed (exit 7): cannot log in to https://deploy:********@registry.example.org/v2/ (command: docker login -p '********' registry.example.org)");
    expectNoTrace(console + json, secret.reveal(), encodeURIComponent(secret.reveal()), sh`${secret}`.text);
  });
});

describe('-v: request lines of the HTTP layer', () => {
  it('mask a secret that rigger URL-encoded into a query string', async () => {
    const secret = new Secret('canary/query+value=1&2', 'env:Q');
    let seen = '';
    const fetch = (async (url: string | URL) => {
      seen = String(url);
      return new Response('[]', { status: 200, headers: { 'content-type': 'application/json' } });
    }) as typeof globalThis.fetch;
    let console = '';
    const reporter = new ConsoleReporter({ showDiffs: true, verbose: 1, colour: false, check: false, write: (t) => (console += t) });
    const client = new HttpClient('https://gitlab.example.org/api/v4', { fetch, name: 'GitLab API' }, { log: (l) => reporter.log('local', l) });
    await client.get('/runners', { query: { search: secret.reveal() } });
    expect(seen).toContain(encodeURIComponent(secret.reveal()));
    expect(console).toContain('GitLab API');
    expectNoTrace(console, secret.reveal(), encodeURIComponent(secret.reveal()));
  });
});

