/**
 * The storage contract: what the store's logic relies on from any driver
 * behind `RawStorage` (src/storage/storage.ts). Written against the interface
 * only, so a second driver runs it as it is: give `storageContract` a name and
 * a way to make a fresh, empty store of that driver (schema in place, no rows),
 * and a second connection to the same store when the driver has one.
 *
 * Rows go in and come out exactly (bytes, nulls, numbers); a transaction is
 * all or nothing; one connection runs one transaction at a time, and a single
 * read waits for the transaction in progress rather than seeing its rows.
 */
import { describe, expect, it } from 'vitest';
import type { AuditRow, RawOps, RawStorage, RawVersion } from '../../src/storage/storage.js';

export interface ContractStore {
  storage: RawStorage;
  /** Another connection to the same store, for what a second process sees. */
  second?: () => Promise<RawStorage>;
  cleanup: () => Promise<void>;
}

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

// A driver may hand out Buffers (a Uint8Array subclass): bytes compare by content.
expect.addEqualityTesters([
  (a: unknown, b: unknown) => (a instanceof Uint8Array && b instanceof Uint8Array ? Buffer.compare(a, b) === 0 : undefined),
]);

function version(secretId: number, v: number, keyId: number | null = 7, json = false): RawVersion {
  return {
    secretId, version: v, createdAt: 1_000 + v, deletedAt: null, destroyedAt: null,
    keyId, ciphertext: keyId === null ? null : bytes(40 + v, v), mac: bytes(32, 0x40 + v), json,
  };
}

function audit(seq: number): AuditRow {
  return { seq, at: 5_000 + seq, actor: 'ops', pid: 42, action: 'put', name: `n/${seq}`, versions: '1,2', outcome: 'ok', detail: null, mac: bytes(32, seq) };
}

/** A secret with versions 1..n, the last current; its id. */
async function secretWith(tx: RawOps, name: string, n: number): Promise<number> {
  const s = await tx.insertSecret(name, 100);
  for (let v = 1; v <= n; v++) await tx.insertVersion(version(s.id, v));
  await tx.updateSecret({ ...s, currentVersion: n, updatedAt: 200, mac: bytes(32, 0x77) });
  return s.id;
}

