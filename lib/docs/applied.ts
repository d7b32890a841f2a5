// Which rigger roles the playbooks apply to each host, with their validated
// vars (defaults filled), so the page can say what manages a server and
// quote the settings of a role (docker-cleanup's threshold) as applied.
import type { Vars } from '../engine/types.js';
import { validateRoleVars } from '../engine/validateVars.js';
import type { Inventory } from '../inventory/load.js';
import { hostsOfPlay } from '../inventory/patterns.js';
import type { PlaybookDef } from '../playbook.js';

export type AppliedRoles = (host: string) => Array<{ role: string; vars: Vars }>;

export function appliedRoles(playbooks: readonly PlaybookDef[], inv: Inventory): AppliedRoles {
  const byHost = new Map<string, Array<{ role: string; vars: Vars }>>();
  for (const def of playbooks)
    for (const play of def.plays) {
      if (play.hosts === 'local') continue;
      for (const host of hostsOfPlay(inv, play.hosts)) {
        const list = byHost.get(host) ?? [];
        for (const role of play.roles) {
          if (list.some((x) => x.role === role.name)) continue;
          // vars the role would refuse still name the role; its settings are then the inventory's as written
          const { vars } = validateRoleVars(role, host, inv.hosts.get(host)!.vars);
          list.push({ role: role.name, vars: vars ?? inv.hosts.get(host)!.vars });
        }
        byHost.set(host, list);
      }
    }
  return (host) => byHost.get(host) ?? [];
}
