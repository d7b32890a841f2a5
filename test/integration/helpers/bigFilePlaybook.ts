/**
 * A playbook script run as a child process by failures.test.ts, so that the
 * test can SIGKILL it in the middle of an apply, and check what a real CLI
 * invocation prints and exits with.
 *
 *   RIGGER_IT_TARGET=/path/on/host RIGGER_IT_CONTENT=/local/file \
 *     node --import <tsx loader> test/integration/helpers/bigFilePlaybook.ts -i INVENTORY [flags]
 *
 * One role, one file resource: RIGGER_IT_CONTENT's bytes written to
 * RIGGER_IT_TARGET on every host of the inventory (large content goes over
 * its own upload channel, then is renamed into place).
 */
import { readFileSync } from 'node:fs';
import { defineRole } from '../../../lib/engine/types.js';
import { playbook } from '../../../lib/playbook.js';
import { file } from '../../../lib/resources/index.js';

const target = process.env.RIGGER_IT_TARGET ?? '/opt/rigger-it-big/blob.bin';
const contentFile = process.env.RIGGER_IT_CONTENT;
const content = contentFile ? readFileSync(contentFile) : Buffer.from('small content\n');

export default playbook({
  name: 'it-bigfile',
  plays: [
    {
      hosts: 'all',
      roles: [defineRole({ name: 'bigfile', tasks: () => ({ resources: [file({ path: target, content, mode: '0640', makeDirs: true })] }) })],
    },
  ],
}, import.meta.url);
