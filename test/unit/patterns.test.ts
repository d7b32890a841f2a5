import { beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadInventory, type Inventory } from '../../lib/inventory/load.js';
import { glob, hostsOfPlay, selectHosts } from '../../lib/inventory/patterns.js';
import { UserError } from '../../lib/errors.js';

// Inventory order: web1 web2 web10 db1 db2 cache1 lb
// web: web1 web2 web10 | db: db1 db2 | prod: web1 web10 db1 cache1 | staging: web2 db2
// backend (children = db): db1 db2 | empty: (none)
let inv: Inventory;
beforeAll(async () => {
  inv = await loadInventory(fileURLToPath(new URL('./fixtures/inventories/patterns.toml', import.meta.url)), { env: {} });
});

const ALL = ['web1', 'web2', 'web10', 'db1', 'db2', 'cache1', 'lb'];
const sel = (p: string | undefined) => selectHosts(inv, p);

describe('selectHosts', () => {
  it('no pattern, all and * select every host', () => {
    expect(sel(undefined)).toEqual(ALL);
    expect(sel('all')).toEqual(ALL);
    expect(sel('*')).toEqual(ALL);
  });

  it('host names and group names', () => {
    expect(sel('web2')).toEqual(['web2']);
    expect(sel('db')).toEqual(['db1', 'db2']);
    expect(sel('backend')).toEqual(['db1', 'db2']); // via children
  });

  it('unions, comma- or colon-separated, in inventory order', () => {
    expect(sel('db1,web1')).toEqual(['web1', 'db1']);
    expect(sel('db1:web1')).toEqual(['web1', 'db1']);
    expect(sel(' lb , staging ')).toEqual(['web2', 'db2', 'lb']);
    expect(sel('web1,web1,web')).toEqual(['web1', 'web2', 'web10']);
  });

  it('globs match host names and group names', () => {
    expect(sel('web*')).toEqual(['web1', 'web2', 'web10']);
    expect(sel('web?')).toEqual(['web1', 'web2']);
    expect(sel('web[12]')).toEqual(['web1', 'web2']);
    expect(sel('web[!1]')).toEqual(['web2']);
    expect(sel('stag*')).toEqual(['web2', 'db2']); // group name
    expect(sel('*1')).toEqual(['web1', 'db1', 'cache1']);
  });

  it('~regex', () => {
    expect(sel('~^web\\d$')).toEqual(['web1', 'web2']);
    expect(() => sel('~(')).toThrow('--limit: expected a valid regular expression after "~", got "("');
  });

  it('&intersection', () => {
    expect(sel('prod,&web')).toEqual(['web1', 'web10']);
    expect(sel('&web,prod')).toEqual(['web1', 'web10']);
    expect(sel('web,db,&prod,&db')).toEqual(['db1']); // every intersection applies
  });

  it('!exclusion', () => {
    expect(sel('web,!staging')).toEqual(['web1', 'web10']);
    expect(sel('!staging,web')).toEqual(['web1', 'web10']);
    expect(sel('!prod')).toEqual(['web2', 'db2', 'lb']); // exclusions alone start from all hosts
    expect(sel('&prod')).toEqual(['web1', 'web10', 'db1', 'cache1']);
  });

  it('applies all unions, then intersections, then exclusions, whatever the order', () => {
    // Left to right, the trailing "web2" would put web2 back; Ansible's order keeps it out.
    expect(sel('web,!web2,db2,web2')).toEqual(['web1', 'web10', 'db2']);
    expect(sel('!web10,web,db,&prod')).toEqual(['web1', 'db1']);
    expect(sel('&prod,!web,web,db')).toEqual(['db1']);
  });

  it('a term that matches nothing is an error, whatever its kind', () => {
    const cases: [string, string][] = [
      ['nosuch', 'nosuch'],
      ['web,nosuch', 'nosuch'],
      ['web,!nosuch', '!nosuch'],
      ['web,&nosuch', '&nosuch'],
      ['zz*', 'zz*'],
      ['~^zz', '~^zz'],
      ['empty', 'empty'], // a declared group without hosts
    ];
    for (const [pattern, term] of cases) {
      expect(() => sel(pattern), pattern).toThrow(new UserError(`--limit: pattern "${term}" matches no host or group`));
    }
  });

  it('a pattern that selects no host in the end is an error', () => {
    expect(() => sel('web,&db')).toThrow(new UserError('--limit: pattern "web,&db" selects no host'));
    expect(() => sel('web,!web')).toThrow(UserError);
  });

  it('empty patterns and dangling operators are errors', () => {
    expect(() => sel('')).toThrow(new UserError('--limit: expected a host pattern, got ""'));
    expect(() => sel(' , ')).toThrow(UserError);
    expect(() => sel('web,!')).toThrow(new UserError('--limit: expected a host or group after "!", got nothing'));
  });
});

describe('hostsOfPlay', () => {
  it('has the same semantics', () => {
    expect(hostsOfPlay(inv, 'all')).toEqual(ALL);
    expect(hostsOfPlay(inv, 'prod:&web')).toEqual(['web1', 'web10']);
    expect(hostsOfPlay(inv, 'web,!staging')).toEqual(['web1', 'web10']);
  });

  it('returns [] instead of failing when nothing matches', () => {
    expect(hostsOfPlay(inv, 'runners')).toEqual([]);
    expect(hostsOfPlay(inv, 'empty')).toEqual([]);
    expect(hostsOfPlay(inv, 'web,&db')).toEqual([]);
    expect(hostsOfPlay(inv, 'web,!nosuch')).toEqual(['web1', 'web2', 'web10']);
  });
});

describe('glob', () => {
  it('is anchored and escapes regex characters', () => {
    expect(glob('a.b*').test('a.bc')).toBe(true);
    expect(glob('a.b*').test('axbc')).toBe(false);
    expect(glob('web').test('web1')).toBe(false);
  });
});
