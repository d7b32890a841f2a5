// lib/resources/aptStatus.ts: apt-get's status lines (APT::Status-Fd) as progress notes.
// fixtures/apt-status-fd.txt is what a real apt-get (Debian 12, apt 2.6) printed on
// fd 3 in a test host, for the apt resource's steps: update, install gitlab-runner
// (and its dependency) from the fake repository, remove both.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AptProgress, parseAptStatusLine } from '../../lib/resources/aptStatus.js';

const REAL = readFileSync(new URL('./fixtures/apt-status-fd.txt', import.meta.url), 'utf8');

describe('parseAptStatusLine', () => {
  it('reads download lines: file number, total, percent', () => {
    expect(parseAptStatusLine('dlstatus:2:33.1760:Retrieving file 2 of 2')).toEqual({ kind: 'download', file: 2, total: 2, percent: 33.176 });
    expect(parseAptStatusLine('dlstatus:11:89.3205:Retrieving file 11 of 16')).toEqual({ kind: 'download', file: 11, total: 16, percent: 89.3205 });
  });

  it('reads package lines: name, percent, what dpkg does', () => {
    expect(parseAptStatusLine('pmstatus:gitlab-runner:33.3333:Unpacking gitlab-runner (amd64)')).toEqual({ kind: 'package', package: 'gitlab-runner', percent: 33.3333, action: 'unpack' });
    expect(parseAptStatusLine('pmstatus:gitlab-runner:77.7778:Configuring gitlab-runner (amd64)')).toMatchObject({ action: 'setup' });
    expect(parseAptStatusLine('pmstatus:gitlab-runner-helper-images:44.4444:Preparing to configure gitlab-runner-helper-images (amd64)')).toMatchObject({ action: 'setup' });
    expect(parseAptStatusLine('pmstatus:gitlab-runner:20.0000:Removing gitlab-runner (amd64)')).toMatchObject({ action: 'remove' });
    expect(parseAptStatusLine('pmstatus:gitlab-runner:88.8889:Installed gitlab-runner (amd64)')).toMatchObject({ action: 'other' });
  });

  it('keeps an architecture-qualified name apart from the percent, and drops the architecture', () => {
    expect(parseAptStatusLine('pmstatus:libc6:amd64:12.5000:Unpacking libc6:amd64 (2.36-9)')).toEqual({ kind: 'package', package: 'libc6', percent: 12.5, action: 'unpack' });
  });

  it('reads errors; ignores "Running dpkg" and anything that is no status line', () => {
    expect(parseAptStatusLine('pmerror:/var/cache/apt/archives/x_1_amd64.deb:50.0000:trying to overwrite /usr/bin/x')).toEqual({
      kind: 'error',
      package: '/var/cache/apt/archives/x_1_amd64.deb',
      message: 'trying to overwrite /usr/bin/x',
    });
    expect(parseAptStatusLine('pmstatus:dpkg-exec:0.0000:Running dpkg')).toBeUndefined();
    expect(parseAptStatusLine('Reading package lists...')).toBeUndefined();
    expect(parseAptStatusLine('')).toBeUndefined();
  });
});

describe('AptProgress', () => {
  const notesOf = (chunks: string[]) => {
    const notes: string[] = [];
    const p = new AptProgress((n) => notes.push(n));
    for (const c of chunks) p.push(c);
    return notes;
  };

  it('turns a real update, install and remove into short notes, each change once', () => {
    const notes = notesOf([REAL]);
    expect(notes).toContain('updating package lists 1/1 (0%)');
    expect(notes).toContain('downloading 2/2 (33%)');
    expect(notes).toContain('downloading 2/2 (100%)');
    expect(notes).toContain('unpacking gitlab-runner-helper-images 1/2');
    expect(notes).toContain('unpacking gitlab-runner 2/2');
    expect(notes).toContain('setting up gitlab-runner-helper-images 1/2');
    expect(notes).toContain('setting up gitlab-runner 2/2');
    expect(notes).toContain('removing gitlab-runner 1');
    expect(notes).toContain('removing gitlab-runner-helper-images 2');
    // the order apt did things in, and no note twice in a row
    expect(notes.indexOf('unpacking gitlab-runner 2/2')).toBeLessThan(notes.indexOf('setting up gitlab-runner-helper-images 1/2'));
    expect(notes.every((n, i) => n !== notes[i - 1])).toBe(true);
  });

  it('gives the same notes whatever the chunks (lines split anywhere)', () => {
    const whole = notesOf([REAL]);
    const bytewise = notesOf([...REAL]);
    const odd = notesOf(REAL.match(/[\s\S]{1,7}/g)!);
    expect(bytewise).toEqual(whole);
    expect(odd).toEqual(whole);
  });

  it('counts without a total when the packages were not downloaded (already in the cache)', () => {
    const notes = notesOf(['rigger-apt:install\n', 'pmstatus:jq:10.0000:Unpacking jq (amd64)\n', 'pmstatus:jq:50.0000:Configuring jq (amd64)\n']);
    expect(notes).toEqual(['unpacking jq 1', 'setting up jq 1/1']);
  });
});

describe('AptProgress: a line whose newline has not arrived yet', () => {
  it('shows a whole package line at once, and not twice when its newline comes', () => {
    const notes: string[] = [];
    const p = new AptProgress((n) => notes.push(n));
    p.push('rigger-apt:install\npmstatus:gitlab-runner:33.3333:Unpacking gitlab-runner (amd64)');
    expect(notes).toEqual(['unpacking gitlab-runner 1']);
    p.push('\npmstatus:gitlab-runner:44.4444:Installing gitlab-runner (amd64)\n');
    expect(notes).toEqual(['unpacking gitlab-runner 1']);
    // a download line is only read whole ("2 of 1" could be "2 of 16")
    p.push('dlstatus:2:10.0000:Retrieving file 2 of 1');
    expect(notes).toHaveLength(1);
    p.push('6\n');
    expect(notes.at(-1)).toBe('downloading 2/16 (10%)');
  });
});
