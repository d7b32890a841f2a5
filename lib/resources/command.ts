// A command guarded by `creates` / `unless` / `onlyIf`, so it is idempotent
// and check mode can tell honestly whether it would run.
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { base } from './common.js';
import { shq } from './shell.js';

export interface CommandOptions extends CommonOptions {
  name: string;
  run: string;
  /** skip when this path exists */
  creates?: string;
  /** skip when this (read-only) command succeeds */
  unless?: string;
  /** run only when this (read-only) command succeeds */
  onlyIf?: string;
}

export function command(opts: CommandOptions): Resource {
  if (!opts.creates && !opts.unless && !opts.onlyIf) throw new Error(`command ${opts.name}: needs a creates, unless or onlyIf guard to be idempotent`);
  const checks = [
    opts.creates ? `[ -e ${shq(opts.creates)} ] && echo skip:creates` : '',
    // the guard on lines of its own: a trailing "# comment" in it cannot swallow the ")"
    opts.unless ? `(\n${opts.unless}\n) >/dev/null 2>&1 && echo skip:unless` : '',
    opts.onlyIf ? `(\n${opts.onlyIf}\n) >/dev/null 2>&1 || echo skip:onlyif` : '',
  ].filter(Boolean);
  return {
    ...base('command', opts.name, opts),
    probe: checks.join('; ') + '; true',
    plan(current: ProbeResult): Change | null {
      return current.stdout.includes('skip:') ? null : { summary: `run: ${opts.run.split('\n')[0].slice(0, 80)}` };
    },
    async apply(_c: Change, ctx: HostContext): Promise<void> {
      await ctx.remote.run(opts.run);
    },
  };
}
