/**
 * What `store serve` records, as the store's `audit.reads` setting says:
 * with reads audited (the default) every request is an entry; with
 * `audit.reads false` a read that was answered is not recorded (as a
 * library get is not), while writes, and refused requests of any kind, are.
 */
import { describe, expect, it } from 'vitest';
import { keyFile, openStore } from '../../src/index.js';
import { newKeyfileStore, startServe } from './serve-child.js';

async function requestEntries(storePath: string, keyPath: string): Promise<string[]> {
  const store = await openStore(storePath, keyFile(keyPath));
  try {
    const out: string[] = [];
    for await (const e of store.auditEntries()) if (e.detail?.includes('from=')) out.push(`${e.action} ${e.outcome}`);
    return out;
  } finally {
    await store.close();
  }
}

async function traffic(addr: string, token: string): Promise<void> {
  const h = { 'X-Vault-Token': token };
  expect((await fetch(`${addr}/v1/secret/data/app/db`, { method: 'POST', headers: h, body: '{"data":{"a":1}}' })).status).toBe(200);
  for (let i = 0; i < 3; i++) expect((await fetch(`${addr}/v1/secret/data/app/db`, { headers: h })).status).toBe(200);
  expect((await fetch(`${addr}/v1/auth/token/lookup-self`, { headers: h })).status).toBe(200);
  expect((await fetch(`${addr}/v1/secret/data/app/db`, { headers: { 'X-Vault-Token': 'hvs.wrong' } })).status).toBe(403);
}

describe('store serve and audit.reads', () => {
  it('reads audited (the default): every request leaves an entry', async () => {
    const s = await startServe();
    await traffic(s.addr, s.rootToken);
    expect(await s.stop()).toBe(0);
    const entries = await requestEntries(s.storePath, s.keyPath);
    expect(entries.filter((e) => e === 'get ok')).toHaveLength(3);
    expect(entries).toContain('put ok');
    expect(entries).toContain('http.token-self ok');
    expect(entries).toContain('http.kv-data E_PERMISSION_DENIED');
  }, 30_000);

  it('audit.reads false: answered reads leave none; writes and refusals still do', async () => {
    const made = await newKeyfileStore();
    const store = await openStore(made.storePath, keyFile(made.keyPath));
    await store.setConfig('audit.reads', 'false');
    await store.close();
    const s = await startServe([], made);
    await traffic(s.addr, s.rootToken);
    expect(await s.stop()).toBe(0);
    const entries = await requestEntries(s.storePath, s.keyPath);
    expect(entries.filter((e) => e.startsWith('get'))).toHaveLength(0);
    expect(entries).not.toContain('http.token-self ok');
    expect(entries).toContain('put ok');
    expect(entries).toContain('http.kv-data E_PERMISSION_DENIED');
  }, 30_000);
});
