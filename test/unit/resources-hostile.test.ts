// Hostile values (quotes, $(), backticks, newlines, leading dashes, unicode...)
// through every option of every resource kind that takes a value: each one is
// either refused when declared, with a message that quotes it, or reaches the
// scripts as a quoted value. Here the probes run for real with dash, the
// file-like resources are applied for real in a temp dir (and read back byte
// for byte), and every probe and apply script goes through shellcheck; the
// canary that any of the values would create as code never appears.
// test/integration/hostile-values.test.ts does the same on a real host.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource, ShellResource } from '../../lib/engine/types.js';
import { probeAll } from '../../lib/engine/probe.js';
import { makeCtx } from './helpers/context.js';
import { FakeRemote } from './helpers/fakeRemote.js';
import { asName, hostileCatalogue, hostileValues, type HostileCatalogue } from './helpers/hostile.js';
import { LocalRemote, tempDir } from './helpers/localRemote.js';
import { itPassesShellcheck, recordScript } from './helpers/shellcheck.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

let tmp: ReturnType<typeof tempDir>;
let canary: string;
let values: string[];
let catalogues: HostileCatalogue[];
/** the scripts' working directory: a value run as code after its "/" became "_" would touch a file here */
let cwd: string;

/** Files under the temp dir that are the canary, or the canary's path with its "/" made "_" (a file name run as code). */
function canaries(dir = tmp.dir): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((n) => [basename(canary), asName(canary)].includes(basename(n)));
}

/**
 * Applied for real on this machine: only what writes under the temp dir (file-like
 * resources there, and the catalogue's commands, which write there too). Anything
 * else (users, cron, apt, the sources file in /etc/apt) goes to a FakeRemote.
 */
function appliesHere(r: Resource): boolean {
  const [kind, ...rest] = r.id.split(':');
  if (['file', 'template', 'directory', 'link', 'download'].includes(kind)) return rest.join(':').startsWith(`${tmp.dir}/`);
  return r.id.startsWith('command:hostile ');
}

beforeAll(() => {
  tmp = tempDir('rigger-hostile-');
  canary = join(tmp.dir, 'canary');
  cwd = join(tmp.dir, 'cwd');
  mkdirSync(cwd);
  values = hostileValues(canary);
  const tpl = join(tmp.dir, 'v.ejs');
  writeFileSync(tpl, 'v=<%= v %>\n');
  const blob = join(tmp.dir, 'blob');
  writeFileSync(blob, 'downloaded\n');
  const env = { dir: tmp.dir, keyLine: KEY, template: tpl, download: { url: pathToFileURL(blob).href, sha256: createHash('sha256').update('downloaded\n').digest('hex') } };
  catalogues = values.map((v, i) => hostileCatalogue(v, i, env));
});
afterAll(() => tmp.cleanup());

describe('hostile values through every resource kind', () => {
  it('has at least 10 hostile values, and every one reaches some resource as a value', () => {
    expect(values.length).toBeGreaterThanOrEqual(10);
    catalogues.forEach((c, i) => expect(c.accepted.length, JSON.stringify(values[i])).toBeGreaterThan(0));
  });

  it('refuses a value where it cannot be one (names, modes, checksums...), quoting it in the message', () => {
    catalogues.forEach((c, i) => {
      // as a path component, the value has its "/" turned into "_"
      for (const r of c.refused) {
        const quoted = [values[i], asName(values[i])].map((v) => JSON.stringify(v).slice(1, -1)).map((q) => (q.length > 30 ? q.slice(0, 20) : q));
        // (an authorized key line is shown cut to 40 characters)
        expect(quoted.some((q) => r.error.includes(q)) || r.error.includes('..."'), `${r.option}: ${r.error}`).toBe(true);
      }
    });
    const refusedEverywhere = ['user.name', 'group.name', 'service.unit', 'aptPackages.packages', 'aptRepository.name', 'cron.name', 'cron.user', 'file.mode', 'download.sha256'];
    for (const option of refusedEverywhere) catalogues.forEach((c) => expect(c.refused.map((r) => r.option)).toContain(option));
  });

  it('runs every probe with dash: nothing executes, the canary never appears', async () => {
    const probes = catalogues.flatMap((c) => c.accepted.flatMap((a) => a.resources.map((r) => (r as ShellResource).probe)));
    probes.forEach(recordScript);
    // all in one batch, as the engine sends them
    const results = await probeAll(new LocalRemote({ record: false, cwd }), probes);
    expect(results).toHaveLength(probes.length);
    expect(canaries()).toEqual([]);
  });

  it('applies the file-like resources for real, each value arriving byte for byte, then plans nothing', async () => {
    const remote = new LocalRemote({ cwd });
    const ctx = makeCtx(remote);
    const probeRemote = new LocalRemote({ record: false, cwd });
    const here = catalogues.flatMap((c) => c.accepted.flatMap((a) => a.resources as ShellResource[])).filter(appliesHere);
    // probed in one batch, applied one by one, probed again in one batch: as the engine does
    const before = await probeAll(probeRemote, here.map((r) => r.probe));
    let applied = 0;
    for (const [k, r] of here.entries()) {
      const change = await r.plan(before[k], ctx);
      expect(change, r.id).not.toBeNull();
      await r.apply(change!, ctx);
      applied++;
    }
    const after = await probeAll(probeRemote, here.map((r) => r.probe));
    for (const [k, r] of here.entries()) expect(await r.plan(after[k], ctx), `${r.id} again`).toBeNull();
    expect(applied).toBeGreaterThanOrEqual(values.length * 4);
    values.forEach((v, i) => {
      const base = join(tmp.dir, String(i));
      const f = `${base}-f-${asName(v)}`;
      if (existsSync(f)) expect(readFileSync(f, 'utf8')).toBe(v);
      const l = `${base}-l-${asName(v)}`;
      if (lstatSync(l, { throwIfNoEntry: false })) expect(readlinkSync(l)).toBe(v);
      expect(readFileSync(`${base}-cmd`, 'utf8')).toBe(v);
    });
    expect(canaries()).toEqual([]);
  }, 60_000);

  it('plans and renders the apply scripts of the other kinds (users, cron, apt): recorded for shellcheck', async () => {
    const probeRemote = new LocalRemote({ record: false, cwd });
    const remote = new FakeRemote();
    const ctx = makeCtx(remote, { check: true, wantDiff: true });
    let planned = 0;
    for (const c of catalogues)
      for (const a of c.accepted)
        for (const r of a.resources as Resource[] as ShellResource[]) {
          if (appliesHere(r)) continue;
          const [current] = await probeAll(probeRemote, [r.probe]);
          const change = await r.plan(current, ctx);
          if (!change) continue;
          // a user that does not exist here yet: authorized keys get the home the user would have
          const data = r.id.startsWith('authorized-keys:') ? { home: `/home/${r.id.split(':')[1]}`, group: r.id.split(':')[1], content: `${KEY}\n` } : change.data;
          await r.apply({ ...change, data }, { ...ctx, check: false });
          planned++;
        }
    expect(planned).toBeGreaterThanOrEqual(values.length * 3);
    expect(canaries()).toEqual([]);
  }, 60_000);

  itPassesShellcheck(100);
});
