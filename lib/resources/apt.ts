// Debian packages: present/absent, pinned versions, holds. `apt-get update`
// runs only when the cache is older than a threshold or a source changed.
import type { Change, CommonOptions, HostContext, ProbeResult, ShellResource as Resource } from '../engine/types.js';
import { base } from './common.js';
import { shq } from './shell.js';

export const APT_SOURCES_CHANGED = 'apt:sources-changed';
const STAMP = '/var/lib/apt/periodic/update-success-stamp';

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
}

interface Installed {
  version: string;
  installed: boolean;
}

interface AptPlan {
  install: string[];
  remove: string[];
  hold: string[];
  unhold: string[];
  cacheAge: number;
}

export function aptPackages(opts: AptPackagesOptions): Resource {
  const state = opts.state ?? 'present';
  const wanted = opts.packages.map((p) => {
    const [name, version] = p.split('=');
    if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) throw new Error(`apt package name ${JSON.stringify(name)} is not a valid Debian package name`);
    return { name, version };
  });
  const names = wanted.map((w) => w.name);
  const maxAge = opts.cacheMaxAge ?? 3600;
  return {
    ...base('apt', names.join(','), opts),
    probe:
      `dpkg-query -W -f='\${Package}\\t\${Version}\\t\${db:Status-Abbrev}\\n' ${names.map(shq).join(' ')} 2>/dev/null; echo ---; ` +
      // Holds from dpkg's status, not `apt-mark showhold`: run as root, apt-mark (re)writes
      // /var/cache/apt/*pkgcache.bin, so a probe would change the host (even in check mode).
      `dpkg-query -W -f='\${Package}\\t\${Status}\\n' ${names.map(shq).join(' ')} 2>/dev/null | awk -F'\\t' '$2 ~ /^hold /{print $1}'; echo ---; ` +
      // No package lists at all (a fresh minimal system) means the cache is as stale as it gets.
      `if ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then t=$(stat -c %Y ${STAMP} /var/cache/apt/pkgcache.bin 2>/dev/null | sort -n | tail -1); echo $(( $(date +%s) - \${t:-0} )); else echo nolists; fi`,
    plan(current: ProbeResult): Change | null {
      const [pkgPart, holdPart, agePart] = current.stdout.split('---\n');
      const have = new Map<string, Installed>();
      for (const line of (pkgPart ?? '').split('\n').filter(Boolean)) {
        const [name, version, status] = line.split('\t');
        // db:Status-Abbrev is desired state, current state, error flag: "ii ", "hi ", "rc ", "un "...
        have.set(name, { version, installed: status?.[1] === 'i' });
      }
      const held = new Set((holdPart ?? '').split('\n').filter(Boolean));
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
    async apply(change: Change, ctx: HostContext): Promise<void> {
      const p = change.data as AptPlan;
      const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${shq(v)} `).join('');
      const steps: string[] = ['set -e'];
      if (p.install.length && (p.cacheAge > maxAge || ctx.state.get(APT_SOURCES_CHANGED))) {
        steps.push(`apt-get update -q >&2`, `mkdir -p ${shq(STAMP.replace(/\/[^/]+$/, ''))}`, `touch ${STAMP}`);
        ctx.state.delete(APT_SOURCES_CHANGED);
      }
      if (p.install.length)
        steps.push(
          `${env}apt-get install -y -q --no-install-recommends --allow-change-held-packages --allow-downgrades -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ${p.install.map(shq).join(' ')} >&2`,
        );
      if (p.remove.length) steps.push(`${env}apt-get remove -y -q --allow-change-held-packages ${p.remove.map(shq).join(' ')} >&2`);
      // Installing a held package (an upgrade) sets its selection back to "install": hold it again.
      const hold = opts.hold ? [...new Set([...p.hold, ...p.install.map((s) => s.split('=')[0])])] : p.hold;
      if (hold.length) steps.push(`apt-mark hold ${hold.map(shq).join(' ')} >/dev/null`);
      if (p.unhold.length) steps.push(`apt-mark unhold ${p.unhold.map(shq).join(' ')} >/dev/null`);
      await ctx.remote.run(steps.join('\n'));
    },
  };
}
