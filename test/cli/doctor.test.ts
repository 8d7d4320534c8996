/** `store doctor` in-process through run(argv, io): each kind of trouble gives its finding and fix, and the exit status. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { flipValue } from '../helpers/store.js';
import { runInProcess, runInProcessOk } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';
import { setRotatedAt } from '../helpers/rotated-at.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];
const LONG_AGO = '2000-01-01T00:00:00.000Z';
const CHECKS = ['store-file', 'file-modes', 'directory', 'key-file', 'lock', 'master-key', 'integrity', 'audit-log', 'key-age', 'rewrap', 'rotation', 'expiry'];

interface Finding {
  check: string;
  level: 'ok' | 'warn' | 'fail' | 'skip';
  message: string;
  fix?: string;
}
interface Report {
  path: string;
  ok: boolean;
  findings: Finding[];
  counts: Record<Finding['level'], number>;
}

const ok = (args: string[], input?: string) => runInProcessOk(store(...args), { input });

async function doctor(args: string[] = [], base = ws.base): Promise<{ status: number; report: Report; stderr: string }> {
  const r = await runInProcess([...base, 'doctor', '--json', ...args]);
  return { status: r.status, report: JSON.parse(r.out) as Report, stderr: r.err };
}

function finding(report: Report, check: string): Finding {
  const f = report.findings.find((x) => x.check === check);
  expect(f, `no ${check} finding`).toBeDefined();
  return f!;
}

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

beforeEach(async () => {
  ws = workspace();
  await ok(['init', '--master', 'keyfile']);
  await ok(['set', 'app/db'], 'CANARY-doctor-value');
});
afterEach(() => ws.cleanup());

describe('store doctor on a healthy store', () => {
  it('exits 0 with every check ok, as text and as JSON', async () => {
    const { status, report } = await doctor();
    expect(status).toBe(0);
    expect(report.path).toBe(ws.db);
    expect(report.ok).toBe(true);
    expect(report.findings.map((f) => f.check)).toEqual(CHECKS);
    for (const f of report.findings) {
      expect(f.level, `${f.check}: ${f.message}`).toBe('ok');
      expect(Object.keys(f).sort()).toEqual(['check', 'level', 'message']);
    }
    expect(report.counts).toEqual({ ok: CHECKS.length, warn: 0, fail: 0, skip: 0 });

    const text = await ok(['doctor']);
    const lines = text.out.trimEnd().split('\n');
    expect(lines).toHaveLength(CHECKS.length + 1);
    CHECKS.forEach((check, i) => expect(lines[i]).toMatch(new RegExp(`^ok {4}${check} +\\S`)));
    expect(lines.at(-1)).toBe(`0 failed, 0 warning(s), ${CHECKS.length} ok, 0 skipped`);
    expect(text.out + text.err).not.toContain('CANARY');
  });
});

describe('store doctor finds', () => {
  it('a store file readable by others: fail with chmod 600, exit 1; fixed, exit 0', async () => {
    chmodSync(ws.db, 0o644);
    const { status, report } = await doctor();
    expect(status).toBe(10);
    expect(report.ok).toBe(false);
    const f = finding(report, 'file-modes');
    expect(f).toMatchObject({ level: 'fail', message: expect.stringContaining('mode 0644') });
    expect(f.fix).toBe(`chmod 600 ${ws.db}`);
    const text = await runInProcess(store('doctor'));
    expect(text.status).toBe(10);
    expect(text.out).toMatch(/^FAIL {2}file-modes +.*mode 0644.*\n +fix: chmod 600 /m);
    expect(text.out).toMatch(/^1 failed, /m);

    chmodSync(ws.db, 0o600);
    expect((await doctor()).status).toBe(0);
  });

  it('a key file readable by others and a directory writable by others: fails with their fixes', async () => {
    chmodSync(ws.key, 0o640);
    chmodSync(ws.dir, 0o777);
    const { status, report } = await doctor();
    expect(status).toBe(10);
    expect(finding(report, 'key-file')).toMatchObject({ level: 'fail', fix: `chmod 600 ${ws.key}` });
    expect(finding(report, 'directory')).toMatchObject({ level: 'fail', fix: `chmod go-w ${ws.dir}` });
    // The key file is refused, so the checks that need the key are skipped, not failed twice.
    expect(finding(report, 'master-key').level).toBe('skip');
    expect(finding(report, 'integrity').level).toBe('skip');
    chmodSync(ws.dir, 0o700);
  });

  it('an overdue and an expired secret: warnings naming them with store rotate, exit 0 (1 with --strict)', async () => {
    await ok(['set', 'app/old'], 'x');
    await ok(['policy', 'set', 'app/db', '--rotate-every', '90d']);
    await ok(['policy', 'set', 'app/old', '--rotate-every', '30d', '--expires-after', '60d']);
    await setRotatedAt(ws.db, ws.key, 'app/db', LONG_AGO);
    await setRotatedAt(ws.db, ws.key, 'app/old', LONG_AGO);
    const { status, report } = await doctor();
    expect(status).toBe(0);
    expect(report.ok).toBe(true);
    expect(finding(report, 'rotation')).toEqual({
      check: 'rotation', level: 'warn', message: '1 secret(s) past their rotation date: app/db; 1 more past it and expired (see expiry)', fix: 'store rotate app/db [--generate]',
    });
    expect(finding(report, 'expiry')).toMatchObject({ level: 'warn', message: expect.stringContaining('app/old'), fix: 'store rotate app/old [--generate]' });
    expect(report.counts.warn).toBe(2);
    expect((await doctor(['--strict'])).status).toBe(10);

    await ok(['rotate', 'app/db', '--generate']);
    // Only the expired one left: the rotation line must not say there is nothing to rotate.
    expect(finding((await doctor()).report, 'rotation')).toMatchObject({ level: 'ok', message: 'no secret is past its rotation date but the 1 expired (see expiry)' });
    await ok(['rotate', 'app/old', '--generate']);
    expect(finding((await doctor()).report, 'rotation')).toMatchObject({ level: 'ok', message: 'no secret is past its rotation date' });
    expect((await doctor(['--strict'])).status).toBe(0);
  });

  it('a stale lock left by a dead process: a warning with what to do', async () => {
    const pid = deadPid();
    mkdirSync(`${ws.db}.lock`);
    writeFileSync(`${ws.db}.lock-owner`, JSON.stringify({ host: hostname(), pid }));
    const { status, report } = await doctor();
    expect(status).toBe(0);
    const f = finding(report, 'lock');
    expect(f.level).toBe('warn');
    expect(f.message).toMatch(new RegExp(`stale lock was left by pid ${pid} on ${hostname()}, which no longer runs`));
    expect(f.fix).toContain('the next exclusive operation takes it over');
    expect(f.fix).toContain(`rm -r ${ws.db}.lock ${ws.db}.lock-owner`);
    // As the fix says: the next exclusive operation goes ahead.
    await ok(['rotate-keys']);
    expect(finding((await doctor()).report, 'lock').level).toBe('ok');
  });

  it('a lock held by a running process: a warning naming its pid', async () => {
    // Another process than the one doctor runs in (in-process, this test's own): this one's parent.
    const pid = process.ppid;
    mkdirSync(`${ws.db}.lock`);
    writeFileSync(`${ws.db}.lock-owner`, JSON.stringify({ host: hostname(), pid }));
    const f = finding((await doctor()).report, 'lock');
    expect(f.level).toBe('warn');
    expect(f.message).toContain(`locked by pid ${pid} on ${hostname()} (it is running now)`);
    expect(f.fix).toMatch(/wait for it to finish/);
  });

  it('versions left under an old data key: a warning whose fix finishes the rewrap without a new key', async () => {
    await ok(['rotate-keys', '--no-rewrap']);
    const f = finding((await doctor()).report, 'rewrap');
    expect(f).toMatchObject({ level: 'warn', message: expect.stringMatching(/^1 version\(s\) are still sealed under older data key\(s\) 1 /) });
    expect(f.fix).toBe('store rotate-keys --if-older-than 90d');
    await ok(f.fix!.split(' ').slice(1));
    expect(finding((await doctor()).report, 'rewrap').level).toBe('ok');
    expect((JSON.parse((await ok(['keys', '--json'])).out) as unknown[]).length).toBe(2);
  });

  it('a tampered audit chain: audit-log fails, exit 1', async () => {
    const db = new Database(ws.db);
    db.prepare("UPDATE audit SET outcome = 'E_NOT_FOUND' WHERE seq = 2").run();
    db.close();
    const { status, report } = await doctor();
    expect(status).toBe(10);
    expect(finding(report, 'audit-log')).toMatchObject({ level: 'fail', message: expect.stringMatching(/^audit log broken at entry 2: /) });
  });

  it('a value that does not decrypt: integrity fails with --deep', async () => {
    flipValue(ws.db, 'app/db', 1);
    expect(finding((await doctor()).report, 'integrity').level).toBe('ok'); // its key is there; only --deep opens it
    const { status, report } = await doctor(['--deep']);
    expect(status).toBe(10);
    const f = finding(report, 'integrity');
    expect(f).toMatchObject({ level: 'fail', message: expect.stringContaining('app/db version 1') });
    expect(f.fix).toMatch(/store verify --deep/);
    expect(JSON.stringify(report)).not.toContain('CANARY');
  });

  it('no master key: file checks run, the rest are skipped, exit 0; a wrong key fails, exit 1', async () => {
    // A store whose key is in STORE_MASTER_KEY records no key file: with the variable unset, no key is given at all.
    const envDb = `${ws.dir}/env.db`;
    const envKey = randomBytes(32).toString('base64');
    await runInProcessOk(['--store', envDb, 'init', '--master', 'env'], { env: { STORE_MASTER_KEY: envKey } });
    const noKey = await doctor([], ['--store', envDb]);
    expect(noKey.status).toBe(0);
    expect(noKey.report.findings.map((f) => f.check)).toEqual(CHECKS.filter((c) => c !== 'key-file'));
    expect(finding(noKey.report, 'master-key')).toMatchObject({ level: 'skip', fix: expect.stringContaining('--keyfile') });
    for (const c of ['integrity', 'audit-log', 'key-age', 'rewrap', 'rotation', 'expiry']) expect(finding(noKey.report, c).level).toBe('skip');
    expect(finding(noKey.report, 'file-modes').level).toBe('ok');

    const other = `${ws.dir}/other.key`;
    writeFileSync(other, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const wrong = await doctor([], ['--store', ws.db, '--keyfile', other]);
    expect(wrong.status).toBe(10);
    expect(finding(wrong.report, 'master-key')).toMatchObject({ level: 'fail', fix: expect.stringContaining('master key') });
  });

  it('the key file the store recorded at init moved away: master-key fails, exit 10 (not a skip)', async () => {
    renameSync(ws.key, `${ws.key}.away`); // none is given: the recorded one is what the store is configured with
    const moved = await doctor([], ['--store', ws.db]);
    renameSync(`${ws.key}.away`, ws.key);
    expect(moved.status).toBe(10);
    expect(moved.report.ok).toBe(false);
    const f = finding(moved.report, 'master-key');
    expect(f).toMatchObject({ level: 'fail', message: expect.stringContaining('cannot read key file'), fix: expect.stringContaining('--keyfile') });
    for (const c of ['integrity', 'audit-log', 'key-age', 'rewrap', 'rotation', 'expiry']) expect(finding(moved.report, c).level).toBe('skip');
    expect((await doctor()).status).toBe(0); // back in place: all well
  });

  it('no store at the path: store-file fails, exit 1; not a store: the same', async () => {
    const none = await doctor([], ['--store', `${ws.dir}/none.db`, '--keyfile', ws.key]);
    expect(none.status).toBe(10);
    expect(finding(none.report, 'store-file')).toMatchObject({ level: 'fail', fix: expect.stringContaining('store init') });
    const junk = `${ws.dir}/junk.db`;
    writeFileSync(junk, 'not a database at all', { mode: 0o600 });
    const notStore = await doctor([], ['--store', junk, '--keyfile', ws.key]);
    expect(notStore.status).toBe(10);
    expect(finding(notStore.report, 'store-file')).toMatchObject({ level: 'fail', message: expect.stringContaining('not a Strongbox store') });
  });

  it('bad options are usage errors', async () => {
    expect((await runInProcess(store('doctor', '--max-key-age', 'soon'))).status).toBe(2);
    expect((await runInProcess(store('doctor', '--max-key-age', '0d'))).status).toBe(2);
  });
});
