/** `store rotate`, `store policy`, `store due` and `store get --strict`, run as a user would. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliOk, workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];
const LONG_AGO = '2000-01-01T00:00:00.000Z';

const ok = (args: string[], input?: string) => cliOk(store(...args), { input });

beforeEach(() => {
  ws = workspace();
  ok(['init', '--master', 'keyfile']);
  ok(['set', 'app/db'], 'hunter2');
});
afterEach(() => ws.cleanup());

describe('store policy set', () => {
  it('records the policy in custom metadata and reports the due date', () => {
    const r = ok(['policy', 'set', 'app/db', '--rotate-every', '90d', '--expires-after', '365d', '--json']);
    const st = JSON.parse(r.out) as { policy: { rotateEveryMs: number; expiresAfterMs: number }; due: boolean; expired: boolean };
    expect(st.policy).toEqual({ rotateEveryMs: 90 * 86_400_000, expiresAfterMs: 365 * 86_400_000 });
    expect(st).toMatchObject({ due: false, expired: false });
    const meta = JSON.parse(ok(['meta', 'app/db', '--json']).out) as { custom: Record<string, string> };
    expect(meta.custom).toEqual({ 'strongbox.rotate-every': String(90 * 86_400_000), 'strongbox.expires-after': String(365 * 86_400_000) });
  });

  it('is a usage error without --rotate-every or with a bad duration; not found for an unknown secret', () => {
    expect(cli(store('policy', 'set', 'app/db')).status).toBe(2);
    expect(cli(store('policy', 'set', 'app/db', '--rotate-every', '90 days')).status).toBe(2);
    expect(cli(store('policy', 'set', 'app/db', '--rotate-every', '0d')).status).toBe(2);
    expect(cli(store('policy', 'set', 'nope', '--rotate-every', '1d')).status).toBe(3);
  });
});

describe('store rotate', () => {
  it('--generate --length 40 --charset hex stores a value of that shape and never prints it', () => {
    const r = ok(['rotate', 'app/db', '--generate', '--length', '40', '--charset', 'hex']);
    const value = ok(['get', 'app/db']).out;
    expect(value).toMatch(/^[0-9a-f]{40}$/);
    expect(r.out + r.stderr).not.toContain(value);
    expect(ok(['history', 'app/db', '--json']).out).toContain('"version":2');
    const meta = JSON.parse(ok(['meta', 'app/db', '--json']).out) as { custom: Record<string, string> };
    expect(Date.parse(meta.custom['strongbox.rotated-at']!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('--generate defaults to 32 alnum characters', () => {
    ok(['rotate', 'app/db', '--generate']);
    expect(ok(['get', 'app/db']).out).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it('takes the new value from stdin or --file like store set', () => {
    ok(['rotate', 'app/db'], 'from-stdin');
    expect(ok(['get', 'app/db']).out).toBe('from-stdin');
    const f = join(ws.dir, 'v.txt');
    writeFileSync(f, 'from-file\n');
    ok(['rotate', 'app/db', '--file', f, '--trim-newline']);
    expect(ok(['get', 'app/db']).out).toBe('from-file');
  });

  it('refuses bad options (exit 2) and unknown secrets (exit 3)', () => {
    expect(cli(store('rotate', 'app/db', '--generate', '--length', '0')).status).toBe(2);
    expect(cli(store('rotate', 'app/db', '--generate', '--length', '4097')).status).toBe(2);
    expect(cli(store('rotate', 'app/db', '--generate', '--charset', 'emoji')).status).toBe(2);
    expect(cli(store('rotate', 'app/db', '--length', '8'), { input: 'x' }).status).toBe(2);
    expect(cli(store('rotate', 'nope', '--generate')).status).toBe(3);
    expect(ok(['get', 'app/db']).out).toBe('hunter2');
  });
});

describe('store due', () => {
  it('exit 0 and an empty list when nothing is due', () => {
    ok(['policy', 'set', 'app/db', '--rotate-every', '90d']);
    expect(JSON.parse(ok(['due', '--json']).out)).toEqual([]);
    expect(ok(['due']).out).toBe('');
  });

  it('exit 1 and the list when a secret is past its rotation date; rotate clears it', () => {
    ok(['set', 'app/other'], 'x');
    ok(['policy', 'set', 'app/db', '--rotate-every', '90d', '--expires-after', '365d']);
    ok(['policy', 'set', 'app/other', '--rotate-every', '90d']);
    ok(['meta', 'app/db', '--set', `strongbox.rotated-at=${LONG_AGO}`]);

    const r = cli(store('due', '--json'));
    expect(r.status).toBe(10);
    expect(r.stderr).toMatch(/1 secret\(s\) due for rotation/);
    const due = JSON.parse(r.out) as { name: string; dueAt: string; expired: boolean; overdueMs: number }[];
    expect(due).toHaveLength(1);
    expect(due[0]).toMatchObject({ name: 'app/db', dueAt: '2000-03-31T00:00:00.000Z', expired: true });
    expect(due[0]!.overdueMs).toBeGreaterThan(0);

    const table = cli(store('due'));
    expect(table.status).toBe(10);
    expect(table.out).toMatch(/^NAME\s+DUE AT\s+OVERDUE\s+EXPIRED\napp\/db\s+2000-03-31T00:00:00.000Z\s+\d+d\s+yes\n$/);

    ok(['rotate', 'app/db', '--generate']);
    expect(JSON.parse(ok(['due', '--json']).out)).toEqual([]);
  });

  it('sees a secret due on the real clock after a short interval', async () => {
    ok(['policy', 'set', 'app/db', '--rotate-every', '1s']);
    await new Promise((r) => setTimeout(r, 1100));
    expect(cli(store('due')).status).toBe(10);
  });
});

describe('store get --strict', () => {
  beforeEach(() => {
    ok(['policy', 'set', 'app/db', '--rotate-every', '30d', '--expires-after', '60d']);
  });

  it('an unexpired secret prints as usual', () => {
    expect(ok(['get', 'app/db', '--strict']).out).toBe('hunter2');
  });

  it('the expiry check adds no audit entry of its own', () => {
    const count = () => (JSON.parse(ok(['audit', '--json']).out) as unknown[]).length;
    const before = count();
    ok(['get', 'app/db', '--strict']);
    const entries = JSON.parse(ok(['audit', '--json']).out) as { action: string }[];
    expect(entries).toHaveLength(before + 1); // the get alone
    expect(entries.at(-1)?.action).toBe('get');
  });

  it('an expired secret warns on stderr without --strict, fails with it and prints no value', () => {
    ok(['meta', 'app/db', '--set', `strongbox.rotated-at=${LONG_AGO}`]);
    const warned = cli(store('get', 'app/db'));
    expect(warned.status).toBe(0);
    expect(warned.out).toBe('hunter2');
    expect(warned.stderr).toMatch(/warning: app\/db expired at 2000-03-01T00:00:00.000Z/);

    for (const extra of [[], ['--json'], ['--version', '1']]) {
      const strict = cli(store('get', 'app/db', '--strict', ...extra));
      expect(strict.status).not.toBe(0);
      expect(strict.status).toBe(3);
      expect(strict.stdout.length).toBe(0);
      expect(strict.stderr).not.toContain('hunter2');
      expect(strict.stderr).toMatch(/expired/);
    }

    ok(['rotate', 'app/db'], 'fresh');
    expect(ok(['get', 'app/db', '--strict']).out).toBe('fresh');
  });
});
