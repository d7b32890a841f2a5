// What the fleet costs. Hourly prices of server types come from the API;
// volumes (per GB-month, by type) and flexible IPs (per month) from the
// configuration, since the Instance API does not give them. A powered-off
// server ("stopped") costs no compute, but its volumes and IPs are still
// billed; "stopped in place" keeps its hypervisor slot and is billed like a
// running one.
import type { IpView, ServerView, VolumeView, ZoneSnapshot } from './snapshot.js';

export const HOURS_PER_MONTH = 730;

export interface Prices {
  volumeGbMonth: Record<string, number>;
  ipMonth?: number;
}

export interface Cost {
  /** EUR per hour */
  hourly: number;
  /** a part of it has no configured price (counted as 0) */
  unpriced: string[];
}

const BILLED_COMPUTE = new Set(['running', 'starting', 'stopping', 'stopped in place', 'locked']);

export function volumeHourly(v: Pick<VolumeView, 'type' | 'sizeBytes'>, prices: Prices): Cost {
  const perGb = prices.volumeGbMonth[v.type] ?? prices.volumeGbMonth.default;
  if (perGb === undefined) return { hourly: 0, unpriced: [`${v.type} volumes`] };
  return { hourly: ((v.sizeBytes / 1e9) * perGb) / HOURS_PER_MONTH, unpriced: [] };
}

export function ipHourly(_ip: Pick<IpView, 'id'>, prices: Prices): Cost {
  if (prices.ipMonth === undefined) return { hourly: 0, unpriced: ['flexible IPs'] };
  return { hourly: prices.ipMonth / HOURS_PER_MONTH, unpriced: [] };
}

/** A server with its volumes and flexible IPs, in the state it is in. */
export function serverHourly(s: ServerView, zone: ZoneSnapshot, prices: Prices): Cost & { compute: number } {
  const parts: Cost[] = [];
  let compute = 0;
  if (BILLED_COMPUTE.has(s.state)) {
    const p = zone.hourlyPrices[s.commercialType];
    if (p === undefined) parts.push({ hourly: 0, unpriced: [`type ${s.commercialType}`] });
    else compute = p;
  }
  for (const ref of s.volumes) {
    const v = zone.volumes.find((x) => x.id === ref.id);
    if (v) parts.push(volumeHourly(v, prices));
  }
  for (const ip of s.flexibleIps) parts.push(ipHourly(ip, prices));
  return { compute, ...sum([{ hourly: compute, unpriced: [] }, ...parts]) };
}

export function sum(costs: Cost[]): Cost {
  return { hourly: costs.reduce((a, c) => a + c.hourly, 0), unpriced: [...new Set(costs.flatMap((c) => c.unpriced))] };
}

/** "0.0137 €/h (10.00 €/month)" */
export function formatCost(c: Cost | number): string {
  const h = typeof c === 'number' ? c : c.hourly;
  return `${h.toFixed(4)} €/h (${(h * HOURS_PER_MONTH).toFixed(2)} €/month)`;
}
