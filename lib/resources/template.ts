// A file rendered from an ejs template on the control machine.
import ejs from 'ejs';
import { readFileSync } from 'node:fs';
import type { ShellResource as Resource } from '../engine/types.js';
import { clip, isSecret } from '../secrets.js';
import { file, type FileChange, type FileOptions } from './file.js';

export interface TemplateOptions extends Omit<FileOptions, 'content'> {
  /** path of the .ejs file */
  src: string;
  vars: Record<string, unknown>;
}

/**
 * Escape for config files: values are written as they are (no HTML entities),
 * but a value containing a newline is refused, so a variable can never inject
 * extra lines (directives) into a config file. Use <%- %> for intended raw text.
 */
export function configEscape(value: unknown): string {
  // A Secret is written as its value: the file needs it, and every output path masks it.
  const s = isSecret(value) ? value.reveal() : String(value ?? '');
  if (/[\r\n]/.test(s)) throw new Error(`template value ${isSecret(value) ? String(value) : JSON.stringify(clip(s, 40))} contains a newline; refusing to inject extra lines into a config file`);
  return s;
}

export function render(src: string, vars: Record<string, unknown>): string {
  const text = readFileSync(src, 'utf8');
  try {
    return ejs.render(text, vars, { escape: configEscape, filename: src, async: false });
  } catch (e: any) {
    throw new Error(`template ${src}: ${e.message}`, { cause: e });
  }
}

/** A file rendered from a template; like file(), 0600 by default when it holds a secret. */
export function template(opts: TemplateOptions): Resource<FileChange> {
  const { src, vars, ...rest } = opts;
  const r = file({ ...rest, content: render(src, vars) });
  return { ...r, id: `template:${opts.path}` };
}
