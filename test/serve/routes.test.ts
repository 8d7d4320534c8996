/**
 * The routes and the dispatcher as they are in src/, served in-process
 * (serve-in-process.ts) to real clients (fetch, node-vault, a raw socket for
 * the LIST verb and keep-alive): the policies are checked on exactly the
 * name a handler acts on, auth methods never mint root tokens, a value typed
 * into a path stays out of the audit log and the errors, merge-PATCH keeps
 * every member, and sys/health takes only status codes it can send.
 */
import nodeVault from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyFile, openStore } from '../../src/index.js';
import { RawClient } from './http/raw-client.js';
import { startServeInProcess, type InProcessServe } from './serve-in-process.js';

let server: InProcessServe;

beforeAll(async () => {
  server = await startServeInProcess();
}, 30_000);

afterAll(async () => {
  await server.stop();
});

/** One request with fetch, the body parsed when there is one. */
async function call(method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${server.addr}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': token, ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

/** A LIST request (the verb hvac and node-vault send) on a new raw connection. */
async function list(path: string, token: string): Promise<{ status: number; json: any }> {
  const c = await RawClient.connect({ port: Number(new URL(server.addr).port) });
  c.send(`LIST /v1/${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: ${token}\r\n\r\n`);
  const r = await c.response();
  return { status: r.status, json: JSON.parse(r.body) };
}

/** A token holding one new policy of this text. */
async function tokenWithPolicy(name: string, hcl: string): Promise<string> {
  expect((await call('PUT', `sys/policies/acl/${name}`, server.rootToken, { policy: hcl })).status).toBe(204);
  const r = await call('POST', 'auth/token/create', server.rootToken, { policies: [name] });
  expect(r.status).toBe(200);
  return r.json.auth.client_token;
}

describe('the policies are checked on the name the route acts on', () => {
  it('a trailing slash does not get past an exact deny on secret/metadata/<name>: it names no secret (400) and changes nothing', async () => {
    expect((await call('POST', 'secret/data/slash/db', server.rootToken, { data: { password: 'p' } })).status).toBe(200);
    const t = await tokenWithPolicy('slash-team', `
path "secret/metadata/*" { capabilities = ["read", "list", "delete", "update", "create"] }
path "secret/metadata/slash/db" { capabilities = ["deny"] }
`);
    expect((await call('GET', 'secret/metadata/slash/db', t)).status).toBe(403);
    for (const path of ['secret/metadata/slash/db/', 'secret/metadata/slash/db//']) {
      const read = await call('GET', path, t);
      expect(read.status, path).toBe(400);
      expect(read.text).not.toContain('current_version');
      expect((await call('POST', path, t, { cas_required: true, max_versions: 1, custom_metadata: { owner: 'attacker' } })).status, path).toBe(400);
      expect((await call('DELETE', path, t)).status, path).toBe(400);
    }
    const meta = await call('GET', 'secret/metadata/slash/db', server.rootToken);
    expect(meta.json.data).toMatchObject({ cas_required: false, custom_metadata: null, max_versions: 0, current_version: 1 });
    expect((await call('GET', 'secret/data/slash/db', server.rootToken)).json.data.data).toEqual({ password: 'p' });
  });

  it('LIST: a folder with or without its one trailing slash is the same folder to the policies; a run of slashes names none', async () => {
    expect((await call('POST', 'secret/data/listed/db', server.rootToken, { data: { a: 1 } })).status).toBe(200);
    const t = await tokenWithPolicy('list-team', `
path "secret/metadata/*" { capabilities = ["list"] }
path "secret/metadata/listed/" { capabilities = ["deny"] }
`);
    for (const path of ['secret/metadata/listed', 'secret/metadata/listed/']) {
      expect((await list(path, t)).status, path).toBe(403);
      expect((await call('GET', `${path}?list=true`, t)).status, path).toBe(403);
      expect((await list(path, server.rootToken)).json.data.keys, path).toEqual(['db']);
    }
    for (const path of ['secret/metadata/listed///', 'secret/metadata/listed//']) {
      expect((await list(path, t)).status, path).not.toBe(200);
      expect((await call('GET', `${path}?list=true`, t)).status, path).not.toBe(200);
      expect((await list(path, server.rootToken)).status, path).toBe(404);
    }
    expect((await list('secret/metadata', t)).json.data.keys).toContain('listed/');
  });

  it('sys/policies/acl/<name>/ is not <name>: a policy denied by name is not rewritten or deleted through it', async () => {
    const original = 'path "secret/data/admin/*" { capabilities = ["read"] }';
    expect((await call('PUT', 'sys/policies/acl/admin', server.rootToken, { policy: original })).status).toBe(204);
    const t = await tokenWithPolicy('policy-editor', `
path "sys/policies/acl/*" { capabilities = ["read", "update", "create", "delete"] }
path "sys/policies/acl/admin" { capabilities = ["deny"] }
`);
    const everything = 'path "*" { capabilities = ["sudo", "read", "create", "update", "delete", "list"] }';
    expect((await call('PUT', 'sys/policies/acl/admin', t, { policy: everything })).status).toBe(403);
    expect((await call('PUT', 'sys/policies/acl/admin/', t, { policy: everything })).status).toBe(400);
    expect((await call('GET', 'sys/policies/acl/admin/', t)).status).toBe(404);
    expect((await call('DELETE', 'sys/policies/acl/admin/', t)).status).toBe(400);
    expect((await call('GET', 'sys/policies/acl/admin', server.rootToken)).json.data.policy).toBe(original);
  });

  it('auth/token/create/ and secret/config/ are not those paths: an exact deny on them holds', async () => {
    const t = await tokenWithPolicy('fixed-paths', `
path "auth/token/*" { capabilities = ["update", "sudo"] }
path "auth/token/create" { capabilities = ["deny"] }
path "secret/*" { capabilities = ["create", "read", "update"] }
path "secret/config" { capabilities = ["deny"] }
`);
    expect((await call('POST', 'auth/token/create', t, { policies: ['fixed-paths'] })).status).toBe(403);
    expect((await call('POST', 'auth/token/create/', t, { policies: ['fixed-paths'] })).status).toBe(404);
    expect((await call('POST', 'secret/config', t, { cas_required: true })).status).toBe(403);
    expect((await call('POST', 'secret/config/', t, { cas_required: true })).status).toBe(404);
    expect((await call('GET', 'secret/config', server.rootToken)).json.data.cas_required).toBe(false);
    // A list on a fixed path may still end in '/': the policies see a list's path with one either way.
    expect((await list('auth/token/accessors/', server.rootToken)).status).toBe(200);
  });
});

describe('AppRole never issues a root token', () => {
  it('a role with the root policy is refused (400, Vault-shaped), however the names are sent', async () => {
    const ops = await tokenWithPolicy('approle-admin', 'path "auth/approle/role/*" { capabilities = ["create", "read", "update"] }');
    const v = nodeVault({ endpoint: server.addr, token: ops });
    for (const fields of [{ token_policies: 'root' }, { token_policies: 'ci, ROOT' }, { policies: ['default', 'root'] }]) {
      const r = await call('POST', 'auth/approle/role/ci', ops, fields);
      expect(r.status, JSON.stringify(fields)).toBe(400);
      expect(r.json.errors).toEqual([expect.stringContaining('auth methods cannot create root tokens')]);
    }
    await expect(v.addApproleRole({ role_name: 'ci', policies: 'root' })).rejects.toMatchObject({ response: { statusCode: 400 } });
    expect((await call('GET', 'auth/approle/role/ci', server.rootToken)).status).toBe(404);
    // A role without it still works.
    await v.addApproleRole({ role_name: 'ci', policies: 'approle-admin' });
    const roleId = (await v.getApproleRoleId({ role_name: 'ci' })).data.role_id as string;
    const secretId = (await v.getApproleRoleSecret({ role_name: 'ci' })).data.secret_id as string;
    const login = await nodeVault({ endpoint: server.addr }).approleLogin({ role_id: roleId, secret_id: secretId });
    expect(login.auth.policies).toEqual(['approle-admin', 'default']);
  });
});

/** Every audit entry of the store, as one text. */
async function auditText(): Promise<string> {
  const store = await openStore(server.storePath, keyFile(server.keyPath));
  try {
    const out: unknown[] = [];
    for await (const e of store.auditEntries()) out.push(e);
    return JSON.stringify(out);
  } finally {
    await store.close();
  }
}

describe('a value typed into a path (NAME=value)', () => {
  it('is cut from the audit log and from the error answered, whatever the route', async () => {
    const root = server.rootToken;
    const sent: Array<[string, string, unknown?]> = [
      ['POST', 'secret/data/DB_PASSWORD=hunter2-s3cr3t', { data: { a: 1 } }],
      ['GET', 'secret/data/app/api_key%3Dsk-live-abcdef'],
      ['GET', 'secret/metadata/PW=hunter2-s3cr3t'],
      ['POST', 'secret/metadata/PW=hunter2-s3cr3t', { cas_required: true }],
      ['DELETE', 'secret/metadata/PW=hunter2-s3cr3t'],
      ['PUT', 'sys/policies/acl/pw=hunter2-s3cr3t', { policy: 'path "x" { capabilities = ["read"] }' }],
      ['DELETE', 'sys/policies/acl/pw=hunter2-s3cr3t'],
      ['GET', 'sys/internal/ui/mounts/PW=hunter2-s3cr3t/x'],
      ['GET', 'auth/approle/role/pw=hunter2-s3cr3t'],
    ];
    for (const [method, path, body] of sent) {
      const r = await call(method, path, root, body);
      expect(r.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(r.text, `${method} ${path}`).not.toMatch(/hunter2|sk-live/);
    }
    // A refused token, and no token: the request is still described.
    expect((await call('GET', 'secret/data/TOKEN=hunter2-s3cr3t', 'hvs.wrong')).status).toBe(403);
    const audit = await auditText();
    expect(audit).not.toMatch(/hunter2|sk-live/);
    expect(audit).toContain('POST /v1/secret/data/DB_PASSWORD=***');
    expect(audit).toContain('GET /v1/secret/data/app/api_key=***');
  });
});

describe('merge-PATCH', () => {
  it('keeps a member named __proto__ as data, at every level', async () => {
    const root = server.rootToken;
    const mp = { 'Content-Type': 'application/merge-patch+json' };
    expect((await call('POST', 'secret/data/proto', root, '{"data":{"user":"app","nested":{"a":1},"kept":{"__proto__":{"old":true}}}}')).status).toBe(200);
    const p = await call('PATCH', 'secret/data/proto', root, '{"data":{"__proto__":{"role":"admin"},"user":"app2","nested":{"__proto__":{"x":1}}}}', mp);
    expect(p.status).toBe(200);
    expect(p.json.data.version).toBe(2);
    const r = await call('GET', 'secret/data/proto', root);
    expect(r.text).toContain('"data":{"data":{"user":"app2","nested":{"a":1,"__proto__":{"x":1}},"kept":{"__proto__":{"old":true}},"__proto__":{"role":"admin"}},');
    // Merged into an existing __proto__ member, and removed with null, like any other member.
    await call('PATCH', 'secret/data/proto', root, '{"data":{"__proto__":{"level":2},"kept":{"__proto__":null}}}', mp);
    const again = (await call('GET', 'secret/data/proto', root)).json;
    expect(Object.hasOwn(again.data.data, '__proto__')).toBe(true);
    expect(JSON.stringify(again.data.data)).toBe('{"user":"app2","nested":{"a":1,"__proto__":{"x":1}},"kept":{},"__proto__":{"role":"admin","level":2}}');
  });
});

describe('values written otherwise (store set), read through the API', () => {
  it('text read as {"value": …} keeps a leading BOM: the bytes exactly', async () => {
    const store = await openStore(server.storePath, keyFile(server.keyPath));
    try {
      await store.put('bom/text', new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]));
    } finally {
      await store.close();
    }
    const r = await call('GET', 'secret/data/bom/text', server.rootToken);
    expect(r.status).toBe(200);
    expect(r.json.data.data).toEqual({ value: '\ufeffhi' });
  });
});

