// How figures read on the page: sizes in binary units with three significant
// digits (so a page is not rewritten for a few bytes), money, durations.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(n: number): string {
  let v = n;
  let i = 0;
  // from 1000 of a unit on, the next one (0.98 TiB rather than 1000 GiB): never four digits
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const text = i === 0 || v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${text} ${UNITS[i]}`;
}

export function gb(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000} TB` : `${n} GB`;
}

export function money(x: number, currency: string): string {
  const text = x === 0 ? '0' : Math.abs(x) >= 1 ? x.toFixed(2) : Number(x.toPrecision(3)).toString();
  return `${text} ${currency}`;
}

/** 1800 -> "30 min", 3600 -> "1 h", 90 -> "90 s" */
export function duration(seconds: number): string {
  if (seconds % 3600 === 0 && seconds >= 3600) return `${seconds / 3600} h`;
  if (seconds % 60 === 0 && seconds >= 60) return `${seconds / 60} min`;
  return `${seconds} s`;
}

export function machineHours(h: number): string {
  return `${Number.isInteger(h) ? h : h.toFixed(1)} machine-hours`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "a", "a and b", "a, b and c" */
export function and(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
