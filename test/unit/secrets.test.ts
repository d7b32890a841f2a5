import { beforeEach, describe, expect, it } from 'vitest';
import { format, inspect } from 'node:util';
import { Secret, clearSecretsForTests, clip, containsSecret, isSecret, maskEarlierSecrets, redact, registerSecretValue, reveal } from '../../lib/secrets.js';

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

describe('derived forms rigger itself produces are masked too', () => {
  const V = `p@ss w'rd"\\/+=?-canary`;
  it('shell-quoted, JSON/TOML-escaped, URL-encoded (both ways)', () => {
    registerSecretValue(V);
    expect(redact(`x '${V.replace(/'/g, `'\\''`)}' y`)).toBe(`x '********' y`);
    expect(redact(JSON.stringify({ token: V }))).toBe('{"token":"********"}');
    expect(redact(`?q=${encodeURIComponent(V)}&x=1`)).toBe('?q=********&x=1');
    expect(redact(`?${new URLSearchParams({ q: V })}`)).toBe('?q=********');
  });

  it('base64 at any byte alignment inside a larger encoded text (an Authorization: Basic header)', () => {
    registerSecretValue('canary-base64-secret');
    for (const user of ['a', 'ab', 'abc', 'deploy']) {
      const header = `Authorization: Basic ${Buffer.from(`${user}:canary-base64-secret`).toString('base64')}`;
      const full = Buffer.from('canary-base64-secret').toString('base64');
      expect(redact(header)).toContain('********');
      // what is left of the encoded text can no longer be decoded into the secret
      expect(Buffer.from(redact(header).split(' ').pop()!.replace(/\*+/g, ''), 'base64').toString('latin1')).not.toContain('canary-base64');
      expect(redact(`x ${full} y`)).not.toContain(full.slice(4, 20));
    }
  });

  it('does not register derived forms short enough to mask ordinary text', () => {
    registerSecretValue('abcd');
    expect(redact('YWJj abcd')).toBe('YWJj ********');
  });
});

describe('clip: redact, then shorten', () => {
  it('never leaves a prefix of a secret cut at the limit', () => {
    registerSecretValue('canary-0123456789-abcdef');
    const text = `header: ${'x'.repeat(20)} canary-0123456789-abcdef tail`;
    expect(clip(text, 40)).toBe(`header: ${'x'.repeat(20)} ********...`.slice(0, 37) + '...');
    expect(clip(text, 40)).not.toContain('canary');
    expect(clip('short', 40)).toBe('short');
  });
});

describe('containsSecret', () => {
  it('finds a registered value or a derived form, in text or bytes', () => {
    expect(containsSecret('token = "x"')).toBe(false);
    registerSecretValue(`canary'quote`);
    expect(containsSecret(Buffer.from(`token = 'canary'\\''quote'`))).toBe(true);
    expect(containsSecret('token = "x"')).toBe(false);
  });
});

describe('maskEarlierSecrets: the earlier text of a file whose new text holds secrets', () => {
  const NEW = 'glrt-new-canary-123456';
  beforeEach(() => registerSecretValue(NEW));

  it('masks the earlier value of every key that holds a secret now, whitespace aside, keeping the closing quote', () => {
    const before = 'a = 1\n  token = "glrt-old-999"\n[x]\ntoken="glrt-older"\n';
    const after = `a = 2\n  token = "${NEW}"\n[x]\n  token = "${NEW}"\n`;
    expect(maskEarlierSecrets(before, after)).toBe('a = 1\n  token = "[earlier secret]"\n[x]\ntoken="[earlier secret]"\n');
  });

  it('leaves lines the new text has as they are (redact() masks both sides alike)', () => {
    const same = `token = "${NEW}"\nname = x\n`;
    expect(maskEarlierSecrets(same, same)).toBe(same);
  });

  it('masks every changed earlier line when a secret has no key or spans lines', () => {
    registerSecretValue('-----BEGIN KEY-----\nNEWKEYDATA\n-----END KEY-----');
    const after = 'id\n-----BEGIN KEY-----\nNEWKEYDATA\n-----END KEY-----\n';
    expect(maskEarlierSecrets('id\n-----BEGIN KEY-----\nOLDKEYDATA\n-----END KEY-----\n', after)).toBe('id\n-----BEGIN KEY-----\n[earlier secret]\n-----END KEY-----\n');
    expect(maskEarlierSecrets('old-token-value\n', `${NEW}\n`)).toBe('[earlier secret]\n');
  });

  it('changes nothing when the new text holds no secret', () => {
    expect(maskEarlierSecrets('token = "old"\n', 'token = "plain"\n')).toBe('token = "old"\n');
  });
});
