/**
 * Record a secret's last rotation at a given time, through the library: how
 * tests make a secret overdue or expired without waiting. The CLI's
 * `store meta --set` refuses the reserved strongbox.* keys.
 */
import { keyFile, openStore } from '../../src/index.js';

export async function setRotatedAt(db: string, key: string, name: string, at: string): Promise<void> {
  const store = await openStore(db, keyFile(key));
  try {
    const m = await store.getMetadata(name);
    await store.setMetadata(name, { custom: { ...m.custom, 'strongbox.rotated-at': at } });
  } finally {
    await store.close();
  }
}
