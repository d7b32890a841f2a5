// The fleet's figures: hours a week the autoscaling periods cover, the cap,
// the cost at the cap, of idle machines and of a stopped machine, from the
// inventory's prices or from live ones (the seam for lib/services/scaleway).
import { describe, expect, it } from 'vitest';
import { cronField, weekCoverage } from '../../lib/docs/cron.js';
import { fleetOf, priceBook } from '../../lib/docs/fleet.js';
import { bytes, money } from '../../lib/docs/format.js';
import { runnersOf, type RunnerInfo } from '../../lib/docs/runners.js';
import { pricesSchema } from '../../lib/docs/schema.js';
import { Secret } from '../../lib/secrets.js';

const prices = pricesSchema.parse({ as_of: '2025-06-01', source: 'pricing page', hourly: { 'DEV1-S': 0.01368 }, root_volume_gb: { 'DEV1-S': 20 }, volume_gb_month: 0.086, flexible_ip_month: 2.92 });

function autoscaler(machine: Record<string, unknown>, limit: number | null = 5): RunnerInfo {
  const problems: string[] = [];
  const [r] = runnersOf('mania', { concurrent: 10, gitlab_runners: [{ name: 'auto', executor: 'docker+machine', tags: ['a'], limit: limit ?? undefined, machine: { MachineDriver: 'scaleway', MachineName: 'fetch-%s', ...machine } }] }, problems);
  expect(problems).toEqual([]);
  return r;
}

describe('autoscaling periods', () => {
  it('reads cron fields: lists, ranges, steps, day names, 7 as Sunday', () => {
    expect([...cronField('8-18', 0, 23)]).toHaveLength(11);
    expect([...cronField('*/15', 0, 59)]).toEqual([0, 15, 30, 45]);
    expect([...cronField('1,3,5-6', 0, 23)]).toEqual([1, 3, 5, 6]);
    expect([...cronField('mon-fri', 0, 7, ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'])]).toEqual([1, 2, 3, 4, 5]);
    expect(() => cronField('x-y', 0, 23)).toThrow(/cannot read/);
  });

  it('Mon-Fri 08:00-18:59 is 55 hours a week; the last matching period wins', () => {
    expect(weekCoverage(0, [{ periods: ['* * 8-18 * * mon-fri *'], idleCount: 1 }])).toEqual({ machineHours: 55, hoursByPeriod: [55], approximate: false });
    // base 1 all week (168), 2 during office hours, 0 at night (the later period wins where both match)
    const w = weekCoverage(1, [
      { periods: ['* * 8-18 * * mon-fri *'], idleCount: 2 },
      { periods: ['* * 0-5 * * * *'], idleCount: 0 },
    ]);
    expect(w.hoursByPeriod).toEqual([55, 42]);
    expect(w.machineHours).toBe(168 - 55 - 42 + 2 * 55);
    expect(weekCoverage(0, [{ periods: ['* 0-29 9 * * sat *'], idleCount: 1 }]).machineHours).toBe(0.5);
    expect(weekCoverage(0, [{ periods: ['* * * 1 * * *'], idleCount: 1 }]).approximate).toBe(true);
  });
});

describe('fleet summary', () => {
  it('cap, costs at the cap, idle and stopped, from the inventory prices', () => {
    const f = fleetOf(autoscaler({ IdleCount: 0, IdleTime: 1800, MaxBuilds: 10, MachineOptions: ['scaleway-commercial-type=DEV1-S', 'scaleway-zone=fr-par-1'], autoscaling: [{ Periods: ['* * 8-18 * * mon-fri *'], IdleCount: 1, IdleTime: 3600 }] }), priceBook(prices))!;
    expect(f.cap).toBe(5);
    expect(f.commercialType).toBe('DEV1-S');
    expect(f.capHourly).toBeCloseTo(5 * 0.01368, 10);
    expect(f.capMonthly).toBeCloseTo(5 * 0.01368 * 730, 10);
    expect(f.idleMachineHoursWeek).toBe(55);
    expect(f.idleMonthly).toBeCloseTo((55 * 0.01368 * 730) / 168, 10);
    expect(f.stoppedMonthly).toBeCloseTo(20 * 0.086 + 2.92, 10);
  });

  it('live prices replace the hourly ones and are marked as read from the API', () => {
    const book = priceBook(prices, { asOf: '2026-12-02', zone: 'fr-par-1', hourly: { 'DEV1-S': 0.02 } });
    expect(book.source).toBe('api');
    expect(book.origin).toBe('Scaleway Instance API, fr-par-1');
    expect(fleetOf(autoscaler({ MachineOptions: ['scaleway-commercial-type=DEV1-S'] }), book)!.capHourly).toBeCloseTo(0.1, 10);
    expect(priceBook(prices).source).toBe('inventory');
    expect(priceBook(undefined).source).toBe('none');
  });

  it('without a limit nothing is capped; an unknown type has unknown costs', () => {
    const f = fleetOf(autoscaler({ MachineOptions: ['scaleway-commercial-type=GP1-XL'] }, null), priceBook(prices))!;
    expect(f.cap).toBeUndefined();
    expect(f.capMonthly).toBeUndefined();
    expect(f.hourly).toBeUndefined();
  });

  it('reads the machine type from MachineOptions, never a secret', () => {
    const secret = new Secret('scw-secret-canary-0001', 'SCW');
    const r = autoscaler({ MachineOptions: [secret, { key: 'scaleway-secretkey', value: secret }, { key: 'scaleway-commercial-type', value: 'DEV1-M' }, '--scaleway-zone=nl-ams-1', 'scaleway-root-volume-size=40'] });
    expect(r.machine).toMatchObject({ commercialType: 'DEV1-M', zone: 'nl-ams-1', rootVolumeGb: 40 });
    expect(JSON.stringify(r)).not.toContain('canary');
  });
});

describe('formats', () => {
  it('sizes in binary units with three digits, money', () => {
    expect(bytes(118 * 2 ** 30)).toBe('118 GiB');
    expect(bytes(1000 * 2 ** 30)).toBe('0.98 TiB');
    expect(bytes(5.37 * 2 ** 30)).toBe('5.37 GiB');
    expect(bytes(512)).toBe('512 B');
    expect(money(0.01368, 'EUR')).toBe('0.0137 EUR');
    expect(money(49.932, 'EUR')).toBe('49.93 EUR');
  });
});
