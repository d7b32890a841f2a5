// The page's data, built from the inventory alone (and, when the hosts were
// reached, their measurements): servers with their services, paths and
// runners, the jobs and where they can run, the fleets and their cost.
// Everything the page shows comes from here; the writers only format it.
import { basename, isAbsolute, relative } from 'node:path';
import type { Vars } from '../engine/types.js';
import { UserError } from '../errors.js';
import type { Inventory } from '../inventory/load.js';
import { fleetOf, priceBook, type FleetSummary, type LivePrices, type PriceBook } from './fleet.js';
import type { HostMeasure, Measurements } from './measure.js';
import { routingTable, tagIndex, type RouteRow } from './routing.js';
import { runnersOf, type RunnerInfo } from './runners.js';
import { docsSchema, serverSchema, type DocsDecl, type PathDecl, type ServerDecl, type ServiceDecl } from './schema.js';

/** A reference resolved: a service or path of a server, or a system outside the inventory. */
export type Node = { kind: 'service' | 'path'; host: string; name: string } | { kind: 'external'; name: string; label: string };

export interface ServiceModel extends ServiceDecl {
  /** not declared: implied by the host's runners (gitlab-runner) */
  derived: boolean;
  deps: Node[];
}

export interface ServerModel {
  name: string;
  address: string;
  groups: string[];
  description?: string;
  size?: ServerDecl['size'];
  services: ServiceModel[];
  paths: PathDecl[];
  runners: RunnerInfo[];
  /** rigger roles the playbooks apply to this host */
  roles: string[];
  measure?: HostMeasure;
}

export interface JobModel {
  name: string;
  tags: string[];
  reads: Node[];
  writes: Node[];
}

export interface CleanupInfo {
  host: string;
  threshold: string;
  grace: string;
  schedule: string;
}

export interface PageModel {
  wiki: DocsDecl['wiki'];
  /** the inventory file, as the page names it (relative to the working directory) */
  inventoryFile: string;
  servers: ServerModel[];
  runners: RunnerInfo[];
  jobs: JobModel[];
  externals: Map<string, string>;
  routes: RouteRow[];
  tags: Array<{ tag: string; runners: RunnerInfo[] }>;
  fleets: FleetSummary[];
  prices: PriceBook;
  cleanup: CleanupInfo[];
  /** groups whose vars declare runners: a host line in one of them is a new runner server */
  runnerGroups: Array<{ group: string; runners: string[]; example: string }>;
  /** the date of the measurements, when every server was measured in this run */
  measured: { date?: string; hosts: string[]; missing: string[] };
}

export interface ModelInput {
  inventory: Inventory;
  measurements?: Measurements;
  /** role name and validated vars of every role the playbooks apply to a host */
  applied?: (host: string) => Array<{ role: string; vars: Vars }>;
  /** live prices from the fleet capability, when its API was reachable */
  livePrices?: LivePrices;
}

export function buildModel(input: ModelInput): PageModel {
  const inv = input.inventory;
  const file = displayFile(inv.file);
  const problems: string[] = [];
  const docsParsed = docsSchema.safeParse(inv.groups.get('all')?.vars.docs);
  if (!docsParsed.success) {
    const missing = inv.groups.get('all')?.vars.docs === undefined;
    throw new UserError(
      missing
        ? `${file}: vars.docs: expected the docs page's settings ([vars.docs] with wiki = { project, slug }), found none`
        : `${file}: invalid docs data:\n  ${issues(docsParsed.error, 'vars.docs').join('\n  ')}`,
    );
  }
  const docs = docsParsed.data;

  const runners: RunnerInfo[] = [];
  const servers: ServerModel[] = [];
  for (const host of inv.hosts.values()) {
    let decl: ServerDecl | undefined;
    if (host.vars.server !== undefined) {
      const p = serverSchema.safeParse(host.vars.server);
      if (p.success) decl = p.data;
      else problems.push(...issues(p.error, `host ${host.name}: server`));
    }
    const own = runnersOf(host.name, host.vars, problems);
    runners.push(...own);
    const applied = input.applied?.(host.name) ?? [];
    servers.push({
      name: host.name,
      address: host.address,
      groups: host.groups.filter((g) => g !== 'all'),
      description: decl?.description,
      size: decl?.size,
      services: [],
      paths: decl?.paths ?? [],
      runners: own,
      roles: [...new Set(applied.map((a) => a.role))],
      measure: input.measurements?.get(host.name),
    });
    servers[servers.length - 1].services = servicesOf(decl, own);
  }

  const externals = externalsOf(docs, runners);
  const byName = new Map(servers.map((s) => [s.name, s]));
  const resolve = (refText: string, where: string, host?: ServerModel): Node | undefined => {
    const [h, n] = refText.includes(':') ? refText.split(':') : [undefined, refText];
    const target = h !== undefined ? byName.get(h) : host;
    if (h !== undefined && !target) {
      problems.push(`${where}: "${refText}": no host ${h} in the inventory`);
      return undefined;
    }
    if (target) {
      const svc = target.services.find((s) => s.name === n);
      if (svc) return { kind: 'service', host: target.name, name: n };
      if (target.paths.some((p) => p.name === n)) return { kind: 'path', host: target.name, name: n };
      if (h !== undefined) {
        problems.push(`${where}: "${refText}": ${h} has no service or path named ${n}`);
        return undefined;
      }
    }
    const label = externals.get(n);
    if (label !== undefined) return { kind: 'external', name: n, label };
    problems.push(`${where}: "${refText}": expected a service or path${host ? ` of ${host.name}` : ''}, "host:name", or a name of docs.external (${[...externals.keys()].join(', ') || 'none declared'})`);
    return undefined;
  };

  for (const s of servers) {
    s.services.forEach((svc, i) => {
      svc.deps = svc.depends_on.map((d, j) => resolve(d, `host ${s.name}: server.services[${i}].depends_on[${j}]`, s)).filter((x): x is Node => Boolean(x));
    });
  }
  const jobs: JobModel[] = docs.jobs.map((j, i) => ({
    name: j.name,
    tags: [...new Set(j.tags)],
    reads: j.reads.map((r, k) => resolve(r, `vars.docs.jobs[${i}].reads[${k}]`)).filter((x): x is Node => Boolean(x)),
    writes: j.writes.map((w, k) => resolve(w, `vars.docs.jobs[${i}].writes[${k}]`)).filter((x): x is Node => Boolean(x)),
  }));
  if (problems.length) throw new UserError(`${file}: invalid docs data:\n  ${problems.join('\n  ')}`);

  const prices = priceBook(docs.prices, input.livePrices);
  const measuredHosts = servers.filter((s) => s.measure).map((s) => s.name);
  const dates = [...new Set(servers.flatMap((s) => (s.measure ? [s.measure.date] : [])))].sort();
  return {
    wiki: docs.wiki,
    inventoryFile: file,
    servers,
    runners,
    jobs,
    externals,
    routes: routingTable(jobs, runners),
    tags: tagIndex(jobs, runners),
    fleets: runners.map((r) => fleetOf(r, prices)).filter((f): f is FleetSummary => Boolean(f)),
    prices,
    cleanup: servers.flatMap((s) => cleanupOf(s.name, input.applied?.(s.name) ?? [])),
    runnerGroups: runnerGroupsOf(inv),
    measured: { date: dates[dates.length - 1], hosts: measuredHosts, missing: servers.filter((s) => !s.measure).map((s) => s.name) },
  };
}

