// The facts script runs with few processes (builtins instead of cat, awk, sed
// and hostname); it must say exactly what the plain version said. Both run
// here under /bin/sh (dash on Debian, as on the hosts).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { FACTS_SCRIPT, parseFacts } from '../../lib/engine/facts.js';

// the script as it was, one process per value
const PLAIN = `. /etc/os-release 2>/dev/null
echo "id=$ID"; echo "version_id=$VERSION_ID"; echo "codename=$VERSION_CODENAME"; echo "pretty=$PRETTY_NAME"
echo "arch=$(dpkg --print-architecture 2>/dev/null)"; echo "machine=$(uname -m)"
echo "init=$(cat /proc/1/comm 2>/dev/null)"
echo "mem_kb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo)"
echo "root_free=$(df -P -B1 / | awk 'NR==2{print $4}')"
echo "openssh=$(ssh -V 2>&1 | sed -n 's/^OpenSSH_\\([^ ,]*\\).*/\\1/p')"
echo "hostname=$(hostname)"
echo "login_user=\${SUDO_USER:-$(id -un)}"`;

const sh = (script: string, env: NodeJS.ProcessEnv = process.env) => execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });

describe('the facts script', () => {
  it('gives the same facts as one process per value', () => {
    const fast = parseFacts(sh(FACTS_SCRIPT));
    const plain = parseFacts(sh(PLAIN));
    // free space moves between the two runs on a busy disk: compare it roughly
    expect(Math.abs(fast.rootFreeBytes - plain.rootFreeBytes)).toBeLessThan(256 * 2 ** 20);
    expect({ ...fast, rootFreeBytes: 0 }).toEqual({ ...plain, rootFreeBytes: 0 });
    expect(fast.os.id).not.toBe('');
    expect(fast.machine).not.toBe('');
    expect(fast.memoryMb).toBeGreaterThan(0);
    expect(fast.hostname).not.toBe('');
  });

  it('reads the login user from sudo when there is one', () => {
    expect(parseFacts(sh(FACTS_SCRIPT, { ...process.env, SUDO_USER: 'deploy' })).loginUser).toBe('deploy');
  });

  it('leaves a value empty when its command is missing, as before (an empty PATH)', () => {
    const env = { ...process.env, PATH: '/nonexistent' };
    const fast = parseFacts(sh(FACTS_SCRIPT, env));
    const plain = parseFacts(sh(PLAIN, env));
    expect(fast.opensshVersion).toBe('');
    expect(fast.arch).toBe('');
    // memory and init are read by the shell itself now: known even without awk and cat
    expect([plain.memoryMb, plain.init]).toEqual([0, '']);
    expect(fast.memoryMb).toBeGreaterThan(0);
    expect(fast.init).toBe(parseFacts(sh(FACTS_SCRIPT)).init);
    expect({ ...fast, memoryMb: 0, init: '' }).toEqual(plain);
  });
});
