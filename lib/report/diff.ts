// Unified diffs of text content, secrets masked, optionally coloured.
import { createTwoFilesPatch } from 'diff';
import pc from 'picocolors';
import type { TextDiff } from '../engine/types.js';
import { redact } from '../secrets.js';

/** A unified diff with secret values masked on both sides before diffing. */
export function unifiedDiff(d: TextDiff): string {
  const patch = createTwoFilesPatch(`a${d.path}`, `b${d.path}`, redact(d.before), redact(d.after), undefined, undefined, { context: 3 });
  // Drop the "Index:/====" header createTwoFilesPatch adds; keep ---/+++ and hunks.
  return patch.split('\n').filter((l) => !l.startsWith('Index: ') && !/^=+$/.test(l)).join('\n').trimEnd();
}

export function colourDiff(text: string, colour: boolean): string {
  if (!colour) return text;
  return text
    .split('\n')
    .map((l) => (l.startsWith('+++') || l.startsWith('---') ? pc.bold(l) : l.startsWith('+') ? pc.green(l) : l.startsWith('-') ? pc.red(l) : l.startsWith('@@') ? pc.cyan(l) : l))
    .join('\n');
}
