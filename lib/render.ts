// --render DIR: connect to nothing; write under DIR/<host>/ what the run would
// leave behind, computed from the declarations alone (assumed facts):
//   files/<absolute path>   each file a resource would write, as written (secrets masked)
//   api/<name>.json         the desired state of each API object (stable JSON)
//   resources.txt           every resource of the run, and what was rendered for it
// Two renders of the same inventory are byte-identical: nothing here depends on
// time or on the order hosts are processed in.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UserError } from './errors.js';
import type { RoleRun } from './engine/run.js';
import { resourcesOf, type Facts } from './engine/types.js';
import { stableJson } from './report/objectText.js';
import { redact } from './secrets.js';

const MARKER = '.rigger-render';

export interface RenderCount {
  dir: string;
  files: number;
  api: number;
  unrendered: number;
}

export async function renderPlans(plans: Map<string, RoleRun[]>, factsOf: (host: string) => Facts, outDir: string): Promise<Map<string, RenderCount>> {
  const root = resolve(outDir);
  const counts = new Map<string, RenderCount>();
  for (const [host, roles] of plans) {
    if (!roles.length) continue;
    const dir = join(root, safeSegment(host));
    await clearOwnDir(dir);
    const count: RenderCount = { dir, files: 0, api: 0, unrendered: 0 };
    const lines: string[] = [];
    for (const { role, vars } of roles) {
      const out = await role.tasks({ host, vars, facts: factsOf(host) });
      for (const r of resourcesOf(out)) {
        const rendered = r.render?.();
        const what: string[] = [];
        for (const f of rendered?.files ?? []) {
          await writeUnder(join(dir, 'files'), f.path, maskContent(f.content));
          what.push(`file ${f.path}${f.mode ? ` (mode ${f.mode})` : ''}`);
          count.files++;
        }
        if (rendered?.api) {
          await writeUnder(join(dir, 'api'), `${rendered.api.name}.json`, redact(stableJson(rendered.api.state)));
          what.push(`api ${rendered.api.name}`);
          count.api++;
        }
        if (!what.length) count.unrendered++;
        if (r.blocked) what.push(`BLOCKED: ${r.blocked}`);
        lines.push(`[${role.name}] ${r.id}: ${what.join(', ') || 'nothing to render (state lives on the host)'}`);
      }
    }
    await writeFile(join(dir, 'resources.txt'), redact(lines.join('\n') + '\n'));
    counts.set(host, count);
  }
  return counts;
}

/** Remove a previous render of this host; refuse to remove a folder rigger did not write. */
async function clearOwnDir(dir: string): Promise<void> {
  if (existsSync(dir)) {
    const entries = await readdir(dir);
    if (entries.length && !entries.includes(MARKER)) throw new UserError(`--render: ${dir} exists and was not written by --render; choose another folder`);
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MARKER), 'written by rigger --render; replaced by the next render\n');
}

async function writeUnder(base: string, relative: string, content: string | Buffer): Promise<void> {
  const parts = relative.split('/').filter(Boolean).map(safeSegment);
  const path = join(base, ...parts);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

/** A path segment that cannot climb out of the render folder. */
function safeSegment(s: string): string {
  return s === '.' || s === '..' ? `_${s}` : s.replace(/[\0/]/g, '_');
}

function maskContent(c: string | Buffer): string | Buffer {
  if (typeof c === 'string') return redact(c);
  const text = c.toString('utf8');
  return Buffer.from(text, 'utf8').equals(c) ? redact(text) : c;
}
