/**
 * KV v2 requests answered as the KV plugin answers them (path_data.go,
 * path_metadata.go, path_delete.go, delete_version_after.go), served
 * in-process (serve-in-process.ts; the concurrent requests by a `store
 * serve` child, serve-child.ts, where they do arrive together: in-process
 * they happen to be answered one after another): concurrent merge-PATCHes all land,
 * delete_version_after takes the smaller of the secret's and the mount's,
 * metadata can be merge-PATCHed, version numbers of 0 or less are no
 * version (skipped in a list, the latest in a read), and a null `cas` is
 * cas 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyFile, openStore } from '../../src/index.js';
import { startServe, type ServeChild } from './serve-child.js';
import { startServeInProcess, type InProcessServe } from './serve-in-process.js';

let server: InProcessServe;

beforeAll(async () => {
  server = await startServeInProcess();
}, 30_000);

afterAll(async () => {
  await server.stop();
});

const MERGE_PATCH = { 'Content-Type': 'application/merge-patch+json' };

/** One request with fetch, the body parsed when there is one. */
async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, token = server.rootToken): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${server.addr}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': token, ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

async function put(name: string, data: Record<string, unknown>): Promise<number> {
  const r = await call('POST', `secret/data/${name}`, { data });
  expect(r.status, r.text).toBe(200);
  return r.json.data.version;
}

async function metadata(name: string): Promise<any> {
  const r = await call('GET', `secret/metadata/${name}`);
  expect(r.status, r.text).toBe(200);
  return r.json.data;
}

/** A token holding one new policy of this text. */
async function tokenWithPolicy(name: string, hcl: string): Promise<string> {
  expect((await call('PUT', `sys/policies/acl/${name}`, { policy: hcl })).status).toBe(204);
  const r = await call('POST', 'auth/token/create', { policies: [name] });
  expect(r.status).toBe(200);
  return r.json.auth.client_token;
}

describe('concurrent merge-PATCHes', () => {
  // A real `store serve` (the built CLI): requests from another process arrive together, as clients' do.
  let child: ServeChild;
  beforeAll(async () => {
    child = await startServe();
  }, 30_000);
  afterAll(async () => {
    await child.stop();
  });

  const at = (method: string, name: string, body?: unknown) => fetch(`${child.addr}/v1/secret/data/${name}`, {
    method,
    headers: { 'X-Vault-Token': child.rootToken, ...(method === 'PATCH' ? MERGE_PATCH : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).then(async (r) => ({ status: r.status, json: JSON.parse((await r.text()) || 'null') }));

  it('concurrent patches without a cas all land: each is merged into the version before it, none is lost', async () => {
    expect((await at('POST', 'race/patch', { data: { base: 0 } })).status).toBe(200);
    const n = 10;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => at('PATCH', 'race/patch', { data: { [`k${i}`]: i } })));
    expect(results.map((r) => r.status), JSON.stringify(results.map((r) => r.json?.errors))).toEqual(Array(n).fill(200));
    expect(new Set(results.map((r) => r.json.data.version))).toEqual(new Set(Array.from({ length: n }, (_, i) => i + 2)));
    const final = (await at('GET', 'race/patch')).json.data;
    expect(final.metadata.version).toBe(n + 1);
    expect(final.data).toEqual({ base: 0, ...Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])) });
  });

  it('with the client\'s cas, a patch is checked against it and not merged again: of concurrent patches with one cas, one lands', async () => {
    const v = (await at('POST', 'race/patch-cas', { data: { base: 0 } })).json.data.version;
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => at('PATCH', 'race/patch-cas', { data: { [`k${i}`]: i }, options: { cas: v } })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) {
      expect(r.status).toBe(400);
      expect(r.json.errors).toEqual(['check-and-set parameter did not match the current version']);
    }
    expect((await at('GET', 'race/patch-cas')).json.data.metadata.version).toBe(v + 1);
  });

  it('of custom_metadata: every member lands', async () => {
    expect((await at('POST', 'race/meta', { data: { x: 1 } })).status).toBe(200);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => fetch(`${child.addr}/v1/secret/metadata/race/meta`, {
      method: 'PATCH', headers: { 'X-Vault-Token': child.rootToken, ...MERGE_PATCH }, body: JSON.stringify({ custom_metadata: { [`k${i}`]: String(i) } }),
    }).then((r) => r.status)));
    expect(results).toEqual(Array(8).fill(204));
    const m: any = await (await fetch(`${child.addr}/v1/secret/metadata/race/meta`, { headers: { 'X-Vault-Token': child.rootToken } })).json();
    expect(m.data.custom_metadata).toEqual(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, String(i)])));
  });
});

