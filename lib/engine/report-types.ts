// The shape of results, shared by the engine and the reporters (see ARCHITECTURE.md, JSON report).
import type { ErrorKind, Phase } from '../errors.js';
import type { HostPlan, PlanDifference } from './confirm.js';
import type { TextDiff } from './types.js';

export type TaskStatus = 'ok' | 'changed' | 'failed' | 'skipped';
export type HostStatus = 'ok' | 'changed' | 'failed' | 'unreachable';

export interface TaskResult {
  role: string;
  resource: string;
  status: TaskStatus;
  summary?: string;
  diff?: TextDiff;
  error?: string;
  durationMs: number;
}

export interface HostResult {
  status: HostStatus;
  counts: Record<TaskStatus, number>;
  remoteCommands: number;
  /** requests to APIs (GitLab, Scaleway) made for this target */
  apiRequests: number;
  tasks: TaskResult[];
  error?: string;
  /** what failed: the kind of error, the phase (connect, facts, probe, plan, apply, handler) and the resource */
  failure?: { kind: ErrorKind; phase?: Phase; resource?: string };
  durationMs: number;
  /** where this host's time went: SSH connect (handshake + shell), facts, roles (probe/plan/apply/handlers), of which waiting for batched probes */
  phases: { connectMs: number; factsMs: number; convergeMs: number; probeMs: number };
  /** --confirm: the host's state changed since its plan was shown, so nothing was changed on it; its plan now */
  drift?: { plan: HostPlan; differences: PlanDifference[] };
}
