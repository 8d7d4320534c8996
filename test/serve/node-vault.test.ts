/**
 * A real, unmodified Vault client (node-vault 0.12.0) against a real
 * `store serve` child: every group of the API it speaks — KV v2 data,
 * metadata, versions, config, list (the LIST verb and ?list=1), merge-PATCH,
 * tokens, AppRole, policies, sys endpoints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodeVault from 'node-vault';
import { openStore, keyFile } from '../../src/index.js';
import { runInProcess } from '../helpers/in-process.js';
import { startServe, type ServeChild } from './serve-child.js';

let server: ServeChild;

type Client = ReturnType<typeof nodeVault>;
const client = (token?: string, extra: Record<string, unknown> = {}): Client => nodeVault({ endpoint: server.addr, ...(token ? { token } : {}), ...extra });

/** The status and errors of a rejected node-vault call. */
async function failure(p: Promise<unknown>): Promise<{ status: number; errors: unknown }> {
  try {
    await p;
  } catch (e) {
    const r = (e as { response?: { statusCode: number; body: { errors?: unknown } } }).response;
    if (!r) throw e;
    return { status: r.statusCode, errors: r.body?.errors };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  server = await startServe();
}, 30_000);

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

describe('KV v2 data', () => {
  it('writes and reads a JSON secret back exactly, with version metadata', async () => {
    const v = client(server.rootToken);
    const data = { user: 'app', nested: { port: 5432, list: [1, 'two', null], ok: true }, 'ünï': 'cødé ✓' };
    const w = await v.write('secret/data/app/db', { data });
    expect(w.data.version).toBe(1);
    expect(w.data.destroyed).toBe(false);
    expect(w.data.deletion_time).toBe('');
    const r = await v.read('secret/data/app/db');
    expect(r.data.data).toEqual(data);
    expect(r.data.metadata.version).toBe(1);
    expect(r.data.metadata.created_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(r.mount_type).toBe('kv');
  });

  it('answers the bytes of the data object as they were sent (numbers, escapes, key order)', async () => {
    const body = '{"data":{"z":1.0,"big":12345678901234567890,"a":"\\u00e9\\n","n":{"x":[]}},"options":{}}';
    let res = await fetch(`${server.addr}/v1/secret/data/exact`, { method: 'POST', headers: { 'X-Vault-Token': server.rootToken }, body });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    res = await fetch(`${server.addr}/v1/secret/data/exact`, { headers: { 'X-Vault-Token': server.rootToken } });
    const text = await res.text();
    expect(text).toContain('"data":{"data":{"z":1.0,"big":12345678901234567890,"a":"\\u00e9\\n","n":{"x":[]}},"metadata":');
  });

  it('reads a given version; check-and-set takes the current version and refuses any other with the plugin message', async () => {
    const v = client(server.rootToken);
    await v.write('secret/data/cas', { data: { n: 1 }, options: { cas: 0 } });
    await v.write('secret/data/cas', { data: { n: 2 }, options: { cas: 1 } });
    const f = await failure(v.write('secret/data/cas', { data: { n: 3 }, options: { cas: 1 } }));
    expect(f).toEqual({ status: 400, errors: ['check-and-set parameter did not match the current version'] });
    expect((await failure(v.write('secret/data/cas', { data: { n: 3 }, options: { cas: 0 } }))).status).toBe(400);
    expect((await v.read('secret/data/cas?version=1')).data.data).toEqual({ n: 1 });
    expect((await v.read('secret/data/cas')).data.data).toEqual({ n: 2 });
    // cas is weakly typed, as Vault decodes it
    expect((await v.write('secret/data/cas', { data: { n: 3 }, options: { cas: '2' } })).data.version).toBe(3);
  });

  it('404 with an empty error list for a missing secret or version; 400 without data', async () => {
    const v = client(server.rootToken);
    expect(await failure(v.read('secret/data/nope'))).toEqual({ status: 404, errors: [] });
    await v.write('secret/data/one', { data: { a: '1' } });
    expect(await failure(v.read('secret/data/one?version=9'))).toEqual({ status: 404, errors: [] });
    expect((await failure(v.write('secret/data/one', { options: {} }))).errors).toEqual(['no data provided']);
  });

  it('merge-PATCH changes the latest version (null removes a key); without the merge-patch type it is 415', async () => {
    const v = client(server.rootToken);
    await v.write('secret/data/patchme', { data: { a: '1', b: { c: 2, d: 3 }, gone: 'x' } });
    const p = await v.update('secret/data/patchme', { data: { b: { c: 20 }, gone: null, added: true } });
    expect(p.data.version).toBe(2);
    expect((await v.read('secret/data/patchme')).data.data).toEqual({ a: '1', b: { c: 20, d: 3 }, added: true });
    const res = await fetch(`${server.addr}/v1/secret/data/patchme`, {
      method: 'PATCH', headers: { 'X-Vault-Token': server.rootToken, 'Content-Type': 'application/json' }, body: '{"data":{"a":"2"}}',
    });
    expect(res.status).toBe(415);
    expect(await failure(v.update('secret/data/never-written', { data: { a: 1 } }))).toEqual({ status: 404, errors: [] });
  });

  it('delete, undelete and destroy versions: a deleted version reads as 404 with its metadata, destroyed for good', async () => {
    const v = client(server.rootToken);
    await v.write('secret/data/life', { data: { v: 1 } });
    await v.write('secret/data/life', { data: { v: 2 } });
    expect(await v.delete('secret/data/life')).toBe('');
    const gone = await failure(v.read('secret/data/life'));
    expect(gone.status).toBe(404);
    // node-vault rejects a 404, but its body is the full envelope with the version's metadata
    const res = await fetch(`${server.addr}/v1/secret/data/life`, { headers: { 'X-Vault-Token': server.rootToken } });
    const body = await res.json() as { data: { data: unknown; metadata: { version: number; deletion_time: string } }; errors?: unknown };
    expect(body.data.data).toBeNull();
    expect(body.data.metadata.version).toBe(2);
    expect(body.data.metadata.deletion_time).not.toBe('');
    expect(body.errors).toBeUndefined();
    await v.write('secret/undelete/life', { versions: [2] });
    expect((await v.read('secret/data/life')).data.data).toEqual({ v: 2 });
    await v.write('secret/delete/life', { versions: ['1', '2', '77'] });
    await v.write('secret/undelete/life', { versions: '1,2' });
    await v.destroySecretVersions({ path: "life", versions: [1], mount_point: "secret" });
    const m = await v.read('secret/metadata/life');
    expect(m.data.versions['1'].destroyed).toBe(true);
    expect(m.data.versions['2'].destroyed).toBe(false);
    expect((await failure(v.write('secret/delete/life', { versions: [] }))).errors).toEqual(['No version number provided']);
  });
});

describe('KV v2 metadata and list', () => {
  it('lists direct children with the LIST verb and with ?list=1, folders ending in /; no keys is 404', async () => {
    const v = client(server.rootToken);
    for (const name of ['list/a', 'list/b', 'list/sub/c', 'list/sub/deeper/d']) await v.write(`secret/data/${name}`, { data: { x: 1 } });
    expect((await v.list('secret/metadata/list')).data.keys).toEqual(['a', 'b', 'sub/']);
    expect((await v.list('secret/metadata/list/sub/')).data.keys).toEqual(['c', 'deeper/']);
    const noVerbs = client(server.rootToken, { noCustomHTTPVerbs: true });
    expect((await noVerbs.list('secret/metadata/list')).data.keys).toEqual(['a', 'b', 'sub/']);
    expect(await failure(v.list('secret/metadata/empty-folder'))).toEqual({ status: 404, errors: [] });
    expect((await v.list('secret/metadata')).data.keys).toContain('list/');
  });

  it('reads metadata, writes max_versions, custom_metadata, cas_required and delete_version_after, deletes everything', async () => {
    const v = client(server.rootToken);
    for (let i = 0; i < 3; i++) await v.write('secret/data/meta/x', { data: { i } });
    await v.write('secret/metadata/meta/x', { max_versions: 2, custom_metadata: { owner: 'team-a' }, cas_required: true, delete_version_after: '1h' });
    const m = (await v.read('secret/metadata/meta/x')).data;
    expect(m).toMatchObject({ current_version: 3, max_versions: 2, cas_required: true, delete_version_after: '1h0m0s', custom_metadata: { owner: 'team-a' } });
    expect(Object.keys(m.versions)).toEqual(['2', '3']);
    expect(m.oldest_version).toBe(2);
    expect((await failure(v.write('secret/data/meta/x', { data: { i: 9 } }))).errors).toEqual(['check-and-set parameter required for this call']);
    const w = await v.write('secret/data/meta/x', { data: { i: 9 }, options: { cas: 3 } });
    expect(w.data.custom_metadata).toEqual({ owner: 'team-a' });
    expect(w.data.deletion_time).not.toBe('');
    await v.delete('secret/metadata/meta/x');
    expect(await failure(v.read('secret/metadata/meta/x'))).toEqual({ status: 404, errors: [] });
    // a later write starts at version 1 again, without the old settings
    expect((await v.write('secret/data/meta/x', { data: { i: 0 } })).data.version).toBe(1);
  });

  it('mount config: cas_required for every key', async () => {
    const v = client(server.rootToken);
    await v.write('secret/config', { cas_required: true });
    expect((await v.read('secret/config')).data.cas_required).toBe(true);
    expect((await failure(v.write('secret/data/cfg', { data: { a: 1 } }))).status).toBe(400);
    await v.write('secret/config', { cas_required: false });
    expect((await v.write('secret/data/cfg', { data: { a: 1 } })).data.version).toBe(1);
  });
});

describe('values shared with the CLI', () => {
  it('a value set with the CLI reads as {"value": text}; one written through the API prints a field with store get --field', async () => {
    const store = await openStore(server.storePath, keyFile(server.keyPath));
    try {
      await store.put('cli/plain', 'from the cli');
    } finally {
      await store.close();
    }
    const v = client(server.rootToken);
    expect((await v.read('secret/data/cli/plain')).data.data).toEqual({ value: 'from the cli' });
    await v.write('secret/data/cli/json', { data: { password: 's3cret', port: 5432 } });
    const r = await runInProcess(['--store', server.storePath, '--keyfile', server.keyPath, 'get', 'cli/json', '--field', 'password']);
    expect(r.status).toBe(0);
    expect(r.out).toBe('s3cret');
  });
});

describe('tokens', () => {
  it('lookup-self, create (the client adopts the new token), renew-self, revoke-self (then 403)', async () => {
    const root = client(server.rootToken);
    const self = await root.tokenLookupSelf();
    expect(self.data.policies).toEqual(['root']);
    expect(self.data.id).toBe(server.rootToken);
    expect(self.data.ttl).toBe(0);
    const v = client(server.rootToken);
    const created = await v.tokenCreate({ policies: ['default'], ttl: '1h', renewable: true, display_name: 'app' });
    const token = created.auth.client_token as string;
    expect(token).toMatch(/^hvs\.[A-Za-z0-9_-]{22,}$/);
    expect(v.token).toBe(token);
    expect(created.auth.lease_duration).toBe(3600);
    expect(created.auth.policies).toEqual(['default']);
    const looked = await v.tokenLookupSelf();
    expect(looked.data.ttl).toBeGreaterThan(3590);
    const renewed = await v.tokenRenewSelf({ increment: 7200 });
    expect(renewed.auth.client_token).toBe(token);
    expect(await v.tokenRevokeSelf()).toBe('');
    expect(await failure(v.tokenLookupSelf())).toEqual({ status: 403, errors: ['permission denied'] });
  });

  it('revoking a token by accessor revokes the tokens it made; lookup by accessor shows no token', async () => {
    const parent = client(server.rootToken);
    await parent.addPolicy({ name: 'maker', rules: 'path "auth/token/create" { capabilities = ["update"] }' });
    const made = await parent.tokenCreate({ policies: ['maker'] });
    const parentAccessor = made.auth.accessor as string;
    const child = client(made.auth.client_token as string);
    await child.tokenCreate({ policies: ['default'] }); // child now holds the grandchild
    const root = client(server.rootToken);
    const looked = await root.tokenLookupAccessor({ accessor: parentAccessor });
    expect(looked.data.id).toBe('');
    expect(looked.data.accessor).toBe(parentAccessor);
    await root.tokenRevokeAccessor({ accessor: parentAccessor });
    expect((await failure(client(made.auth.client_token as string).tokenLookupSelf())).status).toBe(403);
    expect((await failure(child.tokenLookupSelf())).status).toBe(403); // the grandchild went with its parent
  });

  it('an expired token gets 403, checked against the clock at every request', async () => {
    const v = client(server.rootToken);
    await v.tokenCreate({ policies: ['default'], ttl: '1s' });
    expect((await v.tokenLookupSelf()).data.ttl).toBeLessThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 1300));
    expect(await failure(v.tokenLookupSelf())).toEqual({ status: 403, errors: ['permission denied'] });
  });

  it('sys/capabilities-self answers what the caller may do', async () => {
    const res = await fetch(`${server.addr}/v1/sys/capabilities-self`, {
      method: 'POST', headers: { 'X-Vault-Token': server.rootToken }, body: JSON.stringify({ paths: ['secret/data/x'] }),
    });
    expect((await res.json() as { data: { capabilities: string[] } }).data.capabilities).toEqual(['root']);
  });

  it('no token, a bad token: 403 never 401', async () => {
    expect((await failure(client().read('secret/data/app/db'))).status).toBe(403);
    expect((await failure(client('hvs.not-a-token').read('secret/data/app/db'))).status).toBe(403);
    const res = await fetch(`${server.addr}/v1/secret/data/app/db`, { headers: { Authorization: `Bearer ${server.rootToken}` } });
    expect(res.status).toBe(200);
  });
});

