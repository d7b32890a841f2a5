import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { service, serviceHandler, type ServiceOptions } from '../../lib/resources/service.js';
import { FakeRemote } from './helpers/fakeRemote.js';
import { makeCtx, probe, sync } from './helpers/context.js';
import { LocalRemote, probeAndPlan, tempDir } from './helpers/localRemote.js';
import { fakeSystemd, type FakeSystemd } from './helpers/fakeSystemctl.js';
import { itPassesShellcheck } from './helpers/shellcheck.js';

/** What the service probe prints on Debian 12: `systemctl is-enabled`, "|", `systemctl is-active`. */
const out = (enabled: string, active: string) => `${enabled ? enabled + '\n' : ''}|\n${active}\n`;
const plan = (opts: Omit<ServiceOptions, 'unit'>, enabled: string, active: string) =>
  sync(service({ unit: 'gitlab-runner', ...opts }).plan(probe(out(enabled, active)), makeCtx(new FakeRemote())));

describe('service: declaration', () => {
  it('adds .service to bare unit names and keeps other unit types', () => {
    expect(service({ unit: 'ssh' }).id).toBe('service:ssh.service');
    expect(service({ unit: 'docker.socket' }).id).toBe('service:docker.socket');
    expect(service({ unit: 'apt-daily.timer' }).probe).toBe('systemctl is-enabled -- apt-daily.timer 2>/dev/null; echo "|"; systemctl is-active -- apt-daily.timer 2>/dev/null; true');
  });

  it('refuses what is not a unit name, instead of quoting it', () => {
    expect(() => service({ unit: 'ssh; reboot' })).toThrow('service: "ssh; reboot" is not a systemd unit name');
    expect(() => service({ unit: '--now' })).toThrow(/is not a systemd unit name/);
    expect(() => serviceHandler('x', '$(id)', 'restart')).toThrow(/is not a systemd unit name/);
    expect(service({ unit: 'getty@tty1' }).id).toBe('service:getty@tty1.service');
  });
});

describe('service: plan', () => {
  it('is null when enabled and running', () => {
    expect(plan({ enabled: true, state: 'started' }, 'enabled', 'active')).toBeNull();
  });

  it('enables and starts a disabled, stopped unit', () => {
    expect(plan({ enabled: true, state: 'started' }, 'disabled', 'inactive')).toEqual({ summary: 'enable, start', data: ['enable', 'start'] });
  });

  it('starts a failed or still activating unit', () => {
    expect(plan({ state: 'started' }, 'enabled', 'failed')?.summary).toBe('start');
    expect(plan({ state: 'started' }, 'enabled', 'activating')?.summary).toBe('start');
  });

  it('treats reloading as running', () => {
    expect(plan({ state: 'started' }, 'enabled', 'reloading')).toBeNull();
  });

  it('does not try to enable static, indirect or generated units', () => {
    for (const s of ['static', 'indirect', 'generated', 'enabled-runtime', 'alias']) expect(plan({ enabled: true }, s, 'active'), s).toBeNull();
  });

  it('stops a running unit for state stopped, and leaves a stopped one alone', () => {
    expect(plan({ state: 'stopped' }, 'enabled', 'active')).toEqual({ summary: 'stop', data: ['stop'] });
    expect(plan({ state: 'stopped' }, 'enabled', 'inactive')).toBeNull();
  });

  it('disables only what is enabled', () => {
    expect(plan({ enabled: false, state: 'stopped' }, 'enabled', 'active')?.summary).toBe('disable, stop');
    expect(plan({ enabled: false }, 'disabled', 'inactive')).toBeNull();
    expect(plan({ enabled: false }, 'static', 'active')).toBeNull();
  });

  it('masks and stops a running unit; a masked, stopped unit is left alone', () => {
    expect(plan({ masked: true }, 'enabled', 'active')).toEqual({ summary: 'mask, stop', data: ['mask', 'stop'] });
    expect(plan({ masked: true }, 'masked', 'inactive')).toBeNull();
    expect(plan({ masked: true }, 'masked-runtime', 'inactive')).toBeNull();
    // masking wins over enable/start
    expect(plan({ masked: true, enabled: true, state: 'started' }, 'enabled', 'inactive')?.summary).toBe('mask');
  });

  it('unmasks, enables and starts a masked unit', () => {
    expect(plan({ masked: false, enabled: true, state: 'started' }, 'masked', 'inactive')).toEqual({ summary: 'unmask, enable, start', data: ['unmask', 'enable', 'start'] });
    expect(plan({ masked: false }, 'disabled', 'inactive')).toBeNull();
  });

  it('leaves the unit alone when nothing is asked', () => {
    expect(plan({}, 'masked', 'active')).toBeNull();
    expect(plan({}, '', 'inactive')).toBeNull();
  });

  it('plans enable for a unit that does not exist yet (is-enabled prints nothing)', () => {
    expect(plan({ enabled: true, state: 'started' }, '', 'inactive')?.summary).toBe('enable, start');
  });
});

