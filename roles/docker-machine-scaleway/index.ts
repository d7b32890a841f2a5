// docker-machine-scaleway: GitLab's docker-machine fork and a Scaleway driver,
// installed as sha256-verified downloads. Which driver (name, binary, option
// names) is inventory data: the Scaleway drivers are mutually incompatible.
import { z } from 'zod';
import { defineRole } from '../../lib/engine/types.js';
import { download } from '../../lib/resources/index.js';

const sha256 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected a sha256 (64 hex digits)');

const release = z.object({
  version: z.string().min(1),
  url: z.string().regex(/^(https|file):\/\//, 'expected an https:// or file:// URL'),
  sha256,
});

const vars = z
  .object({
    docker_machine: release,
    docker_machine_driver: release.extend({
      /** MachineDriver value in config.toml, e.g. "scaleway" */
      name: z.string().regex(/^[a-z0-9-]+$/),
      /** binary name, docker-machine looks for docker-machine-driver-<name> */
      binary: z.string().regex(/^docker-machine-driver-[a-z0-9-]+$/, 'expected docker-machine-driver-<name>'),
    }),
    docker_machine_bin_dir: z.string().default('/usr/local/bin'),
    gitlab_runners: z.array(z.looseObject({ name: z.string(), executor: z.string(), limit: z.number().optional(), machine: z.looseObject({ MachineDriver: z.string().optional() }).optional() })).default([]),
  })
  .superRefine((v, ctx) => {
    // The fleet must not grow without bound: every autoscaled runner needs a
    // machine limit, and must use the driver this role installs.
    v.gitlab_runners.forEach((r, i) => {
      if (r.executor !== 'docker+machine') return;
      if (!r.limit || r.limit < 1) ctx.addIssue({ code: 'custom', path: ['gitlab_runners', i, 'limit'], message: `runner ${r.name}: docker+machine needs limit >= 1 (upper bound on machines)` });
      if (r.machine?.MachineDriver !== v.docker_machine_driver.name)
        ctx.addIssue({ code: 'custom', path: ['gitlab_runners', i, 'machine', 'MachineDriver'], message: `runner ${r.name}: expected "${v.docker_machine_driver.name}" (the driver this role installs)` });
    });
  });

export default defineRole({
  name: 'docker-machine-scaleway',
  vars,
  tasks({ vars: v }) {
    return {
      resources: [
        download({ url: v.docker_machine.url, sha256: v.docker_machine.sha256, dest: `${v.docker_machine_bin_dir}/docker-machine`, mode: '0755' }),
        download({ url: v.docker_machine_driver.url, sha256: v.docker_machine_driver.sha256, dest: `${v.docker_machine_bin_dir}/${v.docker_machine_driver.binary}`, mode: '0755' }),
      ],
    };
  },
});
