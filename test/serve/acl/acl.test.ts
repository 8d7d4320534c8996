/**
 * Matching requests against policies: Vault's documented examples (exact,
 * glob and `+` paths, the priority rules), union of one pattern across
 * policies, deny on the deciding pattern, LIST paths, root and default.
 */
import { describe, expect, it } from 'vitest';
import {
  Acl,
  DEFAULT_POLICY_NAME,
  DEFAULT_POLICY_TEXT,
  ROOT_POLICY_NAME,
  parsePolicy,
  type Capability,
} from '../../../src/serve/acl/index.js';

const acl = (...texts: string[]) => Acl.of(texts.map((t, i) => parsePolicy(`p${i}`, t)));
const rule = (path: string, ...caps: Capability[]) => `path ${JSON.stringify(path)} { capabilities = ${JSON.stringify(caps)} }\n`;

describe("Vault's documented path examples", () => {
  it('an exact path matches only itself', () => {
    const a = acl(rule('secret/foo', 'read'));
    expect(a.allows('secret/foo', 'read')).toBe(true);
    expect(a.allows('secret/food', 'read')).toBe(false);
    expect(a.allows('secret/foo/bar', 'read')).toBe(false);
    expect(a.allows('secret/foo', 'update')).toBe(false);
  });

  it('a glob matches by prefix, across segments', () => {
    const a = acl(rule('secret/bar/*', 'read'), rule('secret/zip-*', 'read'));
    for (const p of ['secret/bar/zip', 'secret/bar/zip/zap', 'secret/zip-zap', 'secret/zip-zap/zong']) expect(a.allows(p, 'read')).toBe(true);
    for (const p of ['secret/bars/zip', 'secret/zip/zap', 'secret/bar']) expect(a.allows(p, 'read')).toBe(false);
  });

  it('+ matches exactly one segment', () => {
    const a = acl(rule('secret/+/teamb', 'read'), rule('secret/+/+/teamc', 'read'));
    expect(a.allows('secret/foo/teamb', 'read')).toBe(true);
    expect(a.allows('secret/foo/bar/teamb', 'read')).toBe(false);
    expect(a.allows('secret/foo/bar/teamc', 'read')).toBe(true);
    expect(a.allows('secret/bar/foo/teamc', 'read')).toBe(true);
    expect(a.allows('secret/foo/teamc', 'read')).toBe(false);
  });

  it('an exact deny beneath a broad grant takes precedence (it is the more specific match)', () => {
    const a = acl(rule('secret/*', 'create', 'read', 'update', 'patch', 'delete', 'list') + rule('secret/super-secret', 'deny'));
    expect(a.allows('secret/other', 'read')).toBe(true);
    expect(a.allows('secret/super-secret', 'read')).toBe(false);
    expect(a.capabilities('secret/super-secret')).toEqual(['deny']);
  });

  it('secret/* outranks secret/+/+/foo/* (same first wildcard, both globs, fewer + segments)', () => {
    const a = acl(rule('secret/*', 'read'), rule('secret/+/+/foo/*', 'update'));
    expect(a.capabilities('secret/a/b/foo/c')).toEqual(['read']);
  });
});

describe('priority between patterns that all match', () => {
  const decides = (paths: Array<[string, Capability]>, request: string): Capability[] =>
    acl(...paths.map(([p, c]) => rule(p, c))).capabilities(request);

  it('1: the first wildcard or glob later in the pattern wins', () => {
    expect(decides([['foo/a*', 'read'], ['foo/+', 'update']], 'foo/ab')).toEqual(['read']);
    expect(decides([['foo/+/bar/baz', 'update'], ['foo/bar/+/baz', 'read']], 'foo/bar/bar/baz')).toEqual(['read']);
    expect(decides([['+/b', 'update'], ['a/*', 'read']], 'a/b')).toEqual(['read']);
  });

  it('2: then a pattern not ending in * beats one that does', () => {
    expect(decides([['foo/+/ba*', 'update'], ['foo/+/bar', 'read']], 'foo/x/bar')).toEqual(['read']);
    expect(decides([['foo/*', 'update'], ['foo/+', 'read']], 'foo/x')).toEqual(['read']);
  });

  it('3: then fewer + segments win', () => {
    expect(decides([['foo/+/+/baz', 'update'], ['foo/+/bar/baz', 'read']], 'foo/a/bar/baz')).toEqual(['read']);
  });

  it('4: then the longer pattern wins', () => {
    expect(decides([['foo/+/bar/b*', 'update'], ['foo/+/bar/ba*', 'read']], 'foo/x/bar/baz')).toEqual(['read']);
    expect(decides([['secret/*', 'update'], ['secret/data/*', 'read']], 'secret/data/x')).toEqual(['read']);
  });

  it('5: then the lexically greater one wins', () => {
    expect(decides([['+/+/a', 'update'], ['+/a/+', 'read']], 'a/a/a')).toEqual(['read']);
  });

  it('an exact match beats every pattern, whatever it grants', () => {
    expect(decides([['a/b', 'read'], ['a/*', 'deny'], ['a/+', 'update']], 'a/b')).toEqual(['read']);
  });

  it('only the deciding pattern counts: a deny on a lower-priority one does not', () => {
    expect(decides([['secret/*', 'deny'], ['secret/app/*', 'read']], 'secret/app/db')).toEqual(['read']);
    expect(decides([['secret/*', 'deny'], ['secret/app/*', 'read']], 'secret/other')).toEqual(['deny']);
  });

  it('a deciding rule without capabilities grants nothing, even where a broader one would', () => {
    const a = acl(rule('secret/*', 'read') + rule('secret/locked') + 'path "secret/locked/*" {}\n');
    expect(a.allows('secret/open', 'read')).toBe(true);
    expect(a.allows('secret/locked', 'read')).toBe(false);
    expect(a.allows('secret/locked/x', 'read')).toBe(false);
    expect(a.capabilities('secret/locked/x')).toEqual(['deny']);
  });
});

