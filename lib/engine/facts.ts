// Facts about a host, gathered in one round trip.
import type { Facts, Remote } from './types.js';

const SCRIPT = `. /etc/os-release 2>/dev/null
echo "id=$ID"; echo "version_id=$VERSION_ID"; echo "codename=$VERSION_CODENAME"; echo "pretty=$PRETTY_NAME"
echo "arch=$(dpkg --print-architecture 2>/dev/null)"; echo "machine=$(uname -m)"
echo "init=$(cat /proc/1/comm 2>/dev/null)"
echo "mem_kb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo)"
echo "root_free=$(df -P -B1 / | awk 'NR==2{print $4}')"
echo "openssh=$(ssh -V 2>&1 | sed -n 's/^OpenSSH_\\([^ ,]*\\).*/\\1/p')"
echo "hostname=$(hostname)"
echo "login_user=\${SUDO_USER:-$(id -un)}"`;

export async function gatherFacts(remote: Remote): Promise<Facts> {
  const { stdout } = await remote.run(SCRIPT);
  return parseFacts(stdout);
}

export function parseFacts(stdout: string): Facts {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
  }
  const get = (k: string) => kv.get(k) ?? '';
  return {
    os: { id: get('id'), versionId: get('version_id'), codename: get('codename'), prettyName: get('pretty') },
    arch: get('arch'),
    machine: get('machine'),
    init: get('init'),
    memoryMb: Math.round(Number(get('mem_kb')) / 1024) || 0,
    rootFreeBytes: Number(get('root_free')) || 0,
    opensshVersion: get('openssh'),
    hostname: get('hostname'),
    loginUser: get('login_user'),
  };
}
