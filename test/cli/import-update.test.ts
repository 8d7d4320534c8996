/**
 * `store import FILE --on-conflict update` (issue 11, item 8): a new version
 * only for values that changed, and `--dry-run` listing what would be done
 * to each name, writing no version. In-process through run(argv, io).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let base: string[];

const store = (args: string[], input: string | Buffer = '') => runInProcess([...base, ...args], { input });

async function ok(args: string[], input = ''): Promise<{ out: string; err: string }> {
  const r = await store(args, input);
  expect(r.status, `${args.join(' ')}: ${r.err}`).toBe(0);
  return r;
}

/** Every secret's version numbers, by name. */
async function versions(): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const s of JSON.parse((await ok(['list', '--json'])).out) as { name: string }[]) {
    const h = JSON.parse((await ok(['history', s.name, '--json'])).out) as { versions: { version: number }[] };
    out[s.name] = h.versions.map((v) => v.version);
  }
  return out;
}

async function auditActions(): Promise<{ action: string; name?: string; versions?: number[] }[]> {
  return (JSON.parse((await ok(['audit', '--json'])).out) as { action: string; name?: string; versions?: number[] }[])
    .filter((e) => e.action.startsWith('import'))
    .map(({ action, name, versions: v }) => ({ action, name, versions: v }));
}

function envFile(content: string): string {
  const p = join(dir, 'app.env');
  writeFileSync(p, content, { mode: 0o600 });
  return p;
}

const FILE = 'SAME=same-SECRET\nCHANGED=new-SECRET\nREVIVED=gone-SECRET\nFRESH=fresh-SECRET\n';

beforeEach(async () => {
  dir = tempDir();
  base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
  await ok(['init', '--master', 'keyfile']);
  await ok(['set', 'SAME'], 'same-SECRET');
  await ok(['set', 'CHANGED'], 'old-SECRET');
  await ok(['set', 'REVIVED'], 'gone-SECRET');
  await ok(['delete', 'REVIVED']);
  await ok(['set', 'OTHER'], 'other-SECRET');
});

