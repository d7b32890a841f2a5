import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configEscape, render, template } from '../../lib/resources/template.js';
import { cron } from '../../lib/resources/cron.js';
import { FakeRemote } from './helpers/fakeRemote.js';
import { makeCtx, probe } from './helpers/context.js';
import { tempDir } from './helpers/localRemote.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('configEscape', () => {
  it('passes values through without HTML escaping', () => {
    expect(configEscape(`<a href="x">&'`)).toBe(`<a href="x">&'`);
    expect(configEscape(42)).toBe('42');
    expect(configEscape(false)).toBe('false');
  });

  it('renders null and undefined as empty', () => {
    expect(configEscape(undefined)).toBe('');
    expect(configEscape(null)).toBe('');
  });

  it('refuses values with a newline or carriage return', () => {
    expect(() => configEscape('yes\nPermitRootLogin yes')).toThrow(/contains a newline/);
    expect(() => configEscape('a\rb')).toThrow(/contains a newline/);
  });
});

describe('render / template', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  const tpl = (text: string) => {
    const p = join(dir, 'conf.ejs');
    writeFileSync(p, text);
    return p;
  };

  it('substitutes <%= %> values verbatim (no HTML entities)', () => {
    const src = tpl('Banner <%= banner %>\nMatch User <%= users.join(",") %>\n');
    expect(render(src, { banner: '<Authorized use only & "logged">', users: ['a', 'b'] })).toBe('Banner <Authorized use only & "logged">\nMatch User a,b\n');
  });

  it('refuses to inject extra lines through <%= %> and names the template', () => {
    const src = tpl('PasswordAuthentication <%= pw %>\n');
    expect(() => render(src, { pw: 'no\nPermitRootLogin yes' })).toThrow(new RegExp(`template ${src}: .*contains a newline`, 's'));
  });

  it('lets <%- %> emit intended multi-line raw text', () => {
    const src = tpl('<%- block %>\nend\n');
    expect(render(src, { block: 'a\nb' })).toBe('a\nb\nend\n');
  });

  it('supports control flow and reports undefined variables with the template name', () => {
    const src = tpl('<% for (const h of hosts) { -%>\nallow <%= h %>\n<% } -%>\n');
    expect(render(src, { hosts: ['10.0.0.1', '10.0.0.2'] })).toBe('allow 10.0.0.1\nallow 10.0.0.2\n');
    expect(() => render(src, {})).toThrow(new RegExp(`template ${src}: .*hosts is not defined`, 's'));
  });

  it('is a file resource with id template:<path> and the rendered content', async () => {
    const src = tpl('Port <%= port %>\n');
    const r = template({ path: '/etc/ssh/sshd_config.d/10-port.conf', src, vars: { port: 2222 }, mode: '0600', notify: 'reload ssh', tags: ['ssh'] });
    expect(r.id).toBe('template:/etc/ssh/sshd_config.d/10-port.conf');
    expect(r.notify).toEqual(['reload ssh']);
    expect(r.tags).toEqual(['ssh']);
    const ctx = makeCtx(new FakeRemote(), { wantDiff: true });
    const change = await r.plan(probe('absent\n', 1), ctx);
    expect(change?.diff?.after).toBe('Port 2222\n');
    expect(await r.plan(probe(`regular file|600|root|root\n${sha('Port 2222\n')}\n`), ctx)).toBeNull();
  });

  it('fails at declaration time when a value would inject a line', () => {
    const src = tpl('User <%= user %>\n');
    expect(() => template({ path: '/etc/x', src, vars: { user: 'x\ny' } })).toThrow(/contains a newline/);
  });
});

