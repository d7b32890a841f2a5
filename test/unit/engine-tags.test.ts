import { describe, expect, it } from 'vitest';
import { selectedByTags } from '../../lib/engine/tags.js';
import { parseFacts } from '../../lib/engine/facts.js';

describe('selectedByTags', () => {
  const tags = ['ssh-hardening', 'config'];

  it('selects everything without --tags or --skip-tags', () => {
    expect(selectedByTags(tags, [], [])).toBe(true);
    expect(selectedByTags([], [], [])).toBe(true);
  });

  it('--tags selects resources with any listed tag', () => {
    expect(selectedByTags(tags, ['config'], [])).toBe(true);
    expect(selectedByTags(tags, ['docker', 'ssh-hardening'], [])).toBe(true);
    expect(selectedByTags(tags, ['docker'], [])).toBe(false);
    expect(selectedByTags([], ['docker'], [])).toBe(false);
  });

  it('--tags all selects everything', () => {
    expect(selectedByTags(tags, ['all'], [])).toBe(true);
    expect(selectedByTags([], ['all'], [])).toBe(true);
  });

  it('--skip-tags wins', () => {
    expect(selectedByTags(tags, [], ['config'])).toBe(false);
    expect(selectedByTags(tags, ['ssh-hardening'], ['config'])).toBe(false);
    expect(selectedByTags(tags, ['all'], ['ssh-hardening'])).toBe(false);
    expect(selectedByTags(tags, [], ['docker'])).toBe(true);
  });

  it('matches whole tags only', () => {
    expect(selectedByTags(['ssh-hardening'], ['ssh'], [])).toBe(false);
    expect(selectedByTags(['ssh-hardening'], [], ['ssh'])).toBe(true);
  });
});

describe('parseFacts', () => {
  it('parses the facts script output of a Debian 12 host', () => {
    const out = [
      'id=debian',
      'version_id=12',
      'codename=bookworm',
      'pretty=Debian GNU/Linux 12 (bookworm)',
      'arch=amd64',
      'machine=x86_64',
      'init=systemd',
      'mem_kb=4009152',
      'root_free=41234567168',
      'openssh=9.2p1',
      'hostname=mania',
      'login_user=deploy',
      '',
    ].join('\n');
    expect(parseFacts(out)).toEqual({
      os: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
      arch: 'amd64',
      machine: 'x86_64',
      init: 'systemd',
      memoryMb: 3915,
      rootFreeBytes: 41234567168,
      opensshVersion: '9.2p1',
      hostname: 'mania',
      loginUser: 'deploy',
    });
  });

  it('keeps values containing "=" and defaults missing numbers to 0', () => {
    const f = parseFacts('pretty=A=B\nmem_kb=\n');
    expect(f.os.prettyName).toBe('A=B');
    expect(f.memoryMb).toBe(0);
    expect(f.rootFreeBytes).toBe(0);
    expect(f.arch).toBe('');
  });
});
