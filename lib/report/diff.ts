// Unified diffs of text content, secrets masked, optionally coloured.
import { createRequire } from 'node:module';
import pc from 'picocolors';
import type { TextDiff } from '../engine/types.js';
import { redact } from '../secrets.js';

// Loaded on first use: a run that changes nothing never renders a diff, and
// every module loaded counts in the start-up time of a no-op run.
const require = createRequire(import.meta.url);
let diffLib: typeof import('diff') | undefined;

/** A unified diff with secret values masked on both sides before diffing. */
export function unifiedDiff(d: TextDiff): string {
  diffLib ??= require('diff') as typeof import('diff');
  // git's a/ b/ prefixes, for host paths (/etc/x) and API objects (gitlab:wiki/...) alike
  const sep = d.path.startsWith('/') ? '' : '/';
  const patch = diffLib.createTwoFilesPatch(`a${sep}${d.path}`, `b${sep}${d.path}`, redact(d.before), redact(d.after), undefined, undefined, { context: 3 });
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
