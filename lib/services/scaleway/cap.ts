// The fleet's bounds, checked as things stand after the run's cleanup (in
// check mode: as they would stand): a runner's machines over its `limit`, the
// project's runner servers over the fleet cap, and machines stuck in removal
// (powered off, or a store entry without a server) filling a cap, which stops
// the runner from creating machines while jobs wait.
import type { FleetPlan, MachineRow, Target } from './classify.js';
import { removedObjects } from './record.js';

export function capProblems(plan: FleetPlan, deleted: Target[]): string[] {
  const gone = removedObjects(deleted);
  const left = (r: MachineRow) => !(r.server && gone.has(r.server.id)) && !(r.class === 'ghost' && gone.has(`store:${r.machine}`));
  const problems: string[] = [];

  // Store entries of this host: a deleted stopped machine's entry is removed with it.
  const storeRows = plan.rows.filter((r) => (r.class === 'in-store' || r.class === 'stopped' || r.class === 'ghost') && left(r));
  for (const runner of plan.runners) {
    const mine = storeRows.filter((r) => r.runner === runner.name);
    const stuckCount = mine.filter((r) => r.stuck).length;
    if (runner.limit === undefined || runner.limit < 1) continue;
    if (mine.length > runner.limit) problems.push(`runner ${runner.name}: ${mine.length} machines in the docker-machine store, over its limit of ${runner.limit}`);
    if (stuckCount >= runner.limit)
      problems.push(`runner ${runner.name}: ${stuckCount} of its ${runner.limit} machines are stuck in removal (powered off, or a store entry without a server): it cannot create machines while jobs wait`);
  }

  const cap = plan.settings.fleetCap;
  if (cap !== undefined) {
    const runnerServers = plan.rows.filter((r) => r.server && r.class !== 'foreign' && left(r));
    if (runnerServers.length > cap) problems.push(`project ${plan.settings.projectId} holds ${runnerServers.length} runner servers, over the fleet cap of ${cap}`);
    const stuckServers = runnerServers.filter((r) => r.class === 'stopped' || (r.class === 'orphan' && r.server!.state !== 'running'));
    if (stuckServers.length >= cap) problems.push(`${stuckServers.length} powered-off runner servers fill the fleet cap of ${cap}`);
  }
  return problems;
}