describe('one pattern in several rules or policies', () => {
  it('capabilities add up', () => {
    const a = acl(rule('secret/*', 'read'), rule('secret/*', 'list') + rule('secret/*', 'update'));
    expect(a.capabilities('secret/x')).toEqual(['read', 'list', 'update']);
  });

  it('a deny in any of them denies everything, in either order', () => {
    for (const a of [acl(rule('secret/*', 'read', 'sudo'), rule('secret/*', 'deny')), acl(rule('secret/*', 'deny'), rule('secret/*', 'read'))]) {
      for (const c of ['read', 'sudo', 'list'] as const) expect(a.allows('secret/x', c)).toBe(false);
      expect(a.capabilities('secret/x')).toEqual(['deny']);
    }
  });

  it('the exact path and the glob with the same text are different patterns', () => {
    const a = acl(rule('secret/a', 'read'), rule('secret/a*', 'deny'));
    expect(a.allows('secret/a', 'read')).toBe(true);
    expect(a.allows('secret/ab', 'read')).toBe(false);
  });
});

describe('capabilities and the capability asked', () => {
  it('reports in the order Vault does, and sudo is a capability like the others', () => {
    const a = acl(rule('sys/x', 'create', 'read', 'update', 'patch', 'delete', 'list', 'sudo'));
    expect(a.capabilities('sys/x')).toEqual(['sudo', 'read', 'list', 'update', 'delete', 'create', 'patch']);
    expect(a.allows('sys/x', 'sudo')).toBe(true);
    expect(a.allows('sys/x', 'deny')).toBe(false);
    expect(acl(rule('sys/x', 'read')).allows('sys/x', 'sudo')).toBe(false);
  });

  it('withSudo: the deciding rule must grant sudo as well as the capability (a root-protected path); root always may', () => {
    const a = acl(rule('auth/token/accessors/', 'list'), rule('sys/both', 'update', 'sudo'), rule('sys/sudo-only', 'sudo'));
    expect(a.allows('auth/token/accessors', 'list')).toBe(true);
    expect(a.allows('auth/token/accessors', 'list', true)).toBe(false);
    expect(acl(rule('auth/token/accessors/', 'list', 'sudo')).allows('auth/token/accessors', 'list', true)).toBe(true);
    expect(a.allows('sys/both', 'update', true)).toBe(true);
    expect(a.allows('sys/sudo-only', 'update', true)).toBe(false);
    expect(acl(rule('sys/*', 'update', 'sudo'), rule('sys/x', 'update')).allows('sys/x', 'update', true)).toBe(false);
    expect(acl(rule('x', 'deny'), rule('x', 'list', 'sudo')).allows('x', 'list', true)).toBe(false);
    expect(Acl.of([{ name: ROOT_POLICY_NAME, rules: [] }]).allows('auth/token/accessors', 'list', true)).toBe(true);
  });

  it('legacy write grants create/read/update/delete/list but not patch', () => {
    const a = acl('path "secret/*" { policy = "write" }');
    expect(a.allows('secret/x', 'update')).toBe(true);
    expect(a.allows('secret/x', 'patch')).toBe(false);
  });

  it('leading slashes of the request path do not matter', () => {
    const a = acl(rule('secret/foo', 'read'));
    expect(a.allows('/secret/foo', 'read')).toBe(true);
    expect(a.allows('//secret/foo', 'read')).toBe(true);
  });

  it('a pattern still starting with / after parsing (written //x) never matches', () => {
    const a = acl(rule('//secret/foo', 'read'));
    expect(a.allows('secret/foo', 'read')).toBe(false);
    expect(a.allows('/secret/foo', 'read')).toBe(false);
  });

  it('no policies, or no matching rule: nothing is allowed', () => {
    expect(Acl.of([]).allows('secret/x', 'read')).toBe(false);
    expect(Acl.of([]).capabilities('secret/x')).toEqual(['deny']);
    expect(acl(rule('other', 'read')).allows('secret/x', 'read')).toBe(false);
  });
});

