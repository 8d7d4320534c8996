/**
 * The plans PostgreSQL makes of the driver's paging statements on a large
 * store: every page of a walk over the versions (rewrap, verify, backup,
 * copy) and every page of the audit log costs the same wherever it starts.
 * A prepared statement runs its generic plan once it has run a few times
 * (no parameter's value known), so that is the plan checked, with the
 * planner's statistics fresh. The plans are read, not timed: a merge of a
 * page with the secrets' index read from its start, or a scan of a whole
 * table, is the shape that made a walk grow with the square of the store.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { createPostgresStore } from '../../../src/storage/postgres/open.js';
import { SQL, statement } from '../../../src/storage/postgres/driver.js';
import { freshDatabase } from '../../helpers/postgres.js';

const SECRETS = 30_000;
const COMMON_KEY = 5;
const RARE_KEY = 7;

/** A store's tables holding SECRETS secrets of one version each (every thousandth under RARE_KEY) and as many audit entries, analysed. */
async function largeStore(): Promise<pg.Client> {
  const db = await freshDatabase();
  await (await createPostgresStore(db.url)).close();
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query(`INSERT INTO strongbox.secrets (name, current_version, created_at, updated_at) SELECT 'bulk/' || g, 1, 1, 1 FROM generate_series(1, ${SECRETS}) g`);
  await c.query(`INSERT INTO strongbox.versions (secret_id, version, created_at, key_id, ciphertext, json)
    SELECT id, 1, 1, CASE WHEN id % 1000 = 0 THEN ${RARE_KEY} ELSE ${COMMON_KEY} END, '\\x00'::bytea, 0 FROM strongbox.secrets`);
  await c.query(`INSERT INTO strongbox.audit (seq, at, actor, pid, action, outcome, mac)
    SELECT g, g, 'ops', 1, 'get', 'ok', '\\x00'::bytea FROM generate_series(1, ${SECRETS}) g`);
  await c.query('ANALYZE');
  return c;
}

/** The generic plan of `text` run with `args` (SQL literals), as a prepared statement settles on. */
async function genericPlan(c: pg.Client, name: string, text: string, args: string[]): Promise<string> {
  await c.query('SET plan_cache_mode = force_generic_plan');
  await c.query(`PREPARE ${name} AS ${text}`);
  const r = await c.query(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE ${name}${args.length ? `(${args.join(', ')})` : ''}`);
  return r.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
}

/** The plan of `text` planned with its values, as an unprepared statement is. */
async function customPlan(c: pg.Client, text: string, values: unknown[]): Promise<string> {
  await c.query('RESET plan_cache_mode');
  const r = await c.query({ text: `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${text}`, values });
  return r.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
}

describe('PostgreSQL plans of the paging statements on a large store', () => {
  it('a page of every version, far into the table, looks each secret up by its id (no merge with the secrets read from the start)', async () => {
    const c = await largeStore();
    try {
      for (const name of ['eachVersion', 'scanVersions'] as const) {
        const plan = await genericPlan(c, name, SQL[name], [String(SECRETS - 1000), '0', '500']);
        expect(plan, name).not.toMatch(/Merge|Seq Scan|Hash/);
        expect(plan, name).toMatch(/Index Scan using secrets_pkey on secrets[\s\S]*loops=500/);
      }
    } finally {
      await c.end();
    }
  });

  it('the versions under a data key: planned with its values each time, its own index for a rare key, never a merge with the secrets', async () => {
    // Not prepared: a generic plan cannot know how many versions a key has.
    expect(statement('versionsUnderKey', []).name).toBeUndefined();
    expect(statement('eachVersion', []).name).toBe('sb_eachVersion');
    const c = await largeStore();
    try {
      const rare = await customPlan(c, SQL.versionsUnderKey, [RARE_KEY, 0, 0, 200]);
      expect(rare).toMatch(/Index (Only )?Scan using versions_by_key on versions/);
      expect(rare).not.toMatch(/Merge|Seq Scan|Rows Removed by Filter: [0-9]{3,}/);
      const common = await customPlan(c, SQL.versionsUnderKey, [COMMON_KEY, SECRETS - 1000, 0, 200]);
      expect(common).not.toMatch(/Merge|Seq Scan|Rows Removed by Filter: [0-9]{3,}/);
    } finally {
      await c.end();
    }
  });

  it('the end of the audit log and a page of it far in: one descent of its index', async () => {
    const c = await largeStore();
    try {
      expect(await genericPlan(c, 'lastAudit', SQL.lastAudit, [])).toMatch(/^Limit[\s\S]*Index (Only )?Scan Backward using audit_pkey/);
      const page = await genericPlan(c, 'auditPage', SQL.auditPage, [String(SECRETS - 1000), 'NULL', 'NULL', 'NULL', 'NULL', '500']);
      expect(page).toMatch(/Index Scan using audit_pkey on audit/);
      expect(page).not.toMatch(/Seq Scan|Sort/);
    } finally {
      await c.end();
    }
  });
});
