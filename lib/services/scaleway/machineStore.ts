// gitlab-runner's docker-machine store on a runner host: which machines it
// knows and their Scaleway server ids. Read in one round trip by a script
// that prints only names and ids (the store's config.json files hold API
// credentials in clear).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Remote } from '../../engine/types.js';
import { shq } from '../../resources/shell.js';

const LIST_SCRIPT = readFileSync(fileURLToPath(new URL('./scripts/machine-store.sh', import.meta.url)), 'utf8');
const REMOVE_SCRIPT = readFileSync(fileURLToPath(new URL('./scripts/machine-store-remove.sh', import.meta.url)), 'utf8');

/** docker-machine's own rule for machine names. */
const MACHINE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface StoreMachine {
  name: string;
  /** Driver.ServerID; empty while docker-machine is still creating the server */
  serverId: string;
  driver: string;
  /** Driver.Zone (scaleway-v2) or Driver.Region (the original driver), as written */
  zone: string;
  /** when config.json last changed */
  modifiedAt: Date;
}

/** Runs `script` with `args` as its positional parameters. */
function withArgs(script: string, args: string[]): string {
  return `set -- ${args.map(shq).join(' ')}\n${script}`;
}

export function parseStoreListing(stdout: string, store: string): StoreMachine[] {
  const lines = stdout.split('\n');
  if (!lines.includes('end')) throw new Error(`reading the docker-machine store ${store}: the listing was cut short`);
  const out: StoreMachine[] = [];
  for (const line of lines) {
    if (!line.startsWith('machine\t')) continue;
    const [, name, serverId, driver, zone, mtime] = line.split('\t');
    if (!MACHINE_NAME.test(name ?? '')) continue;
    out.push({ name, serverId: UUID.test(serverId ?? '') ? serverId.toLowerCase() : '', driver: driver ?? '', zone: zone ?? '', modifiedAt: new Date(Number(mtime) * 1000) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export async function readMachineStore(remote: Remote, store: string): Promise<StoreMachine[]> {
  const res = await remote.run(withArgs(LIST_SCRIPT, [store]), { check: false });
  if (res.code !== 0) throw new Error(`reading the docker-machine store ${store} failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
  return parseStoreListing(res.stdout, store);
}

/** Removes a machine's store entry; true when there was one. */
export async function removeStoreEntry(remote: Remote, store: string, name: string): Promise<boolean> {
  if (!MACHINE_NAME.test(name)) throw new Error(`refusing to remove docker-machine store entry ${JSON.stringify(name)}: not a machine name`);
  const res = await remote.run(withArgs(REMOVE_SCRIPT, [store, name]), { check: false });
  if (res.code !== 0) throw new Error(`removing ${store}/machines/${name} failed (exit ${res.code}): ${res.stderr.trim()}`);
  return res.stdout.trim() === 'removed';
}
