// What the Scaleway API says about the runners' project, zone by zone:
// servers, local and block volumes, flexible IPs and the hourly price of each
// server type. Plain data (the SDK's objects reduced to what the fleet uses),
// so classification and costs are pure functions of it.
import type { Instancev1 } from '@scaleway/sdk-instance';
import type { Blockv1 } from '@scaleway/sdk-block';
import { describeError, isNotFound, type ScalewayApis } from './client.js';

export interface ServerView {
  zone: string;
  id: string;
  name: string;
  project: string;
  state: string;
  commercialType: string;
  createdAt: Date;
  protected: boolean;
  tags: string[];
  /** root first */
  volumes: Array<{ id: string; type: string }>;
  /** flexible IPs (dynamic ones go with the server) */
  flexibleIps: Array<{ id: string; address: string }>;
  allowedActions: string[];
}

export interface VolumeView {
  zone: string;
  id: string;
  /** which API owns it: block for sbs_* volumes, instance for local ones */
  api: 'block' | 'instance';
  type: string;
  name: string;
  sizeBytes: number;
  project: string;
  /** the server it is attached to */
  attachedTo: string | null;
  createdAt: Date;
  /** last time it was detached (Block API), else its creation */
  detachedAt: Date;
}

export interface IpView {
  zone: string;
  id: string;
  address: string;
  project: string;
  attachedTo: string | null;
}

export interface ZoneSnapshot {
  servers: ServerView[];
  volumes: VolumeView[];
  ips: IpView[];
  /** commercial type -> EUR per hour */
  hourlyPrices: Record<string, number>;
}

export interface ApiSnapshot {
  project: string;
  zones: Record<string, ZoneSnapshot>;
}

const PAGE = 100;

function serverView(zone: string, s: Instancev1.Server): ServerView {
  const volumes = Object.entries(s.volumes ?? {})
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, v]) => ({ id: v.id, type: v.volumeType }));
  return {
    zone,
    id: s.id,
    name: s.name,
    project: s.project,
    state: s.state,
    commercialType: s.commercialType,
    createdAt: s.creationDate ?? new Date(0),
    protected: Boolean(s.protected),
    tags: s.tags ?? [],
    volumes,
    flexibleIps: (s.publicIps ?? []).filter((ip) => !ip.dynamic).map((ip) => ({ id: ip.id, address: ip.address })),
    allowedActions: s.allowedActions ?? [],
  };
}

function instanceVolumeView(zone: string, v: Instancev1.Volume): VolumeView {
  const created = v.creationDate ?? new Date(0);
  return { zone, id: v.id, api: 'instance', type: v.volumeType, name: v.name, sizeBytes: v.size, project: v.project, attachedTo: v.server?.id ?? null, createdAt: created, detachedAt: v.modificationDate ?? created };
}

function blockVolumeView(zone: string, v: Blockv1.Volume): VolumeView {
  const attached = v.references.find((r) => r.productResourceType === 'instance_server' && r.status !== 'detached');
  const created = v.createdAt ?? new Date(0);
  return {
    zone,
    id: v.id,
    api: 'block',
    type: v.type,
    name: v.name,
    sizeBytes: v.size,
    project: v.projectId,
    attachedTo: attached?.productResourceId ?? (v.status === 'in_use' ? 'unknown' : null),
    createdAt: created,
    detachedAt: v.lastDetachedAt ?? created,
  };
}

/** Every server type's hourly price: listServersTypes has no .all(), so page until totalCount keys arrived. */
export async function hourlyPrices(apis: ScalewayApis, zone: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let page = 1; page <= 50; page++) {
    const res = await apis.instance.listServersTypes({ zone, perPage: PAGE, page });
    const entries = Object.entries(res.servers ?? {});
    for (const [name, t] of entries) out[name] = t.hourlyPrice;
    if (entries.length === 0 || Object.keys(out).length >= res.totalCount) break;
  }
  return out;
}

/** One zone of the project, read concurrently. Only objects of `project` are kept, whatever the API returned. */
export async function readZone(apis: ScalewayApis, project: string, zone: string, pageSize = PAGE): Promise<ZoneSnapshot> {
  const step = async <T>(what: string, p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      throw new Error(`Scaleway: listing ${what} of project ${project} in ${zone} failed: ${describeError(e)}`, { cause: e });
    }
  };
  const [servers, local, block, ips, prices] = await Promise.all([
    step('servers', apis.instance.listServers({ zone, project, perPage: pageSize }).all()),
    step('local volumes', apis.instance.listVolumes({ zone, project, perPage: pageSize }).all()),
    step('block volumes', apis.block.listVolumes({ zone, projectId: project, pageSize, includeDeleted: false }).all()),
    step('flexible IPs', apis.instance.listIps({ zone, project, perPage: pageSize }).all()),
    step('server types', hourlyPrices(apis, zone)),
  ]);
  return {
    servers: servers.filter((s) => s.project === project).map((s) => serverView(zone, s)),
    volumes: [...local.filter((v) => v.project === project).map((v) => instanceVolumeView(zone, v)), ...block.filter((v) => v.projectId === project).map((v) => blockVolumeView(zone, v))],
    ips: ips.filter((ip) => ip.project === project).map((ip) => ({ zone, id: ip.id, address: ip.address, project: ip.project, attachedTo: ip.server?.id ?? null })),
    hourlyPrices: prices,
  };
}

export async function readApiSnapshot(apis: ScalewayApis, project: string, zones: string[], pageSize = PAGE): Promise<ApiSnapshot> {
  const read = await Promise.all(zones.map((z) => readZone(apis, project, z, pageSize)));
  return { project, zones: Object.fromEntries(zones.map((z, i) => [z, read[i]])) };
}

/** Where the server of a store entry is, when the project's listing did not show it. */
export type StoreServerLookup = { status: 'gone' } | { status: 'elsewhere'; project: string };

/**
 * One GET per store entry whose server the listing did not show (normally
 * none): a 404 proves the server is gone and the entry stuck in removal;
 * found, it is in another project (never ours to touch).
 */
export async function lookUpStoreServers(apis: ScalewayApis, entries: Array<{ zone: string; serverId: string }>): Promise<Record<string, StoreServerLookup>> {
  const out: Record<string, StoreServerLookup> = {};
  await Promise.all(
    entries.map(async ({ zone, serverId }) => {
      try {
        const s = (await apis.instance.getServer({ zone, serverId })).server;
        out[serverId] = { status: 'elsewhere', project: s?.project ?? 'unknown' };
      } catch (e) {
        if (isNotFound(e)) out[serverId] = { status: 'gone' };
        else throw new Error(`Scaleway: reading server ${serverId} of a store entry in ${zone} failed: ${describeError(e)}`, { cause: e });
      }
    }),
  );
  return out;
}
