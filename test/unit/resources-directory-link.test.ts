import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, lstatSync, mkdirSync, readlinkSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { directory } from '../../lib/resources/directory.js';
import { link } from '../../lib/resources/link.js';
import { FakeRemote } from './helpers/fakeRemote.js';
import { makeCtx, probe, sync } from './helpers/context.js';
import { LocalRemote, currentUser, probeAndPlan, tempDir } from './helpers/localRemote.js';
import { itPassesShellcheck, recordScript } from './helpers/shellcheck.js';

describe('directory: plan', () => {
  const d = () => directory({ path: '/srv/runner/builds', mode: '0750', owner: 'gitlab-runner' });

  it('plans a create with the wanted attributes', () => {
    const r = d();
    expect(r.id).toBe('directory:/srv/runner/builds');
    expect(r.plan(probe('absent\n'), makeCtx(new FakeRemote()))).toEqual({ summary: 'create (mode 750, gitlab-runner:gitlab-runner)' });
  });

  it('is null when mode, owner and group match', () => {
    expect(d().plan(probe('directory|750|gitlab-runner|gitlab-runner\n'), makeCtx(new FakeRemote()))).toBeNull();
  });

  it('lists attribute differences', () => {
    expect(d().plan(probe('directory|755|root|root\n'), makeCtx(new FakeRemote()))).toEqual({
      summary: 'mode 755 -> 750, owner root -> gitlab-runner, group root -> gitlab-runner',
    });
  });

  it('defaults to 0755 root:root and handles sticky/setgid modes', () => {
    expect(directory({ path: '/x' }).plan(probe('directory|755|root|root\n'), makeCtx(new FakeRemote()))).toBeNull();
    const sticky = directory({ path: '/tmp/shared', mode: '1777' });
    expect(sticky.plan(probe('directory|1777|root|root\n'), makeCtx(new FakeRemote()))).toBeNull();
    expect(sync(sticky.plan(probe('directory|777|root|root\n'), makeCtx(new FakeRemote())))?.summary).toBe('mode 777 -> 1777');
  });

  it('refuses to turn a file or symlink into a directory', () => {
    expect(() => d().plan(probe('regular file|644|root|root\n'), makeCtx(new FakeRemote()))).toThrow('/srv/runner/builds exists but is a regular file, not a directory');
    expect(() => d().plan(probe('symbolic link|777|root|root\n'), makeCtx(new FakeRemote()))).toThrow('symbolic link');
  });

  it('applies with mkdir -p, chown, chmod in one round trip', async () => {
    const remote = new FakeRemote();
    await d().apply({ summary: '' }, makeCtx(remote));
    expect(remote.scripts).toEqual(['set -e; mkdir -p -- /srv/runner/builds; chown -- gitlab-runner:gitlab-runner /srv/runner/builds; chmod -- 750 /srv/runner/builds']);
  });
});

describe('link: plan', () => {
  const l = () => link({ path: '/usr/local/bin/docker-machine', target: '/opt/docker-machine/0.16.2-gitlab.29/docker-machine' });

  it('probes with readlink and plans create / retarget / nothing', () => {
    const r = l();
    expect(r.id).toBe('link:/usr/local/bin/docker-machine');
    const ctx = makeCtx(new FakeRemote());
    expect(r.plan(probe('absent\n'), ctx)).toEqual({ summary: 'create -> /opt/docker-machine/0.16.2-gitlab.29/docker-machine' });
    expect(r.plan(probe('link /opt/docker-machine/0.16.2-gitlab.29/docker-machine\n'), ctx)).toBeNull();
    expect(r.plan(probe('link /opt/docker-machine/0.16.2-gitlab.19/docker-machine\n'), ctx)).toEqual({
      summary: 'retarget /opt/docker-machine/0.16.2-gitlab.19/docker-machine -> /opt/docker-machine/0.16.2-gitlab.29/docker-machine',
    });
  });

  it('refuses to replace something that is not a link', () => {
    expect(() => l().plan(probe('other\n'), makeCtx(new FakeRemote()))).toThrow('exists and is not a symbolic link');
  });

  it('replaces the link atomically: new link beside it, then rename over it', async () => {
    const remote = new FakeRemote();
    await l().apply({ summary: '' }, makeCtx(remote));
    expect(remote.scripts).toEqual([
      'set -e; ln -sfn -- /opt/docker-machine/0.16.2-gitlab.29/docker-machine /usr/local/bin/docker-machine.rigger-tmp; mv -fT -- /usr/local/bin/docker-machine.rigger-tmp /usr/local/bin/docker-machine',
    ]);
  });
});

