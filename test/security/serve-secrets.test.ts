/**
 * Secrets that pass through a real `store serve` child stay where they
 * belong. The test sends a canary value (`CANARY-<random>`) through every KV
 * path, makes tokens (root, children, use-limited, AppRole logins) and
 * AppRole secret-ids, and makes requests fail in every way it can (bad JSON,
 * check-and-set mismatch, 403, 404, 405, 413, 415, a policy that does not
 * parse, deleted and destroyed reads). Then none of the canary, the tokens
 * (also the made-up ones clients sent) or the secret-ids may appear in the
 * server's stdout and stderr, any audit entry, any error body, the server's
 * argv and environment, or the store file and its -wal and -shm (tokens and
 * secret-ids are kept as SHA-256, values encrypted).
 *
 * It also checks that every request but sys/health left an audit entry
 * describing it as `accessor=<accessor or -> from=<address> METHOD /v1/path`.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodeVault from 'node-vault';
import { keyFile, openStore } from '../../src/index.js';
import { startServe, type ServeChild } from '../serve/serve-child.js';
import type { AuditRecord } from '../../src/store/types.js';

const CANARY = `CANARY-${randomBytes(12).toString('hex')}`;
/** A canary-bearing value, told apart per use (each still contains CANARY). */
const canary = (tag: string): string => `${CANARY}-${tag}`;

let server: ServeChild;
let rootAccessor = '';

/** Tokens and secret-ids seen or sent: none may leak. */
const secrets = new Set<string>();
/** The body (and client-side message) of every answer with status >= 400. */
const errorBodies: string[] = [];

/** One request sent to the server, as the audit log should describe it. */
interface Sent {
  method: string;
  /** As the audit log records it (pathOf). */
  path: string;
  /** The token it carried, if any. */
  token?: string;
}
/** Every request that reached the server's request handling (transport refusals are listed apart). */
const sent: Sent[] = [];
/** Requests the transport refused before they were parsed: never dispatched, so not audited. */
let transportRefusals = 0;

/** What the server's process showed the OS while it ran. */
let procText = '';
/** The store file, its -wal and -shm, read while the server ran. */
let filesWhileRunning: Buffer[] = [];

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'LIST', 'PATCH', 'HEAD']);

/** The path of `uri` as the audit log records it: percent-decoded, without the query, a token in it masked. */
function pathOf(uri: string): string {
  return decodeURIComponent(new URL(uri).pathname).replace(/hvs\.[A-Za-z0-9_-]+/g, 'hvs.***');
}

type Client = ReturnType<typeof nodeVault>;

/**
 * A node-vault client whose every request is noted (through node-vault's
 * own `debug` hook, called with the method and URI of each request).
 */
function vault(token?: string): Client {
  const client: Client = nodeVault({
    endpoint: server.addr,
    ...(token ? { token } : {}),
    debug: (...args: unknown[]) => {
      const [method, uri] = args;
      if (typeof method === 'string' && METHODS.has(method) && typeof uri === 'string') {
        sent.push({ method, path: pathOf(uri), ...(client.token ? { token: client.token } : {}) });
      }
    },
  } as Parameters<typeof nodeVault>[0]);
  return client;
}

/** A node-vault call that must succeed. */
async function ok<T>(p: Promise<T>): Promise<T> {
  return p;
}

/** A node-vault call that must fail with `status`; its body is kept. */
async function fails(p: Promise<unknown>, status: number): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    const r = (e as { response?: { statusCode: number; body: unknown } }).response;
    if (!r) throw e;
    errorBodies.push(`${(e as Error).message}\n${JSON.stringify(r.body)}`);
    expect(r.statusCode, JSON.stringify(r.body)).toBe(status);
    return r.body;
  }
  throw new Error(`expected a ${status}`);
}

/** A raw request with fetch; the answer's text is kept when it is an error. */
async function http(
  method: string,
  path: string,
  o: { token?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { ...(o.token ? { 'X-Vault-Token': o.token } : {}), ...o.headers };
  sent.push({ method, path: pathOf(`${server.addr}${path}`), ...(o.token ? { token: o.token } : {}) });
  const res = await fetch(`${server.addr}${path}`, { method, headers, ...(o.body !== undefined ? { body: o.body } : {}) });
  const text = await res.text();
  if (res.status >= 400) errorBodies.push(text);
  return { status: res.status, text };
}

/** Bytes sent as is on a new connection; the whole answer (head and body) is kept. Not counted as dispatched. */
function rawSocket(bytes: Buffer): Promise<string> {
  const port = Number(new URL(server.addr).port);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error('no answer'));
    });
    socket.on('data', (d) => chunks.push(d));
    // The server may close while bytes are still being sent (it answered already).
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.write(bytes);
  });
}

