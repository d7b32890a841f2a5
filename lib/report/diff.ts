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
  // explicit colours: the caller decided (the default export follows the terminal and env instead)
  const c = pc.createColors(true);
  return text
    .split('\n')
    .map((l) => (l.startsWith('+++') || l.startsWith('---') ? c.bold(l) : l.startsWith('+') ? c.green(l) : l.startsWith('-') ? c.red(l) : l.startsWith('@@') ? c.cyan(l) : l))
    .join('\n');
}