describe('directory and link: executed locally with /bin/sh', () => {
  let dir: string;
  let cleanup: () => void;
  const me = currentUser();
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('creates a nested directory with mode, then is idempotent', async () => {
    const path = join(dir, 'a/b c/d');
    const r = directory({ path, mode: '0750', ...me });
    const ctx = makeCtx(new LocalRemote());
    const change = await probeAndPlan(r, ctx);
    expect(change?.summary).toBe(`create (mode 750, ${me.owner}:${me.group})`);
    await r.apply(change!, ctx);
    expect(statSync(path).isDirectory()).toBe(true);
    expect(statSync(path).mode & 0o7777).toBe(0o750);
    expect(await probeAndPlan(r, ctx)).toBeNull();
  });

  it('fixes the mode of an existing directory without touching its content', async () => {
    const path = join(dir, 'data');
    mkdirSync(path);
    chmodSync(path, 0o777);
    writeFileSync(join(path, 'keep'), 'x');
    const r = directory({ path, mode: '0700', ...me });
    const ctx = makeCtx(new LocalRemote());
    const change = await probeAndPlan(r, ctx);
    expect(change?.summary).toBe('mode 777 -> 700');
    await r.apply(change!, ctx);
    expect(statSync(path).mode & 0o7777).toBe(0o700);
    expect(readdirSync(path)).toEqual(['keep']);
    expect(await probeAndPlan(r, ctx)).toBeNull();
  });

  it('sees a file in the way and refuses', async () => {
    const path = join(dir, 'f');
    writeFileSync(path, '');
    await expect(probeAndPlan(directory({ path, ...me }), makeCtx(new LocalRemote()))).rejects.toThrow('is a regular empty file, not a directory');
  });

  it('creates, then retargets a symlink atomically, idempotent each time', async () => {
    const v1 = join(dir, 'v1');
    const v2 = join(dir, 'v2');
    mkdirSync(v1);
    mkdirSync(v2);
    const path = join(dir, 'current');
    const ctx = makeCtx(new LocalRemote());
    const a = link({ path, target: v1 });
    const c1 = await probeAndPlan(a, ctx);
    expect(c1?.summary).toBe(`create -> ${v1}`);
    await a.apply(c1!, ctx);
    expect(readlinkSync(path)).toBe(v1);
    expect(await probeAndPlan(a, ctx)).toBeNull();

    // the old link points at a directory: the new one must replace it, not land inside v1
    const b = link({ path, target: v2 });
    const c2 = await probeAndPlan(b, ctx);
    expect(c2?.summary).toBe(`retarget ${v1} -> ${v2}`);
    await b.apply(c2!, ctx);
    expect(readlinkSync(path)).toBe(v2);
    expect(readdirSync(v1)).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['current', 'v1', 'v2']);
    expect(await probeAndPlan(b, ctx)).toBeNull();
  });

  it('keeps relative and dangling targets as written', async () => {
    const path = join(dir, 'rel');
    const r = link({ path, target: '../nowhere/x' });
    const ctx = makeCtx(new LocalRemote());
    await r.apply((await probeAndPlan(r, ctx))!, ctx);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path)).toBe('../nowhere/x');
    expect(await probeAndPlan(r, ctx)).toBeNull();
  });

  it('refuses to replace a real file or directory with a link', async () => {
    const ctx = makeCtx(new LocalRemote());
    writeFileSync(join(dir, 'file'), 'x');
    mkdirSync(join(dir, 'dir'));
    await expect(probeAndPlan(link({ path: join(dir, 'file'), target: '/x' }), ctx)).rejects.toThrow('is not a symbolic link');
    await expect(probeAndPlan(link({ path: join(dir, 'dir'), target: '/x' }), ctx)).rejects.toThrow('is not a symbolic link');
    symlinkSync('/etc', join(dir, 'other-link'));
    expect((await probeAndPlan(link({ path: join(dir, 'other-link'), target: '/x' }), ctx))?.summary).toBe('retarget /etc -> /x');
  });
});

describe('directory and link: generated scripts', () => {
  it('refuse relative paths and empty or multi-line targets', () => {
    expect(() => directory({ path: 'srv/x' })).toThrow('directory "srv/x": expected an absolute path');
    expect(() => link({ path: '/x', target: '' })).toThrow(/target "" must be a non-empty path/);
    expect(() => link({ path: '/x', target: 'a\nb' })).toThrow(/without newlines/);
    for (const r of [directory({ path: "/srv/it's" }), link({ path: '/x y', target: '../$(z)' })]) recordScript(r.probe);
  });
  itPassesShellcheck(4);
});
