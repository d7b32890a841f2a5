// Temp files a killed run left behind. An atomic write puts its content in
// `<dir>/.rigger-<12 hex>.tmp` first and renames it into place; a run killed
// between the two (SIGKILL, a dropped connection after a large upload) leaves
// that file. The next run (apply mode; the host lock keeps other runs out)
// removes such files, and only those: rigger's own name pattern, regular
// files, directly in the directories of the paths it manages.
import { dirname, posix } from 'node:path';
import { shq } from '../resources/shell.js';
import type { Resource } from './types.js';

const TEMP_NAME = `.rigger-${'[0-9a-f]'.repeat(12)}.tmp`;

/** The directories of the absolute paths resources manage (from ids such as `file:/etc/x.conf`). */
export function managedDirs(resources: Iterable<Resource>): string[] {
  const dirs = new Set<string>();
  for (const r of resources) {
    const name = r.id.slice(r.id.indexOf(':') + 1);
    if (name.startsWith('/') && !name.includes('\n')) dirs.add(dirname(posix.normalize(name)));
  }
  return [...dirs].sort();
}

/** Shell that removes rigger's leftover temp files in `dirs` and prints each path it removed. */
export function sweepScript(dirs: string[]): string {
  if (dirs.length === 0) return '';
  return `for d in ${dirs.map(shq).join(' ')}; do [ -d "$d" ] && find "$d" -maxdepth 1 -type f -name '${TEMP_NAME}' -print -delete 2>/dev/null; done; true`;
}
