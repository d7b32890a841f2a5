// docker-machine-scaleway: GitLab's docker-machine fork and a Scaleway driver,
// installed as sha256-verified downloads (a bare binary, or one member of a
// .tar.gz / .zip release). Which driver (name, binary, option names, release)
// is inventory data: the Scaleway drivers are mutually incompatible, and a
// MachineOptions entry the chosen driver does not have is refused here,
// before any host is contacted, instead of failing every machine creation.
import { z } from 'zod';
import { defineRole, type ShellResource } from '../../lib/engine/types.js';
import { didYouMean } from '../../lib/engine/validateVars.js';
import { aptPackages, download } from '../../lib/resources/index.js';
import { archiveFormatOf, checksumProblem, memberProblem } from '../../lib/resources/download.js';
import { isSecret } from '../../lib/secrets.js';

/** Flags of `docker-machine create` itself (any driver): MachineOptions may use them too. */
export const DOCKER_MACHINE_CREATE_FLAGS = [
  'engine-env', 'engine-insecure-registry', 'engine-install-url', 'engine-label', 'engine-opt', 'engine-registry-mirror', 'engine-storage-driver',
  'swarm', 'swarm-addr', 'swarm-discovery', 'swarm-experimental', 'swarm-host', 'swarm-image', 'swarm-join-opt', 'swarm-master', 'swarm-opt', 'swarm-strategy',
  'tls-san',
];

const sha256 = z.string().superRefine((s, ctx) => {
  const p = checksumProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});
