// A cron entry as its own file in /etc/cron.d.
import type { CommonOptions, ShellResource as Resource } from '../engine/types.js';
import { file, type FileChange } from './file.js';
import { clip } from '../secrets.js';
import { Script } from './shell.js';
import { accountName } from './user.js';

export interface CronOptions extends CommonOptions {
  /** file name in /etc/cron.d: letters, digits, _ and - only (cron ignores names with dots) */
  name: string;
  /** five cron fields, or @daily and friends */
  schedule: string;
  /** one line of shell; build it from values with `sh` */
  command: string | Script;
  user?: string;
  env?: Record<string, string>;
}

export function cron(opts: CronOptions): Resource<FileChange> {
  if (!/^[A-Za-z0-9_-]+$/.test(opts.name)) throw new Error(`cron name ${JSON.stringify(opts.name)}: expected letters, digits, _ or - only (run-parts ignores other names)`);
  if (!/^(@(reboot|yearly|annually|monthly|weekly|daily|hourly)|(\S+[ \t]+){4}\S+)$/.test(opts.schedule.trim()))
    throw new Error(`cron ${opts.name}: schedule ${JSON.stringify(opts.schedule)} is not five cron fields or an @keyword`);
  const command = opts.command instanceof Script ? opts.command.text : opts.command;
  if (/[\r\n]/.test(command)) throw new Error(`cron ${opts.name}: command ${JSON.stringify(clip(command, 60))} must be one line`);
  for (const [k, v] of Object.entries(opts.env ?? {}))
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /[\r\n]/.test(v)) throw new Error(`cron ${opts.name}: environment ${JSON.stringify(k)} must be a variable name with a one-line value`);
  const user = accountName(`cron ${opts.name}: user`, opts.user ?? 'root');
  const env = { SHELL: '/bin/sh', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...opts.env };
  const content =
    `# managed by rigger: ${opts.name}\n` +
    Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join('') +
    // cron turns an unescaped % into a newline (stdin of the command)
    `${opts.schedule.trim()} ${user} ${command.replace(/%/g, '\\%')}\n`;
  // cron ignores files that others can write; 0644 unless the entry holds a secret (file() then defaults to 0600)
  const r = file({ path: `/etc/cron.d/${opts.name}`, content, tags: opts.tags, notify: opts.notify, onlyIfChanged: opts.onlyIfChanged, after: opts.after });
  return { ...r, id: `cron:${opts.name}` };
}
