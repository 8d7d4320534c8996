/**
 * AppRole (src/serve/auth/approle.ts) on real stores in temp dirs under a
 * clock the test moves: roles written as hvac and node-vault send them,
 * secret-ids with a TTL and a number of uses, logins that make orphan
 * tokens with the role's policies, failed logins recorded, and secret-ids
 * kept only as hashes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { verifyStore, type AuditRecord, type Store } from '../../../src/index.js';
import { AppRole, InvalidLoginError, isInvalidLogin, roleData, ROLE_KIND, SECRET_ID_KIND } from '../../../src/serve/auth/approle.js';
import { TokenStore } from '../../../src/serve/auth/tokens.js';
import { freshStore } from '../../helpers/store.js';

const START = Date.UTC(2026, 0, 31, 12, 0, 0);
const SECOND = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function setup() {
  const made = await freshStore();
  const clock = { t: START };
  const tokens = new TokenStore(made.store, { now: () => clock.t });
  return { ...made, clock, tokens, approle: new AppRole(made.store, tokens) };
}

async function auditOf(store: Store): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const e of store.auditEntries()) out.push(e);
  return out;
}

async function refused(p: Promise<unknown>): Promise<void> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(InvalidLoginError);
  expect(isInvalidLogin(e)).toBe(true);
  expect(e).toMatchObject({ code: 'E_PERMISSION_DENIED', message: 'invalid role or secret ID' });
}

describe('roles', () => {
  it('are written as hvac sends them (token_policies "a,b", durations as strings) and as node-vault does (policies, seconds)', async () => {
    const { approle } = await setup();
    const web = await approle.createOrUpdateRole('web', { token_policies: 'web-ro,app', token_ttl: '1h', token_max_ttl: '4h', secret_id_ttl: '10m', secret_id_num_uses: 2 });
    expect(web).toMatchObject({ name: 'web', tokenPolicies: ['app', 'web-ro'], tokenTtl: 3600, tokenMaxTtl: 14_400, secretIdTtl: 600, secretIdNumUses: 2, bindSecretId: true });
    expect(web.roleId).toMatch(UUID);
    const api = await approle.createOrUpdateRole('api', { policies: ['api'], token_ttl: 3600, secret_id_num_uses: '0', bind_secret_id: 'true' });
    expect(api).toMatchObject({ tokenPolicies: ['api'], tokenTtl: 3600, secretIdNumUses: 0 });
    expect(await approle.readRole('web')).toEqual(web);
    expect(await approle.roleId('web')).toBe(web.roleId);
    expect(await approle.roleId('nope')).toBeUndefined();
    expect(await approle.listRoles()).toEqual(['api', 'web']);
    expect(roleData(web)).toMatchObject({ token_policies: ['app', 'web-ro'], policies: ['app', 'web-ro'], token_ttl: 3600, secret_id_num_uses: 2, bind_secret_id: true });
  });

  it('an update changes only the fields given and keeps the role id', async () => {
    const { approle } = await setup();
    const first = await approle.createOrUpdateRole('web', { token_policies: ['a'], secret_id_num_uses: 5 });
    const second = await approle.createOrUpdateRole('web', { token_ttl: '30m' });
    expect(second).toEqual({ ...first, tokenTtl: 1800 });
  });

  it('refuses bad names and fields, and a role that would not require a secret-id', async () => {
    const { approle, store } = await setup();
    for (const name of ['', 'a/b', '-x', 'x'.repeat(129), 'a b']) await expect(approle.createOrUpdateRole(name, {})).rejects.toMatchObject({ code: 'E_USAGE' });
    const bad: Record<string, unknown>[] = [
      { bind_secret_id: false }, { bind_secret_id: 'no' }, { token_ttl: 'soon' }, { secret_id_num_uses: -1 }, { token_policies: 7 },
      { token_ttl: '2h', token_max_ttl: '1h' },
    ];
    for (const fields of bad) await expect(approle.createOrUpdateRole('web', fields), JSON.stringify(fields)).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(await approle.listRoles()).toEqual([]);
    expect(await store.listRecords('approle-role-id')).toEqual([]);
  });

  it('refuses the root policy, in any spelling: auth methods cannot create root tokens', async () => {
    const { approle } = await setup();
    await approle.createOrUpdateRole('web', { token_policies: 'app' });
    for (const fields of [{ token_policies: 'root' }, { token_policies: 'app, ROOT ' }, { policies: ['default', 'root'] }, { token_policies: ['app,root'] }]) {
      await expect(approle.createOrUpdateRole('web', fields), JSON.stringify(fields)).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('auth methods cannot create root tokens') });
      await expect(approle.createOrUpdateRole('new', fields), JSON.stringify(fields)).rejects.toMatchObject({ code: 'E_USAGE' });
    }
    expect((await approle.readRole('web'))!.tokenPolicies).toEqual(['app']);
    expect(await approle.listRoles()).toEqual(['web']);
  });
});

describe('login', () => {
  it('a valid secret-id logs in: an orphan token with the role\'s policies and TTLs and { role_name }', async () => {
    const { approle, tokens, clock, store } = await setup();
    const role = await approle.createOrUpdateRole('web', { token_policies: 'app,web-ro', token_ttl: '1h', token_max_ttl: '2h', token_num_uses: 5 });
    const sid = await approle.generateSecretId('web', { metadata: '{"host":"app-1"}' });
    expect(sid).toMatchObject({ ttl: 0, numUses: 0 });
    expect(sid.secretId).toMatch(UUID);
    expect(sid.accessor).toMatch(UUID);
    clock.t += 5 * SECOND;
    const { token, entry } = await approle.login(role.roleId, sid.secretId);
    expect(token).toMatch(/^hvs\./);
    expect(entry).toMatchObject({
      policies: ['app', 'default', 'web-ro'], meta: { host: 'app-1', role_name: 'web' }, orphan: true, parent: null, path: 'auth/approle/login',
      displayName: 'approle', creationTtl: 3600, expireAt: clock.t + 3600 * SECOND, maxExpireAt: clock.t + 7200 * SECOND, numUses: 5, renewable: true,
    });
    expect(await tokens.lookup(token)).toEqual(entry);
    // Renewals stop at token_max_ttl.
    clock.t += 3000 * SECOND;
    expect((await tokens.renew(token, '5h')).expireAt).toBe(entry.maxExpireAt);
    const login = (await auditOf(store)).find((e) => e.action === 'approle.login')!;
    expect(login).toMatchObject({ outcome: 'ok', detail: `role web, accessor ${entry.accessor}` });
  });

  it('never makes a root token, even from a role record that holds root (written before roles were checked): refused, nothing spent', async () => {
    const { approle, store } = await setup();
    const role = await approle.createOrUpdateRole('web', { token_policies: 'app', secret_id_num_uses: 1 });
    const sid = await approle.generateSecretId('web');
    await store.changeRecords({ action: 'test.put' }, (tx) => tx.put(ROLE_KIND, 'web', JSON.stringify({ ...role, tokenPolicies: ['root'] })));
    await expect(approle.login(role.roleId, sid.secretId)).rejects.toMatchObject({ code: 'E_USAGE', message: 'auth methods cannot create root tokens' });
    expect(await store.listRecords('token')).toEqual([]);
    expect(await store.listRecords(SECRET_ID_KIND)).toHaveLength(1);
    expect((await auditOf(store)).filter((e) => e.action === 'approle.login' && e.outcome === 'ok')).toEqual([]);
  });

  it('secret_id_num_uses: each login takes one; the last removes the secret-id; then it is refused, and the refusal audited', async () => {
    const { approle, store } = await setup();
    const role = await approle.createOrUpdateRole('web', { secret_id_num_uses: 2 });
    const sid = await approle.generateSecretId('web');
    expect(sid.numUses).toBe(2);
    await approle.login(role.roleId, sid.secretId);
    await approle.login(role.roleId, sid.secretId);
    expect(await store.listRecords(SECRET_ID_KIND)).toEqual([]);
    await refused(approle.login(role.roleId, sid.secretId));
    const logins = (await auditOf(store)).filter((e) => e.action === 'approle.login').map((e) => e.outcome);
    expect(logins).toEqual(['ok', 'ok', 'E_PERMISSION_DENIED']);
  });

  it('secret_id_ttl: valid until it runs out; a new secret-id clears the expired ones of the role', async () => {
    const { approle, clock, store } = await setup();
    const role = await approle.createOrUpdateRole('web', { secret_id_ttl: '10m' });
    const sid = await approle.generateSecretId('web');
    expect(sid.ttl).toBe(600);
    clock.t = START + 600 * SECOND - 1;
    await approle.login(role.roleId, sid.secretId);
    clock.t = START + 600 * SECOND;
    await refused(approle.login(role.roleId, sid.secretId));
    expect(await store.listRecords(SECRET_ID_KIND)).toHaveLength(1);
    const fresh = await approle.generateSecretId('web');
    expect(await store.listRecords(SECRET_ID_KIND)).toHaveLength(1);
    await approle.login(role.roleId, fresh.secretId);
  });

  it('refuses wrong, missing and foreign credentials alike', async () => {
    const { approle, store } = await setup();
    const web = await approle.createOrUpdateRole('web', {});
    const api = await approle.createOrUpdateRole('api', {});
    const webSid = await approle.generateSecretId('web');
    const apiSid = await approle.generateSecretId('api');
    const attempts: [unknown, unknown][] = [
      [web.roleId, apiSid.secretId], [api.roleId, webSid.secretId], [web.roleId, null], [web.roleId, undefined], [web.roleId, ''],
      [web.roleId, webSid.secretId.toUpperCase()], ['nope', webSid.secretId], [null, webSid.secretId], [webSid.secretId, web.roleId],
      [web.roleId, 'x'.repeat(5000)], [{}, []],
    ];
    for (const [roleId, secretId] of attempts) await refused(approle.login(roleId, secretId));
    // Neither secret-id was spent by the failures, and no token was made.
    await approle.login(web.roleId, webSid.secretId);
    expect(await store.listRecords('token')).toHaveLength(1);
    await expect(approle.generateSecretId('nope')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('deleting a role removes its role id and secret-ids; a role made again under the name has a new role id', async () => {
    const { approle, tokens, store } = await setup();
    const old = await approle.createOrUpdateRole('web', {});
    const sid = await approle.generateSecretId('web');
    const other = await approle.createOrUpdateRole('api', {});
    const otherSid = await approle.generateSecretId('api');
    const issued = await approle.login(old.roleId, sid.secretId);
    expect(await approle.deleteRole('web')).toBe(true);
    expect(await approle.deleteRole('web')).toBe(false);
    expect(await approle.readRole('web')).toBeUndefined();
    expect(await store.listRecords(SECRET_ID_KIND)).toHaveLength(1);
    await refused(approle.login(old.roleId, sid.secretId));
    const again = await approle.createOrUpdateRole('web', {});
    expect(again.roleId).not.toBe(old.roleId);
    await refused(approle.login(again.roleId, sid.secretId));
    // Tokens already issued live on (as in Vault), and other roles are untouched.
    expect(await tokens.lookup(issued.token)).toBeDefined();
    await approle.login(other.roleId, otherSid.secretId);
    expect((await verifyStore(store)).problems).toEqual([]);
  });

  it('keeps secret-ids and tokens only as hashes: neither is in the file, its WAL or the audit log', async () => {
    const { approle, store, path } = await setup();
    const role = await approle.createOrUpdateRole('web', { secret_id_num_uses: 3 });
    const sids = [await approle.generateSecretId('web'), await approle.generateSecretId('web')];
    const { token } = await approle.login(role.roleId, sids[0]!.secretId);
    const audit = JSON.stringify(await auditOf(store));
    const files = [path, `${path}-wal`].filter(existsSync).map((f) => readFileSync(f));
    await store.close();
    files.push(readFileSync(path));
    for (const secret of [...sids.map((s) => s.secretId), token.slice(4)]) {
      for (const bytes of files) expect(bytes.includes(Buffer.from(secret))).toBe(false);
      expect(audit).not.toContain(secret);
    }
  });
});
