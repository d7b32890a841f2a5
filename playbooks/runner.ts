#!/usr/bin/env -S node ./lib/boot.cjs
// The runner playbook: turns a fresh Debian server into a GitLab runner host.
//   npx tsx playbooks/runner.ts --limit mania [--check] [--diff]
import { playbook } from '../lib/playbook.js';
import common from '../roles/common/index.js';
import sshHardening from '../roles/ssh-hardening/index.js';
import gitlabRunner from '../roles/gitlab-runner/index.js';
import dockerMachineScaleway from '../roles/docker-machine-scaleway/index.js';
import dockerCleanup from '../roles/docker-cleanup/index.js';

export default playbook(
  {
  name: 'runner',
  plays: [
    { name: 'base', hosts: 'runners', roles: [common, sshHardening] },
    { name: 'autoscaling', hosts: 'autoscale_runners', roles: [dockerMachineScaleway] },
    { name: 'runner', hosts: 'runners', roles: [gitlabRunner] },
    { name: 'disk', hosts: 'static_runners', roles: [dockerCleanup] },
  ],
  },
  import.meta.url,
);
