// Pausing runners on GitLab while their host is upgraded, and resuming them.
// A drain marks what it paused in the runner's maintenance note, on GitLab
// itself: a run interrupted while waiting (Ctrl-C, a lost connection) leaves
// runners that the next run can recognise as its own and resume, instead of
// leaving production paused with nothing to say why. The previous note is kept
// after the marker and restored on resume.
import type { Gitlab } from './client.js';
import { runnerJobs, updateRunner, type RunnerDetails, type RunnerJob } from './runners.js';

const PREFIX = '[rigger drain ';
/** GitLab refuses longer maintenance notes */
const MAX_NOTE = 1024;

/** "[rigger drain mania 2026-12-01T10:00:00Z] previous note" */
export function drainNote(host: string, previous: string | null | undefined, now = new Date()): string {
  const mark = `${PREFIX}${host} ${now.toISOString().replace(/\.\d+Z$/, 'Z')}]`;
  return (previous ? `${mark} ${previous}` : mark).slice(0, MAX_NOTE);
}

export function isDrainNote(note: string | null | undefined): boolean {
  return typeof note === 'string' && note.startsWith(PREFIX) && note.includes(']');
}

/** The note as it was before the drain ('' when there was none). */
export function noteBeforeDrain(note: string): string {
  return note.slice(note.indexOf(']') + 1).trimStart();
}

/** Pause a runner for a drain, keeping its note after the marker. */
export function pauseForDrain(gl: Gitlab, r: Pick<RunnerDetails, 'id' | 'maintenance_note'>, host: string): Promise<RunnerDetails> {
  return updateRunner(gl, r.id, { paused: true, maintenance_note: drainNote(host, r.maintenance_note) });
}

/** Undo a drain's pause (unless `stayPaused`: the inventory wants it paused) and restore the note. */
export function resumeAfterDrain(gl: Gitlab, r: Pick<RunnerDetails, 'id' | 'maintenance_note'>, stayPaused = false): Promise<RunnerDetails> {
  return updateRunner(gl, r.id, { paused: stayPaused, maintenance_note: noteBeforeDrain(r.maintenance_note ?? '') });
}

/** The jobs a runner is running now. */
export function runningJobs(gl: Gitlab, id: number): Promise<RunnerJob[]> {
  return runnerJobs(gl, id, 'running');
}