const url = z.string().regex(/^(https|file):\/\//, 'expected an https:// or file:// URL');
const member = z.string().superRefine((s, ctx) => {
  const p = memberProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

/** A verified download: the file at url, or `member` of the archive at url; sha256 is always that of what url serves. */
const release = {
  version: z.string().min(1),
  url,
  sha256,
  member: member.optional(),
  format: z.enum(['tar.gz', 'zip']).optional(),
};

const checkArchive = (v: { url?: string; member?: string; format?: string }, ctx: z.RefinementCtx) => {
  if (v.member !== undefined && v.url !== undefined && !v.format && !archiveFormatOf(v.url))
    ctx.addIssue({ code: 'custom', path: ['format'], message: `${v.url} does not end in .tar.gz, .tgz or .zip: set format = "tar.gz" or "zip" for member ${v.member}` });
};

const driver = z
  .strictObject({
    ...release,
    url: url.optional(),
    sha256: sha256.optional(),
    /** MachineDriver value in config.toml: docker-machine runs docker-machine-driver-<name> */
    name: z.string().regex(/^[a-z0-9-]+$/),
    binary: z.string().regex(/^docker-machine-driver-[a-z0-9-]+$/, 'expected docker-machine-driver-<name>'),
    /** the driver's create flags (without --), as its GetCreateFlags() declares them */
    options: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected an option name without leading --')).min(1, 'expected the option names of the driver'),
    /** set instead of url/sha256 while no verified binary can be pinned: why (the role then refuses to run) */
    unpinned: z.string().min(1).optional(),
  })
  .superRefine((d, ctx) => {
    if (d.binary !== `docker-machine-driver-${d.name}`)
      ctx.addIssue({ code: 'custom', path: ['binary'], message: `expected "docker-machine-driver-${d.name}": docker-machine looks for the driver of MachineDriver "${d.name}" under that name` });
    // Unpinned: accepted here so the inventory can be reviewed (--render, --list-tasks); the
    // role then lists a blocked resource, and a check or apply run refuses before connecting.
    if (d.unpinned !== undefined) return;
    if (d.url === undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required (or unpinned, saying why no verified binary exists yet)' });
    if (d.sha256 === undefined) ctx.addIssue({ code: 'custom', path: ['sha256'], message: 'is required: the sha256 of what url serves' });
    checkArchive(d, ctx);
  });

const machineOptions = z.array(z.unknown()).optional();

const vars = z
  .looseObject({
    docker_machine: z.strictObject(release).superRefine(checkArchive),
    docker_machine_driver: driver,
    docker_machine_bin_dir: z.string().startsWith('/').default('/usr/local/bin'),
    gitlab_runners: z
      .array(z.looseObject({ name: z.string(), executor: z.string(), limit: z.number().optional(), machine: z.looseObject({ MachineDriver: z.string().optional(), MachineOptions: machineOptions }).optional() }))
      .default([]),
  })
  .superRefine((v, ctx) => {
    const d = v.docker_machine_driver;
    if (!d || typeof d !== 'object') return;
    const known = new Set([...(Array.isArray(d.options) ? d.options : []), ...DOCKER_MACHINE_CREATE_FLAGS]);
    (Array.isArray(v.gitlab_runners) ? v.gitlab_runners : []).forEach((r, i) => {
      if (!r || r.executor !== 'docker+machine') return;
      // The fleet must not grow without bound, and must use the driver this role installs.
      if (!r.limit || r.limit < 1) ctx.addIssue({ code: 'custom', path: ['gitlab_runners', i, 'limit'], message: `runner ${r.name}: docker+machine needs limit >= 1 (upper bound on machines)` });
      if (r.machine?.MachineDriver !== d.name)
        ctx.addIssue({ code: 'custom', path: ['gitlab_runners', i, 'machine', 'MachineDriver'], message: `runner ${r.name}: expected "${d.name}" (the driver this role installs)` });
      (r.machine?.MachineOptions ?? []).forEach((o, j) => {
        const key = optionKey(o);
        if (key === undefined || known.has(key)) return;
        const near = didYouMean(key, known);
        ctx.addIssue({
          code: 'custom',
          path: ['gitlab_runners', i, 'machine', 'MachineOptions', j],
          message: `"${key}" is not an option of docker-machine driver ${d.name}${near ? `; did you mean "${near}"?` : ` (it has: ${[...d.options].join(', ')})`}`,
        });
      });
    });
  });

/** The option name of a MachineOptions entry ("key=value", a secret holding one, or { key, value }); only the name, never the value. */
function optionKey(o: unknown): string | undefined {
  const text = isSecret(o) ? o.reveal() : typeof o === 'string' ? o : o && typeof o === 'object' && typeof (o as { key?: unknown }).key === 'string' ? (o as { key: string }).key : undefined;
  // A secret without "=" is a bare value: naming it in a message would print the secret.
  if (text === undefined || (isSecret(o) && !text.includes('='))) return undefined;
  const name = text.split('=')[0];
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) ? name : undefined;
}

type Release = { url: string; sha256: string; member?: string; format?: 'tar.gz' | 'zip' };

export default defineRole({
  name: 'docker-machine-scaleway',
  vars,
  tasks({ vars: v }) {
    const drv = v.docker_machine_driver as Release & { binary: string; name: string; version: string; unpinned?: string };
    const releases: Array<[Release, string]> = [[v.docker_machine, 'docker-machine']];
    if (drv.unpinned === undefined) releases.push([drv, drv.binary]);
    const zip = releases.some(([r]) => r.member !== undefined && (r.format ?? archiveFormatOf(r.url)) === 'zip');
    return {
      resources: [
        // unzip only when a .zip release needs it (tar and gzip are always there).
        zip && aptPackages({ packages: ['unzip'] }),
        ...releases.map(([r, name]) => download({ url: r.url, sha256: r.sha256, member: r.member, format: r.format, dest: `${v.docker_machine_bin_dir}/${name}`, mode: '0755' })),
        drv.unpinned !== undefined && unpinnedDriver(drv, `${v.docker_machine_bin_dir}/${drv.binary}`),
      ],
    };
  },
});

/** Stands for a driver download that cannot be verified yet: shown, never run. */
function unpinnedDriver(d: { name: string; version: string; unpinned?: string }, dest: string): ShellResource {
  const why =
    `driver ${d.name} ${d.version} has no verified download yet (${d.unpinned}). rigger installs only what it can verify: ` +
    'publish the binary (or a release archive) at a URL you control, take its sha256 (sha256sum FILE), then set url, sha256 (and member for an archive) in docker_machine_driver and remove unpinned';
  return {
    id: `download:${dest}`,
    tags: [],
    notify: [],
    blocked: why,
    probe: ':',
    plan: () => {
      throw new Error(why);
    },
    apply: async () => {},
  };
}