describe('LIST', () => {
  it('a list path gets its trailing /, so a glob on the folder allows listing it', () => {
    const a = acl(rule('secret/metadata/app/*', 'list'));
    expect(a.allows('secret/metadata/app', 'list')).toBe(true);
    expect(a.allows('secret/metadata/app/', 'list')).toBe(true);
    expect(a.allows('secret/metadata/app/sub', 'list')).toBe(true);
    // a read is not a list: secret/metadata/app itself is not under the glob
    expect(a.allows('secret/metadata/app', 'read')).toBe(false);
  });

  it('an exact path without the trailing / allows listing it', () => {
    const a = acl(rule('sys/policies/acl', 'list'));
    expect(a.allows('sys/policies/acl', 'list')).toBe(true);
    expect(a.allows('sys/policies/acl/', 'list')).toBe(true);
  });

  it('a + pattern without the trailing / allows listing too (as Vault does since its 2023 fix)', () => {
    const a = acl(rule('+/sys/policies/acl', 'list'));
    expect(a.allows('ns1/sys/policies/acl', 'list')).toBe(true);
    expect(a.allows('ns1/sys/policies/acl/', 'list')).toBe(true);
  });

  it('the exact path with the / comes before the one without', () => {
    const a = acl(rule('secret/metadata/', 'list'), rule('secret/metadata', 'deny'));
    expect(a.allows('secret/metadata', 'list')).toBe(true);
  });

  it('the patterns on the path without its / come before those on the path with it', () => {
    // secret/+ matches "secret/x" (tried first) and ranks below secret/x/* on "secret/x/".
    const a = acl(rule('secret/+', 'list'), rule('secret/x/*', 'deny'));
    expect(a.allows('secret/x', 'list')).toBe(true);
  });

  it('a + segment matches the empty last segment of a list path', () => {
    const a = acl(rule('secret/metadata/+', 'list'));
    expect(a.allows('secret/metadata/', 'list')).toBe(true);
  });
});

describe('root and default', () => {
  it('a policy named root allows everything, whatever else is there', () => {
    const a = Acl.of([{ name: ROOT_POLICY_NAME, rules: [] }, parsePolicy('p', rule('*', 'deny'))]);
    expect(a.isRoot).toBe(true);
    for (const c of ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo'] as const) expect(a.allows('secret/data/x', c)).toBe(true);
    expect(a.allows('sys/anything', 'deny')).toBe(false);
    expect(a.capabilities('x')).toEqual(['sudo', 'read', 'list', 'update', 'delete', 'create', 'patch']);
  });

  it('default lets a token look itself up, renew and revoke itself, and ask its capabilities; nothing more', () => {
    const a = Acl.of([parsePolicy(DEFAULT_POLICY_NAME, DEFAULT_POLICY_TEXT)]);
    expect(a.isRoot).toBe(false);
    expect(a.allows('auth/token/lookup-self', 'read')).toBe(true);
    expect(a.allows('auth/token/renew-self', 'update')).toBe(true);
    expect(a.allows('auth/token/revoke-self', 'update')).toBe(true);
    expect(a.allows('sys/capabilities-self', 'update')).toBe(true);
    expect(a.allows('auth/token/create', 'update')).toBe(false);
    expect(a.allows('auth/token/lookup-self', 'update')).toBe(false);
    for (const c of ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo'] as const) {
      expect(a.allows('secret/data/app', c)).toBe(false);
      expect(a.allows('secret/metadata/app', c)).toBe(false);
      expect(a.allows('sys/policies/acl/default', c)).toBe(false);
    }
    expect(a.capabilities('secret/data/app')).toEqual(['deny']);
  });

  it('default with another policy: each keeps its own paths', () => {
    const a = Acl.of([parsePolicy(DEFAULT_POLICY_NAME, DEFAULT_POLICY_TEXT), parsePolicy('app', rule('secret/data/app/*', 'read'))]);
    expect(a.allows('secret/data/app/db', 'read')).toBe(true);
    expect(a.allows('auth/token/lookup-self', 'read')).toBe(true);
  });
});
