import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { file, writeAtomically } from '../../lib/resources/file.js';
import { FakeRemote } from './helpers/fakeRemote.js';
import { makeCtx, probe } from './helpers/context.js';
import { LocalRemote, currentUser, probeAndPlan, tempDir } from './helpers/localRemote.js';
import { itPassesShellcheck } from './helpers/shellcheck.js';

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const EMPTY_SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const CONF = 'PermitRootLogin prohibit-password\nPasswordAuthentication no\n';
const PATH = '/etc/ssh/sshd_config.d/00-rigger.conf';

describe('file: plan from probe output', () => {
  const r = () => file({ path: PATH, content: CONF, mode: '0644' });

  it('probes the path without following links and hashes regular files only', () => {
    const res = r();
    expect(res.id).toBe(`file:${PATH}`);
    expect(res.probe).toContain(`stat -c '%F|%a|%U|%G' -- ${PATH}`);
    expect(res.probe).toContain(`[ -L ${PATH} ]`);
    expect(res.probe).toContain(`[ -f ${PATH} ] && sha256sum < ${PATH}`);
  });

  it('plans a create when the file is absent (probe exits 1 because [ -f ] fails)', async () => {
    const change = await r().plan(probe('absent\n', 1), makeCtx(new FakeRemote()));
    expect(change).toEqual({ summary: `create (${Buffer.byteLength(CONF)} bytes, mode 644)`, data: { contentChanged: true } });
  });

  it('is in the desired state when content, mode, owner and group match', async () => {
    const out = `regular file|644|root|root\n${sha(CONF)}\n`;
    expect(await r().plan(probe(out), makeCtx(new FakeRemote()))).toBeNull();
  });

  it('accepts "regular empty file" for empty content', async () => {
    const res = file({ path: '/etc/empty', content: '' });
    expect(await res.plan(probe(`regular empty file|644|root|root\n${EMPTY_SHA}\n`), makeCtx(new FakeRemote()))).toBeNull();
    const change = await res.plan(probe(`regular empty file|600|root|root\n${EMPTY_SHA}\n`), makeCtx(new FakeRemote()));
    expect(change?.summary).toBe('mode 600 -> 644');
  });

  it('reports only attribute changes when the content matches', async () => {
    const res = file({ path: PATH, content: CONF, mode: '0600', owner: 'root', group: 'ssh' });
    const change = await res.plan(probe(`regular file|644|www-data|root\n${sha(CONF)}\n`), makeCtx(new FakeRemote()));
    expect(change).toEqual({ summary: 'mode 644 -> 600, owner www-data -> root, group root -> ssh', data: { contentChanged: false } });
  });

  it('reports content and attribute changes together', async () => {
    const change = await r().plan(probe(`regular file|600|root|root\n${sha('old\n')}\n`), makeCtx(new FakeRemote()));
    expect(change?.summary).toBe('content, mode 600 -> 644');
    expect(change?.data).toEqual({ contentChanged: true });
    expect(change?.diff).toBeUndefined();
  });

  it('defaults the group to the owner', async () => {
    const res = file({ path: '/home/gitlab-runner/x', content: 'x', owner: 'gitlab-runner' });
    const change = await res.plan(probe(`regular file|644|gitlab-runner|root\n${sha('x')}\n`), makeCtx(new FakeRemote()));
    expect(change?.summary).toBe('group root -> gitlab-runner');
  });

  it('diffs against an empty "before" for a new file without a round trip', async () => {
    const remote = new FakeRemote();
    const change = await r().plan(probe('absent\n', 1), makeCtx(remote, { wantDiff: true }));
    expect(change?.diff).toEqual({ path: PATH, before: '', after: CONF });
    expect(remote.calls).toHaveLength(0);
  });

  it('reads the current text (base64, size-limited) for a diff of an existing file', async () => {
    const old = 'PermitRootLogin yes\n';
    const remote = new FakeRemote((script) => (script.includes('base64') ? { stdout: Buffer.from(old).toString('base64') + '\n' } : undefined));
    const change = await r().plan(probe(`regular file|644|root|root\n${sha(old)}\n`), makeCtx(remote, { wantDiff: true }));
    expect(change?.diff).toEqual({ path: PATH, before: old, after: CONF });
    expect(remote.calls).toHaveLength(1);
    expect(remote.calls[0].check).toBe(false);
    expect(remote.calls[0].script).toContain(`stat -c %s -- ${PATH}`);
  });

  it('shows no diff when the remote file is binary or too large', async () => {
    const binary = new FakeRemote(() => ({ stdout: Buffer.from([0x7f, 0x45, 0x00, 0x01]).toString('base64') }));
    const c1 = await r().plan(probe(`regular file|644|root|root\n${sha('x')}\n`), makeCtx(binary, { wantDiff: true }));
    expect(c1?.summary).toBe('content');
    expect(c1?.diff).toBeUndefined();
    const tooLarge = new FakeRemote(() => ({ code: 1 }));
    const c2 = await r().plan(probe(`regular file|644|root|root\n${sha('x')}\n`), makeCtx(tooLarge, { wantDiff: true }));
    expect(c2?.diff).toBeUndefined();
  });

  it('never diffs binary desired content', async () => {
    const remote = new FakeRemote();
    const res = file({ path: '/usr/local/bin/tool', content: Buffer.from([1, 0, 2, 0]), mode: '0755' });
    const change = await res.plan(probe('absent\n', 1), makeCtx(remote, { wantDiff: true }));
    expect(change?.summary).toBe('create (4 bytes, mode 755)');
    expect(change?.diff).toBeUndefined();
  });

  it('refuses to replace a directory, a symlink or a device', async () => {
    const ctx = makeCtx(new FakeRemote());
    await expect(r().plan(probe('directory|755|root|root\n', 1), ctx)).rejects.toThrow(`${PATH} exists but is a directory, not a regular file`);
    await expect(r().plan(probe('symbolic link|777|root|root\n', 1), ctx)).rejects.toThrow('is a symbolic link');
    await expect(r().plan(probe('character special file|666|root|root\n', 1), ctx)).rejects.toThrow('character special file');
  });

  it('validates the mode when the resource is declared', () => {
    expect(() => file({ path: '/x', content: '', mode: '644x' })).toThrow(/invalid file mode/);
    expect(() => file({ path: '/x', content: '', mode: '99' })).toThrow(/invalid file mode/);
    expect(() => file({ path: '/x', content: '', mode: '1777' })).not.toThrow();
  });

  it('carries tags and notify', () => {
    const res = file({ path: '/x', content: '', tags: ['ssh'], notify: 'reload ssh' });
    expect(res.tags).toEqual(['ssh']);
    expect(res.notify).toEqual(['reload ssh']);
  });
});

