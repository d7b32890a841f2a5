import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { raw, Script, sh, shellFile, shq } from '../../lib/resources/shell.js';
import { clearSecretsForTests, redact, Secret } from '../../lib/secrets.js';
import { haveShellcheck, shellcheck } from './helpers/shellcheck.js';
import { HOSTILE } from './helpers/hostile.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What dash (Debian's /bin/sh) makes of a script: each argument of printf on its own line. */
const dash = (script: string) => execFileSync('dash', ['-c', script], { encoding: 'utf8' });

beforeEach(() => clearSecretsForTests());

describe('sh``: every value one quoted word', () => {
  it('leaves plain words alone and single-quotes everything else (POSIX, no $\'...\')', () => {
    expect(sh`rm -f ${'/etc/x.conf'}`.text).toBe('rm -f /etc/x.conf');
    expect(sh`echo ${"it's"}`.text).toBe(`echo 'it'\\''s'`);
    expect(sh`echo ${''}`.text).toBe(`echo ''`);
    expect(sh`echo ${'a=b'}`.text).toBe(`echo 'a=b'`); // an unquoted a=b first in a command is an assignment
    expect(sh`echo ${'~root'} ${'*'} ${'#x'}`.text).toBe(`echo '~root' '*' '#x'`);
    expect(sh`sleep ${5}`.text).toBe('sleep 5');
  });

  it('gives one word per array element, and nothing for an empty array', () => {
    expect(sh`apt-get install -- ${['curl', 'a b', "c'd"]}`.text).toBe(`apt-get install -- curl 'a b' 'c'\\''d'`);
    expect(sh`true ${[]}`.text).toBe('true ');
  });

  it('inserts scripts (sh``, raw()) as shell, so fragments compose without double quoting', () => {
    const inner = sh`[ -e ${'/a b'} ]`;
    expect(sh`if ${inner}; then ${raw('echo yes')}; fi`.text).toBe(`if [ -e '/a b' ]; then echo yes; fi`);
    expect(Script.join([sh`a`, false, null, sh`b ${'c d'}`]).text).toBe(`a\nb 'c d'`);
  });

  it('refuses values that are not strings, numbers, arrays, secrets or scripts', () => {
    expect(() => sh`echo ${undefined as unknown as string}`).toThrow('sh: cannot interpolate undefined');
    expect(() => sh`echo ${null as unknown as string}`).toThrow('sh: cannot interpolate null');
    expect(() => sh`echo ${{} as unknown as string}`).toThrow('sh: cannot interpolate object');
    expect(() => sh`echo ${true as unknown as string}`).toThrow('sh: cannot interpolate boolean');
  });

  it('quotes a Secret by its value, and the quoted form is masked too', () => {
    const s = new Secret("pa'ss-canary-7777", 'env:X');
    const script = sh`curl -u ${'me'}:${s} https://example.org`.text;
    expect(script).toBe(`curl -u me:'pa'\\''ss-canary-7777' https://example.org`);
    expect(redact(script)).toBe('curl -u me:\'********\' https://example.org');
  });

  it(`reaches dash as the same bytes, for each of the ${HOSTILE.length} hostile values`, () => {
    const script = HOSTILE.map((v) => sh`printf '%s\\0' ${v}`.text).join('\n');
    const out = dash(script).split('\0');
    expect(out.slice(0, -1)).toEqual(HOSTILE);
    expect(shq('-rf')).toBe('-rf'); // quoting cannot protect from option parsing: resources pass `--`
  });
});

describe('shellFile: a .sh file called with quoted arguments', () => {
  it('is the file preceded by `set --` with the arguments, one round trip', () => {
    const f = shellFile(new URL('../../lib/resources/scripts/write-file.sh', import.meta.url));
    expect(f.body).toBe(readFileSync(f.path, 'utf8'));
    const s = f('/etc/a b', "it's", 3).text;
    expect(s).toBe(`set -- '/etc/a b' 'it'\\''s' 3\n${f.body}`);
    expect(f().text).toBe(`set --\n${f.body}`);
  });

  it('passes every hostile value through as one argument, in order', () => {
    const script = `set -- ${HOSTILE.map(shq).join(' ')}\nfor a in "$@"; do printf '%s\\0' "$a"; done`;
    expect(dash(script).split('\0').slice(0, -1)).toEqual(HOSTILE);
  });
});

/** Every .sh file of the project (not node_modules, not generated test hosts). */
function shellFiles(dir = ROOT): string[] {
  const skip = new Set(['node_modules', '.git', '.testhosts', '.smoke']);
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (skip.has(name)) return [];
    if (statSync(p).isDirectory()) return shellFiles(p);
    return name.endsWith('.sh') ? [p] : [];
  });
}

describe.runIf(haveShellcheck)('every .sh file of the repository passes shellcheck (all checks)', () => {
  const files = shellFiles();
  it('finds the scripts of the resources and roles', () => {
    const rel = files.map((f) => relative(ROOT, f));
    for (const f of ['lib/resources/scripts/write-file.sh', 'lib/resources/scripts/apt-keyring.sh', 'roles/ssh-hardening/files/write-dropin.sh', 'roles/docker-cleanup/files/docker-cleanup.sh', 'scripts/setup.sh'])
      expect(rel).toContain(f);
  });
  it.each(shellFiles().map((f) => relative(ROOT, f)))('%s', (f) => {
    // the file's own shebang decides the dialect (bash for docker-cleanup and setup.sh)
    const out = (() => {
      try {
        execFileSync('shellcheck', ['--format=gcc', join(ROOT, f)], { encoding: 'utf8' });
        return '';
      } catch (e: any) {
        return String(e.stdout);
      }
    })();
    expect(out).toBe('');
  });
  it('the helper reports findings with the offending line', () => {
    expect(shellcheck(['echo $1'], { generated: false })[0]).toMatch(/SC2086[\s\S]*echo \$1/);
  });
});

describe('one way to build shell: resource and role modules pass no hand-built template to the host', () => {
  const modules = [
    // download.ts: its owner converts it along with its archive support
    ...readdirSync(join(ROOT, 'lib/resources'))
      .filter((f) => f.endsWith('.ts') && f !== 'shell.ts' && f !== 'download.ts')
      .map((f) => `lib/resources/${f}`),
    'roles/ssh-hardening/resources.ts',
    'roles/common/index.ts',
    'roles/docker-cleanup/index.ts',
  ];
  it.each(modules)('%s', (m) => {
    const text = readFileSync(join(ROOT, m), 'utf8');
    // a plain template literal with an interpolation handed to run() or used as a probe
    const handBuilt = [...text.matchAll(/(?:\.run\(|probe:\s*)`[^`]*\$\{/g)].map((x) => x[0]);
    expect(handBuilt, handBuilt.join('\n')).toEqual([]);
    expect(text).not.toMatch(/\bshq\(/);
  });
});
