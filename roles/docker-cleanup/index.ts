// docker-cleanup: a script and an /etc/cron.d entry that free disk on hosts
// running Docker jobs, only when free space falls below a threshold.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { defineRole } from '../../lib/engine/types.js';
import { cron, file, sh } from '../../lib/resources/index.js';

const SCRIPT = readFileSync(fileURLToPath(new URL('./files/docker-cleanup.sh', import.meta.url)));

const vars = z.object({
  /** free space under which cleaning starts: a percent ("15%") or a size ("20G", "500M", bytes) */
  docker_cleanup_threshold: z.string().regex(/^(\d{1,2}%|100%|\d+[KMGT]?)$/, 'expected a percent like "15%" or a size like "20G"').default('15%'),
  /** images and stopped containers younger than this are kept (Go duration) */
  docker_cleanup_grace: z.string().regex(/^\d+(s|m|h)$/, 'expected a duration like "72h"').default('72h'),
  /** cron schedule (five fields) */
  docker_cleanup_schedule: z.string().default('*/15 * * * *'),
  docker_cleanup_enabled: z.boolean().default(true),
});

export default defineRole({
  name: 'docker-cleanup',
  vars,
  tasks({ vars: v }) {
    return {
      resources: [
        file({ path: '/usr/local/sbin/docker-cleanup', content: SCRIPT, mode: '0755' }),
        file({
          path: '/etc/default/docker-cleanup',
          mode: '0644',
          // sourced by the script: shell assignments, every value quoted
          content: sh`# managed by rigger (role docker-cleanup)\nTHRESHOLD=${v.docker_cleanup_threshold}\nGRACE=${v.docker_cleanup_grace}\nLOG_TAG=docker-cleanup\n`.text,
        }),
        v.docker_cleanup_enabled &&
          cron({
            name: 'docker-cleanup',
            schedule: v.docker_cleanup_schedule,
            command: '/usr/local/sbin/docker-cleanup >>/var/log/docker-cleanup.log 2>&1',
          }),
      ],
    };
  },
});
