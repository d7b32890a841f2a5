import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { download } from '../../lib/resources/download.js';
import { command } from '../../lib/resources/command.js';
import { sh } from '../../lib/resources/shell.js';
import { Secret } from '../../lib/secrets.js';
import { itPassesShellcheck } from './helpers/shellcheck.js';
import { probeAll } from '../../lib/engine/probe.js';
import { FakeRemote } from './helpers/fakeRemote.js';
import { makeCtx, probe, sync } from './helpers/context.js';
import { LocalRemote, currentUser, probeAndPlan, tempDir } from './helpers/localRemote.js';

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const BINARY = Buffer.concat([Buffer.from('\x7fELF'), Buffer.alloc(64, 1), Buffer.from('docker-machine 0.16.2-gitlab.29\n')]);
const URL_ = 'https://gitlab-docker-machine-downloads.s3.amazonaws.com/v0.16.2-gitlab.29/docker-machine-Linux-x86_64';

describe('download: declaration and plan', () => {
  const d = () => download({ url: URL_, dest: '/usr/local/bin/docker-machine', sha256: sha(BINARY) });

  it('requires a 64-hex-digit sha256 (any case)', () => {
    expect(() => download({ url: URL_, dest: '/x', sha256: 'abc' })).toThrow('sha256 "abc" is not 64 hex digits');
    expect(() => download({ url: URL_, dest: '/x', sha256: sha(BINARY).slice(1) + 'g' })).toThrow(/not 64 hex digits/);
    expect(() => download({ url: URL_, dest: '/x', sha256: sha(BINARY).toUpperCase() })).not.toThrow();
  });

  it('plans a fetch when absent, with the short checksum in the summary', () => {
    const r = d();
    expect(r.id).toBe('download:/usr/local/bin/docker-machine');
    expect(r.plan(probe('absent\n', 1), makeCtx(new FakeRemote()))).toEqual({ summary: `fetch from ${URL_} (sha256 ${sha(BINARY).slice(0, 12)}...)`, data: true });
  });

  it('plans a replace when the checksum differs', () => {
    const change = sync(d().plan(probe(`regular file|755|root|root\n${sha('old')}\n`), makeCtx(new FakeRemote())));
    expect(change?.summary).toMatch(/^replace from /);
    expect(change?.data).toBe(true);
  });

  it('compares checksums case-insensitively', () => {
    const r = download({ url: URL_, dest: '/usr/local/bin/docker-machine', sha256: sha(BINARY).toUpperCase() });
    expect(r.plan(probe(`regular file|755|root|root\n${sha(BINARY)}\n`), makeCtx(new FakeRemote()))).toBeNull();
  });

  it('plans only an attribute fix when the content is right', () => {
    const change = d().plan(probe(`regular file|644|root|staff\n${sha(BINARY)}\n`), makeCtx(new FakeRemote()));
    expect(change).toEqual({ summary: 'mode 644 -> 755, group staff -> root', data: false });
  });

  it('refuses to replace a directory', () => {
    expect(() => d().plan(probe('directory|755|root|root\n', 1), makeCtx(new FakeRemote()))).toThrow('exists but is a directory');
  });

  it('verifies the checksum of the temp file before moving it into place', async () => {
    const remote = new FakeRemote();
    await d().apply({ summary: '', data: true }, makeCtx(remote));
    const lines = remote.scripts[0].split('\n');
    const tmp = '/usr/local/bin/docker-machine.rigger-download';
    const at = (s: string) => lines.findIndex((l) => l.includes(s));
    expect(lines[0]).toBe('set -e');
    expect(lines.slice(1, 3)).toEqual([`set -- ${tmp} ${URL_}`, 't=$1 url=$2']);
    // the temp path is a variable, never spliced inside the trap's own quotes
    expect(at(`trap 'rm -f -- "$t"' EXIT`)).toBe(3);
    expect(at('curl -fsSL --retry 2 -o "$t" --url "$url"')).toBeGreaterThan(3);
    expect(at('got=$(sha256sum < "$t"')).toBeGreaterThan(at('curl'));
    expect(at(`if [ "$got" != ${sha(BINARY)} ]`)).toBeGreaterThan(at('got='));
    expect(lines[at('if [ "$got"')]).toContain('exit 1');
    expect(at('chown -- root:root "$t"')).toBeGreaterThan(at('if [ "$got"'));
    expect(at('chmod -- 755 "$t"')).toBeGreaterThan(at('if [ "$got"'));
    expect(at('mv -f -- "$t" /usr/local/bin/docker-machine')).toBeGreaterThan(at('chmod -- 755'));
  });

  it('only chowns and chmods for an attribute change', async () => {
    const remote = new FakeRemote();
    await d().apply({ summary: '', data: false }, makeCtx(remote));
    expect(remote.scripts).toEqual(['chown -- root:root /usr/local/bin/docker-machine && chmod -- 755 /usr/local/bin/docker-machine']);
  });
});