describe('policies', () => {
  it('a token sees only what its policies grant; deny wins; policies are managed through sys/policy', async () => {
    const root = client(server.rootToken);
    await root.write('secret/data/team/app/key', { data: { k: 'v' } });
    await root.write('secret/data/team/other/key', { data: { k: 'v' } });
    await root.addPolicy({
      name: 'app-read',
      rules: 'path "secret/data/team/*" { capabilities = ["read"] }\npath "secret/data/team/other/*" { capabilities = ["deny"] }\npath "secret/metadata/team/*" { capabilities = ["list"] }',
    });
    expect((await root.policies()).policies).toContain('app-read');
    expect((await root.getPolicy({ name: 'app-read' })).rules).toContain('secret/data/team/*');
    const app = client(server.rootToken);
    await app.tokenCreate({ policies: ['app-read'] });
    expect((await app.read('secret/data/team/app/key')).data.data).toEqual({ k: 'v' });
    expect((await failure(app.read('secret/data/team/other/key'))).status).toBe(403);
    expect((await failure(app.write('secret/data/team/app/key', { data: { k: 'w' } }))).status).toBe(403);
    expect((await app.list('secret/metadata/team')).data.keys).toEqual(['app/', 'other/']);
    expect((await failure(app.read('secret/data/elsewhere'))).status).toBe(403);
    await root.removePolicy({ name: 'app-read' });
    expect((await failure(app.read('secret/data/team/app/key'))).status).toBe(403);
  });

  it('refuses a policy that does not parse, with 400', async () => {
    const f = await failure(client(server.rootToken).addPolicy({ name: 'broken', rules: 'path "x" { capabilities = ["fly"] }' }));
    expect(f.status).toBe(400);
  });
});

