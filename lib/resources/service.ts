// A systemd unit's state: enabled/disabled, started/stopped, masked.
import type { Change, CommonOptions, Handler, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { base } from './common.js';
import { Script, sh } from './shell.js';

export interface ServiceOptions extends CommonOptions {
  unit: string;
  enabled?: boolean;
  state?: 'started' | 'stopped';
  masked?: boolean;
}

type Action = 'enable' | 'disable' | 'mask' | 'unmask' | 'start' | 'stop';

/** A systemd unit name (systemd.unit(5)): a value with other characters is refused, not quoted. */
export function unitName(unit: string): string {
  const u = unit.includes('.') ? unit : `${unit}.service`;
  if (!/^[A-Za-z0-9:_.\\@][A-Za-z0-9:_.\\@-]*$/.test(u) || u.length > 255) throw new Error(`service: ${JSON.stringify(unit)} is not a systemd unit name`);
  return u;
}

export function service(opts: ServiceOptions): Resource<Action[]> {
  const unit = unitName(opts.unit);
  return {
    ...base('service', unit, opts),
    probe: sh`systemctl is-enabled -- ${unit} 2>/dev/null; echo "|"; systemctl is-active -- ${unit} 2>/dev/null; true`.text,
    plan(current: ProbeResult): Change<Action[]> | null {
      const [enabledPart, activePart] = current.stdout.split('|');
      const enabledState = enabledPart.trim() || 'not-found';
      const active = activePart?.trim() === 'active' || activePart?.trim() === 'reloading';
      const actions: Action[] = [];
      const masked = enabledState.startsWith('masked');
      if (opts.masked === true && !masked) actions.push('mask');
      if (opts.masked === false && masked) actions.push('unmask');
      if (opts.masked !== true) {
        const isEnabled = ['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated'].includes(enabledState);
        if (opts.enabled === true && !isEnabled) actions.push('enable');
        if (opts.enabled === false && enabledState === 'enabled') actions.push('disable');
        if (opts.state === 'started' && !active) actions.push('start');
      }
      if ((opts.state === 'stopped' || opts.masked === true) && active) actions.push('stop');
      return actions.length ? { summary: actions.join(', '), data: actions } : null;
    },
    async apply(change: Change<Action[]>, ctx: HostContext): Promise<void> {
      // enable/disable/mask/unmask report what they did on stderr, which would read as an error
      const cmds = change.data!.map((a) => (a === 'start' || a === 'stop' ? sh`systemctl ${a} -- ${unit}` : sh`systemctl ${a} -- ${unit} 2>&1`));
      await ctx.remote.run(Script.join([sh`set -e`, sh`systemctl daemon-reload`, ...cmds]).text);
    },
  };
}

/** A handler that restarts or reloads a unit once after its role, if notified. */
export function serviceHandler(name: string, unit: string, action: 'restart' | 'reload' | 'reload-or-restart' | 'try-restart'): Handler {
  const u = unitName(unit);
  return {
    name,
    async run(ctx: HostContext) {
      await ctx.remote.run(sh`systemctl ${action} -- ${u}`.text);
    },
  };
}
