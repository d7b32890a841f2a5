// A cron entry as its own file in /etc/cron.d.
import type { CommonOptions, ShellResource as Resource } from '../engine/types.js';
import { file } from './file.js';

export interface CronOptions extends CommonOptions {
  /** file name in /etc/cron.d: letters, digits, _ and - only (cron ignores names with dots) */
  name: string;
  /** five cron fields, or @daily and friends */
  schedule: string;
  command: string;
  user?: string;
  env?: Record<string, string>;
}

export function cron(opts: CronOptions): Resource {
  if (!/^[A-Za-z0-9_-]+$/.test(opts.name)) throw new Error(`cron name ${JSON.stringify(opts.name)}: expected letters, digits, _ or - only (run-parts ignores other names)`);
  if (!/^(@(reboot|yearly|annually|monthly|weekly|daily|hourly)|(\S+[ \t]+){4}\S+)$/.test(opts.schedule.trim()))
    throw new Error(`cron ${opts.name}: schedule ${JSON.stringify(opts.schedule)} is not five cron fields or an @keyword`);
  if (/[\r\n]/.test(opts.command)) throw new Error(`cron ${opts.name}: command must be one line`);
  for (const [k, v] of Object.entries(opts.env ?? {}))
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /[\r\n]/.test(v)) throw new Error(`cron ${opts.name}: environment ${JSON.stringify(k)} must be a variable name with a one-line value`);
  const env = { SHELL: '/bin/sh', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...opts.env };
  const content =
    `# managed by rigger: ${opts.name}\n` +
    Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join('') +
    // cron turns an unescaped % into a newline (stdin of the command)
    `${opts.schedule.trim()} ${opts.user ?? 'root'} ${opts.command.replace(/%/g, '\\%')}\n`;
  const r = file({ path: `/etc/cron.d/${opts.name}`, content, mode: '0644', tags: opts.tags, notify: opts.notify });
  return { ...r, id: `cron:${opts.name}` };
}
