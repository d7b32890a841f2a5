// The errors rigger raises on purpose, as a small hierarchy:
//
//   UserError           bad flags, inventory or playbook: exit 1, nothing was run
//   HostError           one host failed: which host, which resource, which phase
//     UnreachableError    the host cannot be reached or stopped answering
//     HostKeyError        the host presented a key we must not trust
//     CommandTimeoutError a remote command ran longer than its timeout (and was killed)
//     InterruptedError    the run was stopped by SIGINT/SIGTERM
//
// Each error carries a brand (its kind, under a Symbol.for key) and is
// recognised by it, not by `instanceof` or its constructor's name: a bundler
// renames classes, and two copies of this module (a playbook bundled with its
// own lib) have distinct classes but share the one symbol registry.

const KIND = Symbol.for('rigger.error.kind');

export type ErrorKind = 'user' | 'host' | 'unreachable' | 'host-key' | 'timeout' | 'interrupted';
export type Phase = 'connect' | 'facts' | 'probe' | 'plan' | 'apply' | 'handler';

const HOST_KINDS: ReadonlySet<ErrorKind> = new Set(['host', 'unreachable', 'host-key', 'timeout', 'interrupted']);

export class RiggerError extends Error {
  declare readonly [KIND]: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    Object.defineProperty(this, KIND, { value: kind, enumerable: false });
    this.name = new.target.name;
  }
}

/** Errors the user can fix (bad flags, inventory, playbook): printed as `error: <message>`, no stack trace, exit 1. */
export class UserError extends RiggerError {
  constructor(message: string, options?: ErrorOptions) {
    super('user', message, options);
  }
}

export interface HostErrorInfo {
  /** inventory name of the host */
  host?: string;
  /** id of the resource (or handler:name) being worked on */
  resource?: string;
  phase: Phase;
}

/** Something went wrong on one host: that host fails, the others go on. */
export class HostError extends RiggerError {
  host?: string;
  resource?: string;
  /** unset until the engine knows it (e.g. a connection lost while a command ran) */
  phase?: Phase;
  constructor(message: string, info: Partial<HostErrorInfo>, options?: ErrorOptions & { kind?: ErrorKind }) {
    super(options?.kind ?? 'host', message, options);
    this.host = info.host;
    this.resource = info.resource;
    this.phase = info.phase;
  }
}

/** The host could not be reached (network, authentication, handshake timeout) or stopped answering mid-run. */
export class UnreachableError extends HostError {
  constructor(message: string, info: Partial<HostErrorInfo> = {}, options?: ErrorOptions) {
    super(message, info, { ...options, kind: 'unreachable' });
  }
}

/** The host presented a key that is unknown, changed or revoked: it fails (it is not "unreachable"). */
export class HostKeyError extends HostError {
  constructor(message: string, info: Partial<HostErrorInfo> = {}) {
    super(message, { phase: 'connect', ...info }, { kind: 'host-key' });
  }
}

/** A remote command ran longer than its timeout; it was killed on the host. */
export class CommandTimeoutError extends HostError {
  constructor(
    message: string,
    readonly timeoutMs: number,
    info: Partial<HostErrorInfo> = {},
  ) {
    super(message, info, { kind: 'timeout' });
  }
}

/** The run was stopped by a signal while this host was working. */
export class InterruptedError extends HostError {
  constructor(message: string, info: Partial<HostErrorInfo> = {}) {
    super(message, info, { kind: 'interrupted' });
  }
}

/** The brand of an error rigger raised, or undefined for any other value. */
export function errorKind(e: unknown): ErrorKind | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const kind = (e as { [KIND]?: unknown })[KIND];
  return typeof kind === 'string' ? (kind as ErrorKind) : undefined;
}

export function isUserError(e: unknown): e is UserError {
  return errorKind(e) === 'user';
}

export function isHostError(e: unknown): e is HostError {
  const kind = errorKind(e);
  return kind !== undefined && HOST_KINDS.has(kind);
}

export const isUnreachable = (e: unknown): e is UnreachableError => errorKind(e) === 'unreachable';
export const isHostKeyError = (e: unknown): e is HostKeyError => errorKind(e) === 'host-key';
export const isTimeout = (e: unknown): e is CommandTimeoutError => errorKind(e) === 'timeout';
export const isInterrupted = (e: unknown): e is InterruptedError => errorKind(e) === 'interrupted';

/**
 * `e` as a HostError that names host, resource and phase: a HostError gets
 * what it does not know yet filled in, anything else is wrapped (its message kept).
 */
export function asHostError(e: unknown, info: HostErrorInfo): HostError {
  if (isHostError(e)) {
    e.host ??= info.host;
    e.resource ??= info.resource;
    e.phase ??= info.phase;
    return e;
  }
  const message = e instanceof Error ? e.message : String(e);
  return new HostError(message, info, { cause: e });
}