describe('AppRole', () => {
  it('role, role-id, secret-id, login: the client adopts a token with the role policies', async () => {
    const root = client(server.rootToken);
    await root.addPolicy({ name: 'ci', rules: 'path "secret/data/ci/*" { capabilities = ["read", "create", "update"] }' });
    await root.addApproleRole({ role_name: 'ci', policies: 'ci', token_ttl: 600, token_max_ttl: 1200, secret_id_num_uses: 1 });
    const roleId = (await root.getApproleRoleId({ role_name: 'ci' })).data.role_id as string;
    const secretId = (await root.getApproleRoleSecret({ role_name: 'ci' })).data.secret_id as string;
    const app = client();
    const login = await app.approleLogin({ role_id: roleId, secret_id: secretId });
    expect(app.token).toBe(login.auth.client_token);
    expect(login.auth.policies).toEqual(['ci', 'default']);
    expect(login.auth.metadata).toEqual({ role_name: 'ci' });
    expect(login.auth.lease_duration).toBe(600);
    await app.write('secret/data/ci/build', { data: { t: 1 } });
    expect((await failure(app.read('secret/data/other'))).status).toBe(403);
    // secret_id_num_uses 1: the second login fails
    expect((await failure(client().approleLogin({ role_id: roleId, secret_id: secretId }))).status).toBe(400);
  });
});

