/**
 * The playbook of confirm.test.ts: run in-process (confirmPlaybook) and as a
 * child process under a pseudo-terminal (so the real prompt on /dev/tty is
 * what answers):
 *
 *   RIGGER_IT_CONFIRM_DIR=/opt/x node --import <tsx loader> test/integration/helpers/confirmPlaybook.ts -i INVENTORY --confirm
 *
 * One role: a directory and two small files in it (nothing slow is installed),
 * and a handler the second file notifies.
 */
import { defineRole } from '../../../lib/engine/types.js';
import { playbook, type PlaybookDef } from '../../../lib/playbook.js';
import { directory, file } from '../../../lib/resources/index.js';
import { sh } from '../../../lib/resources/shell.js';

export const CONFIRM_DIR = '/opt/rigger-it-confirm';
export const SETTINGS = 'name=rigger-it\nmode=confirm\n';
export const MOTD = 'managed by rigger --confirm\n';

export function confirmPlaybook(dir = CONFIRM_DIR): PlaybookDef {
  return {
    name: 'it-confirm',
    plays: [
      {
        hosts: 'all',
        roles: [
          defineRole({
            name: 'confirm',
            tasks: () => ({
              resources: [
                directory({ path: dir, mode: '0755' }),
                file({ path: `${dir}/settings.conf`, content: SETTINGS, mode: '0644' }),
                file({ path: `${dir}/motd`, content: MOTD, mode: '0644', notify: 'touch stamp' }),
              ],
              handlers: [{ name: 'touch stamp', run: async (ctx) => void (await ctx.remote.run(sh`date +%s%N >> ${`${dir}/handler.log`}`.text)) }],
            }),
          }),
        ],
      },
    ],
  };
}

export default playbook(confirmPlaybook(process.env.RIGGER_IT_CONFIRM_DIR ?? CONFIRM_DIR), import.meta.url);
