// Deleting a runner machine the way Scaleway's own CLI does: read the server
// again (its volumes and IPs), power it off and wait, delete the server, then
// its flexible IPs, then each volume through the API that owns it (Block
// Storage for sbs_volume, Instance for local ones). Every object is read
// again first, and a deletion is refused when it no longer matches what the
// guards allowed (another project, protected, attached again). A 404 on the
// way means someone else deleted it already: fine.
import type { Instancev1 } from '@scaleway/sdk-instance';
import { describeError, isNotFound, type ScalewayApis } from './client.js';

export interface DeleteOptions {
  project: string;
  pollIntervalMs: number;
  poweroffTimeoutMs: number;
  log: (line: string) => void;
}

export interface DeletedServer {
  /** false: it was gone already */
  server: boolean;
  volumes: string[];
  ips: string[];
}

const step = async <T>(what: string, p: () => Promise<T>): Promise<T> => {
  try {
    return await p();
  } catch (e) {
    throw new Error(`Scaleway: ${what} failed: ${describeError(e)}`, { cause: e });
  }
};

/** The object of a get answer (the SDK types it optional). */
function present<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`the API's answer for ${what} holds no object`);
  return v;
}

/** Runs `p`; a 404 counts as done (returns false). */
async function gone(what: string, p: () => Promise<unknown>): Promise<boolean> {
  try {
    await p();
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw new Error(`Scaleway: ${what} failed: ${describeError(e)}`, { cause: e });
  }
}