describe('sys', () => {
  it('health without a token; the KV preflight and mount table say version 2', async () => {
    const h = await client().health();
    expect(h).toMatchObject({ initialized: true, sealed: false, standby: false });
    const head = await fetch(`${server.addr}/v1/sys/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const root = client(server.rootToken);
    for (const p of ['sys/internal/ui/mounts/secret/app/db', 'sys/mounts-all/secret']) {
      const r = await root.read(p);
      expect(r.data.path).toBe('secret/');
      expect(r.data.options.version).toBe('2');
    }
    expect((await failure(root.read('sys/internal/ui/mounts/kv/x'))).status).toBe(403);
    const mounts = await root.mounts();
    expect(mounts['secret/'].options.version).toBe('2');
    expect(mounts.data['secret/'].type).toBe('kv');
  });

  it('metrics in Prometheus format, counting requests by route family', async () => {
    const res = await fetch(`${server.addr}/v1/sys/metrics?format=prometheus`, { headers: { 'X-Vault-Token': server.rootToken } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/strongbox_serve_requests_total\{route="kv-data",code="200"\} \d+/);
    expect(text).not.toContain('app/db');
  });

  it('an unknown path is 404 and an unsupported method 405, both with a JSON error list', async () => {
    let res = await fetch(`${server.addr}/v1/nowhere/at/all`, { headers: { 'X-Vault-Token': server.rootToken } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ errors: [] });
    res = await fetch(`${server.addr}/v1/secret/config`, { method: 'DELETE', headers: { 'X-Vault-Token': server.rootToken } });
    expect(res.status).toBe(405);
    expect(res.headers.get('content-type')).toBe('application/json');
  });
});