describe('download: executed locally with curl and file:// URLs', () => {
  let dir: string;
  let cleanup: () => void;
  const me = currentUser();
  let src: string;
  let url: string;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    src = join(dir, 'served/docker-machine');
    mkdirSync(join(dir, 'served'));
    writeFileSync(src, BINARY);
    url = pathToFileURL(src).href;
  });
  afterEach(() => cleanup());

  it('installs a matching download with its mode, then is idempotent', async () => {
    const dest = join(dir, 'bin/docker-machine');
    const r = download({ url, dest, sha256: sha(BINARY), ...me });
    const ctx = makeCtx(new LocalRemote());
    const change = await probeAndPlan(r, ctx);
    expect(change?.summary).toMatch(/^fetch from file:/);
    await r.apply(change!, ctx);
    expect(readFileSync(dest).equals(BINARY)).toBe(true);
    expect(statSync(dest).mode & 0o777).toBe(0o755);
    expect(readdirSync(join(dir, 'bin'))).toEqual(['docker-machine']);
    expect(await probeAndPlan(r, ctx)).toBeNull();
  });

  it('never installs a download whose sha256 does not match, and keeps the old file', async () => {
    const dest = join(dir, 'docker-machine');
    writeFileSync(dest, 'old version\n');
    chmodSync(dest, 0o755);
    const wrong = sha('something else');
    const r = download({ url, dest, sha256: wrong, ...me });
    const ctx = makeCtx(new LocalRemote());
    const change = await probeAndPlan(r, ctx);
    expect(change?.summary).toMatch(/^replace from /);
    await expect(r.apply(change!, ctx)).rejects.toThrow(new RegExp(`checksum mismatch for file:.*expected ${wrong}, got ${sha(BINARY)}; not installed`));
    expect(readFileSync(dest, 'utf8')).toBe('old version\n');
    expect(readdirSync(dir).sort()).toEqual(['docker-machine', 'served']);
  });

  it('never creates dest when the checksum is wrong', async () => {
    const dest = join(dir, 'new/docker-machine');
    const r = download({ url, dest, sha256: sha('x'), ...me });
    const ctx = makeCtx(new LocalRemote());
    await expect(r.apply((await probeAndPlan(r, ctx))!, ctx)).rejects.toThrow(/checksum mismatch/);
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(join(dir, 'new'))).toEqual([]);
  });

  it('fails cleanly when the URL cannot be fetched', async () => {
    const dest = join(dir, 'docker-machine');
    const r = download({ url: pathToFileURL(join(dir, 'missing')).href, dest, sha256: sha(BINARY), ...me });
    const ctx = makeCtx(new LocalRemote());
    await expect(r.apply((await probeAndPlan(r, ctx))!, ctx)).rejects.toThrow(/remote command failed \(exit 37\)/);
    expect(readdirSync(dir)).toEqual(['served']);
  });

  it('fixes the mode of a correct file without downloading', async () => {
    const dest = join(dir, 'docker-machine');
    writeFileSync(dest, BINARY);
    chmodSync(dest, 0o600);
    const r = download({ url: pathToFileURL(join(dir, 'missing')).href, dest, sha256: sha(BINARY), mode: '0750', ...me });
    const ctx = makeCtx(new LocalRemote());
    const change = await probeAndPlan(r, ctx);
    expect(change).toEqual({ summary: 'mode 600 -> 750', data: false });
    await r.apply(change!, ctx);
    expect(statSync(dest).mode & 0o777).toBe(0o750);
    expect(await probeAndPlan(r, ctx)).toBeNull();
  });
});