async function poll<T>(what: string, o: DeleteOptions, read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + o.poweroffTimeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`Scaleway: ${what}: still not done after ${Math.round(o.poweroffTimeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, o.pollIntervalMs));
  }
}

export async function deleteServerLikeCli(apis: ScalewayApis, zone: string, serverId: string, o: DeleteOptions): Promise<DeletedServer> {
  let server: Instancev1.Server;
  try {
    server = present((await apis.instance.getServer({ zone, serverId })).server, `server ${serverId}`);
  } catch (e) {
    if (isNotFound(e)) return { server: false, volumes: [], ips: [] };
    throw new Error(`Scaleway: reading server ${serverId} in ${zone} failed: ${describeError(e)}`, { cause: e });
  }
  if (server.project !== o.project) throw new Error(`refusing to delete server ${serverId}: it is in project ${server.project} now, not ${o.project}`);
  if (server.protected) throw new Error(`refusing to delete server ${serverId} (${server.name}): it is protected now`);

  if (server.state !== 'stopped') {
    if (server.state === 'running' || server.state === 'stopped in place') {
      if (!server.allowedActions.includes('poweroff')) throw new Error(`server ${serverId} (${server.name}) cannot be powered off in state ${server.state} (allowed: ${server.allowedActions.join(', ') || 'none'})`);
      o.log(`powering off ${server.name} (${serverId})`);
      await step(`powering off server ${serverId}`, () => apis.instance.serverAction({ zone, serverId, action: 'poweroff' }));
    } else if (server.state !== 'stopping') throw new Error(`refusing to delete server ${serverId} (${server.name}) in state ${server.state}`);
    server = await poll(`powering off server ${serverId}`, o, () => step(`reading server ${serverId}`, async () => present((await apis.instance.getServer({ zone, serverId })).server, `server ${serverId}`)), (s) => s.state === 'stopped');
  }

  await step(`deleting server ${serverId} (${server.name})`, async () => {
    try {
      await apis.instance.deleteServer({ zone, serverId });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  });
  o.log(`deleted server ${server.name} (${serverId})`);

  const ips: string[] = [];
  for (const ip of (server.publicIps ?? []).filter((x) => !x.dynamic)) {
    if (await gone(`deleting flexible IP ${ip.address}`, () => apis.instance.deleteIp({ zone, ip: ip.id }))) ips.push(ip.id);
  }
  const volumes: string[] = [];
  for (const v of Object.values(server.volumes ?? {})) {
    if (v.volumeType === 'sbs_volume') {
      // The Block API refuses a volume while in_use; it becomes available shortly after its server is deleted.
      const exists = await poll(
        `waiting for block volume ${v.id} to be detached`,
        o,
        async () => {
          try {
            return await apis.block.getVolume({ zone, volumeId: v.id });
          } catch (e) {
            if (isNotFound(e)) return null;
            throw new Error(`Scaleway: reading block volume ${v.id} failed: ${describeError(e)}`, { cause: e });
          }
        },
        (bv) => bv === null || bv.status !== 'in_use',
      );
      if (exists && (await gone(`deleting block volume ${v.id}`, () => apis.block.deleteVolume({ zone, volumeId: v.id })))) volumes.push(v.id);
    } else if (await gone(`deleting ${v.volumeType} volume ${v.id}`, () => apis.instance.deleteVolume({ zone, volumeId: v.id }))) volumes.push(v.id);
  }
  return { server: true, volumes, ips };
}

/** A leaked volume: read again, refused if it is attached again or in another project. */
export async function deleteLeakedVolume(apis: ScalewayApis, zone: string, id: string, api: 'block' | 'instance', o: DeleteOptions): Promise<boolean> {
  if (api === 'block') {
    let v;
    try {
      v = await apis.block.getVolume({ zone, volumeId: id });
    } catch (e) {
      if (isNotFound(e)) return false;
      throw new Error(`Scaleway: reading block volume ${id} failed: ${describeError(e)}`, { cause: e });
    }
    if (v.projectId !== o.project) throw new Error(`refusing to delete block volume ${id}: it is in project ${v.projectId} now`);
    if (v.status === 'in_use' || v.references.some((r) => r.status === 'attached')) throw new Error(`refusing to delete block volume ${id}: it is attached again`);
    return gone(`deleting block volume ${id}`, () => apis.block.deleteVolume({ zone, volumeId: id }));
  }
  let v;
  try {
    v = present((await apis.instance.getVolume({ zone, volumeId: id })).volume, `volume ${id}`);
  } catch (e) {
    if (isNotFound(e)) return false;
    throw new Error(`Scaleway: reading volume ${id} failed: ${describeError(e)}`, { cause: e });
  }
  if (v.project !== o.project) throw new Error(`refusing to delete volume ${id}: it is in project ${v.project} now`);
  if (v.server) throw new Error(`refusing to delete volume ${id}: it is attached to server ${v.server.id} again`);
  return gone(`deleting volume ${id}`, () => apis.instance.deleteVolume({ zone, volumeId: id }));
}

/** A leaked flexible IP: read again, refused if it is attached again or in another project. */
export async function deleteLeakedIp(apis: ScalewayApis, zone: string, id: string, o: DeleteOptions): Promise<boolean> {
  let ip;
  try {
    ip = present((await apis.instance.getIp({ zone, ip: id })).ip, `flexible IP ${id}`);
  } catch (e) {
    if (isNotFound(e)) return false;
    throw new Error(`Scaleway: reading flexible IP ${id} failed: ${describeError(e)}`, { cause: e });
  }
  if (ip.project !== o.project) throw new Error(`refusing to delete flexible IP ${ip.address}: it is in project ${ip.project} now`);
  if (ip.server) throw new Error(`refusing to delete flexible IP ${ip.address}: it is attached to server ${ip.server.id} again`);
  return gone(`deleting flexible IP ${ip.address}`, () => apis.instance.deleteIp({ zone, ip: id }));
}

/** Whether a server exists (in any project the key can see). */
export async function serverExists(apis: ScalewayApis, zone: string, serverId: string): Promise<boolean> {
  try {
    await apis.instance.getServer({ zone, serverId });
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw new Error(`Scaleway: reading server ${serverId} in ${zone} failed: ${describeError(e)}`, { cause: e });
  }
}
