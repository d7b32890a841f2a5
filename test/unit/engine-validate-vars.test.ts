// Vars validation helpers: "did you mean" hints, unknown keys at their own key
// path, and the warning for vars no role of the playbook reads.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineRole } from '../../lib/engine/types.js';
import { describeIssues, didYouMean, objectKeysAt, unreadVars, unreadVarWarnings, VARS_READ_ELSEWHERE } from '../../lib/engine/validateVars.js';
import common from '../../roles/common/index.js';
import gitlabRunner from '../../roles/gitlab-runner/index.js';
import sshHardening from '../../roles/ssh-hardening/index.js';

describe('didYouMean', () => {
  it('finds typos, case slips and prefixes, and not names that only share a prefix', () => {
    expect(didYouMean('IdleTimeout', ['IdleCount', 'IdleTime', 'MaxBuilds'])).toBe('IdleTime');
    expect(didYouMean('timzone', ['timezone', 'hostname'])).toBe('timezone');
    expect(didYouMean('TimeZone', ['Timezone', 'Periods'])).toBe('Timezone');
    expect(didYouMean('idle_cuont', ['idle_count', 'idle_time'])).toBe('idle_count');
    expect(didYouMean('scaleway-token', ['scaleway-zone', 'scaleway-secretkey'])).toBeUndefined();
    expect(didYouMean('Frobnicate', ['Periods', 'IdleCount'])).toBeUndefined();
    expect(didYouMean('x', ['y'])).toBeUndefined();
  });
});

describe('unknown keys', () => {
  const schema = z.object({ runners: z.array(z.strictObject({ name: z.string(), machine: z.strictObject({ IdleTime: z.number(), IdleCount: z.number() }).optional() })).default([]) });

  it('follow arrays, optionals and defaults to the keys of the table', () => {
    expect(objectKeysAt(schema, ['runners', 0, 'machine'])).toEqual(['IdleTime', 'IdleCount']);
    expect(objectKeysAt(schema, ['nope'])).toEqual([]);
  });

  it('one line per unknown key, at its own path', () => {
    const r = schema.safeParse({ runners: [{ name: 'a', machine: { IdleTime: 1, IdleCount: 0, IdleTimeout: 2, Zzz: 3 } }] });
    expect(describeIssues(schema, r.error!)).toEqual(['runners[0].machine.IdleTimeout: unknown key; did you mean "IdleTime"?', 'runners[0].machine.Zzz: unknown key; expected one of: IdleTime, IdleCount']);
  });
});

describe('vars that no role of the playbook reads', () => {
  const hosts = (vars: Record<string, unknown>) => new Map([['mania', vars], ['eros', { ...vars, eros_only: 1 }]]);

  it('warn once per var, with the hosts and the nearest var a role reads', () => {
    const unread = unreadVars([common, sshHardening, gitlabRunner], hosts({ timzone: 'Europe/Paris', gitlab_url: 'https://g', concurrent: 4 }));
    expect(unread).toEqual([
      { name: 'timzone', hosts: ['mania', 'eros'], suggestion: 'timezone' },
      { name: 'eros_only', hosts: ['eros'], suggestion: undefined },
    ]);
    expect(unreadVarWarnings('inventory/hosts.toml', 'runner', unread)).toEqual([
      'inventory/hosts.toml: var timzone (set for mania, eros) is read by no role of playbook runner; did you mean "timezone"?',
      'inventory/hosts.toml: var eros_only (set for eros) is read by no role of playbook runner; remove it, or check its spelling',
    ]);
  });

  it('vars other playbooks read are not warned about', () => {
    expect(Object.keys(VARS_READ_ELSEWHERE)).toEqual(expect.arrayContaining(['switchover', 'scaleway', 'docs']));
    expect(unreadVars([common], hosts({ switchover: {}, scaleway: {}, docs: {} })).map((u) => u.name)).toEqual(['eros_only']);
  });

  it('a role whose schema is not a table may read anything: no warning at all', () => {
    const anything = defineRole({ name: 'anything', vars: z.record(z.string(), z.unknown()), tasks: () => ({ resources: [] }) });
    expect(unreadVars([common, anything], hosts({ timzone: 'x' }))).toEqual([]);
  });
});
