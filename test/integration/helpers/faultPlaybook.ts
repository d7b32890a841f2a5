/**
 * A playbook script run as a child process by faults.test.ts, so the test can
 * send it signals and read what a real process prints and exits with.
 *
 *   RIGGER_IT_PLAN='{"dir": "/opt/x", "commands": [{"name": "a", "run": "...", "creates": "/opt/x/a"}]}' \
 *     node --import <tsx loader> test/integration/helpers/faultPlaybook.ts -i INVENTORY [flags]
 *
 * One role: a file `<dir>/managed.conf` (so `dir` is a directory the run
 * manages), then each command, in order, guarded by its `creates` path.
 */
import { defineRole } from '../../../lib/engine/types.js';
import { playbook } from '../../../lib/playbook.js';
import { command, file } from '../../../lib/resources/index.js';

interface Plan {
  dir: string;
  commands: Array<{ name: string; run: string; creates: string; timeout?: number }>;
}

const plan = JSON.parse(process.env.RIGGER_IT_PLAN ?? '{"dir": "/opt/rigger-it-faults", "commands": []}') as Plan;

export default playbook(
  {
    name: 'it-faults',
    plays: [
      {
        hosts: 'all',
        roles: [
          defineRole({
            name: 'faults',
            tasks: () => ({ resources: [file({ path: `${plan.dir}/managed.conf`, content: 'managed\n', makeDirs: true }), ...plan.commands.map((c) => command(c))] }),
          }),
        ],
      },
    ],
  },
  import.meta.url,
);