/** Declared services, plus gitlab-runner on a host with runners when it is not declared. */
function servicesOf(decl: ServerDecl | undefined, runners: RunnerInfo[]): ServiceModel[] {
  const declared: ServiceModel[] = (decl?.services ?? []).map((s) => ({ ...s, derived: false, deps: [] }));
  const hasRunnerService = declared.some((s) => s.name === 'gitlab-runner' || s.unit === 'gitlab-runner.service');
  if (runners.length && !hasRunnerService) {
    const deps = ['gitlab'];
    if (runners.some((r) => r.executor === 'docker+machine')) deps.push('scaleway');
    if (runners.some((r) => r.executor === 'docker') && declared.some((s) => s.name === 'docker')) deps.push('docker');
    declared.push({
      name: 'gitlab-runner',
      unit: 'gitlab-runner.service',
      ports: [],
      listen: undefined,
      description: `GitLab Runner: ${runners.map((r) => r.name).join(', ')}`,
      depends_on: deps,
      derived: true,
      deps: [],
    });
  }
  return declared;
}

/** docs.external, plus GitLab and the Scaleway API when runners need them and they are not declared. */
function externalsOf(docs: DocsDecl, runners: RunnerInfo[]): Map<string, string> {
  const out = new Map<string, string>();
  const urls = [...new Set(runners.map((r) => r.gitlabUrl).filter((u): u is string => Boolean(u)))];
  if (runners.length) out.set('gitlab', `GitLab${urls.length ? ` (${urls.map(hostOf).join(', ')})` : ''}`);
  if (runners.some((r) => r.executor === 'docker+machine')) out.set('scaleway', 'Scaleway Instance API');
  for (const e of docs.external) out.set(e.name, e.label);
  return out;
}

function cleanupOf(host: string, applied: Array<{ role: string; vars: Vars }>): CleanupInfo[] {
  const c = applied.find((a) => a.role === 'docker-cleanup');
  if (!c || c.vars.docker_cleanup_enabled === false) return [];
  return [{ host, threshold: String(c.vars.docker_cleanup_threshold), grace: String(c.vars.docker_cleanup_grace), schedule: String(c.vars.docker_cleanup_schedule) }];
}

function runnerGroupsOf(inv: Inventory): PageModel['runnerGroups'] {
  const out: PageModel['runnerGroups'] = [];
  const domain = commonDomain([...inv.hosts.values()].map((h) => h.address));
  for (const g of inv.groups.values()) {
    const list = g.vars.gitlab_runners;
    if (g.name === 'all' || !Array.isArray(list) || list.length === 0) continue;
    const names = list.map((r) => String((r as { name?: unknown }).name ?? '?'));
    out.push({ group: g.name, runners: names, example: `new-runner = { host = "new-runner${domain ? `.${domain}` : ''}", groups = ["${g.name}"] }` });
  }
  return out;
}

/** "example.org" when every address is a name under it. */
function commonDomain(addresses: string[]): string | undefined {
  const domains = new Set(addresses.filter((a) => /[a-z]/i.test(a) && a.includes('.')).map((a) => a.split('.').slice(1).join('.')));
  return domains.size === 1 ? [...domains][0] : undefined;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** Relative to the working directory when inside it (inventory/hosts.toml), else its base name: never a temp path. */
function displayFile(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : basename(file);
}

function issues(error: { issues: Array<{ path: PropertyKey[]; message: string }> }, prefix: string): string[] {
  return error.issues.map((i) => `${prefix}${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`);
}
