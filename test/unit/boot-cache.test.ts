// The fast start (lib/boot.cjs) runs a cached bundle of a playbook: it must
// never run stale code. Edit a role's source between two runs, and the second
// run shows the new behaviour; a new module imported by an edited file is
// picked up too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');
let root: string;

const role = (label: string, extraImport = '') => `${extraImport}
import { defineRole } from '../../lib/engine/types.js';
import { file } from '../../lib/resources/index.js';
export default defineRole({ name: 'echo', tasks: () => ({ resources: [file({ path: '/tmp/${label}', content: 'x' })] }) });
`;

/** How the tests start the loader: from the copy's root, with a cache of its own. */
const bootOptions = (env: Record<string, string> = {}) => ({ cwd: root, encoding: 'utf8' as const, env: { ...process.env, RIGGER_CACHE_DIR: join(root, 'cache'), ...env } });

/** `--list-tasks` of a playbook through the loader; throws (with its stderr) unless it exits 0. */
function run(playbook = 'playbooks/echo.ts'): string {
  return execFileSync(process.execPath, ['./lib/boot.cjs', playbook, '-i', 'inv.toml', '--list-tasks'], bootOptions());
}

function spawnBoot(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['./lib/boot.cjs', ...args], bootOptions(env));
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'rigger-boot-'));
  for (const d of ['lib', 'roles', 'package.json', 'tsconfig.json', 'playbooks/site.ts']) cpSync(join(REPO, d), join(root, d), { recursive: true });
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'inv.toml'), '[hosts]\nweb = { host = "127.0.0.1" }\n');
  writeFileSync(
    join(root, 'playbooks', 'echo.ts'),
    `import { playbook } from '../lib/playbook.js';\nimport echo from '../roles/echo/index.js';\nexport default playbook({ name: 'echo', plays: [{ hosts: 'all', roles: [echo] }] }, import.meta.url);\n`,
  );
  mkdirSync(join(root, 'roles', 'echo'));
  writeFileSync(join(root, 'roles', 'echo', 'index.ts'), role('first-version'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the cached bundle of a playbook', () => {
  it('is built on the first run and reused', () => {
    expect(run()).toContain('file:/tmp/first-version');
    expect(run()).toContain('file:/tmp/first-version');
  });

  it('is rebuilt when a role changes: the new behaviour is what runs', () => {
    writeFileSync(join(root, 'roles', 'echo', 'index.ts'), role('second-version'));
    const out = run();
    expect(out).toContain('file:/tmp/second-version');
    expect(out).not.toContain('first-version');
  });

  it('never runs a code cache of an earlier build, even when the bundle keeps its length', () => {
    // V8 accepts a code cache for any source of the same length: the cache must be tied to the exact bundle
    writeFileSync(join(root, 'roles', 'echo', 'index.ts'), role('version-aaa'));
    expect(run()).toContain('file:/tmp/version-aaa');
    expect(run()).toContain('file:/tmp/version-aaa');
    const caches = () => readdirSync(join(root, 'cache')).filter((f) => f.startsWith('echo-') && f.endsWith('.v8cache'));
    expect(caches()).toHaveLength(1);
    const before = caches()[0];
    writeFileSync(join(root, 'roles', 'echo', 'index.ts'), role('version-bbb'));
    const out = run();
    expect(out).toContain('file:/tmp/version-bbb');
    expect(out).not.toContain('version-aaa');
    expect(caches()).toHaveLength(1);
    expect(caches()[0]).not.toBe(before);
  });

  it('follows a new module that an edited file starts to import', () => {
    writeFileSync(join(root, 'roles', 'echo', 'label.ts'), `export const LABEL = 'from-a-new-module';\n`);
    const src = role('third', `import { LABEL } from './label.js';`).replace("'/tmp/third'", '`/tmp/${LABEL}`');
    writeFileSync(join(root, 'roles', 'echo', 'index.ts'), src);
    expect(run()).toContain('file:/tmp/from-a-new-module');
    writeFileSync(join(root, 'roles', 'echo', 'label.ts'), `export const LABEL = 'edited-module';\n`);
    expect(run()).toContain('file:/tmp/edited-module');
  });

  it('keeps each module its own import.meta.url (roles find their files)', () => {
    expect(readFileSync(join(root, 'lib', 'boot.cjs'), 'utf8')).toContain('own-import-meta-url');
    const out = run('playbooks/site.ts');
    expect(out).toContain('template:/etc/ssh/sshd_config.d/');
  });

  it('gives the playbook its exit code, and under RIGGER_NO_BUNDLE=1 runs the same playbook through tsx', () => {
    const bad = spawnBoot(['playbooks/echo.ts', '-i', 'missing.toml', '--list-tasks']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('missing.toml');
    const viaTsx = spawnBoot(['playbooks/echo.ts', '-i', 'inv.toml', '--list-tasks'], { RIGGER_NO_BUNDLE: '1' });
    expect(viaTsx.status).toBe(0);
    expect(viaTsx.stdout).toContain('file:/tmp/edited-module');
  });

  it('names the file when a role no longer compiles, and exits 1', () => {
    writeFileSync(join(root, 'roles', 'echo', 'label.ts'), `export const LABEL = ;\n`);
    const r = spawnBoot(['playbooks/echo.ts', '-i', 'inv.toml', '--list-tasks']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('roles/echo/label.ts');
    expect(r.stdout).not.toContain('file:/tmp/');
    writeFileSync(join(root, 'roles', 'echo', 'label.ts'), `export const LABEL = 'edited-module';\n`);
  });
});