describe('delete_version_after of the secret and of the mount', () => {
  /** The deletion time of a new version of `name` after its creation, in seconds ('' when none). */
  async function deletesAfter(name: string, key: string | undefined, mount: string): Promise<number | ''> {
    expect((await call('POST', 'secret/config', { delete_version_after: mount })).status).toBe(204);
    try {
      if (key !== undefined) {
        await put(name, { a: 1 });
        expect((await call('POST', `secret/metadata/${name}`, { delete_version_after: key })).status).toBe(204);
      }
      await put(name, { a: 2 });
      const m = (await call('GET', `secret/data/${name}`)).json.data.metadata;
      return m.deletion_time === '' ? '' : (Date.parse(m.deletion_time) - Date.parse(m.created_time)) / 1000;
    } finally {
      expect((await call('POST', 'secret/config', { delete_version_after: '0s' })).status).toBe(204);
    }
  }

  it('both set: the smaller applies, whichever level it is on', async () => {
    expect(await deletesAfter('dva/key-longer', '2h', '1h')).toBe(3600);
    expect(await deletesAfter('dva/mount-longer', '30m', '1h')).toBe(1800);
  });

  it('0 or unset at one level is none there: the other applies', async () => {
    expect(await deletesAfter('dva/key-zero', '0s', '1h')).toBe(3600);
    expect(await deletesAfter('dva/key-unset', undefined, '1h')).toBe(3600);
    expect(await deletesAfter('dva/mount-zero', '1h', '0s')).toBe(3600);
    expect(await deletesAfter('dva/none', '0s', '0s')).toBe('');
  });
});

describe('PATCH secret/metadata (vault kv metadata patch)', () => {
  it('merges the given fields: custom_metadata member by member (null removes one), absent fields unchanged', async () => {
    await put('mp/a', { x: 1 });
    expect((await call('POST', 'secret/metadata/mp/a', { max_versions: 5, custom_metadata: { owner: 'ops', tier: 'gold' }, delete_version_after: '1h' })).status).toBe(204);
    const p = await call('PATCH', 'secret/metadata/mp/a', { custom_metadata: { tier: null, team: 'infra' }, cas_required: true }, MERGE_PATCH);
    expect(p.status, p.text).toBe(204);
    expect(await metadata('mp/a')).toMatchObject({
      custom_metadata: { owner: 'ops', team: 'infra' }, max_versions: 5, cas_required: true, delete_version_after: '1h0m0s',
    });
    expect((await call('PATCH', 'secret/metadata/mp/a', { max_versions: 3, delete_version_after: '0s' }, MERGE_PATCH)).status).toBe(204);
    expect(await metadata('mp/a')).toMatchObject({ custom_metadata: { owner: 'ops', team: 'infra' }, max_versions: 3, cas_required: true, delete_version_after: '0s' });
    // custom_metadata: null removes the member itself, as a merge patch does.
    expect((await call('PATCH', 'secret/metadata/mp/a', { custom_metadata: null }, MERGE_PATCH)).status).toBe(204);
    expect(await metadata('mp/a')).toMatchObject({ custom_metadata: null, max_versions: 3 });
    // An empty patch changes nothing.
    expect((await call('PATCH', 'secret/metadata/mp/a', {}, MERGE_PATCH)).status).toBe(204);
    // The store's changes record the request they were made for.
    const store = await openStore(server.storePath, keyFile(server.keyPath));
    try {
      const details: string[] = [];
      for await (const e of store.auditEntries()) if (e.name === 'mp/a' && e.action === 'metadata.set') details.push(e.detail ?? '');
      expect(details.filter((d) => d.includes('PATCH /v1/secret/metadata/mp/a'))).toHaveLength(3);
    } finally {
      await store.close();
    }
  });

  it('404 for a secret with no metadata; 415 without the merge-patch type; the write\'s checks (400), nothing changed', async () => {
    const missing = await call('PATCH', 'secret/metadata/mp/none', { custom_metadata: { a: 'b' } }, MERGE_PATCH);
    expect(missing.status).toBe(404);
    await put('mp/b', { x: 1 });
    expect((await call('POST', 'secret/metadata/mp/b', { custom_metadata: { owner: 'ops' } })).status).toBe(204);
    const plain = await call('PATCH', 'secret/metadata/mp/b', { custom_metadata: { owner: 'x' } }, { 'Content-Type': 'application/json' });
    expect(plain.status).toBe(415);
    for (const bad of [{ max_versions: -1 }, { custom_metadata: { nested: { a: 'b' } } }, { custom_metadata: 'owner=x' }, { cas_required: 'maybe' }, { delete_version_after: 'soon' }]) {
      expect((await call('PATCH', 'secret/metadata/mp/b', bad, MERGE_PATCH)).status, JSON.stringify(bad)).toBe(400);
    }
    // The store's limits hold for the merged map: 64 keys at most.
    const many = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v']));
    expect((await call('PATCH', 'secret/metadata/mp/b', { custom_metadata: many }, MERGE_PATCH)).status).toBe(400);
    expect(await metadata('mp/b')).toMatchObject({ custom_metadata: { owner: 'ops' }, cas_required: false, max_versions: 0 });
  });

  it('needs the patch capability, as a data PATCH does: update alone is refused', async () => {
    await put('mp/acl', { x: 1 });
    const update = await tokenWithPolicy('mp-update', 'path "secret/metadata/mp/*" { capabilities = ["create", "read", "update"] }');
    const patch = await tokenWithPolicy('mp-patch', 'path "secret/metadata/mp/*" { capabilities = ["patch"] }');
    expect((await call('PATCH', 'secret/metadata/mp/acl', { custom_metadata: { a: 'b' } }, MERGE_PATCH, update)).status).toBe(403);
    expect((await call('PATCH', 'secret/metadata/mp/acl', { custom_metadata: { a: 'b' } }, MERGE_PATCH, patch)).status).toBe(204);
    expect((await metadata('mp/acl')).custom_metadata).toEqual({ a: 'b' });
  });
});

