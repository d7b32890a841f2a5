/**
 * A local stand-in for the parts of Scaleway's Instance and Block Storage
 * APIs (v1) that the fleet capability uses. Test double only: the product
 * talks to whatever API URL it is configured with (SCW_API_URL), and the tests
 * point it here. Written from the public contract (see
 * /work/shared/reference/scaleway.md and Scaleway's API reference), and driven
 * in the tests by the real SDK client.
 *
 *   Instance API, under /instance/v1/zones/{zone}:
 *   GET    /servers               project, name, state, tags (comma-joined, all), page, per_page (max 100)
 *   GET    /servers/{id}          -> { server }
 *   POST   /servers/{id}/action   { action: poweroff | poweron | stop_in_place | terminate | reboot } -> { task }
 *   DELETE /servers/{id}          -> 204 (only powered off; volumes and flexible IPs stay, detached)
 *   GET    /volumes, /volumes/{id}, DELETE /volumes/{id}   local volumes (l_ssd, b_ssd)
 *   GET    /ips, /ips/{id}, DELETE /ips/{id}               flexible IPs
 *   GET    /products/servers      { servers: { TYPE: { hourly_price, ... } } }, paginated over the map's keys
 *   Block Storage API, under /block/v1/zones/{zone}:
 *   GET    /volumes               project_id, tags (repeated, any), product_resource_id, page, page_size (max 100)
 *   GET    /volumes/{id}          -> the volume
 *   DELETE /volumes/{id}          -> 204, refused (412 precondition_failed) while in_use
 *
 * Contract details a client depends on: bodies are snake_case JSON served with
 * `Content-Type: application/json` exactly; Instance lists carry their total
 * in the `X-Total-Count` header, Block lists in `total_count`; pages are full
 * except the last; errors are `{ type, message, resource?, resource_id? }`
 * (404 `not_found` for an unknown id, 400 `invalid_request_error` for a
 * refused action, 412 `precondition_failed`, 401 `denied_authentication`);
 * deletes answer 204 with no body. Authentication: `X-Auth-Token: <secret key>`.
 *
 * Powering off takes effect after `transitionReads` reads of the server
 * (state `stopping` until then), as a real poweroff takes a while.
 *
 * `calls` records every request (method, path, query, status; never headers);
 * `writes()` counts those that were not GET. `fault` makes chosen requests
 * answer 500 or never answer (a timeout).
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export const ZONES = ['fr-par-1', 'fr-par-2', 'fr-par-3', 'nl-ams-1', 'nl-ams-2', 'nl-ams-3', 'pl-waw-1', 'pl-waw-2', 'pl-waw-3'];

/** Server types of the stand-in (DEV1-S and DEV1-M are the fr-par-1 2025 prices; the others are test values). */
export const DEFAULT_SERVER_TYPES: Record<string, { hourly_price: number; ncpus: number; ram: number }> = {
  'DEV1-S': { hourly_price: 0.01368, ncpus: 2, ram: 2 * 1024 ** 3 },
  'DEV1-M': { hourly_price: 0.02556, ncpus: 3, ram: 4 * 1024 ** 3 },
  'DEV1-L': { hourly_price: 0.0499, ncpus: 4, ram: 8 * 1024 ** 3 },
  'GP1-XS': { hourly_price: 0.0919, ncpus: 4, ram: 16 * 1024 ** 3 },
  'PLAY2-PICO': { hourly_price: 0.0088, ncpus: 1, ram: 2 * 1024 ** 3 },
};

export type ServerState = 'running' | 'stopped' | 'stopped in place' | 'starting' | 'stopping' | 'locked';

export interface FakeServer {
  id: string;
  zone: string;
  name: string;
  project: string;
  organization: string;
  commercial_type: string;
  state: ServerState;
  protected: boolean;
  tags: string[];
  creation_date: string;
  modification_date: string;
  /** volume ids by index ("0" is the root volume), local or block */
  volumes: string[];
  /** flexible IP ids attached to it */
  ips: string[];
  /** a dynamic IP (released with the server, not a flexible IP), if any */
  dynamicAddress?: string;
  /** reads left until a pending poweroff completes */
  pending?: { to: ServerState; readsLeft: number };
}

