/**
 * store token create | list | revoke, in-process: the token printed once to
 * stdout (and nowhere else: not stderr, not the audit log, not a listing),
 * --json as Vault's auth object, root tokens, listing by accessor, and
 * revocation by accessor with the tokens a token made.
 */
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { openStore, keyFile } from '../../src/index.js';
import { TokenStore } from '../../src/serve/auth/tokens.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let base: string[];
let paths: { store: string; keyfile: string };

const store = (...args: string[]) => runInProcess([...base, ...args]);

async function ok(...args: string[]) {
  const r = await store(...args);
  expect(r.status, r.err).toBe(0);
  return r;
}

/** The token store over the same file, as store serve would use it. */
async function withTokens<T>(fn: (tokens: TokenStore) => Promise<T>): Promise<T> {
  const s = await openStore(paths.store, keyFile(paths.keyfile));
  try {
    return await fn(new TokenStore(s));
  } finally {
    await s.close();
  }
}

beforeEach(async () => {
  const dir = tempDir();
  paths = { store: join(dir, 'store.db'), keyfile: join(dir, 'master.key') };
  base = ['--store', paths.store, '--keyfile', paths.keyfile];
  await ok('init', '--master', 'keyfile');
});

describe('store token create', () => {
  it('prints the token once, to stdout only; the accessor and policies go to stderr', async () => {
    const r = await ok('token', 'create', '--policy', 'app-ro', '--policy', 'ci', '--ttl', '1h30m', '--display-name', 'deploy job', '--num-uses', '5');
    const token = r.out.trim();
    expect(r.out).toBe(`${token}\n`);
    expect(token).toMatch(/^hvs\.[0-9A-Za-z]{32}$/);
    expect(r.err).not.toContain(token.slice(4));
    expect(r.err).toMatch(/accessor [0-9A-Za-z]{24}; policies app-ro,ci,default; expires \d{4}-/);
    const entry = await withTokens((t) => t.lookup(token));
    expect(entry).toMatchObject({ policies: ['app-ro', 'ci', 'default'], creationTtl: 5400, numUses: 5, displayName: 'token-deploy-job', orphan: false, parent: null });
    // The audit log and the listing name it by its accessor only.
    const audit = await ok('audit', '--json');
    expect(audit.out).not.toContain(token.slice(4));
    expect(JSON.parse(audit.out).at(-1)).toMatchObject({ action: 'token.create', outcome: 'ok', detail: `accessor ${entry!.accessor}, policies app-ro,ci,default` });
    const list = await ok('token', 'list', '--json');
    expect(list.out).not.toContain(token.slice(4));
  });

  it('--json prints Vault\'s auth object; --policy root makes a root token that never expires; --orphan and --no-default-policy', async () => {
    const r = await ok('token', 'create', '--policy', 'root', '--json');
    const auth = JSON.parse(r.out);
    expect(auth).toMatchObject({ policies: ['root'], token_policies: ['root'], lease_duration: 0, renewable: false, token_type: 'service', orphan: false, metadata: null, num_uses: 0 });
    expect(auth.client_token).toMatch(/^hvs\./);
    expect(await withTokens((t) => t.lookup(auth.client_token))).toMatchObject({ expireAt: null, policies: ['root'] });
    const plain = JSON.parse((await ok('token', 'create', '--policy', 'web', '--orphan', '--no-default-policy', '--json')).out);
    expect(plain).toMatchObject({ policies: ['web'], orphan: true, renewable: true, lease_duration: 768 * 3600 });
  });

  it('refuses a bad duration or count with exit 2, and makes nothing', async () => {
    for (const args of [['--ttl', 'soon'], ['--ttl', '-1h'], ['--num-uses', '-3'], ['--num-uses', 'many']]) {
      const r = await store('token', 'create', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.out).toBe('');
    }
    expect(JSON.parse((await ok('token', 'list', '--json')).out)).toEqual([]);
  });
});

describe('store token list and revoke', () => {
  it('lists accessors and metadata; revoke by accessor takes the token and the tokens it made', async () => {
    const a = JSON.parse((await ok('token', 'create', '--policy', 'a', '--json')).out);
    const b = JSON.parse((await ok('token', 'create', '--policy', 'b', '--ttl', '2h', '--json')).out);
    // A child of a, made through the token API as store serve does.
    const child = await withTokens(async (t) => t.create(await t.lookup(a.client_token), {}));
    const list = JSON.parse((await ok('token', 'list', '--json')).out);
    const byAccessor = new Map(list.map((e: { accessor: string }) => [e.accessor, e]));
    expect([...byAccessor.keys()].sort()).toEqual([a.accessor, b.accessor, child.entry.accessor].sort());
    expect(byAccessor.get(b.accessor)).toMatchObject({ policies: ['b', 'default'], ttl: 7200, numUses: 0, path: 'auth/token/create', displayName: 'token', parent: null });
    expect(byAccessor.get(child.entry.accessor)).toMatchObject({ parent: a.accessor, policies: ['a', 'default'] });
    const text = (await ok('token', 'list')).out;
    expect(text.split('\n')[0]).toMatch(/^ACCESSOR\s+NAME\s+POLICIES\s+CREATED\s+EXPIRES\s+USES\s+PATH$/);
    expect(text).toContain(b.accessor);

    expect((await ok('token', 'revoke', a.accessor)).out).toBe('revoked 2 token(s)\n');
    expect(await withTokens((t) => t.lookup(a.client_token))).toBeUndefined();
    expect(await withTokens((t) => t.lookup(child.token))).toBeUndefined();
    expect(await withTokens((t) => t.lookup(b.client_token))).toBeDefined();
    expect(JSON.parse((await ok('token', 'revoke', b.accessor, '--json')).out)).toEqual({ accessor: b.accessor, revoked: 1 });
    const empty = await ok('token', 'list');
    expect(empty.out).toBe('');
    expect(empty.err).toContain('no tokens');
  });

  it('an unknown accessor is exit 3; a token given instead of an accessor is refused (exit 2) and not repeated', async () => {
    const made = JSON.parse((await ok('token', 'create', '--json')).out);
    const unknown = await store('token', 'revoke', 'NoSuchAccessor0000000000');
    expect(unknown.status).toBe(3);
    const wrong = await store('token', 'revoke', made.client_token);
    expect(wrong.status).toBe(2);
    expect(wrong.err + wrong.out).not.toContain(made.client_token.slice(4));
    expect(await withTokens((t) => t.lookup(made.client_token))).toBeDefined();
  });
});
