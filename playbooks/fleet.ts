#!/usr/bin/env -S node ./lib/boot.cjs
// The autoscaled Scaleway machines of every autoscale runner host: a table of
// the fleet and its cost, the cleanup of stopped and orphaned runner machines
// (guarded and bounded; --check shows it), and the cap.
//   npx tsx playbooks/fleet.ts --limit mania --check
import { playbook, type PlaybookDef } from '../lib/playbook.js';
import { redact } from '../lib/secrets.js';
import { scalewayFleetRole, type FleetRoleOptions } from '../roles/scaleway-fleet/index.js';

/** The playbook, with the fleet tables going to `print`. */
export function fleetPlaybook(print: FleetRoleOptions['print']): PlaybookDef {
  return {
    name: 'fleet',
    plays: [{ name: 'fleet', hosts: 'autoscale_runners', roles: [scalewayFleetRole({ print })] }],
  };
}

export default playbook(
  fleetPlaybook((_host, table) => process.stdout.write(redact(table))),
  import.meta.url,
);
