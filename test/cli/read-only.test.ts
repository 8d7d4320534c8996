/**
 * Read-only consumers through the CLI (issue 11): reading commands work on a
 * store this user cannot write when it does not audit reads, and otherwise
 * fail closed with E_READ_ONLY (exit 1) saying why and what to choose; writing
 * commands always fail so. Really unwritable: a read-only bind mount (in-process
 * CLI), and the ops/app split the README documents — the store owned by root,
 * readable by the app's group, the built CLI run as `nobody` in that group
 * (test/helpers/mounts.ts: root only, as CI runs).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { asNobody, mountReadOnly, NOBODY } from '../helpers/mounts.js';
import { tempDir } from '../helpers/tmp.js';
import { CLI, cleanEnv } from './run-cli.js';

const VALUE = 'app-db-READONLY-secret';
const REFUSED_READ = /audits reads, and it is open read-only here \(.*\): a read that cannot be logged is refused/;
const CONFIG_HINT = /store: hint: to let read-only consumers read it, turn read auditing off as a user who can write the store: store config set audit.reads false/;

describe('on a read-only mount (in-process)', () => {
  it('reads are refused while the store audits them, work once it does not; changes are always refused', async () => {
    const home = tempDir('strongbox-cli-ro-');
    const rw = join(home, 'rw');
    const ro = join(home, 'ro');
    mkdirSync(rw);
    mkdirSync(ro);
    const key = join(home, 'master.key');
    const writer = (args: string[], input = '') => runInProcess(['--store', join(rw, 'store.db'), '--keyfile', key, ...args], { input });
    const reader = (args: string[], input = '') => runInProcess(['--store', join(ro, 'store.db'), '--keyfile', key, ...args], { input });
    expect((await writer(['init', '--master', 'keyfile'])).status).toBe(0);
    expect((await writer(['set', 'app/db'], VALUE)).status).toBe(0);
    mountReadOnly(rw, ro);
    try {
      const marker = join(home, 'started');
      for (const args of [['get', 'app/db'], ['list'], ['history', 'app/db'], ['env', '--all'],
        ['run', '--only', 'app/db', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, '')`]]) {
        const r = await reader(args);
        expect(r.status, args.join(' ')).toBe(1);
        expect(r.err).toMatch(REFUSED_READ);
        expect(r.err).toMatch(/the file system holding .*ro is read-only/);
        expect(r.err).toMatch(CONFIG_HINT);
        expect(r.out).toBe('');
        expect(r.err + r.out).not.toContain(VALUE);
      }
      expect(existsSync(marker)).toBe(false); // store run started nothing

      const status = await reader(['status']);
      expect(status.status).toBe(0);
      expect(status.out).toMatch(/^read-only: +the file system holding .*ro is read-only$/m);
      expect(JSON.parse((await reader(['status', '--json'])).out).readOnly).toMatch(/is read-only/);

      const set = await reader(['set', 'app/db'], 'new');
      expect(set.status).toBe(1);
      expect(set.err).toMatch(/store: error: cannot change the store .*: it is open read-only here/);
      expect((await reader(['config', 'set', 'audit.reads', 'false'])).status).toBe(1);

      // The writer chooses: reads are not audited any more.
      expect((await writer(['config', 'set', 'audit.reads', 'false'])).status).toBe(0);
      const get = await reader(['get', 'app/db']);
      expect(get.status, get.err).toBe(0);
      expect(get.out).toBe(VALUE);
      // The child's stdout is this process's own: it leaves what it got in a file instead.
      const got = join(home, 'got');
      const run = await reader(['run', '--only', 'app/db', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(got)}, process.env.APP_DB ?? 'unset')`]);
      expect(run.status, run.err).toBe(0);
      expect(readFileSync(got, 'utf8')).toBe(VALUE);
      expect(JSON.parse((await reader(['list', '--json'])).out).map((s: { name: string }) => s.name)).toEqual(['app/db']);
      expect(readdirSync(rw)).toEqual(['store.db']); // no -wal or -shm: read as a snapshot

      const doctor = await reader(['doctor']);
      expect(doctor.status, doctor.out).toBe(0);
      expect(doctor.out).toMatch(/ok +store-file .*read-only here: the file system holding .*ro is read-only/);
      expect(doctor.out).toMatch(/skip +integrity +skipped: .*a verification is always recorded in the audit log/);
    } finally {
      execFileSync('umount', [ro]);
    }
  });
});

describe('an ops user who writes and an app user who reads', () => {
  /** The built CLI as `nobody`, whose primary group may read the store. */
  function asApp(args: string[], home: string) {
    const env = cleanEnv({ XDG_CONFIG_HOME: join(home, 'no-config') });
    const r = spawnSync(asNobody()[0]!, [...asNobody().slice(1), process.execPath, CLI, ...args], { env, input: '' });
    return { status: r.status ?? -1, err: r.stderr.toString(), out: r.stdout.toString() };
  }

  it('the app reads what ops writes once reads are not audited, and can never write', async () => {
    // /var/lib/strongbox as the README sets it up: owned by ops (root here), group app (nobody's group), 2750; the store 0640.
    const home = tempDir('strongbox-split-');
    chmodSync(home, 0o755);
    const dir = join(home, 'lib');
    mkdirSync(dir);
    const db = join(dir, 'store.db');
    const opsKey = join(home, 'master.key');
    const ops = (args: string[], input = '') => runInProcess(['--store', db, '--keyfile', opsKey, ...args], { input });
    expect((await ops(['init', '--master', 'keyfile'])).status).toBe(0);
    expect((await ops(['set', 'app/db'], VALUE)).status).toBe(0);
    chownSync(dir, 0, NOBODY);
    chmodSync(dir, 0o2750);
    chownSync(db, 0, NOBODY);
    chmodSync(db, 0o640);
    // The app's own copy of the key (systemd's LoadCredential= gives it one it owns).
    const appKey = join(home, 'app.key');
    execFileSync('install', ['-m', '600', '-o', String(NOBODY), '-g', String(NOBODY), opsKey, appKey]);
    const app = (args: string[]) => asApp(['--store', db, '--keyfile', appKey, ...args], home);

    let r = app(['get', 'app/db']);
    expect(r.status, r.err).toBe(1);
    expect(r.err).toMatch(REFUSED_READ);
    expect(r.err).toMatch(/this user may not write .*strongbox-split-[^/]*\/lib\)/);
    expect(r.err).toMatch(CONFIG_HINT);

    expect((await ops(['config', 'set', 'audit.reads', 'false'])).status).toBe(0);
    r = app(['get', 'app/db']);
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe(VALUE);

    r = app(['set', 'app/db']);
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/cannot change the store .*: it is open read-only here \(this user may not write /);

    // Ops rotates the value; the app's next read sees it. The app left nothing in the directory.
    expect((await ops(['set', 'app/db'], 'rotated'))).toMatchObject({ status: 0 });
    expect(app(['get', 'app/db']).out).toBe('rotated');
    expect(readdirSync(dir)).toEqual(['store.db']);
    expect(JSON.parse((await ops(['audit', '--json'])).out).map((e: { action: string }) => e.action)).toEqual(['init', 'put', 'config.set', 'put']);

    // The layout is one doctor accepts: a store its group may read (not write), in a directory only its owner writes.
    const doctor = JSON.parse((await ops(['doctor', '--json'])).out) as { findings: { check: string; level: string; message: string }[] };
    expect(doctor.findings.find((x) => x.check === 'file-modes')).toMatchObject({ level: 'ok', message: expect.stringMatching(/read by its owner and group \(read-only consumers\)/) });
    expect(doctor.findings.find((x) => x.check === 'directory')).toMatchObject({ level: 'ok' });
  });
});