export interface FakeInstanceVolume {
  id: string;
  zone: string;
  name: string;
  project: string;
  organization: string;
  volume_type: 'l_ssd' | 'b_ssd' | 'scratch';
  size: number;
  server: string | null;
  tags: string[];
  creation_date: string;
  modification_date: string;
}

export interface FakeBlockVolume {
  id: string;
  zone: string;
  name: string;
  project_id: string;
  type: 'sbs_5k' | 'sbs_15k';
  size: number;
  /** the server it is attached to */
  server: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
  last_detached_at: string | null;
}

export interface FakeIp {
  id: string;
  zone: string;
  address: string;
  project: string;
  organization: string;
  server: string | null;
  tags: string[];
}

export interface FakeScalewayCall {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  status: number;
}

export type Fault = '500' | 'hang';

export interface FakeScalewayOptions {
  /** the secret key accepted in X-Auth-Token (a UUID) */
  secretKey: string;
  port?: number;
  /** reads of a server before a poweroff completes (default 1) */
  transitionReads?: number;
  /** a stand-in that ignores the `project` filter, to test that clients check the project themselves */
  ignoreProjectFilter?: boolean;
  serverTypes?: Record<string, { hourly_price: number; ncpus: number; ram: number }>;
  /** chosen requests answer 500 or never answer */
  fault?: (method: string, path: string) => Fault | undefined;
}

export interface NewServer {
  zone?: string;
  name: string;
  project: string;
  commercialType?: string;
  state?: ServerState;
  protected?: boolean;
  tags?: string[];
  /** creation time; default: 2 days ago */
  createdAt?: Date;
  /** root first; default one sbs_volume of 10 GB */
  volumes?: Array<{ type: 'sbs_volume' | 'l_ssd' | 'b_ssd'; sizeGb?: number }>;
  /** attach a flexible IP (default true) */
  flexibleIp?: boolean;
  id?: string;
}

export interface FakeScaleway {
  url: string;
  servers: Map<string, FakeServer>;
  instanceVolumes: Map<string, FakeInstanceVolume>;
  blockVolumes: Map<string, FakeBlockVolume>;
  ips: Map<string, FakeIp>;
  calls: FakeScalewayCall[];
  /** requests other than GET (what a check run must never send) */
  writes(): number;
  addServer(s: NewServer): FakeServer;
  addBlockVolume(v: { zone?: string; project: string; name?: string; sizeGb?: number; createdAt?: Date; server?: string | null; tags?: string[] }): FakeBlockVolume;
  addInstanceVolume(v: { zone?: string; project: string; name?: string; sizeGb?: number; createdAt?: Date; server?: string | null; volumeType?: 'l_ssd' | 'b_ssd' }): FakeInstanceVolume;
  addIp(v: { zone?: string; project: string; server?: string | null; tags?: string[] }): FakeIp;
  /** server ids, volume ids and IP ids that exist, for before/after comparisons */
  inventory(): { servers: string[]; volumes: string[]; ips: string[] };
  setFault(f: FakeScalewayOptions['fault']): void;
  close(): Promise<void>;
}

const GB = 1000 ** 3;
const ORG = '11111111-2222-4333-8444-555555555555';

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message ?? body.type));
  }
}

const notFound = (resource: string, id: string) => new ApiError(404, { type: 'not_found', resource, resource_id: id, message: `resource ${resource} ${id} not found` });
const invalidRequest = (message: string) => new ApiError(400, { type: 'invalid_request_error', message });

