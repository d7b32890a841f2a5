// A systemd unit's state: enabled/disabled, started/stopped, masked.
import type { Change, CommonOptions, Handler, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { base } from './common.js';
import { shq } from './shell.js';

export interface ServiceOptions extends CommonOptions {
  unit: string;
  enabled?: boolean;
  state?: 'started' | 'stopped';
  masked?: boolean;
}

export function service(opts: ServiceOptions): Resource {
  const unit = opts.unit.includes('.') ? opts.unit : `${opts.unit}.service`;
  const u = shq(unit);
  return {
    ...base('service', unit, opts),
    probe: `systemctl is-enabled ${u} 2>/dev/null; echo "|"; systemctl is-active ${u} 2>/dev/null; true`,
    plan(current: ProbeResult): Change | null {
      const [enabledPart, activePart] = current.stdout.split('|');
      const enabledState = enabledPart.trim() || 'not-found';
      const active = activePart?.trim() === 'active' || activePart?.trim() === 'reloading';
      const actions: string[] = [];
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
    async apply(change: Change, ctx: HostContext): Promise<void> {
      const actions = change.data as string[];
      const cmds = actions.map((a) => (a === 'enable' || a === 'disable' || a === 'mask' || a === 'unmask' ? `systemctl ${a} ${u} 2>&1` : `systemctl ${a} ${u}`));
      await ctx.remote.run(['set -e', 'systemctl daemon-reload', ...cmds].join('\n'));
    },
  };
}

/** A handler that restarts or reloads a unit once after its role, if notified. */
export function serviceHandler(name: string, unit: string, action: 'restart' | 'reload' | 'reload-or-restart' | 'try-restart'): Handler {
  return {
    name,
    async run(ctx: HostContext) {
      await ctx.remote.run(`systemctl ${action} ${shq(unit)}`);
    },
  };
}