describe('command: guards', () => {
  it('refuses a command without any guard', () => {
    expect(() => command({ name: 'x', run: 'touch /x' })).toThrow('command x: needs a creates, unless or onlyIf guard');
  });

  it('plans from the probe markers', () => {
    const r = command({ name: 'init swarm', run: 'docker swarm init', unless: 'docker info | grep -q "Swarm: active"' });
    expect(r.id).toBe('command:init swarm');
    const ctx = makeCtx(new FakeRemote());
    expect(r.plan(probe('skip:unless\n'), ctx)).toBeNull();
    expect(r.plan(probe(''), ctx)).toEqual({ summary: 'run: docker swarm init' });
  });

  it('summarises the first line of the command, at most 80 characters', () => {
    const long = 'x'.repeat(100);
    const r = command({ name: 'x', run: `${long}\nsecond line`, creates: '/x' });
    expect(sync(r.plan(probe(''), makeCtx(new FakeRemote())))?.summary).toBe(`run: ${'x'.repeat(77)}...`);
  });

  it('masks a secret before cutting the summary, so no prefix of it is left', () => {
    const secret = new Secret('canary-summary-cut-0123456789', 'env:CUT');
    const run = sh`curl --retry 3 --max-time 30 --fail --header ${`PRIVATE-TOKEN: ${secret.reveal()}`} https://git.example.org/api/v4/projects/1/trigger`;
    expect(run.text.indexOf(secret.reveal()) + secret.reveal().length).toBeGreaterThan(80); // a cut at 80 falls inside it
    const r = command({ name: 'x', run, creates: '/x' });
    const summary = sync(r.plan(probe(''), makeCtx(new FakeRemote())))!.summary;
    expect(summary.length).toBeLessThanOrEqual(85);
    // the old code cut at 80 characters first: "canary-summ" was printed, which redact() no longer knew
    for (let n = 6; n <= secret.reveal().length; n++) expect(summary).not.toContain(secret.reveal().slice(0, n));
    expect(summary).toContain('PRIVATE-TOKEN: ********');
  });

  it('takes guards and the command as strings of code or as sh`` scripts (values quoted)', async () => {
    const path = "/srv/it's $(here)";
    const r = command({ name: 'x', run: sh`touch -- ${path}`, creates: path });
    expect(r.probe).toBe(`[ -e '/srv/it'\\''s $(here)' ] && echo skip:creates\ntrue`);
    const remote = new FakeRemote();
    await r.apply({ summary: '' }, makeCtx(remote));
    expect(remote.scripts).toEqual([`touch -- '/srv/it'\\''s $(here)'`]);
  });

  it('runs the command itself, checked, on apply', async () => {
    const remote = new FakeRemote();
    await command({ name: 'x', run: 'gitlab-runner register --non-interactive', creates: '/etc/gitlab-runner/config.toml' }).apply({ summary: '' }, makeCtx(remote));
    expect(remote.calls).toEqual([{ script: 'gitlab-runner register --non-interactive', stdin: undefined, check: true }]);
  });
});

