// The contracts between the engine, resources and roles.
import type { ZodType } from 'zod';
import type { HttpClient, HttpClientOptions } from '../http/client.js';
import type { Inventory } from '../inventory/load.js';

export type Vars = Record<string, unknown>;

/** Facts gathered from a host in one round trip before its roles expand. */
export interface Facts {
  os: { id: string; versionId: string; codename: string; prettyName: string };
  /** Debian architecture name (amd64, arm64) */
  arch: string;
  /** uname -m (x86_64, aarch64) */
  machine: string;
  /** name of PID 1 (systemd, init, ...) */
  init: string;
  memoryMb: number;
  rootFreeBytes: number;
  /** e.g. "9.2p1" */
  opensshVersion: string;
  hostname: string;
  /** the login user rigger uses on this host */
  loginUser: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  /** data fed to the script's stdin (binary-safe) */
  stdin?: Buffer | string;
  /** throw a RemoteError when the exit code is not 0 (default true) */
  check?: boolean;
  /** kill the command on the host after this long (the engine sets the resource's timeout) */
  timeoutMs?: number;
  /**
   * Output as it arrives, in chunks of whole UTF-8 characters (for progress
   * notes); the RunResult still carries all of it, unchanged.
   */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
}

/** What resources and handlers may do on a host. Every call is one counted round trip. */
export interface Remote {
  /** Run a POSIX sh script as root (become is applied by the transport). */
  run(script: string, opts?: RunOptions): Promise<RunResult>;
  /** Write `content` to `path` (binary-safe, any size); used for large files. */
  upload(path: string, content: Buffer, opts?: { timeoutMs?: number }): Promise<void>;
  /** Open a new, separate SSH connection with the same credentials and run `true` (lockout guard). */
  verifyNewConnection(): Promise<void>;
}

/** What every resource gets, on a host or on the control machine. */
export interface RunContext {
  /** inventory name of the target ("local" for the control machine) */
  host: string;
  vars: Vars;
  facts: Facts;
  check: boolean;
  /** show diffs (check mode, --diff or a JSON report) */
  wantDiff: boolean;
  /** verbose log line (redacted by the reporter) */
  log(message: string): void;
  /**
   * An HTTP client for one API (base URL), whose requests count toward this
   * target's `apiRequests`: retries, timeouts, pagination, masked -v lines.
   */
  http(baseUrl: string, opts?: HttpClientOptions): HttpClient;
  /** count requests made by a client the engine did not hand out (e.g. the Scaleway SDK) */
  countApiRequests(n?: number): void;
}

export interface HostContext extends RunContext {
  remote: Remote;
  /**
   * Whether the resource with this id changed earlier in this run on this host
   * (in check mode: would change). For the links a resource declares (Links).
   */
  changed(id: string): boolean;
  /** what the running resource is doing now, for the live status line (e.g. "unpacking gitlab-runner 1/2") */
  progress?(note: string): void;
}

export interface ProbeResult {
  stdout: string;
  code: number;
}

export interface TextDiff {
  path: string;
  before: string;
  after: string;
}

export interface Change<D = unknown> {
  /** one line: what would change */
  summary: string;
  diff?: TextDiff;
  /** resource-private data carried from plan to apply */
  data?: D;
}

/** What a resource would leave behind, for --render (no host or API is contacted). */
export interface Rendered {
  /** files it would write on the target, as they would be written (secrets masked by the writer) */
  files?: Array<{ path: string; content: string | Buffer; mode?: string }>;
  /** the desired state of an API object, as plain data (written as stable JSON) */
  api?: { name: string; state: unknown };
}

/**
 * How a resource depends on resources listed before it, by id. Declared in
 * its options (CommonOptions), checked when roles expand (a link to a
 * resource that does not come earlier is an error), shown by --list-tasks.
 */
export interface Links {
  /** plan and apply only when one of these changed (in check mode: would change) in this run; otherwise skipped */
  onlyIfChanged?: string[];
  /** reads what these leave behind: in check mode, not planned (skipped) while one of them would change */
  after?: string[];
  /** links a resource kind interprets itself through ctx.changed (e.g. apt: update the cache if a source changed) */
  [kind: string]: string[] | undefined;
}

