#!/usr/bin/env -S node ./lib/boot.cjs
// The runner switchover as a runbook, on GitLab from the control machine:
//   1 the trial fetcher's .gitlab-ci.yml moves from tag docker to download-convert
//   2 every fetcher of the group does
//   3 the static runner (eros) gets download-convert
//   4 it loses docker
//   5 the retired runner (dolos's) is deleted on GitLab (its package stays)
// Each step waits for the earlier ones and passes a gate first; every "done"
// is read from GitLab, so a run can stop and resume anywhere.
//   npx tsx playbooks/switchover.ts [--check]              the next step not done yet
//   npx tsx playbooks/switchover.ts --step N | --through N
//   npx tsx playbooks/switchover.ts --rollback N           undo steps 4 down to N (1-4)
import { playbook } from '../lib/playbook.js';
import { selectionOf, SWITCHOVER_FLAGS, switchoverRole } from '../lib/services/gitlab/switchover/role.js';

export default playbook(
  {
    name: 'switchover',
    flags: SWITCHOVER_FLAGS,
    plays: [{ name: 'switchover', hosts: 'local', roles: [switchoverRole({ kind: 'next' })] }],
    playsFor: (flags) => [{ name: 'switchover', hosts: 'local', roles: [switchoverRole(selectionOf(flags))] }],
  },
  import.meta.url,
);
