// Paths in an inventory are relative to the inventory file; `~` is the user's home.
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';

export function resolvePath(p: string, baseDir: string, env: NodeJS.ProcessEnv): string {
  if (p === '~' || p.startsWith('~/')) return join(env.HOME || homedir(), p.slice(1));
  return resolve(baseDir, p);
}

/** A path as the user would like to read it: relative to the working directory when below it. */
export function displayPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}
