// ssh-hardening settings that depend on the host and its clients: key
// exchanges by OpenSSH version, host key types clients have on file, and TCP
// forwarding as a per-host choice.
import { describe, expect, it } from 'vitest';
import role, { renderDropIn } from '../../roles/ssh-hardening/index.js';
import { HOST_KEY_ALGORITHMS_DEFAULT, kexFor, opensshRelease, resolveSettings } from '../../roles/ssh-hardening/settings.js';
import { validateRoleVars } from '../../lib/engine/validateVars.js';
import { expandRole } from './helpers/roles.js';

const problems = (vars: Record<string, unknown>, opensshVersion?: string) => resolveSettings(vars, { opensshVersion }).problems.map((p) => `${p.path.join('.')}: ${p.message}`);

describe('key exchanges follow the host\'s OpenSSH', () => {
  it('parses versions as ssh -V prints them', () => {
    expect([opensshRelease('8.4p1'), opensshRelease('9.2p1'), opensshRelease('9.9p2'), opensshRelease('10.0p2'), opensshRelease('')]).toEqual([8.4, 9.2, 9.9, 10, undefined]);
  });

  it('Debian 11 (8.4): no sntrup761 and no mlkem; Debian 12 (9.2): sntrup761; Debian 13 (10.0): mlkem768 first', () => {
    const classic = ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'diffie-hellman-group18-sha512', 'diffie-hellman-group16-sha512'];
    expect(kexFor('8.4p1')).toEqual(classic);
    expect(kexFor('9.2p1')).toEqual(['sntrup761x25519-sha512@openssh.com', ...classic]);
    expect(kexFor('10.0p2')).toEqual(['mlkem768x25519-sha256', 'sntrup761x25519-sha512@openssh.com', ...classic]);
    // Unknown version: only what every OpenSSH since 7.4 has.
    expect(kexFor('')).toEqual(classic);
  });

  it('the drop-in of a host uses its own list', async () => {
    const bullseye = await expandRole(role, {}, { opensshVersion: '8.4p1' });
    const dropIn = bullseye.resources.find((r) => r.id.startsWith('template:'))!;
    const rendered = renderDropIn(resolveSettings({}, { opensshVersion: '8.4p1' }).settings);
    expect(rendered).toMatch(/^KexAlgorithms curve25519-sha256,curve25519-sha256@libssh\.org,diffie-hellman-group18-sha512,diffie-hellman-group16-sha512$/m);
    expect(rendered).not.toContain('sntrup');
    expect(dropIn.probe).toBeDefined();
  });

  it('an explicit key exchange the host\'s OpenSSH lacks is refused, naming the var', () => {
    expect(problems({ ssh_kex_algorithms: ['sntrup761x25519-sha512@openssh.com', 'curve25519-sha256'] }, '8.4p1')).toEqual([
      'ssh_kex_algorithms: KexAlgorithms sntrup761x25519-sha512@openssh.com: not in OpenSSH 8.4p1 on this host (sshd -t would refuse it); leave the setting out to get the list for this version',
    ]);
    expect(problems({ ssh_settings: { kexalgorithms: 'mlkem768x25519-sha256' } }, '9.2p1')[0]).toMatch(/^ssh_settings\.kexalgorithms: KexAlgorithms mlkem768x25519-sha256: not in OpenSSH 9\.2p1/);
    expect(problems({ ssh_kex_algorithms: ['mlkem768x25519-sha256'] }, '10.0p2')).toEqual([]);
  });
});

describe('host key algorithms never drop a type clients have on file', () => {
  it('by default every type Debian generates stays offered (ed25519, RSA with SHA-2, ECDSA P-256)', () => {
    expect(HOST_KEY_ALGORITHMS_DEFAULT).toEqual([
      'ssh-ed25519', 'ssh-ed25519-cert-v01@openssh.com',
      'rsa-sha2-512', 'rsa-sha2-512-cert-v01@openssh.com', 'rsa-sha2-256', 'rsa-sha2-256-cert-v01@openssh.com',
      'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256-cert-v01@openssh.com',
    ]);
    expect(resolveSettings({}).settings.get('HostKeyAlgorithms')).toBe(HOST_KEY_ALGORITHMS_DEFAULT.join(','));
  });

  it('ECDSA goes only when the inventory says no client has it on file', () => {
    expect(resolveSettings({ ssh_host_key_types: ['ssh-ed25519', 'ssh-rsa'] }).settings.get('HostKeyAlgorithms')).toBe(
      'ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256,rsa-sha2-256-cert-v01@openssh.com',
    );
  });

  it('an explicit list that drops a kept type is refused with what to add', () => {
    expect(problems({ ssh_host_key_algorithms: ['ssh-ed25519', 'rsa-sha2-512'] })).toEqual([
      'ssh_host_key_algorithms: HostKeyAlgorithms would stop offering ecdsa-sha2-nistp256 host keys, which clients have on file (ssh_host_key_types; rigger\'s own known_hosts included): ' +
        'add ecdsa-sha2-nistp256, or remove the type from ssh_host_key_types once no client has such a key of this host on file',
    ]);
    expect(problems({ ssh_host_key_types: ['ssh-ed25519'], ssh_host_key_algorithms: ['ssh-ed25519'] })).toEqual([]);
    // sshd's own default (null) or an edit of it (+/-/^) offers every key the host has.
    expect(problems({ ssh_settings: { HostKeyAlgorithms: null } })).toEqual([]);
    expect(problems({ ssh_host_key_types: ['ssh-dss'] })).toEqual([
      'ssh_host_key_types: unknown host key type "ssh-dss"; expected some of ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521',
    ]);
  });

  it('the engine refuses such vars before connecting, and does not warn that ssh_host_key_types is unread', () => {
    const { problems: p } = validateRoleVars(role, 'dolos', { ssh_host_key_algorithms: ['ssh-ed25519'] });
    expect(p.map((x) => x.message)).toEqual([expect.stringMatching(/^ssh_host_key_algorithms: HostKeyAlgorithms would stop offering ssh-rsa, ecdsa-sha2-nistp256 host keys/)]);
  });
});

describe('TCP forwarding is a per-host choice', () => {
  it('off by default; "local" where clients tunnel to a local-only service', () => {
    expect(resolveSettings({}).settings.get('AllowTcpForwarding')).toBe('no');
    expect(resolveSettings({ ssh_allow_tcp_forwarding: 'local' }).settings.get('AllowTcpForwarding')).toBe('local');
    expect(resolveSettings({ ssh_allow_tcp_forwarding: true }).settings.get('AllowTcpForwarding')).toBe('yes');
    expect(problems({ ssh_allow_tcp_forwarding: 'sometimes' })[0]).toMatch(/^ssh_allow_tcp_forwarding: AllowTcpForwarding: expected one of yes, no, all, local, remote/);
  });
});
