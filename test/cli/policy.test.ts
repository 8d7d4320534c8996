/** `store rotate`, `store policy`, `store due` and `store get --strict`, run as a user would. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInProcess, runInProcessOk } from '../helpers/in-process.js';
import { setRotatedAt } from '../helpers/rotated-at.js';
import { workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];
const LONG_AGO = '2000-01-01T00:00:00.000Z';

const ok = (args: string[], input?: string) => runInProcessOk(store(...args), { input });

beforeEach(async () => {
  ws = workspace();
  await ok(['init', '--master', 'keyfile']);
  await ok(['set', 'app/db'], 'hunter2');
});
afterEach(() => ws.cleanup());

describe('the reserved strongbox.* metadata keys', () => {
  it('meta --set refuses them, naming store policy and store rotate; nothing changes; --unset removes a policy', async () => {
    await ok(['policy', 'set', 'app/db', '--rotate-every', '1s', '--expires-after', '1s']);
    const before = (await ok(['meta', 'app/db', '--json'])).out;
    for (const args of [['--set', 'strongbox.rotated-at=2099-01-01T00:00:00Z'], ['--set', 'strongbox.rotate-every=90d'], ['--set', 'owner=ops', '--set', 'Strongbox.X=1']]) {
      const r = await runInProcess(store('meta', 'app/db', ...args));
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.err).toMatch(/reserved.*store policy/);
    }
    expect((await ok(['meta', 'app/db', '--json'])).out).toBe(before);
    await ok(['meta', 'app/db', '--set', 'owner=ops']); // other keys as before
    await ok(['meta', 'app/db', '--unset', 'strongbox.rotate-every', '--unset', 'strongbox.expires-after']);
    expect(JSON.parse((await ok(['policy', 'show', 'app/db', '--json'])).out || 'null')).toBeNull();
  });
});

describe('store policy set', () => {
  it('records the policy in custom metadata and reports the due date', async () => {
    const r = await ok(['policy', 'set', 'app/db', '--rotate-every', '90d', '--expires-after', '365d', '--json']);
    const st = JSON.parse(r.out) as { policy: { rotateEveryMs: number; expiresAfterMs: number }; due: boolean; expired: boolean };
    expect(st.policy).toEqual({ rotateEveryMs: 90 * 86_400_000, expiresAfterMs: 365 * 86_400_000 });
    expect(st).toMatchObject({ due: false, expired: false });
    const meta = JSON.parse((await ok(['meta', 'app/db', '--json'])).out) as { custom: Record<string, string> };
    expect(meta.custom).toEqual({ 'strongbox.rotate-every': String(90 * 86_400_000), 'strongbox.expires-after': String(365 * 86_400_000) });
  });

  it('is a usage error without --rotate-every or with a bad duration; not found for an unknown secret', async () => {
    expect((await runInProcess(store('policy', 'set', 'app/db'))).status).toBe(2);
    expect((await runInProcess(store('policy', 'set', 'app/db', '--rotate-every', '90 days'))).status).toBe(2);
    expect((await runInProcess(store('policy', 'set', 'app/db', '--rotate-every', '0d'))).status).toBe(2);
    expect((await runInProcess(store('policy', 'set', 'nope', '--rotate-every', '1d'))).status).toBe(3);
  });
});

describe('store rotate', () => {
  it('--generate --length 40 --charset hex stores a value of that shape and never prints it', async () => {
    const r = await ok(['rotate', 'app/db', '--generate', '--length', '40', '--charset', 'hex']);
    const value = (await ok(['get', 'app/db'])).out;
    expect(value).toMatch(/^[0-9a-f]{40}$/);
    expect(r.out + r.err).not.toContain(value);
    expect((await ok(['history', 'app/db', '--json'])).out).toContain('"version":2');
    const meta = JSON.parse((await ok(['meta', 'app/db', '--json'])).out) as { custom: Record<string, string> };
    expect(Date.parse(meta.custom['strongbox.rotated-at']!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('--generate defaults to 32 alnum characters', async () => {
    await ok(['rotate', 'app/db', '--generate']);
    expect((await ok(['get', 'app/db'])).out).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it('takes the new value from stdin or --file like store set', async () => {
    await ok(['rotate', 'app/db'], 'from-stdin');
    expect((await ok(['get', 'app/db'])).out).toBe('from-stdin');
    const f = join(ws.dir, 'v.txt');
    writeFileSync(f, 'from-file\n');
    await ok(['rotate', 'app/db', '--file', f, '--trim-newline']);
    expect((await ok(['get', 'app/db'])).out).toBe('from-file');
  });

  it('refuses bad options (exit 2) and unknown secrets (exit 3)', async () => {
    expect((await runInProcess(store('rotate', 'app/db', '--generate', '--length', '0'))).status).toBe(2);
    expect((await runInProcess(store('rotate', 'app/db', '--generate', '--length', '4097'))).status).toBe(2);
    expect((await runInProcess(store('rotate', 'app/db', '--generate', '--charset', 'emoji'))).status).toBe(2);
    expect((await runInProcess(store('rotate', 'app/db', '--length', '8'), { input: 'x' })).status).toBe(2);
    expect((await runInProcess(store('rotate', 'nope', '--generate'))).status).toBe(3);
    expect((await ok(['get', 'app/db'])).out).toBe('hunter2');
  });
});

describe('store due', () => {
  it('exit 0 and an empty list when nothing is due', async () => {
    await ok(['policy', 'set', 'app/db', '--rotate-every', '90d']);
    expect(JSON.parse((await ok(['due', '--json'])).out)).toEqual([]);
    expect((await ok(['due'])).out).toBe('');
  });

  it('exit 1 and the list when a secret is past its rotation date; rotate clears it', async () => {
    await ok(['set', 'app/other'], 'x');
    await ok(['policy', 'set', 'app/db', '--rotate-every', '90d', '--expires-after', '365d']);
    await ok(['policy', 'set', 'app/other', '--rotate-every', '90d']);
    await setRotatedAt(ws.db, ws.key, 'app/db', LONG_AGO);

    const r = await runInProcess(store('due', '--json'));
    expect(r.status).toBe(10);
    expect(r.err).toMatch(/1 secret\(s\) due for rotation/);
    const due = JSON.parse(r.out) as { name: string; dueAt: string; expired: boolean; overdueMs: number }[];
    expect(due).toHaveLength(1);
    expect(due[0]).toMatchObject({ name: 'app/db', dueAt: '2000-03-31T00:00:00.000Z', expired: true });
    expect(due[0]!.overdueMs).toBeGreaterThan(0);

    const table = await runInProcess(store('due'));
    expect(table.status).toBe(10);
    expect(table.out).toMatch(/^NAME\s+DUE AT\s+OVERDUE\s+EXPIRED\napp\/db\s+2000-03-31T00:00:00.000Z\s+\d+d\s+yes\n$/);

    await ok(['rotate', 'app/db', '--generate']);
    expect(JSON.parse((await ok(['due', '--json'])).out)).toEqual([]);
  });

  it('sees a secret due on the real clock after a short interval', async () => {
    await ok(['policy', 'set', 'app/db', '--rotate-every', '1s']);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await runInProcess(store('due'))).status).toBe(10);
  });
});

describe('store get --strict', () => {
  beforeEach(async () => {
    await ok(['policy', 'set', 'app/db', '--rotate-every', '30d', '--expires-after', '60d']);
  });

  it('an unexpired secret prints as usual', async () => {
    expect((await ok(['get', 'app/db', '--strict'])).out).toBe('hunter2');
  });

  it('the expiry check adds no audit entry of its own', async () => {
    const count = async () => (JSON.parse((await ok(['audit', '--json'])).out) as unknown[]).length;
    const before = await count();
    await ok(['get', 'app/db', '--strict']);
    const entries = JSON.parse((await ok(['audit', '--json'])).out) as { action: string }[];
    expect(entries).toHaveLength(before + 1); // the get alone
    expect(entries.at(-1)?.action).toBe('get');
  });

  it('an expired secret warns on stderr without --strict, fails with it and prints no value', async () => {
    await setRotatedAt(ws.db, ws.key, 'app/db', LONG_AGO);
    const warned = await runInProcess(store('get', 'app/db'));
    expect(warned.status).toBe(0);
    expect(warned.out).toBe('hunter2');
    expect(warned.err).toMatch(/warning: app\/db expired at 2000-03-01T00:00:00.000Z/);

    for (const extra of [[], ['--json'], ['--version', '1']]) {
      const strict = await runInProcess(store('get', 'app/db', '--strict', ...extra));
      expect(strict.status).not.toBe(0);
      expect(strict.status).toBe(3);
      expect(strict.bytes.length).toBe(0);
      expect(strict.err).not.toContain('hunter2');
      expect(strict.err).toMatch(/expired/);
    }

    await ok(['rotate', 'app/db'], 'fresh');
    expect((await ok(['get', 'app/db', '--strict'])).out).toBe('fresh');
  });
});
