// Batched probes: the probe snippets of many resources go to the host as one
// script, and their outputs come back in one round trip.
import { randomBytes } from 'node:crypto';
import type { ProbeResult, Remote } from './types.js';

export function buildProbeScript(snippets: string[], marker: string): string {
  return snippets
    .map((s, i) => `printf '\\n${marker} ${i}\\n'\n(\n${s.trim() || ':'}\n) 2>/dev/null </dev/null\nprintf '\\n${marker} rc %s\\n' $?`)
    .join('\n');
}

export function parseProbeOutput(stdout: string, count: number, marker: string): ProbeResult[] {
  const results: ProbeResult[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const start = stdout.indexOf(`\n${marker} ${i}\n`, pos);
    if (start < 0) throw new Error(`probe output is missing resource #${i}`);
    const bodyStart = start + `\n${marker} ${i}\n`.length;
    const end = stdout.indexOf(`\n${marker} rc `, bodyStart);
    if (end < 0) throw new Error(`probe output of resource #${i} is truncated`);
    const eol = stdout.indexOf('\n', end + 1 + marker.length + 4);
    const code = Number(stdout.slice(end + marker.length + 5, eol < 0 ? undefined : eol));
    results.push({ stdout: end >= bodyStart ? stdout.slice(bodyStart, end) : '', code });
    pos = eol < 0 ? stdout.length : eol;
  }
  return results;
}

export interface ProbeOptions {
  /** kill the batch on the host after this long */
  timeoutMs?: number;
  /** a script run first in the same round trip (e.g. the leftover temp file sweep); its stdout is returned */
  prelude?: string;
}

export async function probeAll(remote: Remote, snippets: string[], opts: ProbeOptions = {}): Promise<ProbeResult[]> {
  return (await probeWithPrelude(remote, snippets, opts)).results;
}

export async function probeWithPrelude(remote: Remote, snippets: string[], opts: ProbeOptions = {}): Promise<{ results: ProbeResult[]; prelude: string }> {
  if (snippets.length === 0 && !opts.prelude) return { results: [], prelude: '' };
  const marker = `__RIGGER_PROBE_${randomBytes(6).toString('hex')}`;
  const prelude = opts.prelude ? `(\n${opts.prelude}\n) </dev/null\n` : '';
  const { stdout } = await remote.run(prelude + buildProbeScript(snippets, marker), { check: false, timeoutMs: opts.timeoutMs });
  const first = stdout.indexOf(`\n${marker} 0\n`);
  return { results: parseProbeOutput(stdout, snippets.length, marker), prelude: opts.prelude ? stdout.slice(0, first < 0 ? undefined : first) : '' };
}