describe('version numbers of 0 or less', () => {
  it('delete, undelete and destroy skip them and act on the rest (204)', async () => {
    for (let i = 1; i <= 3; i++) await put('vn/list', { i });
    const state = async () => Object.entries((await metadata('vn/list')).versions as Record<string, any>)
      .map(([v, m]) => `${v}:${m.destroyed ? 'destroyed' : m.deletion_time ? 'deleted' : 'live'}`).join(' ');
    expect((await call('POST', 'secret/delete/vn/list', { versions: [0, -1, 2] })).status).toBe(204);
    expect(await state()).toBe('1:live 2:deleted 3:live');
    expect((await call('POST', 'secret/undelete/vn/list', { versions: [2, 0] })).status).toBe(204);
    expect(await state()).toBe('1:live 2:live 3:live');
    expect((await call('POST', 'secret/destroy/vn/list', { versions: '-5,1' })).status).toBe(204);
    expect(await state()).toBe('1:destroyed 2:live 3:live');
    // Only such numbers: nothing to do, still 204 (the list is not empty).
    for (const action of ['delete', 'undelete', 'destroy']) {
      expect((await call('POST', `secret/${action}/vn/list`, { versions: [0, '-2'] })).status, action).toBe(204);
    }
    expect(await state()).toBe('1:destroyed 2:live 3:live');
  });

  it('what is not a whole number is still refused with 400, and nothing is done', async () => {
    for (let i = 1; i <= 2; i++) await put('vn/bad', { i });
    for (const versions of [[1.5], ['x'], [2, 'x'], ['99999999999999999999']]) {
      const r = await call('POST', 'secret/delete/vn/bad', { versions });
      expect(r.status, JSON.stringify(versions)).toBe(400);
    }
    expect((await metadata('vn/bad')).versions['2'].deletion_time).toBe('');
  });

  it('a read with ?version= 0 or less reads the latest; a non-number is 400', async () => {
    await put('vn/read', { i: 1 });
    await put('vn/read', { i: 2 });
    for (const q of ['0', '-1', '-42']) {
      const r = await call('GET', `secret/data/vn/read?version=${q}`);
      expect(r.status, q).toBe(200);
      expect(r.json.data.data, q).toEqual({ i: 2 });
    }
    expect((await call('GET', 'secret/data/vn/read?version=1')).json.data.data).toEqual({ i: 1 });
    for (const q of ['abc', '1.5', '-']) expect((await call('GET', `secret/data/vn/read?version=${q}`)).status, q).toBe(400);
  });
});

describe('options.cas null', () => {
  it('is cas 0, as the plugin decodes it: a write only if the secret does not exist', async () => {
    const first = await call('POST', 'secret/data/casnull/x', { data: { a: 1 }, options: { cas: null } });
    expect(first.status, first.text).toBe(200);
    expect(first.json.data.version).toBe(1);
    const second = await call('POST', 'secret/data/casnull/x', { data: { a: 2 }, options: { cas: null } });
    expect(second.status).toBe(400);
    expect(second.json.errors).toEqual(['check-and-set parameter did not match the current version']);
    // A cas is given, so cas_required is met (and checked: 0 against version 1).
    expect((await call('POST', 'secret/metadata/casnull/x', { cas_required: true })).status).toBe(204);
    expect((await call('PATCH', 'secret/data/casnull/x', { data: { b: 1 }, options: { cas: null } }, MERGE_PATCH)).json.errors)
      .toEqual(['check-and-set parameter did not match the current version']);
    expect((await call('GET', 'secret/data/casnull/x')).json.data.data).toEqual({ a: 1 });
  });
});
