/**
 * Tokens (src/serve/auth/tokens.ts) on real stores in temp dirs, under a
 * clock the test moves: expiry, renewal up to the hard limit, uses running
 * out, revocation of a token's children, lookups of revoked and expired
 * tokens, the policies a parent may give, and that the store keeps only
 * hashes (the file never holds a token in clear).
 */
import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { verifyStore, type AuditRecord, type Store } from '../../../src/index.js';
import { ACCESSOR_KIND, TOKEN_KIND, TokenStore, type TokenEntry, type TokenStoreOptions } from '../../../src/serve/auth/tokens.js';
import { credentialHash } from '../../../src/serve/auth/credentials.js';
import { authObject, lookupData } from '../../../src/serve/auth/token-view.js';
import { freshStore } from '../../helpers/store.js';

const START = Date.UTC(2026, 0, 31, 12, 0, 0);
const SECOND = 1000;
const HOUR = 3600 * SECOND;

/** A fresh store and a token store over it on a clock the test moves. */
async function setup(options: Omit<TokenStoreOptions, 'now'> = {}) {
  const made = await freshStore();
  const clock = { t: START };
  const tokens = new TokenStore(made.store, { ...options, now: () => clock.t });
  return { ...made, clock, tokens };
}

async function auditOf(store: Store): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const e of store.auditEntries()) out.push(e);
  return out;
}

