// The autoscaled fleet of each docker+machine runner: its cap, its idle
// policy and what it costs, from the runner's settings and a price book.
//
// Prices come from the inventory (`docs.prices`, the last known prices) unless
// a live source is given. The seam for the fleet capability
// (lib/services/scaleway, built separately): pass `LivePrices` read from the
// Instance API's `listServersTypes` (hourly price per commercial type) to
// priceBook(); volume and IP prices are not in that API and stay the
// inventory's.
import { weekCoverage } from './cron.js';
import type { RunnerInfo } from './runners.js';
import type { Prices } from './schema.js';

export const HOURS_PER_MONTH = 730;

/** What a live source (the Scaleway API) says, when it was reachable. */
export interface LivePrices {
  /** ISO date of the reading */
  asOf: string;
  zone?: string;
  /** commercial type -> price per hour */
  hourly: Record<string, number>;
}

export interface PriceBook {
  /** "api": hourly prices read live; "inventory": the last known prices */
  source: 'api' | 'inventory' | 'none';
  asOf?: string;
  origin?: string;
  currency: string;
  hourly(type: string | undefined): number | undefined;
  rootVolumeGb(type: string | undefined): number | undefined;
  volumeGbMonth?: number;
  flexibleIpMonth?: number;
}

export function priceBook(decl: Prices | undefined, live?: LivePrices): PriceBook {
  const table = live?.hourly ?? decl?.hourly ?? {};
  return {
    source: live ? 'api' : decl ? 'inventory' : 'none',
    asOf: live?.asOf ?? decl?.as_of,
    origin: live ? `Scaleway Instance API${live.zone ? `, ${live.zone}` : ''}` : decl?.source,
    currency: decl?.currency ?? 'EUR',
    hourly: (t) => (t === undefined ? undefined : table[t]),
    rootVolumeGb: (t) => (t === undefined ? undefined : decl?.root_volume_gb[t]),
    volumeGbMonth: decl?.volume_gb_month,
    flexibleIpMonth: decl?.flexible_ip_month,
  };
}

export interface FleetSummary {
  runner: RunnerInfo;
  commercialType?: string;
  /** most machines at once: the runner's limit (undefined: no cap) */
  cap?: number;
  hourly?: number;
  /** all machines of the cap running for an hour, a month */
  capHourly?: number;
  capMonthly?: number;
  /** idle machines kept over a week, machine-hours, and what they cost a month */
  idleMachineHoursWeek: number;
  idleMonthly?: number;
  idleHoursByPeriod: number[];
  approximate: boolean;
  /** a powered-off machine: its volume and flexible IP, per month */
  volumeGb?: number;
  stoppedMonthly?: number;
}

export function fleetOf(runner: RunnerInfo, prices: PriceBook): FleetSummary | undefined {
  const m = runner.machine;
  if (runner.executor !== 'docker+machine' || !m) return undefined;
  const type = m.commercialType;
  const hourly = prices.hourly(type);
  const cap = runner.limit && runner.limit > 0 ? runner.limit : undefined;
  const week = weekCoverage(m.idleCount, m.autoscaling);
  const volumeGb = m.rootVolumeGb ?? prices.rootVolumeGb(type);
  const stoppedMonthly = volumeGb !== undefined && prices.volumeGbMonth !== undefined && prices.flexibleIpMonth !== undefined ? volumeGb * prices.volumeGbMonth + prices.flexibleIpMonth : undefined;
  return {
    runner,
    commercialType: type,
    cap,
    hourly,
    capHourly: cap !== undefined && hourly !== undefined ? cap * hourly : undefined,
    capMonthly: cap !== undefined && hourly !== undefined ? cap * hourly * HOURS_PER_MONTH : undefined,
    idleMachineHoursWeek: week.machineHours,
    idleMonthly: hourly !== undefined ? (week.machineHours * hourly * HOURS_PER_MONTH) / (24 * 7) : undefined,
    idleHoursByPeriod: week.hoursByPeriod,
    approximate: week.approximate,
    volumeGb,
    stoppedMonthly,
  };
}
