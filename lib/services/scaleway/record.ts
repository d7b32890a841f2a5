// What an apply run records in the ledger for its host, as things stand
// after its deletions: every server the store holds (with its volumes and
// flexible IPs, the evidence for leaks later), the first sighting of each
// orphan, and no more record of a machine once it and everything it left
// behind are gone. Stable: a run that finds the fleet as the last one left it
// records nothing new.
import type { FleetPlan, Target } from './classify.js';
import { serverKey, type LedgerEntries } from './ledger.js';

/** Ids of the servers, volumes and IPs that `deleted` targets remove (and `store:<name>` for store entries). */
export function removedObjects(targets: Target[]): Set<string> {
  const out = new Set<string>();
  for (const t of targets) {
    if (t.kind === 'server') {
      out.add(t.server.id);
      t.server.volumes.forEach((v) => out.add(v.id));
      t.server.flexibleIps.forEach((ip) => out.add(ip.id));
    } else if (t.kind === 'store-entry') out.add(`store:${t.machine}`);
    else out.add(t.kind === 'volume' ? t.volume.id : t.ip.id);
  }
  return out;
}

export function nextLedgerEntries(plan: FleetPlan, deleted: Target[], now: Date): LedgerEntries {
  const gone = removedObjects(deleted);
  const stamp = now.toISOString();
  const next: LedgerEntries = structuredClone(plan.ledgerBefore);
  // what is left after the run: servers, volumes and IPs of the zones read, minus the deleted
  const exists = new Set<string>();
  for (const zone of plan.settings.zones) {
    const z = plan.api.zones[zone];
    if (!z) continue;
    for (const x of [...z.servers, ...z.volumes, ...z.ips]) if (!gone.has(x.id)) exists.add(x.id);
  }

  for (const row of plan.rows) {
    const s = row.server;
    if (!s || !exists.has(s.id) || !row.machine) continue;
    const key = serverKey(s.zone, s.id);
    const volumes = s.volumes.map((v) => v.id);
    const ips = s.flexibleIps.map((ip) => ip.id);
    const entry = next[key];
    if (row.class === 'in-store' || row.class === 'stopped') {
      if (!entry) next[key] = { machine: row.machine, recordedAt: stamp, volumes, ips };
      else {
        entry.volumes = union(entry.volumes, volumes);
        entry.ips = union(entry.ips, ips);
        delete entry.orphanSince;
      }
    } else if (row.class === 'orphan') {
      if (!entry) next[key] = { machine: row.machine, recordedAt: stamp, volumes, ips, orphanSince: stamp };
      else entry.orphanSince ??= stamp;
    }
  }

  // Forget a machine once nothing of it is left in a zone this host reads.
  for (const [key, e] of Object.entries(next)) {
    const [zone, id] = key.split('/');
    if (!plan.settings.zones.includes(zone) || !plan.api.zones[zone]) continue;
    if (!exists.has(id) && !e.volumes.some((v) => exists.has(v)) && !e.ips.some((ip) => exists.has(ip))) delete next[key];
  }
  return next;
}

function union(a: string[], b: string[]): string[] {
  return b.every((x) => a.includes(x)) ? a : [...a, ...b.filter((x) => !a.includes(x))];
}
