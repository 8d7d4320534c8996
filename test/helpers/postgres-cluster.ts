/**
 * A throwaway PostgreSQL cluster for one test run: `initdb` in a temp
 * directory, `pg_ctl start` listening on a unix socket in that directory and
 * on 127.0.0.1 at a free port, `pg_ctl stop -m fast` and the directory
 * removed at the end. No external server is ever used.
 *
 * initdb and the server refuse to run as root (CI runs as root), so as root
 * they run as the `postgres` user (Debian's package makes it) through
 * runuser, with the directory given to that user; as anyone else, as
 * themselves. The server is tuned for tests (no fsync): a crash of the
 * machine mid-run loses nothing anyone needs.
 *
 * test/global-setup.ts starts it without waiting, so a run that uses no
 * PostgreSQL waits for nothing; the first test that needs it waits for the
 * `ready` file (test/helpers/postgres.ts). A failure to start is written to
 * the `failed` file, and every PostgreSQL test then fails with that message.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const INSTALL_HINT = 'run scripts/install-postgres.sh (or apt-get install postgresql), or set STRONGBOX_PG_BIN to the directory holding initdb and pg_ctl';

/** What a worker needs to reach the cluster, written to `ready` once it accepts connections. */
export interface ClusterInfo {
  socketDir: string;
  port: number;
  /** The superuser tests connect as (trust authentication on the socket and on 127.0.0.1). */
  user: string;
}

export const READY_FILE = 'ready';
export const FAILED_FILE = 'failed';

/** Where initdb and pg_ctl are: STRONGBOX_PG_BIN, else the newest Debian version, else pg_config's answer, else PATH. */
export function postgresBin(): string {
  if (process.env.STRONGBOX_PG_BIN) return process.env.STRONGBOX_PG_BIN;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => /^\d+$/.test(v) && existsSync(join(debian, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(debian, versions[0], 'bin');
  }
  return '';
}

function tool(name: string): string {
  const bin = postgresBin();
  return bin ? join(bin, name) : name;
}

/** As root, the user the cluster runs as (its uid and gid, for the directory). */
function lookupUser(name: string): { name: string; uid: number; gid: number } {
  let line = '';
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' });
  } catch {
    // reported below
  }
  const [, , uid, gid] = line.split(':');
  if (uid === undefined || gid === undefined) throw new Error(`as root, the test cluster runs as the user ${name}, which does not exist: ${INSTALL_HINT} (the package makes it)`);
  return { name, uid: Number(uid), gid: Number(gid) };
}

function run(argv: string[], as: { name: string } | undefined): Promise<string> {
  const [file, ...args] = as ? ['runuser', '-u', as.name, '--', ...argv] : argv;
  return new Promise((resolve, reject) => {
    execFile(file!, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${argv.join(' ')} failed: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? `not found: ${INSTALL_HINT}` : `${stderr}${stdout}`.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Cluster {
  /** The directory holding the data, the socket, the log and the ready/failed files. */
  dir: string;
  /** Settles once the server accepts connections (or has failed to start, which it records in `failed`). */
  started: Promise<void>;
  /** Stop the server (once started) and remove the directory. */
  stop(): Promise<void>;
  /**
   * `pg_ctl restart -m fast`: every session is ended, then the server comes
   * back on the same socket and port. Only for a cluster of a test's own
   * (the run's shared one serves other test files at the same time).
   */
  restart(): Promise<void>;
}

export interface ClusterOptions {
  /**
   * Server settings (`-c name=value`) after the defaults, which they override:
   * the bench runs a durable server (`fsync=on`), tests do not need one.
   */
  settings?: string[];
}

/** Start a cluster in the background; `dir` is known at once. */
export function startCluster(clusterOptions: ClusterOptions = {}): Cluster {
  const dir = mkdtempSync(join(tmpdir(), 'sb-pg-'));
  const data = join(dir, 'data');
  let as: { name: string; uid: number; gid: number } | undefined;
  let running = false;
  const started = (async () => {
    as = process.getuid?.() === 0 ? lookupUser(process.env.STRONGBOX_PG_USER ?? 'postgres') : undefined;
    if (as) chownSync(dir, as.uid, as.gid);
    const user = as?.name ?? userInfo().username;
    await run([tool('initdb'), '-D', data, '-U', user, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], as);
    const port = await freePort();
    // Trust on the socket and on loopback for the superuser; other roles log in with a password over TCP (the password tests).
    writeFileSync(join(data, 'pg_hba.conf'), [
      'local all all trust',
      `host all ${user} 127.0.0.1/32 trust`,
      'host all all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'));
    const options = [`-k ${dir}`, `-p ${port}`, '-c listen_addresses=127.0.0.1', '-c fsync=off', '-c full_page_writes=off', '-c max_connections=300', '-c shared_buffers=32MB',
      ...(clusterOptions.settings ?? []).map((setting) => `-c ${setting}`)].join(' ');
    await run([tool('pg_ctl'), '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start'], as);
    // (restart takes the same options again from the data directory's postmaster.opts)
    running = true;
    const info: ClusterInfo = { socketDir: dir, port, user };
    writeFileSync(join(dir, READY_FILE), JSON.stringify(info));
  })().catch((e: unknown) => {
    writeFileSync(join(dir, FAILED_FILE), (e as Error).message);
  });
  return {
    dir,
    started,
    stop: async () => {
      await started;
      try {
        if (running) await run([tool('pg_ctl'), '-D', data, '-m', 'fast', '-w', 'stop'], as);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    restart: async () => {
      await started;
      if (!running) throw new Error(`the PostgreSQL cluster in ${dir} is not running`);
      // -l as at the start: without it the server would write to (and hold open) pg_ctl's stdout.
      await run([tool('pg_ctl'), '-D', data, '-l', join(dir, 'server.log'), '-m', 'fast', '-w', '-t', '60', 'restart'], as);
    },
  };
}

/** Run `fn` on a connection of its own to `database` of cluster `info`, as its superuser. */
export async function asAdminOf<T>(info: ClusterInfo, database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: info.socketDir, port: info.port, user: info.user, database });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
