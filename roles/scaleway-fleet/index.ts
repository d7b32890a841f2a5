// scaleway-fleet: the autoscaled Scaleway machines of one runner host, as API
// resources: the fleet table (state, age, type, class, cost), the deletion of
// stopped and orphaned runner machines and of what gone ones leaked (guarded,
// bounded, shown by --check), the ledger later runs rely on, and the cap check.
// What each piece does: lib/services/scaleway/resources.ts.
import { z } from 'zod';
import { defineRole } from '../../lib/engine/types.js';
import { fleetConfigSchema, fleetRunners, fleetRunnersSchema } from '../../lib/services/scaleway/config.js';
import { fleetResources } from '../../lib/services/scaleway/resources.js';

export const vars = z.object({
  scaleway: fleetConfigSchema,
  gitlab_runners: fleetRunnersSchema,
});

export interface FleetRoleOptions {
  /** receives the fleet table of each host (besides the -v log) */
  print?: (host: string, table: string) => void;
}

export function scalewayFleetRole(opts: FleetRoleOptions = {}) {
  return defineRole({
    name: 'scaleway-fleet',
    vars,
    tasks: ({ host, vars: v }) => ({
      resources: fleetResources({ host, config: v.scaleway, runners: fleetRunners(v.gitlab_runners), print: opts.print }),
    }),
  });
}

export default scalewayFleetRole();