describe('file: apply scripts', () => {
  it('writes new content in one round trip: scripts/write-file.sh with quoted arguments, the content on stdin', async () => {
    const remote = new FakeRemote();
    const res = file({ path: PATH, content: CONF, mode: '0600', validate: '/usr/sbin/sshd -t -f %s' });
    await res.apply({ summary: 'content', data: { contentChanged: true } }, makeCtx(remote));
    expect(remote.calls).toHaveLength(1);
    const { script, stdin } = remote.calls[0];
    expect(stdin?.toString()).toBe(CONF);
    const [args, ...body] = script.split('\n');
    const tmp = args.match(/ (\/etc\/ssh\/sshd_config\.d\/\.rigger-[0-9a-f]{12}\.tmp) /)?.[1];
    expect(tmp).toBeDefined();
    // the validate command gets the temp file as "$1": no path is spliced into its text
    expect(args).toBe(`set -- ${PATH} ${tmp} root:root 600 0 1 '/usr/sbin/sshd -t -f "$1"' '/usr/sbin/sshd -t -f %s'`);
    expect(body.join('\n')).toBe(readFileSync(new URL('../../lib/resources/scripts/write-file.sh', import.meta.url), 'utf8'));
  });

  it('uses a fresh temp name for every write', async () => {
    const remote = new FakeRemote();
    const res = file({ path: '/etc/x.conf', content: 'x' });
    await res.apply({ summary: '', data: { contentChanged: true } }, makeCtx(remote));
    await res.apply({ summary: '', data: { contentChanged: true } }, makeCtx(remote));
    const tmps = remote.scripts.map((s) => s.match(/\.rigger-[0-9a-f]+\.tmp/)?.[0]);
    expect(tmps[0]).toBeTruthy();
    expect(tmps[0]).not.toBe(tmps[1]);
  });

  it('only chowns and chmods when the content is already right', async () => {
    const remote = new FakeRemote();
    await file({ path: PATH, content: CONF, mode: '0600' }).apply({ summary: 'mode 644 -> 600', data: { contentChanged: false } }, makeCtx(remote));
    expect(remote.calls).toEqual([{ script: `chown -- root:root ${PATH} && chmod -- 600 ${PATH}`, stdin: undefined, check: true }]);
  });

  it('creates parent directories when asked', async () => {
    const remote = new FakeRemote();
    await file({ path: '/etc/rigger/conf.d/a.conf', content: 'a', makeDirs: true }).apply({ summary: '', data: { contentChanged: true } }, makeCtx(remote));
    expect(remote.calls).toHaveLength(1);
    expect(remote.calls[0].script).toMatch(/^set -- \/etc\/rigger\/conf\.d\/a\.conf \S+ root:root 644 1 1 '' ''\n/);
  });

  it('sends content above 256 KiB over the upload channel, not through the shell', async () => {
    const remote = new FakeRemote();
    const big = Buffer.alloc(300 * 1024, 'a');
    await file({ path: '/opt/big/blob', content: big, makeDirs: true, validate: 'test -s %s' }).apply({ summary: '', data: { contentChanged: true } }, makeCtx(remote));
    expect(remote.calls.map((c) => c.script)[0]).toBe('mkdir -p -- /opt/big');
    expect(remote.uploads).toHaveLength(1);
    expect(remote.uploads[0].path).toMatch(/^\/opt\/big\/\.rigger-[0-9a-f]{12}\.tmp$/);
    expect(remote.uploads[0].content.equals(big)).toBe(true);
    expect(remote.calls[1].stdin).toBeUndefined();
    // inline 0: the temp file is the uploaded one
    expect(remote.calls[1].script.split('\n')[0]).toBe(`set -- /opt/big/blob ${remote.uploads[0].path} root:root 644 1 0 'test -s "$1"' 'test -s %s'`);
  });

  it('refuses a relative path when declared', () => {
    expect(() => file({ path: 'etc/x', content: '' })).toThrow('file "etc/x": expected an absolute path');
    expect(() => file({ path: '-rf', content: '' })).toThrow(/expected an absolute path/);
  });
});

