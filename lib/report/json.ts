// The machine-readable report (ARCHITECTURE.md, "JSON report"), secrets masked.
import { writeFile } from 'node:fs/promises';
import type { HostResult } from '../engine/report-types.js';
import { redact } from '../secrets.js';
import { unifiedDiff } from './diff.js';

export interface JsonReport {
  mode: 'check' | 'apply';
  durationMs: number;
  /** process start to the first connection: Node + module loading, inventory, vars validation */
  startupMs: number;
  hosts: Record<
    string,
    {
      status: HostResult['status'];
      counts: HostResult['counts'];
      remoteCommands: number;
      apiRequests: number;
      phases: HostResult['phases'];
      error?: string;
      failure?: HostResult['failure'];
      tasks: Array<{ role: string; resource: string; status: string; summary?: string; diff?: string; error?: string; durationMs: number }>;
    }
  >;
}

export function buildJsonReport(mode: 'check' | 'apply', durationMs: number, results: Map<string, HostResult>, startupMs = 0): JsonReport {
  const hosts: JsonReport['hosts'] = {};
  for (const [name, r] of results) {
    hosts[name] = {
      status: r.status,
      counts: r.counts,
      remoteCommands: r.remoteCommands,
      apiRequests: r.apiRequests,
      phases: r.phases,
      ...(r.error ? { error: redact(r.error) } : {}),
      ...(r.failure ? { failure: r.failure } : {}),
      tasks: r.tasks.map((t) => ({
        role: t.role,
        resource: t.resource,
        status: t.status,
        ...(t.summary ? { summary: redact(t.summary) } : {}),
        ...(t.diff ? { diff: unifiedDiff(t.diff) } : {}),
        ...(t.error ? { error: redact(t.error) } : {}),
        durationMs: t.durationMs,
      })),
    };
  }
  return { mode, durationMs, startupMs, hosts };
}

/** The report as written: indented JSON and a newline, secrets masked. */
export function jsonReportText(report: JsonReport): string {
  // One more pass over every string (before JSON escaping, which would hide a
  // secret containing " or \ from a pass over the text), then over the text.
  return redact(JSON.stringify(report, (_k, v) => (typeof v === 'string' ? redact(v) : v), 2)) + '\n';
}

export async function writeJsonReport(path: string, report: JsonReport): Promise<void> {
  await writeFile(path, jsonReportText(report));
}
