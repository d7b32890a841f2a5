import { beforeEach, describe, expect, it } from 'vitest';
import { format, inspect } from 'node:util';
import { Secret, clearSecretsForTests, isSecret, redact, registerSecretValue, reveal } from '../../lib/secrets.js';

beforeEach(() => clearSecretsForTests());

const VALUE = 'glpat-xxxxYYYYzzzz0000';

describe('Secret', () => {
  const s = () => new Secret(VALUE, 'env:GITLAB_TOKEN');

  it('reveals its value only on request', () => {
    expect(s().reveal()).toBe(VALUE);
    expect(s().source).toBe('env:GITLAB_TOKEN');
  });

  it('shows a placeholder in strings, templates and concatenation', () => {
    expect(String(s())).toBe('[secret env:GITLAB_TOKEN]');
    expect(`${s()}`).toBe('[secret env:GITLAB_TOKEN]');
    expect('token=' + s()).toBe('token=[secret env:GITLAB_TOKEN]');
  });

  it('shows a placeholder in JSON, at the top level and nested', () => {
    expect(JSON.stringify(s())).toBe('"[secret env:GITLAB_TOKEN]"');
    expect(JSON.stringify({ vars: { token: s() }, list: [s()] })).toBe('{"vars":{"token":"[secret env:GITLAB_TOKEN]"},"list":["[secret env:GITLAB_TOKEN]"]}');
  });

  it('shows a placeholder in util.inspect / console.log formats', () => {
    expect(inspect(s())).toBe('[secret env:GITLAB_TOKEN]');
    expect(inspect({ token: s() }, { depth: 5, showHidden: true })).not.toContain(VALUE);
    expect(format('%s %o %O %j', s(), s(), { a: s() }, { b: s() })).not.toContain(VALUE);
  });

  it('exposes no enumerable copy of the value', () => {
    const secret = s();
    expect(Object.values(secret)).not.toContain(VALUE);
    expect({ ...secret }).toEqual({ source: 'env:GITLAB_TOKEN' });
    expect(Object.getOwnPropertyNames(secret)).toEqual(['source']);
  });

  it('registers its value for redaction', () => {
    s();
    expect(redact(`Authorization: Bearer ${VALUE}`)).toBe('Authorization: Bearer ********');
  });

  it('isSecret and reveal() accept secrets and plain values', () => {
    expect(isSecret(s())).toBe(true);
    expect(isSecret(VALUE)).toBe(false);
    expect(reveal(s())).toBe(VALUE);
    expect(reveal('plain')).toBe('plain');
    expect(reveal(42)).toBe('42');
  });
});

describe('redact', () => {
  it('returns text unchanged when nothing is registered or the text is empty', () => {
    expect(redact('nothing to hide')).toBe('nothing to hide');
    registerSecretValue('abcdef');
    expect(redact('')).toBe('');
  });

  it('masks every occurrence', () => {
    registerSecretValue('s3cr3t-value');
    expect(redact('a s3cr3t-value b s3cr3t-values3cr3t-value')).toBe('a ******** b ****************');
  });

  it('masks the longest secret first, so one containing another is masked whole', () => {
    registerSecretValue('abcd');
    registerSecretValue('xxabcdyy');
    expect(redact('key=xxabcdyy short=abcd')).toBe('key=******** short=********');
    clearSecretsForTests();
    // registration order must not matter
    registerSecretValue('xxabcdyy');
    registerSecretValue('abcd');
    expect(redact('key=xxabcdyy')).toBe('key=********');
  });

  it('ignores values shorter than 4 characters (they would mask ordinary words)', () => {
    registerSecretValue('abc');
    registerSecretValue('');
    expect(redact('abc abcdef')).toBe('abc abcdef');
  });

  it('treats values literally (regex metacharacters, newlines)', () => {
    registerSecretValue('a.b*c$(d)');
    registerSecretValue('-----BEGIN KEY-----\nMIIE\n-----END KEY-----');
    expect(redact('x a.b*c$(d) y aXb')).toBe('x ******** y aXb');
    expect(redact('key:\n-----BEGIN KEY-----\nMIIE\n-----END KEY-----\n')).toBe('key:\n********\n');
  });

  it('forgets everything after clearSecretsForTests', () => {
    registerSecretValue('temporary');
    clearSecretsForTests();
    expect(redact('temporary')).toBe('temporary');
  });
});