describe('file: executed locally with /bin/sh', () => {
  let dir: string;
  let cleanup: () => void;
  const me = currentUser();
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  const leftovers = (d: string) => readdirSync(d).filter((n) => n.includes('rigger'));

  it('creates the file, then plans nothing (idempotent)', async () => {
    const path = join(dir, 'app.conf');
    const res = file({ path, content: CONF, mode: '0640', ...me });
    const ctx = makeCtx(new LocalRemote());
    const change = await probeAndPlan(res, ctx);
    expect(change?.summary).toBe(`create (${Buffer.byteLength(CONF)} bytes, mode 640)`);
    await res.apply(change!, ctx);
    expect(readFileSync(path, 'utf8')).toBe(CONF);
    expect(statSync(path).mode & 0o7777).toBe(0o640);
    expect(await probeAndPlan(res, ctx)).toBeNull();
    expect(leftovers(dir)).toEqual([]);
  });

  it('replaces changed content by rename (new inode) and shows a diff against the real old text', async () => {
    const path = join(dir, 'app.conf');
    writeFileSync(path, 'PermitRootLogin yes\n', { mode: 0o644 });
    const inode = statSync(path).ino;
    const res = file({ path, content: CONF, ...me });
    const ctx = makeCtx(new LocalRemote(), { wantDiff: true });
    const change = await probeAndPlan(res, ctx);
    expect(change?.summary).toBe('content');
    expect(change?.diff).toEqual({ path, before: 'PermitRootLogin yes\n', after: CONF });
    await res.apply(change!, ctx);
    expect(readFileSync(path, 'utf8')).toBe(CONF);
    expect(statSync(path).ino).not.toBe(inode);
    expect(await probeAndPlan(res, ctx)).toBeNull();
  });

  it('fixes only the mode in place when the content is right', async () => {
    const path = join(dir, 'secret.toml');
    writeFileSync(path, 'token = "x"\n');
    chmodSync(path, 0o644);
    const inode = statSync(path).ino;
    const res = file({ path, content: 'token = "x"\n', mode: '0600', ...me });
    const ctx = makeCtx(new LocalRemote());
    const change = await probeAndPlan(res, ctx);
    expect(change?.summary).toBe('mode 644 -> 600');
    await res.apply(change!, ctx);
    expect(statSync(path).mode & 0o7777).toBe(0o600);
    expect(statSync(path).ino).toBe(inode);
    expect(await probeAndPlan(res, ctx)).toBeNull();
  });

  it('leaves the old file intact and no temp file behind when validation fails', async () => {
    const path = join(dir, 'sshd.conf');
    writeFileSync(path, 'Port 22\n');
    const res = file({ path, content: 'Port banana\n', ...me, validate: `grep -q '^Port [0-9]*$' %s` });
    const ctx = makeCtx(new LocalRemote());
    const change = await probeAndPlan(res, ctx);
    await expect(res.apply(change!, ctx)).rejects.toThrow(/exit 3.*validation failed: grep -q '\^Port \[0-9\]\*\$' %s/s);
    expect(readFileSync(path, 'utf8')).toBe('Port 22\n');
    expect(leftovers(dir)).toEqual([]);
  });

  it('runs the validate command on the new temp file, with its final mode already set', async () => {
    const path = join(dir, 'sshd.conf');
    writeFileSync(path, 'Port 22\n');
    const seen = join(dir, 'seen');
    const res = file({ path, content: 'Port 2222\n', mode: '0600', ...me, validate: `sh -c 'cat "$1" > ${seen}; stat -c %a "$1" >> ${seen}; [ "$1" != ${path} ]' v %s` });
    const ctx = makeCtx(new LocalRemote());
    await res.apply((await probeAndPlan(res, ctx))!, ctx);
    expect(readFileSync(seen, 'utf8')).toBe('Port 2222\n600\n');
    expect(readFileSync(path, 'utf8')).toBe('Port 2222\n');
  });

  it('creates missing parent directories with makeDirs, and fails without', async () => {
    const path = join(dir, 'a/b/c.conf');
    const ctx = makeCtx(new LocalRemote());
    const without = file({ path, content: 'x', ...me });
    await expect(without.apply((await probeAndPlan(without, ctx))!, ctx)).rejects.toThrow(/remote command failed/);
    const res = file({ path, content: 'x', ...me, makeDirs: true });
    await res.apply((await probeAndPlan(res, ctx))!, ctx);
    expect(readFileSync(path, 'utf8')).toBe('x');
    expect(await probeAndPlan(res, ctx)).toBeNull();
  });

  it('handles paths with spaces and quotes', async () => {
    const path = join(dir, `it's a "file".conf`);
    const res = file({ path, content: 'x\n', ...me });
    const ctx = makeCtx(new LocalRemote());
    await res.apply((await probeAndPlan(res, ctx))!, ctx);
    expect(readFileSync(path, 'utf8')).toBe('x\n');
    expect(await probeAndPlan(res, ctx)).toBeNull();
  });

  it('writes binary content byte for byte', async () => {
    const path = join(dir, 'blob.bin');
    const content = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256));
    const res = file({ path, content, ...me });
    const ctx = makeCtx(new LocalRemote(), { wantDiff: true });
    const change = await probeAndPlan(res, ctx);
    expect(change?.diff).toBeUndefined();
    await res.apply(change!, ctx);
    expect(readFileSync(path).equals(content)).toBe(true);
    expect(await probeAndPlan(res, ctx)).toBeNull();
  });

  it('writes a large file through upload and renames it into place', async () => {
    const path = join(dir, 'big/blob');
    const content = Buffer.alloc(300 * 1024, 'z');
    const remote = new LocalRemote();
    const res = file({ path, content, ...me, makeDirs: true, mode: '0644' });
    const ctx = makeCtx(remote);
    await res.apply((await probeAndPlan(res, ctx))!, ctx);
    expect(remote.uploads).toHaveLength(1);
    expect(readFileSync(path).equals(content)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(leftovers(join(dir, 'big'))).toEqual([]);
    expect(await probeAndPlan(res, ctx)).toBeNull();
  });

  it('refuses a symlink at the path instead of writing through it', async () => {
    const target = join(dir, 'target');
    writeFileSync(target, 'keep\n');
    const path = join(dir, 'link');
    symlinkSync(target, path);
    const res = file({ path, content: 'new\n', ...me });
    await expect(probeAndPlan(res, makeCtx(new LocalRemote()))).rejects.toThrow('is a symbolic link');
    expect(readFileSync(target, 'utf8')).toBe('keep\n');
  });

  it('writeAtomically can be used directly (authorized_keys, keyrings)', async () => {
    mkdirSync(join(dir, 'sub'));
    const path = join(dir, 'sub/out');
    await writeAtomically(makeCtx(new LocalRemote()), path, Buffer.from('hello'), { mode: '600', ...me });
    expect(readFileSync(path, 'utf8')).toBe('hello');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(existsSync(path)).toBe(true);
  });

  it('does not need the previous change object to be re-planned between runs', async () => {
    // a second resource with other content sees the first one's result on the next probe
    const path = join(dir, 'x');
    const ctx = makeCtx(new LocalRemote());
    const a = file({ path, content: 'a', ...me });
    const b = file({ path, content: 'b', ...me });
    await a.apply((await probeAndPlan(a, ctx))!, ctx);
    expect((await probeAndPlan(b, ctx))?.summary).toBe('content');
    expect(await probeAndPlan(a, ctx)).toBeNull();
  });
});

describe('file: generated scripts', () => {
  itPassesShellcheck(10);
});