describe('import --on-conflict update', () => {
  it('adds a version only where the value changed; new names are created; a second run changes nothing', async () => {
    const file = envFile(FILE);
    const before = await versions();
    expect(before).toEqual({ CHANGED: [1], OTHER: [1], REVIVED: [1], SAME: [1] });

    const r = await ok(['import', file, '--on-conflict', 'update']);
    expect(r.out).toBe(`imported 3 secret(s) (3 version(s)) from ${file}: 1 created, 2 given a new version, 1 unchanged, 0 skipped\n`);
    expect(r.err).toContain('added a new version to: CHANGED, REVIVED');
    expect(r.err).toContain('unchanged, the value is already current (no new version): SAME');
    expect(r.out + r.err).not.toContain('SECRET');

    expect(await versions()).toEqual({ CHANGED: [1, 2], FRESH: [1], OTHER: [1], REVIVED: [1, 2], SAME: [1] });
    expect((await ok(['get', 'CHANGED'])).out).toBe('new-SECRET');
    expect((await ok(['get', 'REVIVED'])).out).toBe('gone-SECRET'); // a deleted current version: the import makes it live again
    expect((await ok(['get', 'SAME'])).out).toBe('same-SECRET');

    const again = await ok(['import', file, '--on-conflict', 'update', '--json']);
    expect(JSON.parse(again.out)).toMatchObject({
      onConflict: 'update', created: [], appended: [], unchanged: ['SAME', 'CHANGED', 'REVIVED', 'FRESH'], versions: 0,
      actions: ['SAME', 'CHANGED', 'REVIVED', 'FRESH'].map((name) => ({ name, action: 'unchanged' })),
    });
    expect(await versions()).toEqual({ CHANGED: [1, 2], FRESH: [1], OTHER: [1], REVIVED: [1, 2], SAME: [1] });
  });

  it('--dry-run lists each name (create, update, unchanged) and writes no version', async () => {
    const file = envFile(FILE);
    const before = await versions();
    const r = await ok(['import', file, '--on-conflict', 'update', '--dry-run']);
    expect(r.out).toBe(
      `dry run, nothing written: would import 3 secret(s) (3 version(s)) from ${file}: 1 created, 2 given a new version, 1 unchanged, 0 skipped\n` +
      '  unchanged  SAME\n' +
      '  update     CHANGED\n' +
      '  update     REVIVED\n' +
      '  create     FRESH\n',
    );
    expect(r.out + r.err).not.toContain('SECRET');
    expect(await versions()).toEqual(before);

    const json = JSON.parse((await ok(['import', file, '--on-conflict', 'update', '--dry-run', '--json'])).out);
    expect(json).toMatchObject({ dryRun: true, versions: 3 });
    expect(json.actions).toEqual([
      { name: 'SAME', action: 'unchanged' }, { name: 'CHANGED', action: 'update' },
      { name: 'REVIVED', action: 'update' }, { name: 'FRESH', action: 'create' },
    ]);
    expect(await versions()).toEqual(before);
  });

  it('--dry-run lists each name under the other policies too', async () => {
    const file = envFile(FILE);
    const before = await versions();
    const plan = async (policy: string) =>
      (JSON.parse((await ok(['import', file, '--on-conflict', policy, '--dry-run', '--json'])).out) as { actions: { action: string }[] }).actions.map((a) => a.action);
    expect(await plan('skip')).toEqual(['skip', 'skip', 'skip', 'create']);
    expect(await plan('overwrite')).toEqual(['overwrite', 'overwrite', 'overwrite', 'create']);
    expect(await plan('new-version')).toEqual(['update', 'update', 'update', 'create']);
    const text = await ok(['import', file, '--dry-run']);
    expect(text.out).toContain('\n  skip    SAME\n');
    expect(text.out).toContain('\n  create  FRESH\n');
    expect(await versions()).toEqual(before);
  });

  it('the audit log: import entries for what was written, import.compare for each value read to compare', async () => {
    const file = envFile(FILE);
    await ok(['import', file, '--on-conflict', 'update', '--dry-run']);
    // A dry run writes no import entry, but the current values it read are audited as reads are.
    expect(await auditActions()).toEqual([
      { action: 'import.compare', name: 'SAME', versions: [1] },
      { action: 'import.compare', name: 'CHANGED', versions: [1] },
    ]);
    await ok(['import', file, '--on-conflict', 'update']);
    expect((await auditActions()).slice(2)).toEqual([
      { action: 'import.compare', name: 'SAME', versions: [1] },
      { action: 'import.compare', name: 'CHANGED', versions: [1] },
      { action: 'import', name: 'CHANGED', versions: [2] },
      { action: 'import', name: 'REVIVED', versions: [2] },
      { action: 'import', name: 'FRESH', versions: [1] },
    ]);
    const audit = (await ok(['audit', '--action', 'import.compare'])).out;
    expect(audit).toContain('env');
    expect(audit).toContain('(on conflict: update)');
    expect(audit).not.toContain('SECRET');
  });

  it('with reads not audited, a dry run leaves the store file without a new audit entry', async () => {
    await ok(['config', 'set', 'audit.reads', 'false']);
    const file = envFile(FILE);
    const count = async () => (JSON.parse((await ok(['audit', '--json'])).out) as unknown[]).length;
    const before = await count();
    await ok(['import', file, '--on-conflict', 'update', '--dry-run']);
    expect(await count()).toBe(before);
    expect(await auditActions()).toEqual([]);
  });

  it('an unknown policy is a usage error naming the choices', async () => {
    const r = await store(['import', envFile(FILE), '--on-conflict', 'merge']);
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/skip, overwrite, new-version, update/);
  });
});

describe('import --dry-run of a large file', () => {
  it('lists 150,000 names (its plan is laid out without spreading every line into one call)', async () => {
    const file = envFile(Array.from({ length: 150_000 }, (_, i) => `K${i}=v\n`).join(''));
    const r = await ok(['import', file, '--prefix', 'big/', '--dry-run']);
    expect(r.out.split('\n').filter((l) => l.includes('big/K')).length).toBe(150_000);
    expect(JSON.parse((await ok(['list', '--json'])).out).some((s: { name: string }) => s.name.startsWith('big/'))).toBe(false);
  }, 60_000);
});