export function storageContract(driver: string, fresh: () => Promise<ContractStore>): void {
  async function withStore(fn: (s: ContractStore) => Promise<void>): Promise<void> {
    const s = await fresh();
    try {
      await fn(s);
    } finally {
      await s.cleanup();
    }
  }

  describe(`storage contract: ${driver}`, () => {
    it('header entries and their MACs come back exactly; a missing one is undefined', () => withStore(async ({ storage }) => {
      await storage.write(async (tx) => {
        await tx.putMeta({ key: 'b', value: 'two', mac: bytes(32, 2) });
        await tx.putMeta({ key: 'a', value: 'one', mac: null });
      });
      await storage.read(async (tx) => {
        expect(await tx.getMeta('b')).toBe('two');
        expect(await tx.getMeta('nope')).toBeUndefined();
        expect(await tx.metaRow('b')).toEqual({ key: 'b', value: 'two', mac: bytes(32, 2) });
        expect((await tx.allMeta()).map((m) => m.key)).toEqual(['a', 'b']);
        expect((await tx.metaRow('a'))?.mac).toBeNull();
      });
      await storage.write(async (tx) => {
        await tx.putMeta({ key: 'b', value: 'three', mac: bytes(32, 3) });
        await tx.deleteMeta('a');
      });
      expect(await storage.read(async (tx) => tx.allMeta())).toEqual([{ key: 'b', value: 'three', mac: bytes(32, 3) }]);
    }));

    it('secrets and versions: the current version with its head, a named one, one by time, all of them', () => withStore(async ({ storage }) => {
      const id = await storage.write((tx) => secretWith(tx, 'app/db', 3));
      await storage.read(async (tx) => {
        const s = (await tx.findSecret('app/db'))!;
        expect(s).toMatchObject({ id, name: 'app/db', currentVersion: 3, maxVersions: 0, custom: '{}', createdAt: 100, updatedAt: 200, mac: bytes(32, 0x77) });
        // The head's nonce is the ciphertext's bytes 5 to 29, the same whether cut out in SQL or from the ciphertext read.
        expect(s.head).toEqual({ createdAt: 1_003, deletedAt: null, destroyedAt: null, json: false, nonce: bytes(24, 3) });
        expect(await tx.secretById(id)).toEqual(s);
        const current = (await tx.readVersion('app/db'))!;
        expect(current.secret.mac).toEqual(bytes(32, 0x77));
        expect(current.secret.head).toEqual(s.head);
        expect(current.version).toMatchObject({ version: 3, ciphertext: bytes(43, 3) });
        const named = (await tx.readVersion('app/db', 2))!;
        expect(named.version).toMatchObject({ version: 2, ciphertext: bytes(42, 2), mac: bytes(32, 0x42) });
        expect((await tx.readVersion('app/db', 9))!.version).toBeUndefined();
        expect(await tx.readVersion('app/other')).toBeUndefined();
        expect((await tx.readVersionAt('app/db', 1_002))!.version?.version).toBe(2);
        expect((await tx.readVersionAt('app/db', 999))!.version).toBeUndefined();
        expect((await tx.listVersions(id)).map((v) => v.version)).toEqual([1, 2, 3]);
      });
    }));

    it('a version\'s json flag comes back as written from every read, and no update changes it', () => withStore(async ({ storage }) => {
      const id = await storage.write(async (tx) => {
        const s = await tx.insertSecret('j', 100);
        await tx.insertVersion(version(s.id, 1, 7, true));
        await tx.insertVersion(version(s.id, 2, 7, false));
        await tx.insertVersion(version(s.id, 3, 7, true));
        await tx.updateSecret({ ...s, currentVersion: 3, updatedAt: 200, mac: bytes(32, 0x77) });
        return s.id;
      });
      const flags = (rows: RawVersion[]) => rows.map((r) => [r.version, r.json]);
      await storage.read(async (tx) => {
        expect((await tx.findSecret('j'))!.head).toEqual({ createdAt: 1_003, deletedAt: null, destroyedAt: null, json: true, nonce: bytes(24, 3) });
        const current = (await tx.readVersion('j'))!;
        expect([current.version!.json, current.secret.head?.json]).toEqual([true, true]);
        expect((await tx.readVersion('j', 2))!.version!.json).toBe(false);
        expect((await tx.readVersionAt('j', 1_001))!.version!.json).toBe(true);
        expect(flags(await tx.listVersions(id))).toEqual([[1, true], [2, false], [3, true]]);
        expect((await tx.versionsUnderKey(7, 10)).map((r) => [r.row.version, r.row.json])).toEqual([[1, true], [2, false], [3, true]]);
        const each: RawVersion[] = [];
        await tx.eachVersion((r) => each.push(r));
        expect(flags(each)).toEqual([[1, true], [2, false], [3, true]]);
      });
      expect(flags(await storage.scanVersions(0, 0, 10))).toEqual([[1, true], [2, false], [3, true]]);
      // Rewrites carry the row's flag, but the flag is written once, at insert.
      await storage.write(async (tx) => {
        await tx.updateVersion({ ...version(id, 1, null, false), deletedAt: 9, destroyedAt: 10 });
        await tx.replaceCiphertext({ ...version(id, 3, 8, false), ciphertext: bytes(5, 9) }, { keyId: 7, mac: version(id, 3).mac! });
      });
      expect(flags(await storage.read(async (tx) => tx.listVersions(id)))).toEqual([[1, true], [2, false], [3, true]]);
      // A ciphertext too short to hold a nonce gives the bytes it has, from both reads alike.
      const heads = await storage.read(async (tx) => [(await tx.findSecret('j'))!.head, (await tx.readVersion('j'))!.secret.head]);
      expect(heads).toEqual([{ createdAt: 1_003, deletedAt: null, destroyedAt: null, json: true, nonce: new Uint8Array(0) }, heads[0]]);
    }));

    it('a version row is updated, deleted and replaced only as asked', () => withStore(async ({ storage }) => {
      const id = await storage.write((tx) => secretWith(tx, 's', 3));
      await storage.write(async (tx) => {
        await tx.updateVersion({ ...version(id, 1, null), deletedAt: 9, destroyedAt: 10 });
        await tx.deleteVersions(id, [2]);
        await tx.deleteVersions(id, []);
      });
      const rows = await storage.read(async (tx) => tx.listVersions(id));
      expect(rows.map((r) => [r.version, r.deletedAt, r.destroyedAt, r.keyId, r.ciphertext])).toEqual([[1, 9, 10, null, null], [3, null, null, 7, bytes(43, 3)]]);
      const asRead = { keyId: 7, mac: version(id, 3).mac! };
      const moved = await storage.write(async (tx) => tx.replaceCiphertext({ ...version(id, 3, 8), ciphertext: bytes(5, 9) }, asRead));
      // No longer under the key it was read under, or under it with another MAC (changed since it was read): nothing written.
      const stale = await storage.write(async (tx) => tx.replaceCiphertext({ ...version(id, 3, 9), ciphertext: bytes(5, 1) }, asRead));
      const otherMac = await storage.write(async (tx) => tx.replaceCiphertext({ ...version(id, 3, 9), ciphertext: bytes(5, 1) }, { keyId: 8, mac: bytes(32, 0x99) }));
      expect([moved, stale, otherMac]).toEqual([true, false, false]);
      const under = await storage.read(async (tx) => [await tx.versionsUnderKey(8, 10), await tx.versionsUnderKey(7, 10)]);
      expect(under[0]!.map((r) => [r.name, r.row.version, r.row.ciphertext])).toEqual([['s', 3, bytes(5, 9)]]);
      expect(under[1]).toEqual([]);
      await storage.write(async (tx) => tx.deleteSecret(id));
      await storage.read(async (tx) => {
        expect(await tx.findSecret('s')).toBeUndefined();
        expect(await tx.listVersions(id)).toEqual([]);
      });
    }));

    it('lists names under a prefix in order, after a name, a page at a time, with version counts', () => withStore(async ({ storage }) => {
      await storage.write(async (tx) => {
        for (const n of ['b/2', 'a/1', 'b/1', 'b/3', 'c']) await secretWith(tx, n, n === 'b/3' ? 2 : 1);
      });
      await storage.read(async (tx) => {
        const page1 = await tx.listSecrets('b/', '', 2);
        expect(page1.map((r) => r.secret.name)).toEqual(['b/1', 'b/2']);
        const page2 = await tx.listSecrets('b/', 'b/2', 2);
        expect(page2.map((r) => [r.secret.name, r.oldestVersion, r.versionCount])).toEqual([['b/3', 1, 2]]);
        expect((await tx.listSecrets('', '', 100)).length).toBe(5);
        const counts = await tx.counts();
        expect(counts).toMatchObject({ secrets: 5, versions: 6, liveVersions: 6, deletedVersions: 0, destroyedVersions: 0 });
        expect([...counts.byKey]).toEqual([[7, 6]]);
      });
    }));

    it('data keys: rows, the primary, updates', () => withStore(async ({ storage }) => {
      await storage.write(async (tx) => {
        await tx.insertKey({ id: 0xfffffffe, version: 1, status: 'active', createdAt: 1, wrapped: bytes(60, 1), mac: bytes(32, 1) });
        await tx.insertKey({ id: 5, version: 2, status: 'primary', createdAt: 2, wrapped: bytes(60, 2), mac: bytes(32, 2) });
      });
      await storage.write(async (tx) => tx.updateKey({ id: 0xfffffffe, version: 1, status: 'destroyed', createdAt: 1, wrapped: null, mac: bytes(32, 9) }));
      await storage.read(async (tx) => {
        expect(await tx.primaryKeyId()).toBe(5);
        expect(await tx.keys()).toEqual([
          { id: 0xfffffffe, version: 1, status: 'destroyed', createdAt: 1, wrapped: null, mac: bytes(32, 9) },
          { id: 5, version: 2, status: 'primary', createdAt: 2, wrapped: bytes(60, 2), mac: bytes(32, 2) },
        ]);
      });
    }));

    it('the audit log: appended in order, read a page at a time with filters, cut from the start', () => withStore(async ({ storage }) => {
      await storage.write(async (tx) => {
        for (let seq = 1; seq <= 5; seq++) await tx.insertAudit(seq === 3 ? { ...audit(seq), action: 'get', name: null, versions: null, detail: 'x' } : audit(seq));
      });
      await storage.read(async (tx) => {
        expect(await tx.lastAudit()).toEqual({ seq: 5, mac: bytes(32, 5) });
        expect((await tx.auditPage(1, 2)).map((r) => r.seq)).toEqual([2, 3]);
        expect(await tx.auditPage(2, 1)).toEqual([{ ...audit(3), action: 'get', name: null, versions: null, detail: 'x' }]);
        expect((await tx.auditPage(0, 10, { action: 'put', since: 5_002, until: 5_004 })).map((r) => r.seq)).toEqual([2, 4]);
        expect((await tx.auditPage(0, 10, { name: 'n/5' })).map((r) => r.seq)).toEqual([5]);
      });
      await storage.write(async (tx) => tx.deleteAuditThrough(3));
      expect(await storage.read(async (tx) => (await tx.auditPage(0, 10)).map((r) => r.seq))).toEqual([4, 5]);
    }));

    it('records: by kind and id, exactly as written, listed per kind in id order, replaced and removed', () => withStore(async ({ storage }) => {
      const rec = (kind: string, id: string, value: string, fill: number | null) => ({ kind, id, value, mac: fill === null ? null : bytes(32, fill) });
      await storage.write(async (tx) => {
        await tx.putRecord(rec('token', 'b2', '{"n":2}', 2));
        await tx.putRecord(rec('token', 'a1', '{"n":1,"é":"ü"}', 1));
        // Byte order, not locale order: upper case sorts before lower case, and "B" before "a".
        await tx.putRecord(rec('token', 'B0', '{}', 3));
        await tx.putRecord(rec('policy', 'a1', 'path "x" {}', null));
      });
      await storage.read(async (tx) => {
        expect(await tx.getRecord('token', 'a1')).toEqual(rec('token', 'a1', '{"n":1,"é":"ü"}', 1));
        expect(await tx.getRecord('policy', 'a1')).toEqual(rec('policy', 'a1', 'path "x" {}', null));
        expect(await tx.getRecord('token', 'nope')).toBeUndefined();
        expect(await tx.getRecord('other', 'a1')).toBeUndefined();
        expect((await tx.listRecords('token')).map((r) => r.id)).toEqual(['B0', 'a1', 'b2']);
        expect(await tx.listRecords('policy')).toEqual([rec('policy', 'a1', 'path "x" {}', null)]);
        expect(await tx.listRecords('none')).toEqual([]);
        const all: string[] = [];
        await tx.eachRecord((r) => all.push(`${r.kind}/${r.id}`));
        expect(all).toEqual(['policy/a1', 'token/B0', 'token/a1', 'token/b2']);
      });
      const removed = await storage.write(async (tx) => {
        await tx.putRecord(rec('token', 'a1', '{"n":"one"}', 9));
        return [await tx.deleteRecord('token', 'b2'), await tx.deleteRecord('token', 'b2'), await tx.deleteRecord('nothing', 'x')];
      });
      expect(removed).toEqual([true, false, false]);
      await storage.read(async (tx) => {
        expect(await tx.listRecords('token')).toEqual([rec('token', 'B0', '{}', 3), rec('token', 'a1', '{"n":"one"}', 9)]);
      });
      // A single read outside a transaction sees them too.
      expect(await storage.readOne(async (ops) => ops.getRecord('token', 'B0'))).toEqual(rec('token', 'B0', '{}', 3));
    }));

    it('a failed transaction leaves no record behind', () => withStore(async ({ storage }) => {
      await storage.write(async (tx) => tx.putRecord({ kind: 'k', id: 'kept', value: 'v1', mac: bytes(32, 1) }));
      await expect(storage.write(async (tx) => {
        await tx.putRecord({ kind: 'k', id: 'kept', value: 'v2', mac: bytes(32, 2) });
        await tx.putRecord({ kind: 'k', id: 'new', value: 'v', mac: bytes(32, 3) });
        await tx.deleteRecord('k', 'kept');
        throw new Error('rolled back');
      })).rejects.toThrow('rolled back');
      expect(await storage.read(async (tx) => tx.listRecords('k'))).toEqual([{ kind: 'k', id: 'kept', value: 'v1', mac: bytes(32, 1) }]);
    }));

    it('the state row: absent, written, replaced, its MAC alone', () => withStore(async ({ storage }) => {
      expect(await storage.read(async (tx) => tx.state())).toBeUndefined();
      const row = { digest: bytes(2048, 3), auditSeq: 4, auditMac: bytes(32, 4), mac: bytes(32, 5) };
      await storage.write(async (tx) => tx.putState(row));
      await storage.write(async (tx) => tx.putState({ ...row, auditSeq: 5 }));
      await storage.read(async (tx) => {
        expect(await tx.state()).toEqual({ ...row, auditSeq: 5 });
        expect(await tx.stateMac()).toEqual(bytes(32, 5));
      });
    }));

    it('versions under a key: in (secret id, version) order, a batch at a time from where the last one stopped', () => withStore(async ({ storage }) => {
      const ids = await storage.write(async (tx) => {
        const a = await secretWith(tx, 'a', 3);
        const b = await secretWith(tx, 'b', 2);
        await tx.insertVersion(version(b, 3, 8)); // under another key: never listed for 7
        const c = await secretWith(tx, 'c', 1);
        return [a, b, c];
      });
      const places = (rows: { row: RawVersion }[]) => rows.map((r) => [r.row.secretId, r.row.version]);
      await storage.read(async (tx) => {
        const first = await tx.versionsUnderKey(7, 4);
        expect(places(first)).toEqual([[ids[0], 1], [ids[0], 2], [ids[0], 3], [ids[1], 1]]);
        const next = await tx.versionsUnderKey(7, 4, { secretId: ids[1]!, version: 1 });
        expect(places(next)).toEqual([[ids[1], 2], [ids[2], 1]]);
        expect(await tx.versionsUnderKey(7, 4, { secretId: ids[2]!, version: 1 })).toEqual([]);
        expect(places(await tx.versionsUnderKey(8, 4, { secretId: ids[0]!, version: 9 }))).toEqual([[ids[1], 3]]);
      });
    }));

    it('a purged secret\'s id is never handed out again, the highest one\'s neither', () => withStore(async ({ storage }) => {
      const ids = await storage.write(async (tx) => [await secretWith(tx, 'a', 1), await secretWith(tx, 'b', 1), await secretWith(tx, 'c', 2)]);
      await storage.write(async (tx) => tx.deleteSecret(ids[2]!));
      expect(await storage.read(async (tx) => tx.secretIdHighWater())).toBe(ids[2]);
      const next = await storage.write(async (tx) => (await tx.insertSecret('d', 300)).id);
      expect(next).toBeGreaterThan(ids[2]!);
      await storage.write(async (tx) => {
        await tx.deleteSecret(next);
        await tx.deleteSecret(ids[0]!);
      });
      expect(await storage.write(async (tx) => (await tx.insertSecret('e', 400)).id)).toBeGreaterThan(next);
    }));

    it('a transaction that fails leaves nothing behind, and the error comes out as it was thrown', () => withStore(async ({ storage }) => {
      const boom = new Error('the body failed');
      await expect(storage.write(async (tx) => {
        await secretWith(tx, 'gone', 2);
        await tx.putMeta({ key: 'k', value: 'v', mac: null });
        throw boom;
      })).rejects.toBe(boom);
      await storage.read(async (tx) => {
        expect(await tx.findSecret('gone')).toBeUndefined();
        expect(await tx.getMeta('k')).toBeUndefined();
      });
      // And the connection is usable afterwards.
      await storage.write(async (tx) => tx.putMeta({ key: 'k', value: 'after', mac: null }));
      expect(await storage.read(async (tx) => tx.getMeta('k'))).toBe('after');
    }));

    it('a relaxed write commits like any other', () => withStore(async ({ storage }) => {
      await storage.write(async (tx) => tx.insertAudit(audit(1)), { relaxed: true });
      await storage.write(async (tx) => tx.insertAudit(audit(2)));
      expect(await storage.read(async (tx) => tx.lastAudit())).toEqual({ seq: 2, mac: bytes(32, 2) });
    }));

    it('one connection runs one transaction at a time: the second starts after the first ends and sees its rows', () => withStore(async ({ storage }) => {
      const order: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      const first = storage.write(async (tx) => {
        order.push('first begins');
        await tx.putMeta({ key: 'n', value: '1', mac: null });
        await gate; // (a real body awaits only storage calls; this one holds the transaction open on purpose)
        order.push('first ends');
      });
      const second = storage.write(async (tx) => {
        order.push('second begins');
        const n = Number(await tx.getMeta('n'));
        await tx.putMeta({ key: 'n', value: String(n + 1), mac: null });
      });
      // A single read outside a transaction waits too: it never sees the first one's uncommitted row.
      const single = storage.readOne(async (ops) => ops.getMeta('n')).then((n) => {
        order.push(`single read ${n}`);
        return n;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(order).toEqual(['first begins']);
      release();
      await Promise.all([first, second]);
      // In the order they were asked for: the single read after the second write.
      expect(await single).toBe('2');
      expect(order).toEqual(['first begins', 'first ends', 'second begins', 'single read 2']);
      expect(await storage.readOne(async (ops) => ops.getMeta('n'))).toBe('2');
    }));

    it('a read is one snapshot: another connection\'s commit during it is not seen until the next read', () => withStore(async ({ storage, second }) => {
      if (!second) return;
      const other = await second();
      try {
        await storage.write(async (tx) => tx.putMeta({ key: 'v', value: 'old', mac: null }));
        const seen = await storage.read(async (tx) => {
          const before = await tx.getMeta('v');
          await other.write(async (o) => o.putMeta({ key: 'v', value: 'new', mac: null }));
          return [before, await tx.getMeta('v')];
        });
        expect(seen).toEqual(['old', 'old']);
        expect(await storage.read(async (tx) => tx.getMeta('v'))).toBe('new');
      } finally {
        await other.close();
      }
    }));

    it('the exclusive lock: one holder at a time across connections; the other fails with E_LOCKED, or waits when asked', () => withStore(async ({ storage, second }) => {
      if (!second) return;
      const other = await second();
      try {
        let release!: () => void;
        const gate = new Promise<void>((resolve) => { release = resolve; });
        const holding = storage.exclusive(async (lock) => {
          lock.check();
          await gate;
          return 'first';
        });
        await new Promise((resolve) => setTimeout(resolve, 20));
        await expect(other.exclusive(async () => 'second')).rejects.toMatchObject({ code: 'E_LOCKED' });
        const waiting = other.exclusive(async () => 'second, after', { wait: true });
        setTimeout(release, 30);
        expect(await Promise.all([holding, waiting])).toEqual(['first', 'second, after']);
        // Ordinary writes never take it.
        await storage.exclusive(async () => {
          await other.write(async (o) => o.putMeta({ key: 'w', value: '1', mac: null }));
        });
      } finally {
        await other.close();
      }
    }));

    it('a write waits for another connection\'s write, then runs', () => withStore(async ({ storage, second }) => {
      if (!second) return;
      const other = await second();
      try {
        let release!: () => void;
        const gate = new Promise<void>((resolve) => { release = resolve; });
        const holding = other.write(async (o) => {
          await o.putMeta({ key: 'c', value: '1', mac: null });
          await gate;
        });
        await new Promise((resolve) => setTimeout(resolve, 5));
        const waiting = storage.write(async (tx) => {
          const c = Number(await tx.getMeta('c'));
          await tx.putMeta({ key: 'c', value: String(c + 1), mac: null });
        });
        setTimeout(release, 30);
        await Promise.all([holding, waiting]);
        expect(await storage.read(async (tx) => tx.getMeta('c'))).toBe('2');
      } finally {
        await other.close();
      }
    }));

  });
}
