// A command guarded by `creates` / `unless` / `onlyIf`, so it is idempotent
// and check mode can tell honestly whether it would run.
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { clip } from '../secrets.js';
import { base } from './common.js';
import { raw, Script, sh } from './shell.js';

/** Shell code written in a role: a string is taken as code as it is; build it from values with `sh`. */
export type Code = string | Script;

export interface CommandOptions extends CommonOptions {
  name: string;
  run: Code;
  /** skip when this path exists */
  creates?: string;
  /** skip when this (read-only) command succeeds */
  unless?: Code;
  /** run only when this (read-only) command succeeds */
  onlyIf?: Code;
}

const code = (c: Code) => (c instanceof Script ? c : raw(c));

export function command(opts: CommandOptions): Resource<void> {
  if (!opts.creates && !opts.unless && !opts.onlyIf) throw new Error(`command ${opts.name}: needs a creates, unless or onlyIf guard to be idempotent`);
  const run = code(opts.run).text;
  const checks = Script.join(
    [
      opts.creates !== undefined && sh`[ -e ${opts.creates} ] && echo skip:creates`,
      // a guard is code of its own, run by its own sh: its text is one quoted argument,
      // so a trailing "# comment" or an `exit` in it cannot touch its neighbours
      opts.unless !== undefined && sh`sh -c ${code(opts.unless).text} >/dev/null 2>&1 && echo skip:unless`,
      opts.onlyIf !== undefined && sh`sh -c ${code(opts.onlyIf).text} >/dev/null 2>&1 || echo skip:onlyif`,
      raw('true'),
    ],
    '\n',
  );
  return {
    ...base('command', opts.name, opts),
    probe: checks.text,
    plan(current: ProbeResult): Change<void> | null {
      // redacted before it is cut: a secret cut in two would no longer be recognised
      return current.stdout.includes('skip:') ? null : { summary: `run: ${clip(run.split('\n')[0], 80)}` };
    },
    async apply(_c: Change<void>, ctx: HostContext): Promise<void> {
      await ctx.remote.run(run);
    },
  };
}
