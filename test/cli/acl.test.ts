/**
 * store acl write | read | list | delete, in-process: policies written from
 * a file or stdin (HCL or JSON), kept as written and read back so, listed
 * beside the built-in default and root, refused when they do not parse,
 * deleted, audited by name; and what a written policy then allows, as
 * `store serve` checks it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { openStore, keyFile } from '../../src/index.js';
import { Acl } from '../../src/serve/acl/index.js';
import { PolicyStore } from '../../src/serve/policy-store.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

const APP_RO = `# read-only access to the app's secrets
path "secret/data/app/*" {
  capabilities = ["read"]
}

path "secret/metadata/app/*" {
  capabilities = ["list"]
}
`;

const CI_JSON = '{"path":{"secret/data/ci/*":{"capabilities":["create","update","read"]}}}';

let dir: string;
let base: string[];
let paths: { store: string; keyfile: string };

const store = (args: string[], input?: string) => runInProcess([...base, ...args], input === undefined ? {} : { input });

async function ok(args: string[], input?: string) {
  const r = await store(args, input);
  expect(r.status, r.err).toBe(0);
  return r;
}

/** What the stored policies allow, loaded as store serve loads them. */
async function allows(policy: string, path: string, capability: 'read' | 'list' | 'create' | 'delete'): Promise<boolean> {
  const s = await openStore(paths.store, keyFile(paths.keyfile));
  try {
    return Acl.of(await new PolicyStore(s).load([policy])).allows(path, capability);
  } finally {
    await s.close();
  }
}

beforeEach(async () => {
  dir = tempDir();
  paths = { store: join(dir, 'store.db'), keyfile: join(dir, 'master.key') };
  base = ['--store', paths.store, '--keyfile', paths.keyfile];
  await ok(['init', '--master', 'keyfile']);
  writeFileSync(join(dir, 'app-ro.hcl'), APP_RO);
});

describe('store acl write', () => {
  it('keeps an HCL policy from a file as written, and store serve then applies it', async () => {
    const r = await ok(['acl', 'write', 'app-ro', join(dir, 'app-ro.hcl')]);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/policy app-ro written \(2 path rules\)/);
    expect((await ok(['acl', 'read', 'app-ro'])).out).toBe(APP_RO);
    expect(await allows('app-ro', 'secret/data/app/db', 'read')).toBe(true);
    expect(await allows('app-ro', 'secret/data/app/db', 'create')).toBe(false);
    expect(await allows('app-ro', 'secret/metadata/app/x', 'list')).toBe(true);
    expect(await allows('app-ro', 'secret/data/other', 'read')).toBe(false);
  });

  it('reads a JSON policy from stdin with -, and replaces a policy of the same name', async () => {
    await ok(['acl', 'write', 'ci', '-'], CI_JSON);
    expect((await ok(['acl', 'read', 'ci'])).out).toBe(`${CI_JSON}\n`);
    expect(await allows('ci', 'secret/data/ci/token', 'create')).toBe(true);
    await ok(['acl', 'write', 'ci', join(dir, 'app-ro.hcl')]);
    expect((await ok(['acl', 'read', 'ci'])).out).toBe(APP_RO);
    expect(await allows('ci', 'secret/data/ci/token', 'create')).toBe(false);
  });

  it('refuses a policy that does not parse (E_INVALID_POLICY, exit 2, naming the line) and keeps nothing', async () => {
    const bad = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\npath "secret/x" {\n  capabilities = ["fly"]\n}\n';
    const r = await store(['acl', 'write', 'broken', '-'], bad);
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/line \d/);
    expect((await ok(['acl', 'list'])).out).toBe('default\nroot\n');
    expect((await store(['acl', 'read', 'broken'])).status).toBe(3);
  });

  it('refuses the root policy and names that are not usable (exit 2), and a file it cannot read (exit 1)', async () => {
    const root = await store(['acl', 'write', 'root', join(dir, 'app-ro.hcl')]);
    expect(root.status).toBe(2);
    expect(root.err).toMatch(/"root" is a built-in policy/);
    expect((await store(['acl', 'write', 'no/slash', join(dir, 'app-ro.hcl')])).status).toBe(2);
    const missing = await store(['acl', 'write', 'app-ro', join(dir, 'absent.hcl')]);
    expect(missing.status).toBe(1);
    expect(missing.err).toMatch(/cannot read .*absent\.hcl: ENOENT/);
  });
});

describe('store acl read', () => {
  it('--json gives the name, the text as written and the parsed rules', async () => {
    await ok(['acl', 'write', 'app-ro', join(dir, 'app-ro.hcl')]);
    expect(JSON.parse((await ok(['acl', 'read', 'app-ro', '--json'])).out)).toEqual({
      name: 'app-ro',
      policy: APP_RO,
      rules: [
        { path: 'secret/data/app/*', capabilities: ['read'] },
        { path: 'secret/metadata/app/*', capabilities: ['list'] },
      ],
    });
  });

  it('shows the built-in default policy; root has no text (exit 2); an unknown name is not found (exit 3)', async () => {
    expect((await ok(['acl', 'read', 'default'])).out).toMatch(/path "auth\/token\/lookup-self"/);
    const root = await store(['acl', 'read', 'root']);
    expect(root.status).toBe(2);
    expect(root.err).toMatch(/allows everything/);
    const unknown = await store(['acl', 'read', 'nope', '--json']);
    expect(unknown.status).toBe(3);
    expect(JSON.parse(unknown.err.trim().split('\n').pop()!).error.code).toBe('E_NOT_FOUND');
  });
});

describe('store acl list', () => {
  it('lists the built-in policies beside the written ones, sorted, as text or JSON', async () => {
    expect((await ok(['acl', 'list'])).out).toBe('default\nroot\n');
    await ok(['acl', 'write', 'zeta', join(dir, 'app-ro.hcl')]);
    await ok(['acl', 'write', 'app-ro', join(dir, 'app-ro.hcl')]);
    expect((await ok(['acl', 'list'])).out).toBe('app-ro\ndefault\nroot\nzeta\n');
    expect(JSON.parse((await ok(['acl', 'list', '--json'])).out)).toEqual(['app-ro', 'default', 'root', 'zeta']);
  });
});

describe('store acl delete', () => {
  it('removes a policy (store serve no longer grants it), not found the second time, and logs each with its outcome', async () => {
    await ok(['acl', 'write', 'app-ro', join(dir, 'app-ro.hcl')]);
    const r = await ok(['acl', 'delete', 'app-ro']);
    expect(r.err).toMatch(/policy app-ro deleted/);
    expect((await ok(['acl', 'list'])).out).toBe('default\nroot\n');
    expect(await allows('app-ro', 'secret/data/app/db', 'read')).toBe(false);
    expect((await store(['acl', 'delete', 'app-ro'])).status).toBe(3);
    const audit = (JSON.parse((await ok(['audit', '--json'])).out) as Array<{ action: string; outcome: string; detail?: string }>)
      .filter((e) => e.action.startsWith('acl.'));
    expect(audit.map((e) => [e.action, e.outcome])).toEqual([['acl.write', 'ok'], ['acl.delete', 'ok'], ['acl.delete', 'E_NOT_FOUND']]);
    expect(audit.slice(0, 2).map((e) => e.detail)).toEqual(['app-ro', 'app-ro']);
  });

  it('refuses to delete the built-in default and root policies (exit 2)', async () => {
    for (const name of ['default', 'root']) {
      const r = await store(['acl', 'delete', name]);
      expect(r.status).toBe(2);
      expect(r.err).toMatch(/built in and cannot be deleted/);
    }
  });
});