describe('service: apply script and handlers', () => {
  it('reloads systemd then runs the actions in order, stopping at the first failure', async () => {
    const remote = new FakeRemote();
    await service({ unit: 'gitlab-runner' }).apply({ summary: '', data: ['unmask', 'enable', 'start'] }, makeCtx(remote));
    expect(remote.scripts).toEqual([
      'set -e\nsystemctl daemon-reload\nsystemctl unmask -- gitlab-runner.service 2>&1\nsystemctl enable -- gitlab-runner.service 2>&1\nsystemctl start -- gitlab-runner.service',
    ]);
  });

  it('serviceHandler runs one systemctl action', async () => {
    const remote = new FakeRemote();
    const h = serviceHandler('reload ssh', 'ssh.service', 'reload');
    expect(h.name).toBe('reload ssh');
    await h.run(makeCtx(remote));
    expect(remote.scripts).toEqual(['systemctl reload -- ssh.service']);
  });

  it('a failing handler command rejects', async () => {
    const remote = new FakeRemote(() => ({ code: 1, stderr: 'Job for ssh.service failed.' }));
    await expect(serviceHandler('restart ssh', 'ssh', 'restart').run(makeCtx(remote))).rejects.toThrow('Job for ssh.service failed.');
  });
});

describe('service: executed locally against a fake systemctl', () => {
  let dir: string;
  let cleanup: () => void;
  let sd: FakeSystemd;
  let ctx: ReturnType<typeof makeCtx>;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    sd = fakeSystemd(dir);
    ctx = makeCtx(new LocalRemote({ env: sd.env }));
  });
  afterEach(() => cleanup());

  const converge = async (opts: ServiceOptions) => {
    const r = service(opts);
    const change = await probeAndPlan(r, ctx);
    if (change) await r.apply(change, ctx);
    return { change, after: await probeAndPlan(r, ctx) };
  };

  it('enables and starts, then is idempotent', async () => {
    sd.setUnit('gitlab-runner.service', 'disabled', 'inactive');
    const { change, after } = await converge({ unit: 'gitlab-runner', enabled: true, state: 'started' });
    expect(change?.summary).toBe('enable, start');
    expect(after).toBeNull();
    expect(sd.enabledOf('gitlab-runner.service')).toBe('enabled');
    expect(sd.activeOf('gitlab-runner.service')).toBe('active');
  });

  it('masks and stops a running unit, then is idempotent', async () => {
    sd.setUnit('apt-daily-upgrade.timer', 'enabled', 'active');
    const { change, after } = await converge({ unit: 'apt-daily-upgrade.timer', masked: true });
    expect(change?.summary).toBe('mask, stop');
    expect(after).toBeNull();
    expect(sd.enabledOf('apt-daily-upgrade.timer')).toBe('masked');
    expect(sd.activeOf('apt-daily-upgrade.timer')).toBe('inactive');
  });

  it('unmasks, enables and starts, then is idempotent', async () => {
    sd.setUnit('docker.service', 'masked', 'inactive');
    const { change, after } = await converge({ unit: 'docker', masked: false, enabled: true, state: 'started' });
    expect(change?.summary).toBe('unmask, enable, start');
    expect(after).toBeNull();
    expect(sd.log().filter((l) => !l.startsWith('is-'))).toEqual(['daemon-reload', 'unmask docker.service', 'enable docker.service', 'start docker.service']);
  });

  it('disables and stops, then is idempotent', async () => {
    sd.setUnit('nginx.service', 'enabled', 'active');
    const { change, after } = await converge({ unit: 'nginx', enabled: false, state: 'stopped' });
    expect(change?.summary).toBe('disable, stop');
    expect(after).toBeNull();
  });

  it('fails with systemctl’s message for a unit that does not exist', async () => {
    const r = service({ unit: 'gitlab-runner', enabled: true });
    const change = await probeAndPlan(r, ctx);
    expect(change?.summary).toBe('enable');
    await expect(r.apply(change!, ctx)).rejects.toThrow('Unit file gitlab-runner.service does not exist');
  });

  it('handlers restart through the same systemctl', async () => {
    sd.setUnit('ssh.service', 'enabled', 'inactive');
    await serviceHandler('restart ssh', 'ssh.service', 'restart').run(ctx);
    expect(sd.activeOf('ssh.service')).toBe('active');
  });
});

describe('service: generated scripts', () => {
  itPassesShellcheck(5);
});