export async function startFakeScaleway(opts: FakeScalewayOptions): Promise<FakeScaleway> {
  const servers = new Map<string, FakeServer>();
  const instanceVolumes = new Map<string, FakeInstanceVolume>();
  const blockVolumes = new Map<string, FakeBlockVolume>();
  const ips = new Map<string, FakeIp>();
  const calls: FakeScalewayCall[] = [];
  const types = opts.serverTypes ?? DEFAULT_SERVER_TYPES;
  const transitionReads = opts.transitionReads ?? 1;
  let fault = opts.fault;
  let ipCounter = 10;
  const hanging = new Set<http.ServerResponse>();

  const nextAddress = () => `51.15.${Math.floor(ipCounter / 250)}.${(ipCounter++ % 250) + 1}`;

  // --- JSON representations (snake_case, as the API sends them) ---

  function serverJson(s: FakeServer) {
    const volumes: Record<string, unknown> = {};
    s.volumes.forEach((vid, i) => {
      const iv = instanceVolumes.get(vid);
      const bv = blockVolumes.get(vid);
      if (iv) volumes[String(i)] = { ...instanceVolumeJson(iv), boot: i === 0 };
      else if (bv) volumes[String(i)] = { id: bv.id, volume_type: 'sbs_volume', boot: i === 0, zone: bv.zone, state: 'available' };
    });
    const publicIps = s.ips.map((id) => ips.get(id)).filter((ip): ip is FakeIp => Boolean(ip)).map((ip) => ({ id: ip.id, address: ip.address, dynamic: false, family: 'inet', gateway: '62.210.0.1', netmask: '32', provisioning_mode: 'manual', state: 'attached', tags: ip.tags, ipam_id: ip.id }));
    if (s.dynamicAddress) publicIps.push({ id: randomUUIDFrom(s.id), address: s.dynamicAddress, dynamic: true, family: 'inet', gateway: '62.210.0.1', netmask: '32', provisioning_mode: 'dhcp', state: 'attached', tags: [], ipam_id: randomUUIDFrom(s.id) });
    return {
      id: s.id,
      name: s.name,
      organization: s.organization,
      project: s.project,
      allowed_actions: allowedActions(s.state),
      tags: s.tags,
      commercial_type: s.commercial_type,
      creation_date: s.creation_date,
      dynamic_ip_required: Boolean(s.dynamicAddress),
      routed_ip_enabled: true,
      enable_ipv6: false,
      hostname: s.name,
      image: null,
      protected: s.protected,
      private_ip: null,
      public_ip: publicIps[0] ?? null,
      public_ips: publicIps,
      mac_address: 'de:00:00:00:00:01',
      modification_date: s.modification_date,
      state: s.state,
      location: null,
      ipv6: null,
      boot_type: 'local',
      volumes,
      security_group: { id: '00000000-0000-4000-8000-000000000001', name: 'Default security group' },
      maintenances: [],
      state_detail: s.state === 'running' ? 'booted' : '',
      arch: 'x86_64',
      placement_group: null,
      private_nics: [],
      zone: s.zone,
      filesystems: [],
      end_of_service: false,
    };
  }

  function instanceVolumeJson(v: FakeInstanceVolume) {
    const server = v.server ? servers.get(v.server) : undefined;
    return {
      id: v.id,
      name: v.name,
      export_uri: null,
      size: v.size,
      volume_type: v.volume_type,
      creation_date: v.creation_date,
      modification_date: v.modification_date,
      organization: v.organization,
      project: v.project,
      tags: v.tags,
      server: server ? { id: server.id, name: server.name } : null,
      state: server ? 'in_use' : 'available',
      zone: v.zone,
    };
  }

  function blockVolumeJson(v: FakeBlockVolume) {
    return {
      id: v.id,
      name: v.name,
      type: v.type,
      size: v.size,
      project_id: v.project_id,
      created_at: v.created_at,
      updated_at: v.updated_at,
      references: v.server
        ? [{ id: randomUUIDFrom(v.id + v.server), product_resource_type: 'instance_server', product_resource_id: v.server, created_at: v.updated_at, type: 'exclusive', status: 'attached' }]
        : [],
      parent_snapshot_id: null,
      status: v.server ? 'in_use' : 'available',
      tags: v.tags,
      specs: { perf_iops: v.type === 'sbs_15k' ? 15000 : 5000, class: 'sbs' },
      last_detached_at: v.last_detached_at,
      zone: v.zone,
    };
  }

  function ipJson(ip: FakeIp) {
    const server = ip.server ? servers.get(ip.server) : undefined;
    return {
      id: ip.id,
      address: ip.address,
      reverse: null,
      server: server ? { id: server.id, name: server.name } : null,
      organization: ip.organization,
      project: ip.project,
      zone: ip.zone,
      tags: ip.tags,
      type: 'routed_ipv4',
      state: server ? 'attached' : 'detached',
      prefix: `${ip.address}/32`,
      ipam_id: ip.id,
    };
  }

  // --- state changes ---

  /** A read of a server: a pending poweroff progresses. */
  function observe(s: FakeServer): void {
    if (!s.pending) return;
    s.pending.readsLeft--;
    if (s.pending.readsLeft <= 0) {
      s.state = s.pending.to;
      s.pending = undefined;
      s.modification_date = new Date().toISOString();
    }
  }

  function action(s: FakeServer, name: string): void {
    const allowed = allowedActions(s.state);
    if (!allowed.includes(name)) {
      if ((name === 'poweroff' || name === 'terminate') && s.state === 'stopped') throw invalidRequest('server should be running');
      throw invalidRequest(`action ${name} is not allowed in state ${s.state}; allowed: ${allowed.join(', ') || 'none'}`);
    }
    const now = new Date().toISOString();
    s.modification_date = now;
    switch (name) {
      case 'poweroff':
        s.state = 'stopping';
        s.pending = { to: 'stopped', readsLeft: transitionReads };
        break;
      case 'stop_in_place':
        s.state = 'stopped in place';
        break;
      case 'poweron':
      case 'reboot':
        s.state = 'running';
        break;
      case 'terminate':
        // Deletes local volumes, detaches block ones (as the API documents).
        for (const vid of s.volumes) {
          if (instanceVolumes.has(vid)) instanceVolumes.delete(vid);
          detachBlock(vid, now);
        }
        detachIps(s);
        servers.delete(s.id);
        break;
      default:
        throw new ApiError(400, { type: 'invalid_arguments', message: `unknown action ${name}` });
    }
  }

  function detachBlock(vid: string, now: string): void {
    const bv = blockVolumes.get(vid);
    if (!bv) return;
    bv.server = null;
    bv.last_detached_at = now;
    bv.updated_at = now;
  }

  function detachIps(s: FakeServer): void {
    for (const id of s.ips) {
      const ip = ips.get(id);
      if (ip) ip.server = null;
    }
  }

  function deleteServer(s: FakeServer): void {
    if (s.protected) throw invalidRequest('server is protected; unprotect it first');
    if (s.state !== 'stopped' && s.state !== 'stopped in place') throw invalidRequest('instance should be powered off');
    const now = new Date().toISOString();
    for (const vid of s.volumes) {
      const iv = instanceVolumes.get(vid);
      if (iv) iv.server = null;
      detachBlock(vid, now);
    }
    detachIps(s);
    servers.delete(s.id);
  }

  // --- routing ---

  function zoneOf(z: string): string {
    if (!ZONES.includes(z)) throw new ApiError(404, { type: 'not_found', message: `unknown zone ${z}` });
    return z;
  }

  function page<T>(items: T[], q: URLSearchParams, sizeParam: 'per_page' | 'page_size'): { items: T[]; total: number } {
    const size = q.get(sizeParam) === null ? 50 : Number(q.get(sizeParam));
    const p = q.get('page') === null ? 1 : Number(q.get('page'));
    if (!Number.isInteger(size) || size < 1 || size > 100)
      throw new ApiError(400, { type: 'invalid_arguments', message: 'invalid argument(s)', details: [{ argument_name: sizeParam, reason: 'constraint', help_message: 'must be between 1 and 100' }] });
    if (!Number.isInteger(p) || p < 1) throw new ApiError(400, { type: 'invalid_arguments', message: 'invalid argument(s)', details: [{ argument_name: 'page', reason: 'constraint', help_message: 'must be >= 1' }] });
    return { items: items.slice((p - 1) * size, p * size), total: items.length };
  }

  const projectMatches = (want: string | null, project: string) => opts.ignoreProjectFilter || want === null || want === project;

  function instance(method: string, zone: string, rest: string[], q: URLSearchParams, body: () => Record<string, unknown>): { status: number; body?: unknown; headers?: Record<string, string> } {
    const [collection, id, sub] = rest;
    const list = <T>(key: string, all: T[]) => {
      const { items, total } = page(all, q, 'per_page');
      return { status: 200, body: { [key]: items }, headers: { 'X-Total-Count': String(total) } };
    };
    if (collection === 'products' && id === 'servers' && method === 'GET' && sub === undefined) {
      const names = Object.keys(types).sort();
      const { items, total } = page(names, q, 'per_page');
      const body = Object.fromEntries(items.map((n) => [n, { ...types[n], monthly_price: Math.round(types[n].hourly_price * 730 * 100) / 100, alt_names: [], arch: 'x86_64', gpu: 0, volumes_constraint: { min_size: 0, max_size: 0 }, per_volume_constraint: { l_ssd: { min_size: GB, max_size: 20 * GB } }, baremetal: false, network: null, capabilities: null, scratch_storage_max_size: null, block_bandwidth: 0, end_of_service: false }]));
      return { status: 200, body: { servers: body }, headers: { 'X-Total-Count': String(total) } };
    }
    if (collection === 'servers') {
      if (id === undefined && method === 'GET') {
        const tags = q.get('tags')?.split(',').filter(Boolean) ?? [];
        const all = [...servers.values()]
          .filter((s) => s.zone === zone && projectMatches(q.get('project'), s.project))
          .filter((s) => !q.get('name') || s.name.includes(q.get('name')!))
          .filter((s) => !q.get('state') || s.state === q.get('state'))
          .filter((s) => tags.every((t) => s.tags.includes(t)))
          .sort((a, b) => a.creation_date.localeCompare(b.creation_date));
        all.forEach(observe);
        return list('servers', all.map(serverJson));
      }
      const s = id ? servers.get(id) : undefined;
      if (!s || s.zone !== zone) throw notFound('instance_server', id ?? '');
      if (sub === undefined && method === 'GET') {
        observe(s);
        return { status: 200, body: { server: serverJson(s) } };
      }
      if (sub === undefined && method === 'DELETE') {
        deleteServer(s);
        return { status: 204 };
      }
      if (sub === 'action' && method === 'POST') {
        const name = body().action;
        if (typeof name !== 'string') throw new ApiError(400, { type: 'invalid_arguments', message: 'action is required' });
        action(s, name);
        return { status: 202, body: { task: { id: randomUUID(), description: `server_${name}`, status: 'pending', href_from: `/servers/${s.id}/action`, progress: 0, started_at: new Date().toISOString(), terminated_at: null, zone } } };
      }
    }
    if (collection === 'volumes') {
      if (id === undefined && method === 'GET') {
        const all = [...instanceVolumes.values()]
          .filter((v) => v.zone === zone && projectMatches(q.get('project'), v.project))
          .filter((v) => !q.get('volume_type') || v.volume_type === q.get('volume_type'))
          .sort((a, b) => a.creation_date.localeCompare(b.creation_date));
        return list('volumes', all.map(instanceVolumeJson));
      }
      const v = id ? instanceVolumes.get(id) : undefined;
      if (!v || v.zone !== zone) throw notFound('instance_volume', id ?? '');
      if (method === 'GET' && sub === undefined) return { status: 200, body: { volume: instanceVolumeJson(v) } };
      if (method === 'DELETE' && sub === undefined) {
        if (v.server) throw invalidRequest('a volume attached to a server cannot be deleted');
        instanceVolumes.delete(v.id);
        return { status: 204 };
      }
    }
    if (collection === 'ips') {
      if (id === undefined && method === 'GET') {
        const all = [...ips.values()].filter((ip) => ip.zone === zone && projectMatches(q.get('project'), ip.project));
        return list('ips', all.map(ipJson));
      }
      const ip = id ? ips.get(id) : undefined;
      if (!ip || ip.zone !== zone) throw notFound('instance_ip', id ?? '');
      if (method === 'GET' && sub === undefined) return { status: 200, body: { ip: ipJson(ip) } };
      if (method === 'DELETE' && sub === undefined) {
        if (ip.server) {
          const s = servers.get(ip.server);
          if (s) s.ips = s.ips.filter((x) => x !== ip.id);
        }
        ips.delete(ip.id);
        return { status: 204 };
      }
    }
    throw new ApiError(404, { type: 'not_found', message: `no route ${method} /instance/v1/zones/${zone}/${rest.join('/')}` });
  }

  function block(method: string, zone: string, rest: string[], q: URLSearchParams): { status: number; body?: unknown } {
    const [collection, id, sub] = rest;
    if (collection === 'volumes' && sub === undefined) {
      if (id === undefined && method === 'GET') {
        const tags = q.getAll('tags');
        const all = [...blockVolumes.values()]
          .filter((v) => v.zone === zone && projectMatches(q.get('project_id'), v.project_id))
          .filter((v) => tags.length === 0 || tags.some((t) => v.tags.includes(t)))
          .filter((v) => !q.get('product_resource_id') || v.server === q.get('product_resource_id'))
          .sort((a, b) => a.created_at.localeCompare(b.created_at));
        const { items, total } = page(all.map(blockVolumeJson), q, 'page_size');
        return { status: 200, body: { volumes: items, total_count: total } };
      }
      const v = id ? blockVolumes.get(id) : undefined;
      if (!v || v.zone !== zone) throw notFound('block_volume', id ?? '');
      if (method === 'GET') return { status: 200, body: blockVolumeJson(v) };
      if (method === 'DELETE') {
        if (v.server) throw new ApiError(412, { type: 'precondition_failed', precondition: 'resource_still_in_use', message: 'volume is in use' });
        blockVolumes.delete(v.id);
        return { status: 204 };
      }
    }
    throw new ApiError(404, { type: 'not_found', message: `no route ${method} /block/v1/zones/${zone}/${rest.join('/')}` });
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const query: Record<string, string | string[]> = {};
    for (const k of new Set(url.searchParams.keys())) {
      const all = url.searchParams.getAll(k);
      query[k] = all.length > 1 ? all : all[0];
    }
    const call: FakeScalewayCall = { method, path: url.pathname, query, status: 0 };
    calls.push(call);
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      if (status === 204 || body === undefined) {
        res.writeHead(status, headers);
        res.end();
        return;
      }
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const f = fault?.(method, url.pathname);
    if (f === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (f === '500') return send(500, { type: 'internal_error', message: 'internal server error' });
    if (req.headers['x-auth-token'] !== opts.secretKey)
      return send(401, { message: 'authentication is denied', method: 'api_key', reason: 'invalid_argument', type: 'denied_authentication' });
    try {
      const m = /^\/(instance|block)\/v1\/zones\/([^/]+)\/(.+?)\/?$/.exec(url.pathname);
      if (!m) throw new ApiError(404, { type: 'not_found', message: `no route ${method} ${url.pathname}` });
      const zone = zoneOf(m[2]);
      const rest = m[3].split('/');
      const body = () => {
        try {
          return (raw ? JSON.parse(raw) : {}) as Record<string, unknown>;
        } catch {
          throw new ApiError(400, { type: 'invalid_arguments', message: 'request body is not JSON' });
        }
      };
      const out = m[1] === 'instance' ? instance(method, zone, rest, url.searchParams, body) : block(method, zone, rest, url.searchParams);
      return send(out.status, out.body, 'headers' in out ? (out.headers as Record<string, string>) : {});
    } catch (e) {
      if (e instanceof ApiError) return send(e.status, e.body);
      return send(500, { type: 'internal_error', message: e instanceof Error ? e.message : String(e) });
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{"type":"internal_error","message":"internal server error"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  // --- seeding ---

  const daysAgo = (d: number) => new Date(Date.now() - d * 86400_000);

  function addBlockVolume(v: Parameters<FakeScaleway['addBlockVolume']>[0]): FakeBlockVolume {
    const created = (v.createdAt ?? daysAgo(2)).toISOString();
    const vol: FakeBlockVolume = { id: randomUUID(), zone: v.zone ?? 'fr-par-1', name: v.name ?? 'vol', project_id: v.project, type: 'sbs_5k', size: (v.sizeGb ?? 10) * GB, server: v.server ?? null, tags: v.tags ?? [], created_at: created, updated_at: created, last_detached_at: v.server ? null : created };
    blockVolumes.set(vol.id, vol);
    return vol;
  }

  function addInstanceVolume(v: Parameters<FakeScaleway['addInstanceVolume']>[0]): FakeInstanceVolume {
    const created = (v.createdAt ?? daysAgo(2)).toISOString();
    const vol: FakeInstanceVolume = { id: randomUUID(), zone: v.zone ?? 'fr-par-1', name: v.name ?? 'vol', project: v.project, organization: ORG, volume_type: v.volumeType ?? 'l_ssd', size: (v.sizeGb ?? 20) * GB, server: v.server ?? null, tags: [], creation_date: created, modification_date: created };
    instanceVolumes.set(vol.id, vol);
    return vol;
  }

  function addIp(v: Parameters<FakeScaleway['addIp']>[0]): FakeIp {
    const ip: FakeIp = { id: randomUUID(), zone: v.zone ?? 'fr-par-1', address: nextAddress(), project: v.project, organization: ORG, server: v.server ?? null, tags: v.tags ?? [] };
    ips.set(ip.id, ip);
    return ip;
  }

  function addServer(n: NewServer): FakeServer {
    const zone = n.zone ?? 'fr-par-1';
    const created = (n.createdAt ?? daysAgo(2)).toISOString();
    const s: FakeServer = {
      id: n.id ?? randomUUID(),
      zone,
      name: n.name,
      project: n.project,
      organization: ORG,
      commercial_type: n.commercialType ?? 'DEV1-S',
      state: n.state ?? 'running',
      protected: n.protected ?? false,
      tags: n.tags ?? [],
      creation_date: created,
      modification_date: created,
      volumes: [],
      ips: [],
    };
    servers.set(s.id, s);
    for (const [i, v] of (n.volumes ?? [{ type: 'sbs_volume' as const }]).entries()) {
      const name = `${n.name}-vol-${i}`;
      const createdAt = new Date(created);
      s.volumes.push(v.type === 'sbs_volume' ? addBlockVolume({ zone, project: n.project, name, sizeGb: v.sizeGb, createdAt, server: s.id }).id : addInstanceVolume({ zone, project: n.project, name, sizeGb: v.sizeGb, createdAt, server: s.id, volumeType: v.type }).id);
    }
    if (n.flexibleIp ?? true) s.ips.push(addIp({ zone, project: n.project, server: s.id }).id);
    return s;
  }

  return {
    url: `http://127.0.0.1:${port}`,
    servers,
    instanceVolumes,
    blockVolumes,
    ips,
    calls,
    writes: () => calls.filter((c) => c.method !== 'GET').length,
    addServer,
    addBlockVolume,
    addInstanceVolume,
    addIp,
    inventory: () => ({ servers: [...servers.keys()].sort(), volumes: [...instanceVolumes.keys(), ...blockVolumes.keys()].sort(), ips: [...ips.keys()].sort() }),
    setFault: (f) => {
      fault = f;
    },
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function allowedActions(state: ServerState): string[] {
  switch (state) {
    case 'running':
      return ['poweroff', 'terminate', 'reboot', 'stop_in_place', 'backup'];
    case 'stopped':
      return ['poweron', 'backup'];
    case 'stopped in place':
      return ['poweron', 'poweroff', 'backup'];
    default:
      return [];
  }
}

/** A stable UUID-shaped id derived from a string (for sub-objects the fake does not store). */
function randomUUIDFrom(s: string): string {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const hex = h.toString(16).padStart(8, '0');
  return `${hex}-0000-4000-8000-${hex}0000`;
}
