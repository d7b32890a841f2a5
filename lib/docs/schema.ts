// The inventory data the "CI jobs and runners" page is made from, besides
// what the roles already read (gitlab_runners, concurrent, docker_cleanup_*):
//
//   docs    (global var)   the wiki page, the jobs and the tags they use, the
//                          systems outside the inventory, the last known prices
//   server  (host or group var)  what a server is for, its services and the
//                          paths worth watching
//
// References between them are strings: "solr" (a service or path of the same
// server), "dolos:solr" (of another server) or the name of a `docs.external`.
import { z } from 'zod';

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a name of letters, digits, ".", "_", "-"');
const ref = z.string().regex(/^([A-Za-z0-9][A-Za-z0-9._-]*:)?[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected "name" or "host:name"');
const tag = z.string().regex(/^[^,\s][^,]*$/, 'expected a tag without commas');
const money = z.number({ message: 'expected a number' }).min(0, 'expected a price >= 0');
const positive = z.number({ message: 'expected a number' }).positive('expected a number > 0');
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date like "2025-06-01"');

export const serviceSchema = z.object({
  name,
  /** systemd unit, e.g. "solr.service" */
  unit: z.string().regex(/^[A-Za-z0-9@._:-]+\.(service|socket|timer|mount|target)$/, 'expected a systemd unit name like "solr.service"').optional(),
  ports: z.array(z.number().int().min(1).max(65535, 'expected a port 1-65535')).default([]),
  /** public: reachable from other machines; local: bound to localhost only */
  listen: z.enum(['public', 'local'], { message: 'expected "public" or "local"' }).optional(),
  description: z.string().optional(),
  /** services, paths or external systems this one needs */
  depends_on: z.array(ref).default([]),
});

export const pathSchema = z.object({
  name,
  path: z.string().startsWith('/', 'expected an absolute path'),
  purpose: z.string().min(1, 'expected what the path holds'),
});

export const serverSchema = z
  .object({
    /** the server's role, in one sentence */
    description: z.string().min(1, 'expected the server role in one sentence'),
    /** declared size, shown when the server is not measured */
    size: z.object({ cpus: positive.optional(), ram_gb: positive.optional(), disk_gb: positive.optional() }).optional(),
    services: z.array(serviceSchema).default([]),
    paths: z.array(pathSchema).default([]),
  })
  .superRefine((s, ctx) => {
    const seen = new Map<string, string>();
    for (const [kind, list] of [['services', s.services], ['paths', s.paths]] as const) {
      list.forEach((x, i) => {
        const first = seen.get(x.name);
        if (first) ctx.addIssue({ code: 'custom', path: [kind, i, 'name'], message: `duplicate name "${x.name}" (also ${first}): services and paths share one namespace` });
        else seen.set(x.name, `${kind}[${i}]`);
      });
    }
  });

export const jobSchema = z.object({
  name: z.string().min(1),
  /** the tags the job's .gitlab-ci.yml gives it; [] for an untagged job */
  tags: z.array(tag).default([]),
  reads: z.array(ref).default([]),
  writes: z.array(ref).default([]),
});

export const externalSchema = z.object({
  name,
  label: z.string().min(1),
});

export const pricesSchema = z.object({
  /** when these prices were last checked */
  as_of: isoDate,
  /** where they come from, e.g. "Scaleway pricing page, fr-par-1" */
  source: z.string().min(1),
  currency: z.string().default('EUR'),
  /** commercial type -> price per hour of a running instance */
  hourly: z.record(z.string(), money).default({}),
  /** commercial type -> size of its root volume in GB (billed while stopped too) */
  root_volume_gb: z.record(z.string(), positive).default({}),
  /** block volume, per GB and month */
  volume_gb_month: money,
  /** a flexible IPv4, per month */
  flexible_ip_month: money,
});

export const docsSchema = z.object({
  wiki: z.object({
    /** project path (or numeric id) holding the wiki, e.g. "dbnomics-fetchers/documentation" */
    project: z.union([z.string().regex(/^[^/\s]+(\/[^/\s]+)+$/, 'expected a project path like "group/project"'), z.number().int().positive()]),
    /** the page's path in the wiki; GitLab shows it as the title, hyphens as spaces */
    slug: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)*$/, 'expected a wiki page slug like "ci-jobs-and-runners"'),
  }),
  jobs: z.array(jobSchema).default([]),
  external: z.array(externalSchema).default([]),
  prices: pricesSchema.optional(),
  /** seconds `du` may take per declared path when measuring */
  du_timeout: z.number().int().min(1).default(120),
});

export type ServiceDecl = z.output<typeof serviceSchema>;
export type PathDecl = z.output<typeof pathSchema>;
export type ServerDecl = z.output<typeof serverSchema>;
export type JobDecl = z.output<typeof jobSchema>;
export type DocsDecl = z.output<typeof docsSchema>;
export type Prices = z.output<typeof pricesSchema>;

/** The vars of the page's role (global vars). */
export const pageVarsSchema = z.object({ docs: docsSchema });

/** The vars of the measuring role (each host's). */
export const hostVarsSchema = z.object({ server: serverSchema.optional(), docs: z.object({ du_timeout: z.number().int().min(1).default(120) }).loose().optional() });
