// The contracts between the engine, resources and roles.
import type { ZodType } from 'zod';

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
}

/** What resources and handlers may do on a host. Every call is one counted round trip. */
export interface Remote {
  /** Run a POSIX sh script as root (become is applied by the transport). */
  run(script: string, opts?: RunOptions): Promise<RunResult>;
  /** Write `content` to `path` (binary-safe, any size); used for large files. */
  upload(path: string, content: Buffer): Promise<void>;
  /** Open a new, separate SSH connection with the same credentials and run `true` (lockout guard). */
  verifyNewConnection(): Promise<void>;
}

export interface HostContext {
  host: string;
  vars: Vars;
  facts: Facts;
  check: boolean;
  /** show diffs (check mode, --diff or a JSON report) */
  wantDiff: boolean;
  remote: Remote;
  /** per-host scratch shared by resources (e.g. "apt sources changed") */
  state: Map<string, unknown>;
  /** verbose log line (redacted by the reporter) */
  log(message: string): void;
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

export interface Change {
  /** one line: what would change */
  summary: string;
  diff?: TextDiff;
  /** resource-private data carried from plan to apply */
  data?: unknown;
}

export interface Resource {
  /** kind:name, unique within a host's run, e.g. "file:/etc/ssh/sshd_config.d/00-rigger.conf" */
  id: string;
  tags: string[];
  /** handler names to notify when this resource changes */
  notify: string[];
  /** shell snippet whose stdout describes the current state; batched with its neighbours */
  probe: string;
  /** null when in the desired state */
  plan(current: ProbeResult, ctx: HostContext): Change | null | Promise<Change | null>;
  apply(change: Change, ctx: HostContext): Promise<void>;
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

/** Options every resource accepts. */
export interface CommonOptions {
  tags?: string[];
  notify?: string | string[];
}