function storeFiles(path: string): Buffer[] {
  return [path, `${path}-wal`, `${path}-shm`].filter((f) => existsSync(f)).map((f) => readFileSync(f));
}

/** Every secret that must not show, as text to search for. */
function needles(): string[] {
  return [CANARY, ...secrets];
}

function expectNoSecretsIn(where: string, text: string): void {
  for (const n of needles()) expect(text.includes(n), `${where} holds ${n === CANARY ? 'the canary' : 'a token or secret-id'}`).toBe(false);
}

function expectNoSecretsInBytes(where: string, bytes: Buffer): void {
  for (const n of needles()) {
    for (const enc of ['utf8', 'utf16le'] as const) {
      expect(bytes.includes(Buffer.from(n, enc)), `${where} holds ${n === CANARY ? 'the canary' : 'a token or secret-id'} (${enc})`).toBe(false);
    }
  }
}

beforeAll(async () => {
  server = await startServe();
  secrets.add(server.rootToken);
}, 30_000);

afterAll(async () => {
  if (server.child.exitCode === null) await server.stop();
});

describe('traffic: success and failure on every path', () => {
  it('KV v2: writes, reads, versions, patch, metadata, list, delete, undelete, destroy of canary values', async () => {
    const root = vault(server.rootToken);
    rootAccessor = (await ok(root.tokenLookupSelf())).data.accessor as string;
    expect(rootAccessor).toMatch(/^[A-Za-z0-9]{24}$/);

    const first = { password: canary('v1'), nested: { key: canary('nested'), list: [canary('list')] } };
    expect((await ok(root.write('secret/data/leak/a', { data: first }))).data.version).toBe(1);
    expect((await ok(root.read('secret/data/leak/a'))).data.data).toEqual(first);
    expect((await ok(root.write('secret/data/leak/a', { data: { password: canary('v2') }, options: { cas: 1 } }))).data.version).toBe(2);
    expect((await ok(root.read('secret/data/leak/a?version=1'))).data.data).toEqual(first);
    // merge-PATCH
    expect((await ok(root.update('secret/data/leak/a', { data: { extra: canary('patch') } }))).data.version).toBe(3);
    expect((await ok(root.read('secret/data/leak/a'))).data.data).toEqual({ password: canary('v2'), extra: canary('patch') });
    expect((await ok(root.read('secret/metadata/leak/a'))).data.current_version).toBe(3);
    expect((await ok(root.list('secret/metadata/leak'))).data.keys).toEqual(['a']);
    // A value written with raw fetch (exact bytes kept), read back the same way.
    const put = await http('POST', '/v1/secret/data/leak/raw', { token: server.rootToken, body: `{"data":{"p":"${canary('raw')}"}}` });
    expect(put.status).toBe(200);
    const got = await http('GET', '/v1/secret/data/leak/raw', { token: server.rootToken });
    expect(got.text).toContain(canary('raw'));

    // delete the latest: reads are 404 with metadata and no value
    await ok(root.delete('secret/data/leak/a'));
    const deleted = await fails(root.read('secret/data/leak/a'), 404) as { data: { data: unknown; metadata: { version: number } } };
    expect(deleted.data.data).toBeNull();
    expect(deleted.data.metadata.version).toBe(3);
    const deletedRaw = await http('GET', '/v1/secret/data/leak/a', { token: server.rootToken });
    expect(deletedRaw.status).toBe(404);
    await ok(root.write('secret/undelete/leak/a', { versions: [3] }));
    expect((await ok(root.read('secret/data/leak/a'))).data.data.extra).toBe(canary('patch'));
    // destroy version 1: gone for good
    await ok(root.write('secret/destroy/leak/a', { versions: [1] }));
    await fails(root.read('secret/data/leak/a?version=1'), 404);
    // soft-delete of given versions, then a read of one
    await ok(root.write('secret/delete/leak/a', { versions: [2] }));
    await fails(root.read('secret/data/leak/a?version=2'), 404);
  });

  it('KV v2 failures with the canary in the request: bad JSON, CAS mismatch, 404, 405, 413, 415, bad fields', async () => {
    const root = vault(server.rootToken);
    const t = server.rootToken;
    const bodies: Array<[string, string, string, number]> = [
      // [method, path, body, status]
      ['POST', '/v1/secret/data/leak/badjson', `{"data":{"password":"${canary('badjson')}"`, 400],
      ['POST', '/v1/secret/data/leak/badjson2', `{"data":{"password":${canary('unquoted')}}}`, 400],
      ['POST', '/v1/secret/data/leak/notobject', `"${canary('string-body')}"`, 400],
      ['POST', '/v1/secret/data/leak/dataarray', `{"data":["${canary('array')}"]}`, 400],
      ['POST', '/v1/secret/data/leak/datastring', `{"data":"${canary('data-string')}"}`, 400],
      ['POST', '/v1/secret/data/leak/badcas', `{"data":{"p":"x"},"options":{"cas":"${canary('cas')}"}}`, 400],
      ['POST', '/v1/secret/data/leak/badoptions', `{"data":{"p":"x"},"options":"${canary('options')}"}`, 400],
      ['POST', '/v1/secret/delete/leak/a', `{"versions":["${canary('versions')}"]}`, 400],
      ['POST', '/v1/secret/metadata/leak/a', `{"max_versions":"${canary('maxv')}"}`, 400],
      ['POST', '/v1/secret/metadata/leak/a', `{"custom_metadata":{"k":["${canary('cm')}"]}}`, 400],
      ['POST', '/v1/secret/metadata/leak/a', `{"delete_version_after":"${canary('dva')}"}`, 400],
      ['POST', '/v1/secret/config', `{"max_versions":"${canary('cfg')}"}`, 400],
      ['PATCH', '/v1/secret/config', `{"data":{"p":"${canary('405')}"}}`, 405],
      ['PATCH', '/v1/secret/data/leak/a', `{"data":{"p":"${canary('415')}"}}`, 415],
      ['POST', '/v1/nowhere/leak', `{"data":{"p":"${canary('404')}"}}`, 404],
      ['POST', '/v1/sys/nothing-here', `{"p":"${canary('sys404')}"}`, 404],
    ];
    for (const [method, path, body, status] of bodies) {
      const r = await http(method, path, { token: t, body, headers: { 'Content-Type': 'application/json' } });
      expect(r.status, `${method} ${path}: ${r.text}`).toBe(status);
    }
    // a bad version query
    expect((await http('GET', `/v1/secret/data/leak/a?version=${canary('q')}`, { token: t })).status).toBe(400);
    // check-and-set mismatch, and a patch of a secret that does not exist, with canary data
    await fails(root.write('secret/data/leak/a', { data: { p: canary('cas-mismatch') }, options: { cas: 1 } }), 400);
    await fails(root.update('secret/data/leak/never', { data: { p: canary('patch-404') } }), 404);
    // A value over the store's limit (1 MiB): the store refuses it (413), the transport let it through.
    const big = JSON.stringify({ data: { p: `${canary('big')}${'x'.repeat(1_100_000)}` } });
    expect((await http('POST', '/v1/secret/data/leak/big', { token: t, body: big })).status).toBe(413);
    // Over the transport's 32 MiB limit: refused from the Content-Length alone, with the canary in the bytes sent.
    const head = `POST /v1/secret/data/leak/huge HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: ${t}\r\nContent-Type: application/json\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`;
    const answer = await rawSocket(Buffer.from(`${head}{"data":{"p":"${canary('huge')}"`));
    transportRefusals++;
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    errorBodies.push(answer);
    // A control character in a header: refused by the transport before any handling.
    const bad = await rawSocket(Buffer.from(`GET /v1/secret/data/leak/a HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: ${t}\x01\r\nX-Other: ${canary('hdr')}\r\n\r\n`));
    transportRefusals++;
    expect(bad).toMatch(/^HTTP\/1\.1 400 /);
    errorBodies.push(bad);
    // A namespace header and an unknown header carrying the canary.
    expect((await http('GET', '/v1/secret/data/leak/a', { token: t, headers: { 'X-Vault-Namespace': canary('ns'), 'X-Canary': canary('h') } })).status).toBe(400);
  });

  it('tokens: children, use-limited, renew, lookup, revoke; made-up and revoked tokens are refused', async () => {
    const root = vault(server.rootToken);
    await ok(root.addPolicy({ name: 'leak-ro', rules: 'path "secret/data/leak/*" { capabilities = ["read"] }\npath "auth/token/create" { capabilities = ["update"] }' }));
    // A child token (the client adopts it)
    const app = vault(server.rootToken);
    const created = await ok(app.tokenCreate({ policies: ['leak-ro'], ttl: '1h', renewable: true, display_name: 'app' }));
    const child = created.auth.client_token as string;
    secrets.add(child);
    expect(app.token).toBe(child);
    expect((await ok(app.read('secret/data/leak/a'))).data.data.extra).toBe(canary('patch'));
    await fails(app.write('secret/data/leak/a', { data: { p: canary('403-write') } }), 403);
    await fails(app.read('secret/data/elsewhere'), 403);
    await fails(app.write('secret/data/leak/child-write', { data: { p: canary('403-create') } }), 403);
    await fails(app.tokenCreateOrphan({ policies: ['leak-ro'] }), 403); // the default policy does not grant create-orphan
    await ok(app.tokenRenewSelf({ increment: '2h' }));
    // A grandchild, revoked with its parent below
    const grand = vault(child);
    const g = (await ok(grand.tokenCreate({ policies: ['leak-ro'] }))).auth.client_token as string;
    secrets.add(g);
    expect((await ok(grand.read('secret/data/leak/raw'))).data.data.p).toBe(canary('raw'));

    // Use-limited: two uses, the third is refused
    const limitedClient = vault(server.rootToken);
    const limited = (await ok(limitedClient.tokenCreate({ policies: ['leak-ro'], num_uses: 2 }))).auth.client_token as string;
    secrets.add(limited);
    await ok(limitedClient.read('secret/data/leak/a'));
    await ok(limitedClient.read('secret/data/leak/raw'));
    await fails(limitedClient.read('secret/data/leak/a'), 403);

    // Operator calls naming tokens in the body
    const looked = await ok(root.tokenLookup({ token: child }));
    expect(looked.data.accessor).toMatch(/^[A-Za-z0-9]{24}$/);
    // (node-vault adopts the token a renewal returns: a client of its own)
    await ok(vault(server.rootToken).tokenRenew({ token: child, increment: 600 }));
    const madeUp = `hvs.${randomBytes(24).toString('base64url').slice(0, 32)}`;
    secrets.add(madeUp);
    await fails(root.tokenLookup({ token: madeUp }), 400);
    await fails(vault(server.rootToken).tokenRenew({ token: madeUp }), 403);
    await fails(root.tokenLookupAccessor({ accessor: 'no-such-accessor' }), 400);
    await fails(root.tokenCreate({ policies: ['leak-ro'], ttl: canary('ttl') }), 400);
    expect((await http('POST', '/v1/auth/token/revoke', { token: server.rootToken, body: JSON.stringify({ token: madeUp }) })).status).toBe(204);
    await ok(root.tokenRevoke({ token: child }));
    // revoked: the child and its own child are refused everywhere
    await fails(vault(child).read('secret/data/leak/a'), 403);
    await fails(vault(child).tokenLookupSelf(), 403);
    await fails(vault(g).read('secret/data/leak/raw'), 403);

    // Made-up tokens in both headers, a long one, and none
    await fails(vault(madeUp).read('secret/data/leak/a'), 403);
    expect((await http('GET', '/v1/secret/data/leak/a', { headers: { Authorization: `Bearer ${madeUp}` } })).status).toBe(403);
    const long = `hvs.${'A'.repeat(3000)}${randomBytes(8).toString('hex')}`;
    secrets.add(long);
    expect((await http('GET', '/v1/secret/data/leak/a', { token: long })).status).toBe(403);
    expect((await http('GET', '/v1/secret/data/leak/a')).status).toBe(403);
    expect((await http('GET', '/v1/nowhere/at/all', { token: madeUp })).status).toBe(403);
    // Vault's old URL forms put the token in the path (auth/token/lookup/<token>); they are not served,
    // and the path as the audit log records it must not carry the token either.
    const inPath = (await ok(vault(server.rootToken).tokenCreate({ policies: ['leak-ro'] }))).auth.client_token as string;
    secrets.add(inPath);
    expect((await http('GET', `/v1/auth/token/lookup/${inPath}`, { token: server.rootToken })).status).toBe(404);
    expect((await http('POST', `/v1/auth/token/revoke/${inPath}`, { token: server.rootToken })).status).toBe(404);
    expect((await http('GET', `/v1/secret/data/${inPath}`, { token: inPath })).status).toBe(403);
    // A token revoking itself
    const selfClient = vault(server.rootToken);
    const self = (await ok(selfClient.tokenCreate({ policies: ['leak-ro'] }))).auth.client_token as string;
    secrets.add(self);
    await ok(selfClient.tokenRevokeSelf());
    await fails(selfClient.tokenLookupSelf(), 403);
  });

  it('AppRole: role ids, secret-ids, logins that work and logins that fail', async () => {
    const root = vault(server.rootToken);
    await ok(root.addApproleRole({ role_name: 'leak', policies: 'leak-ro', token_ttl: 600, secret_id_num_uses: 1 }));
    const roleId = (await ok(root.getApproleRoleId({ role_name: 'leak' }))).data.role_id as string;
    const issued: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = (await ok(root.getApproleRoleSecret({ role_name: 'leak', metadata: JSON.stringify({ n: String(i) }) }))).data.secret_id as string;
      secrets.add(s);
      issued.push(s);
    }
    const app = vault();
    const login = await ok(app.approleLogin({ role_id: roleId, secret_id: issued[0] }));
    secrets.add(login.auth.client_token as string);
    expect((await ok(app.read('secret/data/leak/a'))).data.data.extra).toBe(canary('patch'));
    // used up, made up, and with the wrong role id
    await fails(vault().approleLogin({ role_id: roleId, secret_id: issued[0] }), 400);
    const madeUp = randomUUID();
    secrets.add(madeUp);
    await fails(vault().approleLogin({ role_id: roleId, secret_id: madeUp }), 400);
    await fails(vault().approleLogin({ role_id: randomUUID(), secret_id: issued[1] }), 400);
    await fails(vault().approleLogin({ role_id: roleId }), 400);
    // secret-id of a role that does not exist; a role read by a token without the right
    await fails(root.getApproleRoleSecret({ role_name: 'no-such-role' }), 404);
    const child = vault(server.rootToken);
    secrets.add((await ok(child.tokenCreate({ policies: ['leak-ro'] }))).auth.client_token as string);
    await fails(child.getApproleRoleSecret({ role_name: 'leak' }), 403);
    // a good login with the second secret-id, by raw fetch
    const r = await http('POST', '/v1/auth/approle/login', { body: JSON.stringify({ role_id: roleId, secret_id: issued[1] }) });
    expect(r.status).toBe(200);
    secrets.add((JSON.parse(r.text) as { auth: { client_token: string } }).auth.client_token);
  });

  it('policies that do not parse, with the canary in their text, are refused without echoing it', async () => {
    // Errors quote a short word of the policy back to its writer (`unknown
    // capability "raed"`); longer text is named by its kind and length only.
    // These words are longer than that (over 40 characters), so a secret
    // pasted into a policy by mistake is not sent back.
    const word = (tag: string): string => canary(`${tag}-pasted-into-a-policy`);
    const root = vault(server.rootToken);
    const bad = [
      `path "secret/*" { capabilities = ["${word('cap')}"] }`,
      `${word('bare')} { }`,
      `path "secret/*" { capabilities = ["read"] ${word('trailing')}`,
      `path "secret/*" { ${word('attr')} = ["read"] }`,
      `path "secret/*" { policy = "${word('legacy')}" }`,
      `${word('top')} = "x"`,
      JSON.stringify({ path: { 'secret/*': { capabilities: [word('json-cap')] } } }),
      JSON.stringify({ path: { 'secret/*': { [word('json-key')]: ['read'] } } }),
      JSON.stringify({ [word('json-top')]: {} }),
    ];
    for (const [i, rules] of bad.entries()) await fails(root.addPolicy({ name: `bad-${i}`, rules }), 400);
    const r = await http('PUT', '/v1/sys/policies/acl/bad-raw', { token: server.rootToken, body: JSON.stringify({ policy: `path "x" { capabilities = ["${word('raw')}"] }` }) });
    expect(r.status).toBe(400);
  });

  it('sys endpoints answer (health, mounts, metrics)', async () => {
    const root = vault(server.rootToken);
    expect(await ok(root.health())).toMatchObject({ sealed: false });
    expect((await ok(root.mounts()))['secret/'].type).toBe('kv');
    const m = await http('GET', '/v1/sys/metrics?format=prometheus', { token: server.rootToken });
    expect(m.status).toBe(200);
  });

  it('the server process shows no secret in its argv or environment, nor in the store files while it runs', () => {
    const pid = server.child.pid!;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`);
    const environ = readFileSync(`/proc/${pid}/environ`);
    expect(cmdline.toString('utf8')).toContain('serve'); // the right process, read in full
    procText = `${cmdline.toString('utf8')}\n${environ.toString('utf8')}`;
    filesWhileRunning = storeFiles(server.storePath);
    expect(filesWhileRunning.length).toBeGreaterThanOrEqual(2); // the file and its -wal at least
  });
});

describe('afterwards: no secret anywhere it should not be', () => {
  let entries: AuditRecord[] = [];

  beforeAll(async () => {
    expect(await server.stop()).toBe(0);
    const store = await openStore(server.storePath, keyFile(server.keyPath));
    try {
      for await (const e of store.auditEntries()) entries.push(e);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('the test saw what it checks: tokens, secret-ids, error bodies, requests', () => {
    expect(secrets.size).toBeGreaterThanOrEqual(14);
    expect(errorBodies.length).toBeGreaterThanOrEqual(50);
    expect(sent.length).toBeGreaterThanOrEqual(100);
    expect(entries.length).toBeGreaterThan(sent.length);
  });

  it('(a) the server printed none on stdout or stderr', () => {
    expect(server.stdout()).toContain(server.addr); // the capture works
    expectNoSecretsIn('server stdout', server.stdout());
    expectNoSecretsIn('server stderr', server.stderr());
  });

  it('(b) no audit entry holds one', () => {
    for (const e of entries) expectNoSecretsIn(`audit entry ${e.seq} (${e.action})`, JSON.stringify(e));
  });

  it('(c) no error body holds one', () => {
    for (const b of errorBodies) expectNoSecretsIn(`error body ${b.slice(0, 120)}`, b);
  });

  it('(d) the server\'s argv and environment hold none', () => {
    expect(procText).not.toBe('');
    expectNoSecretsIn('/proc/<pid>/cmdline and environ', procText);
  });

  it('(e) the store file, -wal and -shm hold none, while it ran and after; tokens and secret-ids only as SHA-256', () => {
    filesWhileRunning.forEach((b, i) => expectNoSecretsInBytes(`store file ${['', '-wal', '-shm'][i]} while serving`, b));
    const after = storeFiles(server.storePath);
    after.forEach((b, i) => expectNoSecretsInBytes(`store file ${['', '-wal', '-shm'][i]} after stopping`, b));
    // What the records keep instead: the root token's hash (it is never revoked).
    const hash = createHash('sha256').update(server.rootToken).digest('hex');
    expect([...filesWhileRunning, ...after].some((b) => b.includes(Buffer.from(hash)))).toBe(true);
  });

  /** The request part of an entry's detail: `accessor=… from=… METHOD PATH`. */
  const REQUEST = /accessor=(\S+) from=(\S+) ([A-Z]+) (\/\S*?)(?:\]| -> \d{3}|$)/;

  it('entries describe requests as accessor=…, from=127.0.0.1, method and path; every request but sys/health left one', () => {
    const described = entries.map((e) => REQUEST.exec(e.detail ?? '')).filter((m): m is RegExpExecArray => m !== null);
    expect(described.length).toBeGreaterThan(0);
    for (const m of described) {
      expect(m[1]).toMatch(/^(-|[A-Za-z0-9]{24})$/);
      expect(m[2]).toBe('127.0.0.1');
      expect(METHODS.has(m[3]!)).toBe(true);
    }
    const entriesFor = new Map<string, number>();
    for (const m of described) entriesFor.set(`${m[3]} ${m[4]}`, (entriesFor.get(`${m[3]} ${m[4]}`) ?? 0) + 1);
    const requestsFor = new Map<string, number>();
    for (const s of sent) {
      if (s.path === '/v1/sys/health') continue;
      requestsFor.set(`${s.method} ${s.path}`, (requestsFor.get(`${s.method} ${s.path}`) ?? 0) + 1);
    }
    const missing = [...requestsFor].filter(([k, n]) => (entriesFor.get(k) ?? 0) < n).map(([k, n]) => `${k}: ${n} requests, ${entriesFor.get(k) ?? 0} entries`);
    expect(missing).toEqual([]);
    // Requests made with the root token name its accessor.
    for (const s of sent.filter((x) => x.token === server.rootToken && x.path !== '/v1/sys/health')) {
      expect(described.some((m) => m[1] === rootAccessor && m[3] === s.method && m[4] === s.path), `${s.method} ${s.path}`).toBe(true);
    }
    // Requests without a token, or with one that is not valid, say accessor=-.
    expect(described.some((m) => m[1] === '-' && m[4] === '/v1/nowhere/at/all')).toBe(true);
    expect(transportRefusals).toBe(2);
  });
});
