/**
 * The CLI with a store in PostgreSQL: `--store`, STORE_PATH and a profile
 * take a postgres:// URL, exactly as they take a file's path. In-process,
 * plus one run of the built CLI, whose bundle loads node-postgres only for
 * such a URL.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { freshDatabase, postgresCluster } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { cli } from './run-cli.js';

const store = (args: string[], input = '', env: Record<string, string | undefined> = {}) => runInProcess(args, { input, env });

describe('store on PostgreSQL', () => {
  it('--store URL: init, set, get, list, status; STORE_PATH and a profile name the same store', async () => {
    const db = await freshDatabase();
    const dir = tempDir();
    const key = join(dir, 'master.key');
    const url = `${db.url}&password=not-to-be-shown`;
    const init = await store(['--store', url, 'init', '--master', 'keyfile', '--keyfile', key, '--json']);
    expect(init.status).toBe(0);
    expect(JSON.parse(init.out)).toMatchObject({ path: db.url, masterKind: 'keyfile' });
    expect(init.out + init.err).not.toContain('not-to-be-shown');

    expect((await store(['--store', url, 'set', 'app/db'], 'hunter2')).status).toBe(0);
    expect(await store(['get', 'app/db'], '', { STORE_PATH: db.url })).toMatchObject({ status: 0, out: 'hunter2' });
    expect(JSON.parse((await store(['--store', db.url, 'list', '--json'])).out).map((s: { name: string }) => s.name)).toEqual(['app/db']);
    expect(JSON.parse((await store(['--store', db.url, 'status', '--json'])).out)).toMatchObject({ path: db.url, secrets: 1 });

    // A profile's store is a URL as it is, not a path relative to the config file.
    const config = join(dir, 'config');
    mkdirSync(join(config, 'strongbox'), { recursive: true });
    writeFileSync(join(config, 'strongbox', 'config.json'), JSON.stringify({ profiles: { shared: { store: db.url } } }), { mode: 0o600 });
    const viaProfile = await store(['--profile', 'shared', 'get', 'app/db'], '', { XDG_CONFIG_HOME: config });
    expect(viaProfile).toMatchObject({ status: 0, out: 'hunter2' });
  });

  it('doctor checks a database store (test/cli/doctor-postgres.test.ts has the rest); a server that is not there is a temporary failure (75)', async () => {
    const db = await freshDatabase();
    const key = join(tempDir(), 'master.key');
    expect((await store(['--store', db.url, 'init', '--master', 'keyfile', '--keyfile', key])).status).toBe(0);
    const checked = JSON.parse((await store(['--store', db.url, '--keyfile', key, 'doctor', '--json'])).out) as { findings: { check: string; level: string }[] };
    expect(checked.findings.filter((f) => f.level !== 'ok').map((f) => f.check)).toEqual(['durability']); // the test cluster runs without fsync

    const c = await postgresCluster();
    const away = await store(['--store', `postgres://${c.user}@127.0.0.1:1/none`, '--keyfile', key, 'get', 'x']);
    expect(away.status).toBe(75);
    expect(away.err).toMatch(/connection to the database server was lost or could not be made/);
  });

  it('the built CLI loads node-postgres for a URL', async () => {
    const db = await freshDatabase();
    const key = join(tempDir(), 'master.key');
    const base = ['--store', db.url, '--keyfile', key];
    expect(cli([...base, 'init', '--master', 'keyfile']).status).toBe(0);
    expect(cli([...base, 'set', 'built/probe'], { input: 'from the bundle' }).status).toBe(0);
    expect(cli([...base, 'get', 'built/probe'])).toMatchObject({ status: 0, out: 'from the bundle' });
  });
});
