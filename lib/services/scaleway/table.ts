// The fleet as one text table: every server of the runners' project and every
// store entry, with class, state, age, type, cost and what this run does with
// it; then leaked volumes and IPs, totals and savings, and warnings.
import { formatCost, HOURS_PER_MONTH } from './costs.js';
import { totals, type FleetPlan } from './classify.js';
import { formatAge } from './duration.js';

const CLASS_LABEL: Record<string, string> = {
  'in-store': 'in store',
  stopped: 'stopped',
  orphan: 'orphan',
  'other-host': 'other host',
  foreign: 'foreign',
  ghost: 'no server',
};

function grid(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

const gib = (bytes: number) => `${Math.round(bytes / 1e9)} GB`;

export function fleetTable(plan: FleetPlan, mode: 'check' | 'apply'): string {
  const out: string[] = [];
  const when = mode === 'check' ? 'would be deleted' : 'deleted';
  out.push(`Scaleway fleet of ${plan.host}: project ${plan.settings.projectId}, zone(s) ${plan.settings.zones.join(', ')}, ${plan.store.length} machine(s) in the docker-machine store`);
  const order = ['in-store', 'stopped', 'orphan', 'ghost', 'other-host', 'foreign'];
  const sorted = [...plan.rows].sort((a, b) => order.indexOf(a.class) - order.indexOf(b.class) || (a.machine ?? a.server?.name ?? '').localeCompare(b.machine ?? b.server?.name ?? ''));
  const rows = sorted.map((r) => [
    CLASS_LABEL[r.class],
    r.machine ?? '-',
    r.server ? `${r.server.name} ${r.server.id.slice(0, 8)}` : '-',
    r.server?.zone ?? '-',
    r.server?.state ?? '-',
    r.server ? formatAge(plan.now.getTime() - r.server.createdAt.getTime()) : '-',
    r.server?.commercialType ?? '-',
    r.server ? (r.cost.hourly * HOURS_PER_MONTH).toFixed(2) : '-',
    r.evidence.join('+') || '-',
    r.action === 'delete' ? (r.class === 'ghost' ? `server gone: store entry ${mode === 'check' ? 'would be removed' : 'removed'} by this run` : `${r.class}: ${when} by this run`) : r.note || '-',
  ]);
  out.push(...grid(['CLASS', 'MACHINE', 'SERVER', 'ZONE', 'STATE', 'AGE', 'TYPE', '€/MONTH', 'EVIDENCE', 'ACTION'], rows));
  if (plan.leaks.length) {
    out.push('', 'Leaked by runner machines that are gone:');
    out.push(
      ...grid(
        ['KIND', 'ID', 'ZONE', 'DETAIL', 'MACHINE', '€/MONTH', 'ACTION'],
        plan.leaks.map((l) => [
          l.kind === 'volume' ? `${l.volume!.type} volume` : 'flexible IP',
          (l.volume?.id ?? l.ip!.id).slice(0, 8),
          l.volume?.zone ?? l.ip!.zone,
          l.volume ? `${l.volume.name}, ${gib(l.volume.sizeBytes)}` : l.ip!.address,
          l.machine,
          (l.cost.hourly * HOURS_PER_MONTH).toFixed(2),
          l.action === 'delete' ? `${when} by this run` : l.note,
        ]),
      ),
    );
  }
  const t = totals(plan);
  out.push('');
  out.push(`Cost now: runner machines ${formatCost(t.runners)}, leaked volumes and IPs ${formatCost(t.leaks)}, other servers ${formatCost(t.foreign)}; total ${formatCost(t.all)}`);
  out.push(
    `Deleting the ${t.savableCount} stopped or orphaned machine(s) and leaked volume(s)/IP(s) would save ${formatCost(t.savable)}; ` +
      `this run ${mode === 'check' ? 'would delete' : 'deletes'} ${plan.targets.length} of them, saving ${(t.thisRun.hourly * HOURS_PER_MONTH).toFixed(2)} €/month` +
      (plan.deferred.length ? `, ${plan.deferred.length} more wait for the next run (at most ${plan.settings.maxDeletions} per run)` : ''),
  );
  const unpriced = t.all.unpriced;
  if (unpriced.length) out.push(`Not priced (counted as 0): ${unpriced.join(', ')}; set scaleway.prices in the inventory`);
  for (const w of plan.warnings) out.push(`WARNING: ${w}`);
  return out.join('\n') + '\n';
}
