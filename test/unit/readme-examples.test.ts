// The README's TypeScript examples, copied as written into a scratch tree
// next to the real lib/ and roles/, and run as real processes: the playbook
// example must print its help and list its tasks (it once did nothing and
// exited 0), and the role example must expand through a playbook.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSX = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

interface Example {
  /** the path its first comment line names, e.g. playbooks/runner.ts */
  path: string;
  code: string;
}

/** Every ```ts block of the README whose first line is `// <path>`. */
export function readmeExamples(text: string): Example[] {
  const out: Example[] = [];
  for (const m of text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    const code = m[1];
    const path = /^\/\/ (\S+\.ts)\n/.exec(code)?.[1];
    if (path) out.push({ path, code });
  }
  return out;
}

describe('README examples, as written', () => {
  let root: string;
  const examples = readmeExamples(readFileSync(join(REPO, 'README.md'), 'utf8'));

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'rigger-readme-'));
    for (const name of ['lib', 'node_modules', 'package.json']) symlinkSync(join(REPO, name), join(root, name));
    mkdirSync(join(root, 'roles'));
    for (const r of readdirSync(join(REPO, 'roles'))) symlinkSync(join(REPO, 'roles', r), join(root, 'roles', r));
    for (const ex of examples) {
      mkdirSync(dirname(join(root, ex.path)), { recursive: true });
      writeFileSync(join(root, ex.path), ex.code);
    }
    writeFileSync(join(root, 'inventory.toml'), '[hosts]\nmania = { host = "192.0.2.10", groups = ["runners"] }\n[groups.runners]\n');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const node = (script: string, args: string[]) => exec(process.execPath, ['--import', TSX, join(root, script), ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1' } });

  it('the README has a playbook example and a role example', () => {
    expect(examples.map((e) => e.path)).toEqual(expect.arrayContaining(['playbooks/runner.ts', 'roles/motd/index.ts']));
  });

  it('the playbook example prints its help', async () => {
    const { stdout } = await node('playbooks/runner.ts', ['--help']);
    expect(stdout).toMatch(/^usage: /);
    expect(stdout).toContain('--list-tasks');
  }, 60_000);

  it('the playbook example runs: it lists its tasks (without contacting anything)', async () => {
    const { stdout } = await node('playbooks/runner.ts', ['-i', 'inventory.toml', '--list-tasks', '--tags', 'common']);
    expect(stdout).toContain('mania:');
    expect(stdout).toContain('[common] apt:');
  }, 60_000);

  it('a bad invocation of it exits 1', async () => {
    const err = await node('playbooks/runner.ts', ['--frobnicate']).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/^error: unknown option --frobnicate/);
  }, 60_000);

  it('the role example expands in a playbook', async () => {
    writeFileSync(
      join(root, 'playbooks/motd.ts'),
      "import { playbook } from '../lib/playbook.js';\nimport motd from '../roles/motd/index.js';\nplaybook({ name: 'motd', plays: [{ hosts: 'all', roles: [motd] }] });\n",
    );
    const { stdout } = await node('playbooks/motd.ts', ['-i', 'inventory.toml', '--list-tasks']);
    expect(stdout).toContain('[motd] file:/etc/motd');
    expect(stdout).toContain('[motd] handler:restart ssh');
  }, 60_000);
});