describe('cron', () => {
  it('writes one /etc/cron.d file with SHELL, PATH, env and the entry line', async () => {
    const r = cron({ name: 'docker-cleanup', schedule: '17 3 * * *', command: '/usr/local/sbin/docker-cleanup --quiet', env: { MAILTO: '' }, tags: ['cleanup'] });
    expect(r.id).toBe('cron:docker-cleanup');
    expect(r.tags).toEqual(['cleanup']);
    const change = await r.plan(probe('absent\n', 1), makeCtx(new FakeRemote(), { wantDiff: true }));
    expect(change?.diff?.path).toBe('/etc/cron.d/docker-cleanup');
    expect(change?.diff?.after).toBe(
      '# managed by rigger: docker-cleanup\n' +
        'SHELL=/bin/sh\n' +
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n' +
        'MAILTO=\n' +
        '17 3 * * * root /usr/local/sbin/docker-cleanup --quiet\n',
    );
    expect(change?.summary).toMatch(/mode 644\)$/);
    expect(r.probe).toContain("stat -c '%F|%a|%U|%G' -- /etc/cron.d/docker-cleanup");
  });

  it('accepts @keywords and a user', async () => {
    const r = cron({ name: 'backup_db', schedule: '  @daily ', command: 'pg_dumpall > /var/backups/db.sql', user: 'postgres' });
    const change = await r.plan(probe('absent\n', 1), makeCtx(new FakeRemote(), { wantDiff: true }));
    expect(change?.diff?.after.split('\n').at(-2)).toBe('@daily postgres pg_dumpall > /var/backups/db.sql');
  });

  it('refuses names that run-parts / cron would ignore', () => {
    for (const name of ['docker.cleanup', 'a/b', 'x y', '', 'évian']) {
      expect(() => cron({ name, schedule: '@daily', command: 'true' }), name).toThrow(/cron name/);
    }
    expect(() => cron({ name: 'A_b-9', schedule: '@daily', command: 'true' })).not.toThrow();
  });

  it('refuses schedules that are not five fields or a known @keyword', () => {
    for (const schedule of ['* * * *', '0 3 * * * root', '@every 5m', '@midnight', '', '0 3 * *\n*']) {
      expect(() => cron({ name: 'x', schedule, command: 'true' }), JSON.stringify(schedule)).toThrow(/is not five cron fields or an @keyword/);
    }
    for (const schedule of ['*/5 * * * *', '0 3 * * mon-fri', '@reboot', '@annually', '0\t3\t*\t*\t*']) {
      expect(() => cron({ name: 'x', schedule, command: 'true' }), schedule).not.toThrow();
    }
  });

  it('refuses multi-line commands and environment values', () => {
    expect(() => cron({ name: 'x', schedule: '@daily', command: 'true\n* * * * * root evil' })).toThrow(/one line/);
    expect(() => cron({ name: 'x', schedule: '@daily', command: 'true', env: { MAILTO: 'a\n* * * * * root evil' } })).toThrow(/one-line value/);
    expect(() => cron({ name: 'x', schedule: '@daily', command: 'true', env: { 'BAD KEY': 'v' } })).toThrow(/variable name/);
  });
});

describe('secrets and cron escaping', () => {
  it('writes a Secret as its value in a template, and refuses one with a newline without showing it', async () => {
    const { Secret } = await import('../../lib/secrets.js');
    expect(configEscape(new Secret('s3cr3t-value', 'TOKEN'))).toBe('s3cr3t-value');
    expect(() => configEscape(new Secret('line1\nline2-secret', 'MULTI'))).toThrow(/\[secret MULTI\] contains a newline/);
    try {
      configEscape(new Secret('line1\nline2-secret', 'MULTI'));
    } catch (e: any) {
      expect(e.message).not.toContain('line2-secret');
    }
  });

  it('escapes % in a cron command, which cron would turn into a newline', () => {
    const r = cron({ name: 'stamp', schedule: '@daily', command: 'date +%F > /tmp/stamp' });
    // the planned diff shows the content the resource writes
    const change = r.plan({ stdout: 'absent\n', code: 0 }, { wantDiff: true } as any) as any;
    return Promise.resolve(change).then((c) => expect(c.diff.after).toContain('root date +\\%F > /tmp/stamp'));
  });
});