describe('sys/health status codes', () => {
  it('a code outside 200-599 is 400 on a connection that stays open; codes in range are sent', async () => {
    const c = await RawClient.connect({ port: Number(new URL(server.addr).port) });
    const health = async (query: string) => {
      c.send(`GET /v1/sys/health?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      return c.response();
    };
    for (const q of ['activecode=999', 'activecode=100', 'activecode=000', 'activecode=199', 'activecode=600', 'activecode=abc']) {
      const r = await health(q);
      expect(r.status, q).toBe(400);
      expect(JSON.parse(r.body).errors, q).toEqual(['activecode must be an HTTP status code from 200 to 599']);
    }
    // Checked even when it does not apply (this server is not sealed): a bad one is found before it is needed.
    expect(JSON.parse((await health('sealedcode=999')).body).errors).toEqual(['sealedcode must be an HTTP status code from 200 to 599']);
    for (const code of [200, 204, 299, 429, 599]) expect((await health(`activecode=${code}&sealedcode=503`)).status).toBe(code);
    expect(c.closedByServer).toBe(false);
  });
});

/** A token made by `parent` through auth/token/create with this body; the response. */
async function createToken(parent: string, body: Record<string, unknown>, path = 'auth/token/create') {
  return call('POST', path, parent, body);
}

/** How many tokens the store holds (root's view of auth/token/accessors). */
async function tokenCount(): Promise<number> {
  return (await list('auth/token/accessors', server.rootToken)).json.data.keys.length;
}

describe('what a token may make (Vault handleCreateCommon)', () => {
  it('a use-limited token makes no token: create, create-orphan and no_parent are 400 and write nothing', async () => {
    expect((await call('PUT', 'sys/policies/acl/minter', server.rootToken, {
      policy: 'path "auth/token/create*" { capabilities = ["update", "sudo"] }',
    })).status).toBe(204);
    const limited = (await createToken(server.rootToken, { policies: ['minter'], num_uses: 20 })).json.auth.client_token as string;
    const limitedRoot = (await createToken(server.rootToken, { policies: ['root'], num_uses: 20 })).json.auth.client_token as string;
    const before = await tokenCount();
    for (const t of [limited, limitedRoot]) {
      for (const [path, body] of [
        ['auth/token/create', { policies: ['minter'] }],
        ['auth/token/create', {}],
        ['auth/token/create', { num_uses: 0, no_parent: true }],
        ['auth/token/create-orphan', { policies: ['minter'] }],
      ] as const) {
        const r = await createToken(t, body, path);
        expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
        expect(r.json.errors).toEqual(['restricted use token cannot generate child tokens']);
      }
    }
    expect(await tokenCount()).toBe(before);
    // Still a token for everything else: it looks itself up (one use more).
    expect((await call('GET', 'auth/token/lookup-self', limited)).json.data.num_uses).toBe(15);
    // An unlimited token makes use-limited ones.
    const free = (await createToken(server.rootToken, { policies: ['minter'] })).json.auth.client_token as string;
    expect((await createToken(free, { policies: ['minter'], num_uses: 2 })).json.auth.num_uses).toBe(2);
  });

  it('an expiring root token makes no root token that never expires (400); with a TTL it may', async () => {
    const expiring = (await createToken(server.rootToken, { policies: ['root'], ttl: '1h' })).json.auth.client_token as string;
    for (const body of [{ policies: ['root'] }, {}, { policies: ['root'], no_parent: true }]) {
      const r = await createToken(expiring, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.errors).toEqual(['expiring root tokens cannot create non-expiring root tokens']);
    }
    const bounded = await createToken(expiring, { policies: ['root'], ttl: '10m' });
    expect(bounded.status).toBe(200);
    expect(bounded.json.auth).toMatchObject({ policies: ['root'], lease_duration: 600 });
    // The non-expiring root token still makes non-expiring ones.
    expect((await createToken(server.rootToken, { policies: ['root'] })).json.auth.lease_duration).toBe(0);
  });

  it('default: a parent without it gives it neither by default nor when asked; a parent with it passes it on', async () => {
    expect((await call('PUT', 'sys/policies/acl/nodefault', server.rootToken, {
      policy: 'path "auth/token/create" { capabilities = ["update"] }',
    })).status).toBe(204);
    const bare = (await createToken(server.rootToken, { policies: ['nodefault'], no_default_policy: true })).json.auth;
    expect(bare.policies).toEqual(['nodefault']);
    const child = await createToken(bare.client_token, { policies: ['nodefault'] });
    expect(child.status).toBe(200);
    expect(child.json.auth.policies).toEqual(['nodefault']);
    expect((await createToken(bare.client_token, {})).json.auth.policies).toEqual(['nodefault']);
    for (const policies of [['default'], ['nodefault', 'default']]) expect((await createToken(bare.client_token, { policies })).status).toBe(403);
    const withDefault = (await createToken(server.rootToken, { policies: ['nodefault'] })).json.auth;
    expect((await createToken(withDefault.client_token, { policies: ['nodefault'] })).json.auth.policies).toEqual(['default', 'nodefault']);
  });
});

describe('root-protected and self paths need what Vault needs', () => {
  it('LIST auth/token/accessors needs sudo as well as list (root needs neither)', async () => {
    const listOnly = await tokenWithPolicy('accessors-list', 'path "auth/token/accessors*" { capabilities = ["list"] }');
    const withSudo = await tokenWithPolicy('accessors-sudo', 'path "auth/token/accessors*" { capabilities = ["list", "sudo"] }');
    const sudoOnly = await tokenWithPolicy('accessors-sudo-only', 'path "auth/token/accessors*" { capabilities = ["sudo"] }');
    for (const path of ['auth/token/accessors', 'auth/token/accessors/']) {
      expect((await list(path, listOnly)).status, path).toBe(403);
      expect((await call('GET', `${path}?list=true`, listOnly)).status, path).toBe(403);
      expect((await list(path, sudoOnly)).status, path).toBe(403);
      const ok = await list(path, withSudo);
      expect(ok.status, path).toBe(200);
      expect(ok.json.data.keys.length).toBeGreaterThan(0);
      expect((await list(path, server.rootToken)).status, path).toBe(200);
    }
    const v = nodeVault({ endpoint: server.addr, token: listOnly });
    await expect(v.request({ path: '/auth/token/accessors', method: 'LIST' })).rejects.toMatchObject({ response: { statusCode: 403 } });
  });

  it('sys/capabilities-self needs update on it: the default policy grants it, a token without default is refused', async () => {
    expect((await call('PUT', 'sys/policies/acl/caps-app', server.rootToken, {
      policy: 'path "secret/data/caps/*" { capabilities = ["read"] }',
    })).status).toBe(204);
    const body = { paths: ['secret/data/caps/x', 'sys/policies/acl/admin'] };
    const bare = (await createToken(server.rootToken, { policies: ['caps-app'], no_default_policy: true })).json.auth.client_token as string;
    const r = await call('POST', 'sys/capabilities-self', bare, body);
    expect(r.status).toBe(403);
    expect(r.json.errors).toEqual(['permission denied']);
    const usual = (await createToken(server.rootToken, { policies: ['caps-app'] })).json.auth.client_token as string;
    const ok = await call('POST', 'sys/capabilities-self', usual, body);
    expect(ok.status).toBe(200);
    expect(ok.json.data).toMatchObject({ 'secret/data/caps/x': ['read'], 'sys/policies/acl/admin': ['deny'] });
    expect((await call('POST', 'sys/capabilities-self', server.rootToken, body)).json.data['secret/data/caps/x']).toEqual(['root']);
  });
});

describe('a create-only policy (create without update) never updates', () => {
  it('concurrent first writes to one new key: exactly one is written, the others are refused as an update is (403)', async () => {
    const t = await tokenWithPolicy('drop-box', 'path "secret/data/dropbox/*" { capabilities = ["create"] }');
    for (let k = 0; k < 8; k++) {
      const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => call('POST', `secret/data/dropbox/k${k}`, t, { data: { v: i } })));
      const statuses = rs.map((r) => r.status).sort();
      expect(statuses, `k${k}`).toEqual([200, ...Array(11).fill(403)]);
      for (const r of rs.filter((x) => x.status === 403)) expect(r.json.errors).toEqual(['permission denied']);
      expect((await call('GET', `secret/metadata/dropbox/k${k}`, server.rootToken)).json.data.current_version).toBe(1);
    }
  });

  it('sequentially: the second write is 403; cas 0 creates, another cas is a mismatch on a key that does not exist', async () => {
    const t = await tokenWithPolicy('drop-seq', 'path "secret/data/dropseq/*" { capabilities = ["create"] }');
    expect((await call('POST', 'secret/data/dropseq/a', t, { data: { v: 1 } })).status).toBe(200);
    expect((await call('POST', 'secret/data/dropseq/a', t, { data: { v: 2 } })).status).toBe(403);
    expect((await call('POST', 'secret/data/dropseq/a', t, { data: { v: 2 }, options: { cas: 1 } })).status).toBe(403);
    expect((await call('POST', 'secret/data/dropseq/b', t, { data: { v: 1 }, options: { cas: 0 } })).status).toBe(200);
    const mismatch = await call('POST', 'secret/data/dropseq/c', t, { data: { v: 1 }, options: { cas: 1 } });
    expect(mismatch.status).toBe(400);
    expect(mismatch.json.errors).toEqual(['check-and-set parameter did not match the current version']);
    expect((await call('GET', 'secret/metadata/dropseq/c', server.rootToken)).status).toBe(404);
    // With create and update, writes go on as before.
    const rw = await tokenWithPolicy('drop-rw', 'path "secret/data/dropseq/*" { capabilities = ["create", "update"] }');
    expect((await call('POST', 'secret/data/dropseq/a', rw, { data: { v: 3 } })).json.data.version).toBe(2);
  });

  it('metadata: max_versions and custom_metadata are never set through a create-only grant, even racing a first write', async () => {
    const t = await tokenWithPolicy('meta-drop', 'path "secret/metadata/metadrop/*" { capabilities = ["create"] }');
    for (let k = 0; k < 10; k++) {
      const name = `metadrop/k${k}`;
      const meta = () => Array.from({ length: 8 }, () => call('POST', `secret/metadata/${name}`, t, { max_versions: 1, custom_metadata: { owner: 'dropper' } }));
      // Metadata writes sent before, with and after the first write of the data: some are checked before it and act after it.
      const rs = await Promise.all([...meta(), call('POST', `secret/data/${name}`, server.rootToken, { data: { v: 1 } }), ...meta()]);
      expect(rs[8]!.status).toBe(200);
      for (const r of rs.filter((_, i) => i !== 8)) expect([400, 403], name).toContain(r.status);
      expect((await call('GET', `secret/metadata/${name}`, server.rootToken)).json.data, name).toMatchObject({ max_versions: 0, custom_metadata: null });
    }
    // On a name with no secret, the settings kept apart from it are still a create.
    expect((await call('POST', 'secret/metadata/metadrop/fresh', t, { cas_required: true })).status).toBe(204);
  });
});