describe('creating and looking up tokens', () => {
  it('a token is hvs. and 32 base62 characters; the entry has sorted policies with default, and Vault\'s views', async () => {
    const { tokens, clock } = await setup();
    const { token, entry } = await tokens.create(undefined, { policies: 'web, App-RO', ttl: '1h', displayName: 'ci job', meta: { team: 'ops' } });
    expect(token).toMatch(/^hvs\.[0-9A-Za-z]{32}$/);
    expect(entry).toMatchObject({
      policies: ['app-ro', 'default', 'web'], displayName: 'token-ci-job', meta: { team: 'ops' }, createdAt: START, creationTtl: 3600,
      explicitMaxTtl: 0, expireAt: START + HOUR, renewable: true, numUses: 0, orphan: false, parent: null, path: 'auth/token/create',
    });
    expect(entry.accessor).toMatch(/^[0-9A-Za-z]{24}$/);
    expect(await tokens.lookup(token)).toEqual(entry);
    expect(await tokens.lookupByAccessor(entry.accessor)).toEqual(entry);
    clock.t += 10 * 60 * SECOND;
    expect(authObject(token, entry, clock.t)).toMatchObject({
      client_token: token, accessor: entry.accessor, policies: entry.policies, token_policies: entry.policies, lease_duration: 3000,
      renewable: true, token_type: 'service', orphan: false, metadata: { team: 'ops' }, num_uses: 0, entity_id: '',
    });
    expect(lookupData(token, entry, clock.t)).toMatchObject({
      id: token, accessor: entry.accessor, ttl: 3000, creation_ttl: 3600, creation_time: START / 1000, display_name: 'token-ci-job',
      expire_time: '2026-01-31T13:00:00.000Z', issue_time: '2026-01-31T12:00:00.000Z', path: 'auth/token/create', type: 'service', explicit_max_ttl: 0,
    });
    expect(lookupData(undefined, entry, clock.t).id).toBe('');
  });

  it('a root token carries root alone, never expires and does not renew; no_default_policy leaves default out', async () => {
    const { tokens, clock } = await setup();
    const root = await tokens.create(undefined, { policies: ['root', 'web'] });
    expect(root.entry).toMatchObject({ policies: ['root'], expireAt: null, maxExpireAt: null, creationTtl: 0, renewable: false });
    clock.t += 10_000 * HOUR;
    expect(await tokens.lookup(root.token)).toBeDefined();
    expect(await tokens.renew(root.token)).toEqual(root.entry);
    expect(authObject(root.token, root.entry, clock.t).lease_duration).toBe(0);
    const bare = await tokens.create(undefined, { policies: ['web'], noDefaultPolicy: true });
    expect(bare.entry.policies).toEqual(['web']);
    expect((await tokens.create(undefined, {})).entry.policies).toEqual(['default']);
  });

  it('unknown, malformed and foreign tokens are simply not found', async () => {
    const { tokens } = await setup();
    const { token } = await tokens.create(undefined, {});
    for (const t of ['', 'hvs.', 'hvs.nope', token.slice(0, -1), token.replace('hvs.', 's.'), `${token}x`, 'x'.repeat(5000)]) {
      expect(await tokens.lookup(t), t.slice(0, 10)).toBeUndefined();
      expect(await tokens.use(t)).toBeUndefined();
    }
    await expect(tokens.renew('hvs.nope')).rejects.toMatchObject({ code: 'E_PERMISSION_DENIED' });
    expect(await tokens.revoke('hvs.nope')).toBe(0);
    expect(await tokens.lookupByAccessor('nope')).toBeUndefined();
    await expect(tokens.revokeByAccessor('nope')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('refuses malformed requests before anything is written', async () => {
    const { tokens, store } = await setup();
    const bad: Record<string, unknown>[] = [
      { ttl: '-1h' }, { ttl: 'soon' }, { explicitMaxTtl: [] }, { numUses: -1 }, { numUses: 1.5 }, { renewable: 'yes' }, { orphan: 1 },
      { policies: 42 }, { policies: ['a b'] }, { meta: { k: 1 } }, { meta: ['x'] }, { displayName: 'x'.repeat(300) },
    ];
    for (const request of bad) await expect(tokens.create(undefined, request), JSON.stringify(request)).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(await store.listRecords(TOKEN_KIND)).toEqual([]);
  });
});

describe('expiry', () => {
  it('a token is alive until its expire time; found expired, it is removed with its accessor, and the removal audited', async () => {
    const { tokens, clock, store } = await setup();
    const { token, entry } = await tokens.create(undefined, { ttl: '1h' });
    clock.t = START + HOUR - 1;
    expect(await tokens.lookup(token)).toBeDefined();
    expect(await tokens.list()).toHaveLength(1);
    clock.t = START + HOUR;
    // Listing leaves it in place (a read), but no longer shows it.
    expect(await tokens.list()).toEqual([]);
    expect(await store.readRecord(TOKEN_KIND, credentialHash(token))).toBeDefined();
    expect(await tokens.lookup(token)).toBeUndefined();
    expect(await store.readRecord(TOKEN_KIND, credentialHash(token))).toBeUndefined();
    expect(await store.readRecord(ACCESSOR_KIND, entry.accessor)).toBeUndefined();
    expect((await auditOf(store)).at(-1)).toMatchObject({ action: 'token.expire', outcome: 'ok', detail: `accessor ${entry.accessor}` });
    await expect(tokens.renew(token)).rejects.toMatchObject({ code: 'E_PERMISSION_DENIED' });
    // The clock moving back does not bring it back: it is gone.
    clock.t = START;
    expect(await tokens.lookup(token)).toBeUndefined();
  });

  it('the default TTL and the maximum TTL apply; a longer ttl is cut to the maximum', async () => {
    const { tokens } = await setup({ defaultTtlSeconds: 600, maxTtlSeconds: 3600 });
    expect((await tokens.create(undefined, {})).entry).toMatchObject({ creationTtl: 600, expireAt: START + 600 * SECOND, maxExpireAt: START + HOUR });
    expect((await tokens.create(undefined, { ttl: '10h' })).entry).toMatchObject({ creationTtl: 3600, expireAt: START + HOUR });
    expect((await tokens.create(undefined, { ttl: 7200, explicitMaxTtl: '30m' })).entry).toMatchObject({ creationTtl: 1800, explicitMaxTtl: 1800, maxExpireAt: START + 1800 * SECOND });
    // A root token is bound by its explicit_max_ttl only.
    expect((await tokens.create(undefined, { policies: 'root', explicitMaxTtl: '24h' })).entry).toMatchObject({ creationTtl: 86_400, expireAt: START + 24 * HOUR });
  });
});

describe('renewal', () => {
  it('renews from now by its own ttl or the increment asked, never past explicit_max_ttl', async () => {
    const { tokens, clock, store } = await setup();
    const { token, entry } = await tokens.create(undefined, { ttl: '1h', explicitMaxTtl: '2h' });
    clock.t = START + 50 * 60 * SECOND;
    const once = await tokens.renew(token);
    expect(once).toMatchObject({ expireAt: clock.t + HOUR, lastRenewalAt: clock.t, creationTtl: 3600 });
    expect(lookupData(token, once, clock.t)).toMatchObject({ ttl: 3600, last_renewal_time: clock.t / 1000 });
    clock.t = START + 100 * 60 * SECOND;
    expect((await tokens.renew(token, '90s')).expireAt).toBe(clock.t + 90 * SECOND);
    // An hour more would pass the hard limit (creation + 2h): capped at it.
    expect((await tokens.renew(token, 3600)).expireAt).toBe(START + 2 * HOUR);
    expect((await auditOf(store)).filter((e) => e.action === 'token.renew').map((e) => e.detail)).toEqual(Array(3).fill(`accessor ${entry.accessor}`));
    clock.t = START + 2 * HOUR;
    expect(await tokens.lookup(token)).toBeUndefined();
  });

  it('the maximum TTL caps renewals of a token without explicit_max_ttl', async () => {
    const { tokens, clock } = await setup({ maxTtlSeconds: 2 * 3600 });
    const { token } = await tokens.create(undefined, { ttl: '1h' });
    clock.t = START + 50 * 60 * SECOND;
    expect((await tokens.renew(token, '2h')).expireAt).toBe(START + 2 * HOUR);
    clock.t = START + 100 * 60 * SECOND;
    expect((await tokens.renew(token)).expireAt).toBe(START + 2 * HOUR);
  });

  it('a token made not renewable is refused with E_USAGE (a route answers 400), and stays as it was', async () => {
    const { tokens } = await setup();
    const { token, entry } = await tokens.create(undefined, { ttl: '1h', renewable: false });
    await expect(tokens.renew(token)).rejects.toMatchObject({ code: 'E_USAGE', message: 'the token is not renewable' });
    await expect(tokens.renew(token, 'later')).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(await tokens.lookup(token)).toEqual(entry);
  });
});

describe('uses', () => {
  it('num_uses counts down with each use; the last use revokes the token; a lookup takes no use', async () => {
    const { tokens, store } = await setup();
    const { token, entry } = await tokens.create(undefined, { numUses: 3 });
    expect((await tokens.lookup(token))!.numUses).toBe(3);
    expect((await tokens.use(token))!.numUses).toBe(2);
    expect((await tokens.lookup(token))!.numUses).toBe(2);
    expect((await tokens.use(token))!.numUses).toBe(1);
    expect((await tokens.use(token))!.numUses).toBe(0);
    expect(await tokens.use(token)).toBeUndefined();
    expect(await tokens.lookup(token)).toBeUndefined();
    expect(await store.readRecord(ACCESSOR_KIND, entry.accessor)).toBeUndefined();
    expect((await auditOf(store)).filter((e) => e.action === 'token.use')).toHaveLength(3);
  });

  it('an unlimited token is used without a write', async () => {
    const { tokens, store } = await setup();
    const { token } = await tokens.create(undefined, {});
    const before = (await auditOf(store)).length;
    for (let i = 0; i < 3; i++) expect(await tokens.use(token)).toBeDefined();
    expect(await auditOf(store)).toHaveLength(before);
  });

  it('two uses at once of a token with one use left: exactly one gets it', async () => {
    const { tokens, store, path, key } = await setup();
    const { token } = await tokens.create(undefined, { numUses: 1 });
    // Another connection to the same file, as another process serving the same store.
    const { openStore, rawKey } = await import('../../../src/index.js');
    const other = await openStore(path, rawKey(key));
    try {
      const second = new TokenStore(other, { now: tokens.now });
      const results = await Promise.all([tokens.use(token), second.use(token), tokens.use(token)]);
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      expect(await tokens.lookup(token)).toBeUndefined();
    } finally {
      await other.close();
    }
    expect((await verifyStore(store)).problems).toEqual([]);
  });
});

describe('parents and children', () => {
  it('revoking a token revokes its children recursively, not its orphans; revoked tokens are not found', async () => {
    const { tokens, store } = await setup();
    const parent = await tokens.create(undefined, { policies: ['a', 'b'] });
    const child = await tokens.create(parent.entry, { policies: ['a'] });
    const grandchild = await tokens.create(child.entry, {});
    const orphan = await tokens.create(parent.entry, { policies: ['b'], orphan: true });
    const sibling = await tokens.create(undefined, {});
    expect(child.entry).toMatchObject({ parent: parent.entry.accessor, orphan: false, policies: ['a', 'default'] });
    // No policies asked: the parent's.
    expect(grandchild.entry).toMatchObject({ parent: child.entry.accessor, policies: ['a', 'default'] });
    expect(orphan.entry).toMatchObject({ parent: null, orphan: true });
    expect(await tokens.revoke(parent.token)).toBe(3);
    for (const t of [parent, child, grandchild]) {
      expect(await tokens.lookup(t.token)).toBeUndefined();
      expect(await tokens.lookupByAccessor(t.entry.accessor)).toBeUndefined();
      await expect(tokens.renew(t.token)).rejects.toMatchObject({ code: 'E_PERMISSION_DENIED' });
    }
    expect(await tokens.lookup(orphan.token)).toBeDefined();
    expect((await tokens.list()).map((e) => e.accessor).sort()).toEqual([orphan.entry.accessor, sibling.entry.accessor].sort());
    expect(await tokens.revoke(parent.token)).toBe(0);
    expect((await auditOf(store)).filter((e) => e.action === 'token.revoke')).toHaveLength(1);
    expect((await verifyStore(store)).problems).toEqual([]);
  });

  it('revoking by accessor takes the subtree only; a token given for an accessor is refused without being repeated', async () => {
    const { tokens } = await setup();
    const parent = await tokens.create(undefined, {});
    const child = await tokens.create(parent.entry, {});
    const grandchild = await tokens.create(child.entry, {});
    expect(await tokens.revokeByAccessor(child.entry.accessor)).toBe(2);
    expect(await tokens.lookup(grandchild.token)).toBeUndefined();
    expect(await tokens.lookup(parent.token)).toBeDefined();
    const refused = await tokens.revokeByAccessor(parent.token).catch((e: Error) => e);
    expect(refused).toMatchObject({ code: 'E_USAGE' });
    expect((refused as Error).message).not.toContain(parent.token);
    expect(await tokens.lookup(parent.token)).toBeDefined();
  });

  it('a child lives only as long as its parent: the parent expired, the child is dead and both are removed', async () => {
    const { tokens, clock, store } = await setup();
    const parent = await tokens.create(undefined, { ttl: '1h' });
    const child = await tokens.create(parent.entry, { ttl: '5h' });
    clock.t = START + HOUR + 1;
    expect(await tokens.list()).toEqual([]);
    expect(await tokens.lookup(child.token)).toBeUndefined();
    expect(await store.listRecords(TOKEN_KIND)).toEqual([]);
    expect(await store.listRecords(ACCESSOR_KIND)).toEqual([]);
  });

  it('a parent gives no policy it lacks (root gives any); a parent revoked meanwhile makes no child', async () => {
    const { tokens } = await setup();
    const parent = await tokens.create(undefined, { policies: ['a'] });
    await expect(tokens.create(parent.entry, { policies: ['a', 'b'] })).rejects.toMatchObject({ code: 'E_PERMISSION_DENIED' });
    await expect(tokens.create(parent.entry, { policies: ['root'] })).rejects.toMatchObject({ code: 'E_PERMISSION_DENIED' });
    expect((await tokens.create(parent.entry, { policies: ['default'] })).entry.policies).toEqual(['default']);
    const root = await tokens.create(undefined, { policies: ['root'] });
    expect((await tokens.create(root.entry, { policies: ['z'] })).entry.policies).toEqual(['default', 'z']);
    await tokens.revoke(parent.token);
    await expect(tokens.create(parent.entry, { policies: ['a'] })).rejects.toMatchObject({ code: 'E_PERMISSION_DENIED' });
  });
});

describe('what a parent may give (Vault handleCreateCommon)', () => {
  it('a use-limited token makes no child, orphan or not; nothing is written', async () => {
    const { tokens, store } = await setup();
    const limited = await tokens.create(undefined, { numUses: 5 });
    const before = (await store.listRecords(TOKEN_KIND)).length;
    for (const request of [{}, { numUses: 0 }, { orphan: true }, { numUses: 3, policies: ['default'] }]) {
      const refused = await tokens.create(limited.entry, request).catch((e: Error) => e);
      expect(refused).toMatchObject({ code: 'E_USAGE', message: 'restricted use token cannot generate child tokens' });
    }
    // Checked again against the entry as stored: a parent with uses left, whatever the caller passed.
    const stale = { ...limited.entry, numUses: 0 };
    await expect(tokens.create(stale, {})).rejects.toMatchObject({ code: 'E_USAGE', message: 'restricted use token cannot generate child tokens' });
    expect((await store.listRecords(TOKEN_KIND)).length).toBe(before);
    // An unlimited token still makes use-limited children.
    const free = await tokens.create(undefined, {});
    expect((await tokens.create(free.entry, { numUses: 2 })).entry.numUses).toBe(2);
  });

  it('an expiring root token makes no root token that never expires; one with a TTL it may', async () => {
    const { tokens } = await setup();
    const expiring = await tokens.create(undefined, { policies: ['root'], ttl: '1h' });
    const capped = await tokens.create(undefined, { policies: ['root'], explicitMaxTtl: '2h' });
    expect(capped.entry.expireAt).not.toBeNull();
    for (const parent of [expiring, capped]) {
      await expect(tokens.create(parent.entry, { policies: ['root'] })).rejects.toMatchObject({
        code: 'E_USAGE', message: 'expiring root tokens cannot create non-expiring root tokens',
      });
      await expect(tokens.create(parent.entry, {})).rejects.toMatchObject({ code: 'E_USAGE' }); // inherits root
      expect((await tokens.create(parent.entry, { policies: ['root'], ttl: '10m' })).entry).toMatchObject({ policies: ['root'], creationTtl: 600 });
      expect((await tokens.create(parent.entry, { policies: ['web'] })).entry.expireAt).not.toBeNull();
    }
    const forever = await tokens.create(undefined, { policies: ['root'] });
    expect((await tokens.create(forever.entry, { policies: ['root'] })).entry.expireAt).toBeNull();
  });

  it('default: a non-root parent without it neither passes it on nor gives it when asked; root and the operator do', async () => {
    const { tokens } = await setup();
    const bare = await tokens.create(undefined, { policies: ['a'], noDefaultPolicy: true });
    expect(bare.entry.policies).toEqual(['a']);
    expect((await tokens.create(bare.entry, {})).entry.policies).toEqual(['a']);
    expect((await tokens.create(bare.entry, { policies: ['a'] })).entry.policies).toEqual(['a']);
    await expect(tokens.create(bare.entry, { policies: ['a', 'default'] })).rejects.toMatchObject({ code: 'E_PERMISSION_DENIED' });
    await expect(tokens.create(bare.entry, { policies: ['default'] })).rejects.toMatchObject({ code: 'E_PERMISSION_DENIED' });
    // A parent with default passes it on, unless asked not to.
    const withDefault = await tokens.create(undefined, { policies: ['a'] });
    expect((await tokens.create(withDefault.entry, {})).entry.policies).toEqual(['a', 'default']);
    expect((await tokens.create(withDefault.entry, { policies: ['a'], noDefaultPolicy: true })).entry.policies).toEqual(['a']);
    const root = await tokens.create(undefined, { policies: ['root'] });
    expect((await tokens.create(root.entry, { policies: ['z'] })).entry.policies).toEqual(['default', 'z']);
  });
});

describe('what the store keeps', () => {
  it('never a token in clear: not in the file, its WAL, the audit log or a listing; only hashes and accessors', async () => {
    const { tokens, store, path } = await setup();
    const made: { token: string; entry: TokenEntry }[] = [];
    for (let i = 0; i < 5; i++) made.push(await tokens.create(i === 0 ? undefined : made[0]!.entry, { numUses: i, ttl: '1h' }));
    await tokens.use(made[2]!.token);
    await tokens.renew(made[3]!.token);
    const listed = JSON.stringify(await tokens.list());
    const audit = JSON.stringify(await auditOf(store));
    expect((await verifyStore(store)).problems).toEqual([]);
    const files = [path, `${path}-wal`].filter(existsSync).map((f) => readFileSync(f));
    await store.close();
    files.push(readFileSync(path));
    for (const { token, entry } of made) {
      const secretPart = token.slice(4);
      for (const bytes of files) {
        expect(bytes.includes(Buffer.from(secretPart, 'latin1'))).toBe(false);
        expect(bytes.includes(Buffer.from(secretPart, 'utf16le'))).toBe(false);
      }
      expect(listed).not.toContain(secretPart);
      expect(audit).not.toContain(secretPart);
      // What is there: the hash as the record's id, and the accessor.
      expect(files.some((b) => b.includes(Buffer.from(credentialHash(token))))).toBe(true);
      expect(audit).toContain(entry.accessor);
    }
  });
});
