// How many hours a week gitlab-runner's autoscaling periods cover, to price
// the idle machines they keep. Periods are 7-field cron expressions (gorhill
// cronexpr: seconds minutes hours day-of-month month day-of-week year); a week
// is evaluated minute by minute. Day-of-month, month and year other than "*"
// cannot be placed in a generic week: they are treated as "*" and the result
// is marked approximate.

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export interface WeekCoverage {
  /** idle machines kept, summed over the week's minutes, / 60: machine-hours per week */
  machineHours: number;
  /** hours a week each period is the one in force (the last matching period wins) */
  hoursByPeriod: number[];
  approximate: boolean;
}

/** Values (within min..max) a cron field matches; throws on a field it cannot read. */
export function cronField(field: string, min: number, max: number, names: string[] = []): Set<number> {
  const out = new Set<number>();
  const value = (s: string) => {
    const i = names.indexOf(s.toLowerCase());
    const n = i >= 0 ? i + min : Number(s);
    if (!Number.isInteger(n)) throw new Error(`cron: cannot read "${s}" in "${field}"`);
    return n;
  };
  for (const part of field.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`cron: bad step in "${field}"`);
    let lo: number;
    let hi: number;
    if (range === '*' || range === '?') [lo, hi] = [min, max];
    else if (range.includes('-')) [lo, hi] = range.split('-').map(value) as [number, number];
    else [lo, hi] = [value(range), stepText === undefined ? value(range) : max];
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function dayField(field: string): Set<number> {
  const days = cronField(field, 0, 7, DAYS);
  if (days.has(7)) days.add(0); // 7 is Sunday too
  return days;
}

/** Which minutes of a week (0 = Sunday 00:00) a period covers. */
function weekMinutes(expr: string): { minutes: boolean[]; approximate: boolean } {
  const f = expr.trim().split(/\s+/);
  if (f.length !== 7) throw new Error(`cron: expected 7 fields, got "${expr}"`);
  const [, min, hour, dom, month, dow, year] = f;
  const minutes = cronField(min, 0, 59);
  const hours = cronField(hour, 0, 23);
  const days = dayField(dow);
  const approximate = [dom, month, year].some((x) => x !== '*' && x !== '?');
  const out: boolean[] = new Array(7 * 24 * 60).fill(false);
  for (let d = 0; d < 7; d++) for (const h of hours) for (const m of minutes) if (days.has(d)) out[(d * 24 + h) * 60 + m] = true;
  return { minutes: out, approximate };
}

/**
 * Idle machines over a week: `base` outside every period, else the IdleCount
 * of the last period whose expressions match (as gitlab-runner does).
 */
export function weekCoverage(base: number, periods: ReadonlyArray<{ periods: string[]; idleCount: number }>): WeekCoverage {
  const parsed = periods.map((p) => p.periods.map(weekMinutes));
  const approximate = parsed.some((p) => p.some((x) => x.approximate));
  const minutesByPeriod = periods.map(() => 0);
  let total = 0;
  for (let i = 0; i < 7 * 24 * 60; i++) {
    let count = base;
    for (let p = parsed.length - 1; p >= 0; p--) {
      if (parsed[p].some((x) => x.minutes[i])) {
        count = periods[p].idleCount;
        minutesByPeriod[p]++;
        break;
      }
    }
    total += count;
  }
  return { machineHours: total / 60, hoursByPeriod: minutesByPeriod.map((m) => m / 60), approximate };
}