describe('command: executed locally', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('creates: runs once, then the path exists and it is skipped', async () => {
    const marker = join(dir, 'initialised');
    const r = command({ name: 'init', run: `echo initialised > '${marker}'`, creates: marker });
    const ctx = makeCtx(new LocalRemote());
    const change = await probeAndPlan(r, ctx);
    expect(change?.summary).toBe(`run: echo initialised > '${marker}'`);
    await r.apply(change!, ctx);
    expect(readFileSync(marker, 'utf8')).toBe('initialised\n');
    expect(await probeAndPlan(r, ctx)).toBeNull();
  });

  it('unless: skipped while the check succeeds; the check output never leaks into the plan', async () => {
    const conf = join(dir, 'conf');
    writeFileSync(conf, 'a\n');
    const r = command({ name: 'add b', run: `echo b >> ${conf}`, unless: `echo skip:creates; grep -qx b ${conf}` });
    const ctx = makeCtx(new LocalRemote());
    expect((await probeAndPlan(r, ctx))?.summary).toBe(`run: echo b >> ${conf}`);
    await r.apply({ summary: '' }, ctx);
    expect(await probeAndPlan(r, ctx)).toBeNull();
    expect(readFileSync(conf, 'utf8')).toBe('a\nb\n');
  });

  it('onlyIf: runs only while the condition holds', async () => {
    const flag = join(dir, 'needs-restart');
    writeFileSync(flag, '');
    const r = command({ name: 'restart', run: `rm ${flag}`, onlyIf: `test -e ${flag}` });
    const ctx = makeCtx(new LocalRemote());
    expect(await probeAndPlan(r, ctx)).not.toBeNull();
    await r.apply({ summary: '' }, ctx);
    expect(await probeAndPlan(r, ctx)).toBeNull();
  });

  it('any guard saying skip wins', async () => {
    const r = command({ name: 'x', run: 'false', creates: join(dir, 'nope'), unless: 'true', onlyIf: 'true' });
    expect(await probeAndPlan(r, makeCtx(new LocalRemote()))).toBeNull();
    const r2 = command({ name: 'x', run: 'false', creates: join(dir, 'nope'), unless: 'false', onlyIf: 'false' });
    expect(await probeAndPlan(r2, makeCtx(new LocalRemote()))).toBeNull();
    const r3 = command({ name: 'x', run: 'false', creates: join(dir, 'nope'), unless: 'false', onlyIf: 'true' });
    expect(await probeAndPlan(r3, makeCtx(new LocalRemote()))).not.toBeNull();
  });

  it('guards with a trailing comment or several lines do not break the batched probe of their neighbours', async () => {
    const conf = join(dir, 'conf');
    writeFileSync(conf, 'enabled\n');
    const a = command({ name: 'a', run: 'true', unless: `grep -qx enabled ${conf} # already on` });
    const b = command({ name: 'b', run: 'true', onlyIf: `test -e ${conf} &&\n  grep -qx disabled ${conf}` });
    const c = command({ name: 'c', run: 'true', creates: join(dir, 'nope') });
    const ctx = makeCtx(new LocalRemote());
    const results = await probeAll(ctx.remote, [a.probe, b.probe, c.probe]);
    expect([a.plan(results[0], ctx), b.plan(results[1], ctx), sync(c.plan(results[2], ctx))?.summary]).toEqual([null, null, 'run: true']);
  });

  it('a guard that reads stdin sees end of file rather than hanging', async () => {
    const r = command({ name: 'x', run: 'true', unless: 'read -r _' });
    expect(await probeAndPlan(r, makeCtx(new LocalRemote()))).not.toBeNull();
  });

  it('a failing command fails the apply with its stderr', async () => {
    const r = command({ name: 'x', run: 'echo "no such runner" >&2; exit 4', creates: join(dir, 'x') });
    await expect(r.apply({ summary: '' }, makeCtx(new LocalRemote()))).rejects.toThrow('remote command failed (exit 4): no such runner');
  });
});

describe('download and command: generated scripts', () => {
  itPassesShellcheck(5);
});
