// Debian packages: present/absent, pinned versions, holds. `apt-get update`
// runs only when the cache is older than a threshold or a source changed.
import { idsOf, type Change, type CommonOptions, type HostContext, type ProbeResult, type ResourceRef, type ShellResource as Resource } from '../engine/types.js';
import { base, linksOf } from './common.js';
import { AptProgress, STEP_PREFIX } from './aptStatus.js';
import { raw, Script, sh } from './shell.js';

const STAMP = '/var/lib/apt/periodic/update-success-stamp';

/**
 * apt-get's own output goes to stderr (the error message of a failure); its
 * status lines (APT::Status-Fd) to stdout, after a line naming the step,
 * for the live progress note (aptStatus.ts).
 */
const STATUS = raw('-o APT::Status-Fd=3');
const TO_STATUS = raw('3>&1 >&2');
const step = (name: 'update' | 'install' | 'remove') => raw(`echo ${STEP_PREFIX}${name}`);

export interface AptPackagesOptions extends CommonOptions {
  /** names, or name=version to pin an exact version */
  packages: string[];
  state?: 'present' | 'absent';
  /** apt-mark hold the packages (present) */
  hold?: boolean;
  /** run apt-get update first when the cache is older than this (seconds); default 3600 */
  cacheMaxAge?: number;
  /** extra environment for apt-get (e.g. NO_DOCKER_PRUNE=1) */
  env?: Record<string, string>;
  /**
   * run apt-get update before installing when one of these changed in this run
   * (the aptRepository that provides the packages), however fresh the cache
   */
  updateCacheIfChanged?: ResourceRef | readonly ResourceRef[];
}

interface Installed {
  version: string;
  installed: boolean;
}

export interface AptPlan {
  install: string[];
  remove: string[];
  hold: string[];
  unhold: string[];
  cacheAge: number;
}

export function aptPackages(opts: AptPackagesOptions): Resource<AptPlan> {
  const state = opts.state ?? 'present';
  const wanted = opts.packages.map((p) => {
    const [name, version, ...rest] = p.split('=');
    if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) throw new Error(`apt package ${JSON.stringify(p)}: ${JSON.stringify(name)} is not a valid Debian package name`);
    if (rest.length || (version !== undefined && !/^[A-Za-z0-9.+~:-]+$/.test(version)))
      throw new Error(`apt package ${JSON.stringify(p)}: the version after "=" is not a Debian version`);
    return { name, version };
  });
  for (const k of Object.keys(opts.env ?? {}))
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`apt packages: environment name ${JSON.stringify(k)} is not a variable name`);
  const names = wanted.map((w) => w.name);
  const maxAge = opts.cacheMaxAge ?? 3600;
  const updateIf = idsOf(opts.updateCacheIfChanged);
  const links = linksOf(opts, { updateCacheIfChanged: updateIf });
  return {
    ...base('apt', names.join(','), opts),
    ...(links ? { links } : {}),
    // Holds from dpkg's status (the "h" of db:Status-Abbrev), not `apt-mark showhold`: run as
    // root, apt-mark (re)writes /var/cache/apt/*pkgcache.bin, so a probe would change the host
    // (even in check mode). No package lists at all (a fresh minimal system) means the cache
    // is as stale as it gets.
    probe: sh`dpkg-query -W -f='\${Package}\t\${Version}\t\${db:Status-Abbrev}\n' -- ${names} 2>/dev/null; echo ---
if ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then t=$(stat -c %Y ${STAMP} /var/cache/apt/pkgcache.bin 2>/dev/null | sort -n | tail -1); echo $(( $(date +%s) - \${t:-0} )); else echo nolists; fi`.text,
    plan(current: ProbeResult): Change<AptPlan> | null {
      const [pkgPart, agePart] = current.stdout.split('---\n');
      const have = new Map<string, Installed>();
      const held = new Set<string>();
      for (const line of (pkgPart ?? '').split('\n').filter(Boolean)) {
        const [name, version, status] = line.split('\t');
        // db:Status-Abbrev is desired state, current state, error flag: "ii ", "hi " (held), "rc ", "un "...
        have.set(name, { version, installed: status?.[1] === 'i' });
        if (status?.[0] === 'h') held.add(name);
      }
      const age = agePart?.trim() ? Number(agePart.trim()) : NaN;
      const p: AptPlan = { install: [], remove: [], hold: [], unhold: [], cacheAge: Number.isFinite(age) ? age : Infinity };
      for (const w of wanted) {
        const h = have.get(w.name);
        if (state === 'absent') {
          if (h?.installed) p.remove.push(w.name);
          continue;
        }
        if (!h?.installed || (w.version && h.version !== w.version)) p.install.push(w.version ? `${w.name}=${w.version}` : w.name);
        if (opts.hold && !held.has(w.name)) p.hold.push(w.name);
        if (opts.hold === false && held.has(w.name)) p.unhold.push(w.name);
      }
      const parts = [
        p.install.length ? `install ${p.install.join(' ')}` : '',
        p.remove.length ? `remove ${p.remove.join(' ')}` : '',
        p.hold.length ? `hold ${p.hold.join(' ')}` : '',
        p.unhold.length ? `unhold ${p.unhold.join(' ')}` : '',
      ].filter(Boolean);
      return parts.length ? { summary: parts.join(', '), data: p } : null;
    },
    async apply(change: Change<AptPlan>, ctx: HostContext): Promise<void> {
      const p = change.data!;
      // `env NAME=value apt-get`: the names are checked above, the values are quoted words
      const env = Object.entries(opts.env ?? {}).length ? sh`env ${Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`)} ` : raw('');
      const sourceChanged = updateIf.some((id) => ctx.changed(id));
      const hold = opts.hold ? [...new Set([...p.hold, ...p.install.map((s) => s.split('=')[0])])] : p.hold;
      const script = Script.join([
        raw('set -e'),
        p.install.length > 0 && (p.cacheAge > maxAge || sourceChanged) && sh`${step('update')}\napt-get update -q ${STATUS} ${TO_STATUS}\nmkdir -p ${STAMP.replace(/\/[^/]+$/, '')}\ntouch ${STAMP}`,
        p.install.length > 0 &&
          sh`${step('install')}\n${env}apt-get install -y -q --no-install-recommends --allow-change-held-packages --allow-downgrades -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ${STATUS} -- ${p.install} ${TO_STATUS}`,
        p.remove.length > 0 && sh`${step('remove')}\n${env}apt-get remove -y -q --allow-change-held-packages ${STATUS} -- ${p.remove} ${TO_STATUS}`,
        // Installing a held package (an upgrade) sets its selection back to "install": hold it again.
        hold.length > 0 && sh`apt-mark hold -- ${hold} >/dev/null`,
        p.unhold.length > 0 && sh`apt-mark unhold -- ${p.unhold} >/dev/null`,
      ]);
      const notes = new AptProgress((note) => ctx.progress?.(note));
      await ctx.remote.run(script.text, { onOutput: (chunk, stream) => stream === 'stdout' && notes.push(chunk) });
    },
  };
}