interface ResourceBase {
  /** kind:name, unique within a host's run, e.g. "file:/etc/ssh/sshd_config.d/00-rigger.conf" */
  id: string;
  tags: string[];
  /** handler names to notify when this resource changes */
  notify: string[];
  /** seconds one remote command of this resource may run before it is killed (default: --timeout, the inventory's command_timeout, else 3600) */
  timeout?: number;
  links?: Links;
  /** for --render: what this resource would write, computed from the declaration alone */
  render?(): Rendered | undefined;
  /**
   * Why this resource cannot run yet (e.g. a download with no verifiable checksum).
   * --render and --list-tasks show it; a check or apply run that selects it refuses before connecting.
   */
  blocked?: string;
}

/** A resource on a host: its state is read by a shell probe, batched with its neighbours. */
export interface ShellResource<D = any> extends ResourceBase {
  /** shell snippet whose stdout describes the current state */
  probe: string;
  read?: undefined;
  /** null when in the desired state */
  plan(current: ProbeResult, ctx: HostContext): Change<D> | null | Promise<Change<D> | null>;
  apply(change: Change<D>, ctx: HostContext): Promise<void>;
}

/**
 * A resource behind an API (GitLab, Scaleway): its state is read by an async
 * function; the reads of one batch run concurrently. Check mode never calls apply.
 * On a host play it gets the HostContext (its remote included), on `local` the RunContext.
 */
export interface ApiResource<S = any, D = any> extends ResourceBase {
  probe?: undefined;
  read(ctx: RunContext): Promise<S>;
  plan(current: S, ctx: RunContext): Change<D> | null | Promise<Change<D> | null>;
  apply(change: Change<D>, ctx: RunContext): Promise<void>;
}

export type Resource = ShellResource | ApiResource;

export function isApiResource(r: Resource): r is ApiResource {
  return typeof (r as ApiResource).read === 'function';
}

export interface Handler {
  name: string;
  run(ctx: HostContext): Promise<void>;
}

/** What a role lists: resources, arrays of them (factories that make several), or false/null to skip conditionally. */
export type ResourceEntry = Resource | Resource[] | false | null | undefined;

/** The resources a role listed, in order: nested lists flattened, skipped (false/null) entries dropped. */
export function resourcesOf(out: RoleOutput): Resource[] {
  // two levels: a factory returning several resources may itself be listed inside a helper's list
  return (out.resources as unknown[]).flat(2).filter((r): r is Resource => Boolean(r));
}

export interface RoleOutput {
  resources: ResourceEntry[];
  handlers?: Handler[];
}

export interface RoleInput {
  host: string;
  vars: Vars;
  facts: Facts;
  /**
   * The whole inventory, read-only (Ansible's hostvars and groups), for roles
   * that describe other hosts too (the docs page). Absent where a caller has none.
   */
  inventory?: Inventory;
}

export interface Role<V = Vars> {
  name: string;
  /** validates (and fills defaults of) the vars this role reads, before any host is contacted */
  vars?: ZodType<V>;
  tasks(input: RoleInput & { vars: V }): RoleOutput | Promise<RoleOutput>;
}

export function defineRole<V>(role: Role<V>): Role<V> {
  return role;
}

/** A resource, or the several resources one factory returned (any of them counts). */
export type ResourceRef = Resource | readonly Resource[];

/** Options every resource accepts. */
export interface CommonOptions {
  tags?: string[];
  notify?: string | string[];
  /** seconds one remote command of this resource may run before it is killed */
  timeout?: number;
  /** plan and apply only when one of these changed in this run (pyinfra's `_if=op.did_change`) */
  onlyIfChanged?: ResourceRef | readonly ResourceRef[];
  /** reads what these leave behind: in check mode, skipped while one of them would change */
  after?: ResourceRef | readonly ResourceRef[];
}

/** The ids of linked resources. */
export function idsOf(refs: ResourceRef | readonly ResourceRef[] | undefined): string[] {
  if (!refs) return [];
  const list = (Array.isArray(refs) ? refs : [refs]) as Array<Resource | readonly Resource[]>;
  return [...new Set(list.flat().map((r) => r.id))];
}
