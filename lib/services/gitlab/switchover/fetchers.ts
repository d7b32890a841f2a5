// The fetchers' CI files: the commits the runbook makes (one per project, with
// a message that says what and why, and a trailer that marks them as the
// runbook's), how a rollback finds what it may undo, and a readable diff of
// many files in one.
import { createRequire } from 'node:module';
import type { TextDiff } from '../../../engine/types.js';
import type { GitlabCommit } from '../projects.js';
import type { SwitchoverVars } from '../switchoverVars.js';
import { TRAILER, type FetcherState, type Switchover } from './world.js';
import { tagText } from './matching.js';

export type FetcherStep = 1 | 2;

function mapText(v: SwitchoverVars): string {
  return Object.entries(v.tag_map)
    .map(([old, next]) => `${old} -> ${next.join(', ')}`)
    .join('; ');
}

/** The message of a step-1/step-2 commit. */
export function migrationMessage(step: FetcherStep, f: FetcherState, v: SwitchoverVars): string {
  const changes = f.retag?.status === 'changed' ? f.retag.changes : [];
  const what = step === 1 ? 'the trial fetcher, before all the others' : 'every fetcher of the group, after the trial fetcher worked';
  return [
    `CI: runner tags ${mapText(v)} (switchover step ${step})`,
    '',
    `The runner switchover moves the jobs of ${what}`,
    `to the new runners. Only the tags: lists of ${v.ci_file} changed.`,
    '',
    ...changes.map((c) => `${c.job}: ${tagText(c.before)} -> ${tagText(c.after)}`),
    '',
    `${TRAILER}: step ${step}`,
  ].join('\n');
}

export function rollbackMessage(step: FetcherStep, forward: GitlabCommit, v: SwitchoverVars): string {
  return [
    `CI: back to the runner tags before the switchover (rollback of step ${step})`,
    '',
    `Restores ${v.ci_file} as it was before ${forward.short_id} ("${forward.title}").`,
    '',
    `${TRAILER}: rollback ${step}`,
  ].join('\n');
}

/** The runbook's trailer in a commit message, if any. */
export function trailerOf(message: string): { kind: 'step' | 'rollback'; n: number } | null {
  const m = new RegExp(`^${TRAILER}: (step|rollback) (\\d)\\s*$`, 'm').exec(message);
  return m ? { kind: m[1] as 'step' | 'rollback', n: Number(m[2]) } : null;
}

export type RevertState =
  /** the file's last commit is the runbook's step commit: its parent's content comes back */
  | { kind: 'revert'; f: FetcherState; forward: GitlabCommit; restored: string }
  /** nothing of the runbook's to undo in this file */
  | { kind: 'nothing'; f: FetcherState }
  /** someone committed to the file after the runbook: a person must put its tags back */
  | { kind: 'changed-since'; f: FetcherState; forward: GitlabCommit; last: string };

/** What a rollback of `step` may do with this fetcher's file. */
export async function revertState(w: Switchover, f: FetcherState, step: FetcherStep): Promise<RevertState> {
  if (!f.file || !f.branch) return { kind: 'nothing', f };
  const api = w.api;
  const last = await api.commit(f.project.id, f.file.lastCommitId);
  const t = last ? trailerOf(last.message) : null;
  if (last && t?.kind === 'step' && t.n === step) {
    const parent = last.parent_ids[0];
    const before = parent ? await api.file(f.project.id, w.v.ci_file, parent) : null;
    if (!before) return { kind: 'changed-since', f, forward: last, last: last.id };
    return { kind: 'revert', f, forward: last, restored: before.content };
  }
  // Was the file changed after a commit of this step that was never rolled back?
  const history = await api.fileCommits(f.project.id, w.v.ci_file, f.branch);
  for (const c of history) {
    const ct = trailerOf(c.message);
    if (!ct || ct.n !== step) continue;
    return ct.kind === 'step' ? { kind: 'changed-since', f, forward: c, last: f.file.lastCommitId } : { kind: 'nothing', f };
  }
  return { kind: 'nothing', f };
}

// ---------- one diff for many files ----------

const require = createRequire(import.meta.url);
const EXCERPT_CONTEXT = 2;

/**
 * One TextDiff for several files: for each change, a header line naming the
 * file and line, then the changed lines with two lines of context. A unified
 * diff of the two texts (context 3) shows every header above its change.
 */
export function excerptDiff(path: string, files: Array<{ label: string; before: string; after: string }>): TextDiff {
  const { structuredPatch } = require('diff') as typeof import('diff');
  const before: string[] = [];
  const after: string[] = [];
  for (const f of files) {
    const patch = structuredPatch(f.label, f.label, f.before, f.after, undefined, undefined, { context: EXCERPT_CONTEXT });
    for (const h of patch.hunks) {
      const header = `### ${f.label}, line ${h.oldStart}`;
      before.push(header);
      after.push(header);
      for (const l of h.lines) {
        if (l.startsWith('\\')) continue; // "\ No newline at end of file"
        const text = l.slice(1);
        if (l[0] !== '+') before.push(text);
        if (l[0] !== '-') after.push(text);
      }
    }
  }
  return { path, before: before.length ? before.join('\n') + '\n' : '', after: after.length ? after.join('\n') + '\n' : '' };
}
