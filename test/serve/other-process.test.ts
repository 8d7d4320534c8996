/**
 * A real `store serve` child keeps tokens, compiled policies and KV settings
 * in memory between requests (src/serve/record-cache.ts). Changes another
 * process makes to the same store file (here: this test process, through
 * the library) apply from the server's next request on: a policy rewritten
 * or deleted, a token revoked, a KV setting changed. What depends on the
 * clock (a token's expiry) and on each use (num_uses) is judged per request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyFile, openStore, type Store } from '../../src/index.js';
import { TokenStore } from '../../src/serve/auth/tokens.js';
import { KvSettings } from '../../src/serve/kv-settings.js';
import { PolicyStore } from '../../src/serve/policy-store.js';
import { startServe, type ServeChild } from './serve-child.js';

let server: ServeChild;
/** The same store file, opened by this process: "another process" to the server. */
let other: Store;

const READ_APP = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n';
const READ_ELSEWHERE = 'path "secret/data/elsewhere/*" {\n  capabilities = ["read"]\n}\n';

async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.addr}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': token },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** A token with the given policies (and options), made through the API with the root token. */
async function tokenWith(policies: string[], extra: Record<string, unknown> = {}): Promise<{ token: string; accessor: string }> {
  const r = await call('POST', 'auth/token/create', server.rootToken, { policies, ...extra });
  expect(r.status).toBe(200);
  return { token: r.json.auth.client_token, accessor: r.json.auth.accessor };
}

const readApp = (token: string) => call('GET', 'secret/data/app/db', token).then((r) => r.status);

beforeAll(async () => {
  server = await startServe();
  other = await openStore(server.storePath, keyFile(server.keyPath));
  expect((await call('POST', 'secret/data/app/db', server.rootToken, { data: { password: 'p' } })).status).toBe(200);
  expect((await call('PUT', 'sys/policies/acl/app-read', server.rootToken, { policy: READ_APP })).status).toBe(204);
  const maker = 'path "auth/token/create" {\n  capabilities = ["update"]\n}\n';
  expect((await call('PUT', 'sys/policies/acl/token-maker', server.rootToken, { policy: maker })).status).toBe(204);
}, 30_000);

afterAll(async () => {
  await other?.close();
  expect(await server.stop()).toBe(0);
});

describe('changes made by another process apply from the next request', () => {
  it('a policy rewritten, then deleted', async () => {
    const { token } = await tokenWith(['app-read']);
    expect(await readApp(token)).toBe(200);
    expect(await readApp(token)).toBe(200);
    const policies = new PolicyStore(other);
    await policies.write('app-read', READ_ELSEWHERE);
    expect(await readApp(token)).toBe(403);
    await policies.write('app-read', READ_APP);
    expect(await readApp(token)).toBe(200);
    await policies.delete('app-read');
    expect(await readApp(token)).toBe(403);
    await policies.write('app-read', READ_APP);
    expect(await readApp(token)).toBe(200);
  });

  it('a token revoked, and a token made by the other process', async () => {
    const { token, accessor } = await tokenWith(['app-read']);
    expect(await readApp(token)).toBe(200);
    expect(await new TokenStore(other).revokeByAccessor(accessor)).toBe(1);
    expect(await readApp(token)).toBe(403);
    const made = await new TokenStore(other).create(undefined, { policies: ['app-read'] });
    expect(await readApp(made.token)).toBe(200);
  });

  it('a token revoked together with its parent', async () => {
    const parent = await tokenWith(['app-read', 'token-maker']);
    const child = await call('POST', 'auth/token/create', parent.token, { policies: ['app-read'] });
    expect(child.status).toBe(200);
    const childToken = child.json.auth.client_token as string;
    expect(await readApp(childToken)).toBe(200);
    await new TokenStore(other).revokeByAccessor(parent.accessor);
    expect(await readApp(childToken)).toBe(403);
  });

  it('a KV setting: cas_required set for a secret', async () => {
    const write = (body: unknown) => call('POST', 'secret/data/app/cas', server.rootToken, body).then((r) => r.status);
    expect(await write({ data: { n: 1 } })).toBe(200);
    expect(await write({ data: { n: 2 } })).toBe(200);
    await new KvSettings(other).setKey('app/cas', { casRequired: true });
    expect(await write({ data: { n: 3 } })).toBe(400);
    expect(await write({ data: { n: 3 }, options: { cas: 2 } })).toBe(200);
  });
});

describe('what is judged per request, cached or not', () => {
  it('a token expires on time while nothing else changes', async () => {
    const { token } = await tokenWith(['app-read'], { ttl: '1s' });
    expect(await readApp(token)).toBe(200);
    expect(await readApp(token)).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await readApp(token)).toBe(403);
  });

  it('a token of limited uses is used up', async () => {
    const { token } = await tokenWith(['app-read'], { num_uses: 2 });
    expect(await readApp(token)).toBe(200);
    expect(await readApp(token)).toBe(200);
    expect(await readApp(token)).toBe(403);
  });
});
