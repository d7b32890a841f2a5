import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { archiveFormatOf, checksumProblem, download, stampPath } from '../../lib/resources/download.js';
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

  it('refuses placeholder checksums, saying how to pin a real one', () => {
    const placeholders = ['0'.repeat(64), 'f'.repeat(64), '0123456789abcdef'.repeat(4), 'deadbeef'.repeat(8), 'ab'.repeat(32), '1234567890abcdef'.repeat(4), `${'0'.repeat(60)}1234`, `deadbeef${sha('x').slice(8)}`];
    for (const p of placeholders) {
      expect(checksumProblem(p), p).toMatch(/is a placeholder, not a checksum; pin the real one: .*sha256sum FILE/);
      expect(() => download({ url: URL_, dest: '/x', sha256: p })).toThrow(/placeholder/);
    }
    // Real digests (docker-machine v0.16.2-gitlab.30 for linux/amd64, as GitLab's own image build pins it; and random ones) pass.
    expect(checksumProblem('b4163ac73e6f331d8fee8ea838fc490323d73a27a3bc88f981f2a9d2ab2b0dd8')).toBeNull();
    for (let i = 0; i < 200; i++) expect(checksumProblem(sha(`random ${i}`))).toBeNull();
  });

  it('an archive member needs a .tar.gz/.zip URL (or a format) and a plain relative member path', () => {
    const s = sha(BINARY);
    expect(() => download({ url: URL_, dest: '/x', sha256: s, member: 'bin/tool' })).toThrow(/does not end in \.tar\.gz, \.tgz or \.zip; set format/);
    expect(() => download({ url: URL_, dest: '/x', sha256: s, member: 'bin/tool', format: 'zip' })).not.toThrow();
    for (const m of ['../etc/passwd', '/abs', '-rf', 'a/*', 'dir/', 'a b'])
      expect(() => download({ url: 'https://x.example/r.tar.gz', dest: '/x', sha256: s, member: m }), m).toThrow(/archive member/);
    expect(archiveFormatOf('https://x.example/a_1.6_linux_amd64.tar.gz')).toBe('tar.gz');
    expect(archiveFormatOf('https://x.example/a.TGZ?raw=1')).toBe('tar.gz');
    expect(archiveFormatOf('https://x.example/a.zip')).toBe('zip');
    expect(archiveFormatOf(URL_)).toBeUndefined();
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

  it('runs the download script with every value as one quoted argument', async () => {
    const remote = new FakeRemote();
    await download({ url: `${URL_}?a=1&b='2'`, dest: '/usr/local/bin/docker machine', sha256: sha(BINARY) }).apply({ summary: '', data: true }, makeCtx(remote));
    const [script] = remote.scripts;
    expect(script.startsWith("sh -c '#!/bin/sh")).toBe(true);
    expect(script.endsWith(` rigger-download '${URL_}?a=1&b='\\''2'\\''' ${sha(BINARY)} '/usr/local/bin/docker machine' 755 root:root file`)).toBe(true);
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

describe('download: one member of a real .tar.gz or .zip release, run with /bin/sh', () => {
  let dir: string;
  let cleanup: () => void;
  const me = currentUser();
  const DRIVER = Buffer.concat([Buffer.from('\x7fELF'), Buffer.alloc(128, 7), Buffer.from('docker-machine-driver-scaleway-v2\n')]);
  const member = 'docker-machine-driver-scaleway-v2_linux_amd64/docker-machine-driver-scaleway-v2';
  /** Builds the release archive with the real tool (tar or zip) and returns its file: URL and sha256. */
  const release = (format: 'tar.gz' | 'zip', content = DRIVER, name = `release.${format}`) => {
    const src = join(dir, `src-${name}`);
    mkdirSync(join(src, 'docker-machine-driver-scaleway-v2_linux_amd64'), { recursive: true });
    writeFileSync(join(src, member), content);
    writeFileSync(join(src, 'docker-machine-driver-scaleway-v2_linux_amd64/README.md'), 'readme\n');
    const archive = join(dir, name);
    if (format === 'tar.gz') execFileSync('tar', ['-czf', archive, '-C', src, 'docker-machine-driver-scaleway-v2_linux_amd64']);
    else execFileSync('zip', ['-qr', archive, 'docker-machine-driver-scaleway-v2_linux_amd64'], { cwd: src });
    return { url: pathToFileURL(archive).href, sha256: sha(readFileSync(archive)), path: archive };
  };
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it.each(['tar.gz', 'zip'] as const)('%s: installs the member, verified by the archive checksum, then is idempotent', async (format) => {
    const rel = release(format);
    const dest = join(dir, 'bin/docker-machine-driver-scaleway-v2');
    const r = download({ url: rel.url, sha256: rel.sha256, member, dest, ...me });
    const ctx = makeCtx(new LocalRemote());
    const change = await probeAndPlan(r, ctx);
    expect(change?.summary).toBe(`fetch ${member} from ${rel.url} (sha256 ${rel.sha256.slice(0, 12)}...)`);
    await r.apply(change!, ctx);
    expect(readFileSync(dest).equals(DRIVER)).toBe(true);
    expect(statSync(dest).mode & 0o777).toBe(0o755);
    // Only the binary and its stamp: no temp file left behind.
    expect(readdirSync(join(dir, 'bin')).sort()).toEqual(['.docker-machine-driver-scaleway-v2.rigger-download', 'docker-machine-driver-scaleway-v2']);
    expect(readFileSync(stampPath(dest), 'utf8')).toBe(`${rel.sha256} ${sha(DRIVER)} ${member}\n`);
    expect(await probeAndPlan(r, ctx)).toBeNull();
  });

  it('a binary changed on the host, or a new release pinned, is installed again', async () => {
    const rel = release('tar.gz');
    const dest = join(dir, 'driver');
    const ctx = makeCtx(new LocalRemote());
    const r = download({ url: rel.url, sha256: rel.sha256, member, dest, ...me });
    await r.apply((await probeAndPlan(r, ctx))!, ctx);
    writeFileSync(dest, 'tampered');
    expect((await probeAndPlan(r, ctx))?.summary).toMatch(/^replace /);
    await r.apply((await probeAndPlan(r, ctx))!, ctx);
    expect(readFileSync(dest).equals(DRIVER)).toBe(true);

    const next = release('tar.gz', Buffer.concat([DRIVER, Buffer.from('v2.1\n')]), 'next.tar.gz');
    const r2 = download({ url: next.url, sha256: next.sha256, member, dest, ...me });
    expect((await probeAndPlan(r2, ctx))?.summary).toMatch(/^replace /);
    await r2.apply((await probeAndPlan(r2, ctx))!, ctx);
    expect(readFileSync(dest, 'utf8').endsWith('v2.1\n')).toBe(true);
    expect(await probeAndPlan(r2, ctx)).toBeNull();
  });

  it('an archive whose sha256 does not match is never unpacked, and the old binary stays', async () => {
    const rel = release('zip');
    const dest = join(dir, 'driver');
    writeFileSync(dest, 'old driver\n');
    const wrong = sha('another archive');
    const r = download({ url: rel.url, sha256: wrong, member, dest, ...me });
    const ctx = makeCtx(new LocalRemote());
    await expect(r.apply((await probeAndPlan(r, ctx))!, ctx)).rejects.toThrow(new RegExp(`checksum mismatch for file:.*expected ${wrong}, got ${rel.sha256}; not installed`));
    expect(readFileSync(dest, 'utf8')).toBe('old driver\n');
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it.each(['tar.gz', 'zip'] as const)('%s: a member the archive does not have is an error that changes nothing', async (format) => {
    const rel = release(format);
    const dest = join(dir, 'driver');
    const r = download({ url: rel.url, sha256: rel.sha256, member: 'docker-machine-driver-scaleway-v2', dest, ...me });
    const ctx = makeCtx(new LocalRemote());
    await expect(r.apply((await probeAndPlan(r, ctx))!, ctx)).rejects.toThrow(/cannot extract docker-machine-driver-scaleway-v2 from the archive/);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(stampPath(dest))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('a directory member is refused (it would unpack to nothing)', async () => {
    const rel = release('tar.gz');
    const dest = join(dir, 'driver');
    const r = download({ url: rel.url, sha256: rel.sha256, member: 'docker-machine-driver-scaleway-v2_linux_amd64', dest, ...me });
    const ctx = makeCtx(new LocalRemote());
    await expect(r.apply((await probeAndPlan(r, ctx))!, ctx)).rejects.toThrow(/is empty or not a regular file in the archive/);
    expect(existsSync(dest)).toBe(false);
  });

  it('the download script passes shellcheck', () => {
    execFileSync('shellcheck', [fileURLToPath(new URL('../../lib/resources/scripts/download.sh', import.meta.url))]);
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
