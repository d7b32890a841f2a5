// Facts about a host, gathered in one round trip.
import type { Facts, Remote } from './types.js';

// Few processes on purpose (shell builtins where they do): a host pays for
// every fork on each run, and 50 hosts on shared cores pay it 50 times.
export const FACTS_SCRIPT = `. /etc/os-release 2>/dev/null
echo "id=$ID"; echo "version_id=$VERSION_ID"; echo "codename=$VERSION_CODENAME"; echo "pretty=$PRETTY_NAME"
echo "arch=$(dpkg --print-architecture 2>/dev/null)"
set -- $(uname -nm); echo "hostname=$1"; echo "machine=$2"
rigger_v=; { read -r rigger_v </proc/1/comm; } 2>/dev/null; echo "init=$rigger_v"
while read -r rigger_k rigger_v _; do if [ "$rigger_k" = MemTotal: ]; then echo "mem_kb=$rigger_v"; break; fi; done </proc/meminfo
df -P -B1 / 2>/dev/null | { read -r _; read -r _ _ _ rigger_v _; echo "root_free=$rigger_v"; }
rigger_v=$(ssh -V 2>&1); case $rigger_v in OpenSSH_*) rigger_v=\${rigger_v#OpenSSH_}; rigger_v=\${rigger_v%%[ ,]*} ;; *) rigger_v= ;; esac; echo "openssh=$rigger_v"
echo "login_user=\${SUDO_USER:-$(id -un)}"`;

export async function gatherFacts(remote: Remote): Promise<Facts> {
  const { stdout } = await remote.run(FACTS_SCRIPT);
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
