// Reads an inventory file and parses it as TOML or YAML (by extension) into plain data.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { createRequire } from 'node:module';
import { UserError } from '../errors.js';

// js-yaml is loaded only for YAML inventories (start-up time of every run).
const require = createRequire(import.meta.url);
const loadYaml = (text: string): unknown => (require('js-yaml') as typeof import('js-yaml')).load(text);

export type InventoryFormat = 'toml' | 'yaml';

export function formatOf(file: string): InventoryFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.toml') return 'toml';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  throw new UserError(`${file}: expected a .toml, .yaml or .yml inventory file, got "${ext || 'no extension'}"`);
}

export async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? e);
    throw new UserError(`${file}: cannot read ${what}: ${why}`);
  }
}

/**
 * Parses `text` (the content of `file`). Syntax errors name file, line and column;
 * `showSource` false keeps the offending line out of the message (secrets files).
 */
export function parseText(file: string, text: string, format: InventoryFormat, showSource = true): unknown {
  let data: unknown;
  try {
    data = format === 'toml' ? parseToml(text) : loadYaml(text);
  } catch (e) {
    throw syntaxError(file, format, e, showSource);
  }
  if (format === 'yaml') boundAliases(file, data);
  return data;
}

/** Values an inventory may expand to, aliases counted as often as they are used. */
export const MAX_EXPANDED_VALUES = 100_000;

/**
 * YAML aliases share one parsed value, but everything after parsing (schema
 * checks, secrets, vars merging) walks the data as a tree: nested aliases (a
 * "billion laughs" file of a few hundred bytes) would expand exponentially and
 * take minutes and gigabytes. Count the values of the tree, stopping at the bound.
 */
function boundAliases(file: string, data: unknown): void {
  let count = 0;
  const stack: unknown[] = [data];
  while (stack.length) {
    const v = stack.pop();
    if (++count > MAX_EXPANDED_VALUES) {
      throw new UserError(`${file}: invalid YAML: aliases expand it to more than ${MAX_EXPANDED_VALUES} values (nested aliases, a "billion laughs" file?); expected an inventory without alias chains`);
    }
    if (Array.isArray(v)) for (const x of v) stack.push(x);
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) stack.push(x);
  }
}

function syntaxError(file: string, format: InventoryFormat, e: unknown, showSource: boolean): UserError {
  const err = e as {
    line?: number;
    column?: number;
    codeblock?: string;
    mark?: { line: number; column: number; snippet?: string };
    reason?: string;
    message?: string;
  };
  let line: number | undefined;
  let column: number | undefined;
  let reason: string;
  let source: string | undefined;
  if (format === 'toml') {
    // smol-toml: 1-based line/column; the first message line is the reason.
    line = err.line;
    column = err.column;
    reason = String(err.message ?? e).split('\n')[0].replace(/^Invalid TOML document: /, '');
    source = err.codeblock;
  } else {
    // js-yaml: 0-based mark.
    line = err.mark ? err.mark.line + 1 : undefined;
    column = err.mark ? err.mark.column + 1 : undefined;
    reason = err.reason ?? String(err.message ?? e).split('\n')[0];
    source = err.mark?.snippet;
  }
  const where = line !== undefined ? `:${line}:${column ?? 1}` : '';
  const name = format === 'toml' ? 'TOML' : 'YAML';
  const msg = `${file}${where}: invalid ${name}: ${reason}`;
  return new UserError(showSource && source ? `${msg}\n${source.replace(/\n+$/, '')}` : msg);
}
