// The ledger: the control machine's record of the runner machines each host's
// docker-machine store held, written by apply runs only. It is the evidence
// that lets a later run recognise a machine no store knows any more (an
// orphan) and the volumes and IPs such machines left behind; and it holds the
// first sighting of each orphan, which must be seen by two runs before it is
// deleted. Check runs read it and write nothing.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface LedgerServer {
  /** the store entry it was recorded from */
  machine: string;
  recordedAt: string;
  /** its volumes (root first) and flexible IPs when recorded: evidence for leaks later */
  volumes: string[];
  ips: string[];
  /** first run that saw it in no store */
  orphanSince?: string;
}

/** One host's records for one project: "zone/server id" -> record. */
export type LedgerEntries = Record<string, LedgerServer>;

export interface LedgerFile {
  version: 1;
  /** host -> project -> entries */
  hosts: Record<string, Record<string, LedgerEntries>>;
}

export const serverKey = (zone: string, id: string) => `${zone}/${id}`;

export async function readLedger(path: string): Promise<LedgerFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e: any) {
    if (e?.code === 'ENOENT') return { version: 1, hosts: {} };
    throw new Error(`reading the fleet ledger ${path}: ${e?.message ?? e}`, { cause: e });
  }
  let data: any;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`the fleet ledger ${path} is not valid JSON; move it away to start a new one (orphans are then recognised again only after a store records them)`);
  }
  if (!data || data.version !== 1 || typeof data.hosts !== 'object' || data.hosts === null) throw new Error(`the fleet ledger ${path} is not a version 1 ledger`);
  return data as LedgerFile;
}

export function entriesOf(ledger: LedgerFile, host: string, project: string): LedgerEntries {
  return ledger.hosts[host]?.[project] ?? {};
}

// Hosts of one run write the ledger concurrently: one read-modify-write at a time.
let queue: Promise<unknown> = Promise.resolve();

/** Replace one host's entries for one project, keeping every other host's; atomic (temp file + rename). */
export function writeLedgerEntries(path: string, host: string, project: string, entries: LedgerEntries): Promise<void> {
  const run = queue.then(async () => {
    const ledger = await readLedger(path);
    const projects = { ...(ledger.hosts[host] ?? {}) };
    if (Object.keys(entries).length) projects[project] = sortKeys(entries);
    else delete projects[project];
    if (Object.keys(projects).length) ledger.hosts[host] = projects;
    else delete ledger.hosts[host];
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(ledger, null, 2) + '\n', { mode: 0o600 });
    await rename(tmp, path);
  });
  queue = run.catch(() => {});
  return run;
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}
