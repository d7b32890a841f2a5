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

export async function probeAll(remote: Remote, snippets: string[]): Promise<ProbeResult[]> {
  if (snippets.length === 0) return [];
  const marker = `__RIGGER_PROBE_${randomBytes(6).toString('hex')}`;
  const { stdout } = await remote.run(buildProbeScript(snippets, marker), { check: false });
  return parseProbeOutput(stdout, snippets.length, marker);
}
