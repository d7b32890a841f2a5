// A HostContext for resource tests, with the facts of a Debian 12 host.
import type { Facts, HostContext, Remote } from '../../../lib/engine/types.js';
import { makeRunContext } from '../../../lib/engine/context.js';

export const DEBIAN12_FACTS: Facts = {
  os: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
  arch: 'amd64',
  machine: 'x86_64',
  init: 'systemd',
  memoryMb: 3915,
  rootFreeBytes: 41_000_000_000,
  opensshVersion: '9.2p1',
  hostname: 'testhost',
  loginUser: 'root',
};

export function makeCtx(remote: Remote, over: Partial<Omit<HostContext, 'remote'>> = {}): HostContext & { logs: string[] } {
  const logs: string[] = [];
  const base = makeRunContext({ host: 'testhost', facts: DEBIAN12_FACTS, check: over.check ?? false, wantDiff: false, log: (m: string) => logs.push(m) });
  return {
    host: 'testhost',
    vars: {},
    facts: DEBIAN12_FACTS,
    check: false,
    wantDiff: false,
    http: base.http,
    countApiRequests: base.countApiRequests,
    remote,
    changed: () => false,
    log: (m: string) => logs.push(m),
    logs,
    ...over,
  };
}

export const probe = (stdout: string, code = 0) => ({ stdout, code });

/** The result of a plan() that is synchronous for this resource kind (most are). */
export function sync<T>(v: T | Promise<T>): T {
  if (v instanceof Promise) throw new Error('expected plan() to return synchronously');
  return v;
}
