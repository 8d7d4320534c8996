/**
 * The PostgreSQL driver against the storage contract (test/storage/contract.ts),
 * in a fresh database of the run's throwaway cluster per test, a second pool
 * to the same database standing in for another host.
 */
import { storageContract } from '../contract.js';
import { createPostgresStore, openPostgresStore } from '../../../src/storage/postgres/open.js';
import type { RawStorage } from '../../../src/storage/storage.js';
import { freshDatabase } from '../../helpers/postgres.js';

async function freshPostgres() {
  const db = await freshDatabase();
  const storage = await createPostgresStore(db.url);
  const opened: RawStorage[] = [storage];
  return {
    db,
    storage,
    second: async () => {
      const other = await openPostgresStore(db.url);
      opened.push(other);
      return other;
    },
    cleanup: async () => {
      for (const s of opened) await s.close();
    },
  };
}

storageContract('PostgreSQL', freshPostgres);
