// Durations in the inventory ("90s", "30m", "2h", "7d") and in the fleet table ("3d", "5h").

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;

/** "30m" -> 1 800 000 ms; throws on anything else. */
export function parseDuration(text: string): number {
  const m = DURATION_PATTERN.exec(text.trim());
  if (!m) throw new Error(`expected a duration like "90s", "30m", "2h" or "7d", got ${JSON.stringify(text)}`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** A short age for the table: 45s, 12m, 5h, 3d. */
export function formatAge(ms: number): string {
  if (ms < 0) return '0s';
  if (ms < 60_000) return `${Math.floor(ms / 1000)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m`;
  if (ms < 2 * 86_400_000) return `${Math.floor(ms / 3_600_000)}h`;
  return `${Math.floor(ms / 86_400_000)}d`;
}
