/**
 * The PostgreSQL driver's change detector for read caches
 * (RawStorage.changeCounter): a connection of its own LISTENs on the
 * store's channel, on which every write transaction NOTIFYs, as it saves
 * the state row, a fingerprint of the state's digest (driver.ts, putState).
 * The server delivers a notification only once its transaction has
 * committed, and in commit order.
 *
 * The digest covers every row but the audit log's, so a notification whose
 * fingerprint is the one seen last (a write that only appended audit
 * entries, such as another host's audited reads) changes nothing a read
 * returns, and is not counted. Neither is one sent by this storage's own
 * connections: the store drops what its own writes change itself.
 *
 * While the listening connection is down (not made yet, or lost) the
 * counter is undefined, so caches read the store; it is made again, with a
 * growing pause, and once it listens again the counter moves on, since
 * notifications sent meanwhile are lost.
 *
 * A connection can also die without a word: a NAT or firewall that drops
 * an idle connection, a host that vanished. Nothing arrives, no error
 * either, and TCP's keepalive would take hours to tell. So the listener
 * asks the server something every HEARTBEAT_MS; an answer that does not
 * come within HEARTBEAT_TIMEOUT_MS counts as a lost connection (and the
 * asking itself keeps such a middlebox from counting it idle). Making the
 * connection and starting to listen has the same time limit: a connection
 * that goes silent before it listens would otherwise wait for ever, and
 * the cache would never serve again.
 */
import type pg from 'pg';
import { PG_SCHEMA } from './schema.js';

/** The channel every write of a store notifies (one store per database, and notifications stay within their database). */
export const CHANGES_CHANNEL = 'strongbox_changes';
/** The payload: a fingerprint of the state's digest, short enough for NOTIFY. */
export const DIGEST_FINGERPRINT = 'encode(sha256(digest), \'hex\')';

/** node-postgres' ref and unref of a client's socket, which its types do not declare. */
function refs(client: pg.Client): { ref(): void; unref(): void } {
  return client as unknown as { ref(): void; unref(): void };
}

/** node-postgres keeps a client's socket as `connection.stream`, which its types do not declare. */
function socketOf(client: pg.Client): { destroy(): void } | undefined {
  return (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
}

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;
/** How often a listening connection is asked whether it is alive, and how long its answer may take. */
export const HEARTBEAT_MS = 5_000;
export const HEARTBEAT_TIMEOUT_MS = 5_000;

export class ChangeListener {
  #client: pg.Client | undefined;
  #listening = false;
  #closed = false;
  #counter = 0;
  /** The fingerprint of the digest last heard of (from a notification, or read when listening began). */
  #fingerprint: string | null = null;
  #retryMs = RETRY_FIRST_MS;
  #retry: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  /**
   * `connect`: a new, unconnected client to the store's database; `own`:
   * whether a server process id is one of this storage's connections.
   */
  constructor(private readonly connect: () => pg.Client, private readonly own: (pid: number) => boolean) {
    this.#start();
  }

  /** Moves on with every change by another connection; undefined while not listening. */
  counter(): number | undefined {
    return this.#listening ? this.#counter : undefined;
  }

  #start(): void {
    this.#retry = undefined;
    if (this.#closed) return;
    const client = this.connect();
    this.#client = client;
    let failed = false;
    const down = () => {
      if (failed) return;
      failed = true;
      clearTimeout(starting);
      this.#listening = false;
      clearInterval(this.#heartbeat);
      if (this.#client === client) this.#client = undefined;
      client.end().catch(() => {});
      // A connection that died without a word never answers end()'s goodbye either: let go of its socket.
      socketOf(client)?.destroy();
      if (this.#closed) return;
      this.#retry = setTimeout(() => this.#start(), this.#retryMs);
      this.#retry.unref();
      this.#retryMs = Math.min(RETRY_MAX_MS, this.#retryMs * 2);
    };
    const starting = setTimeout(down, HEARTBEAT_TIMEOUT_MS);
    starting.unref();
    client.on('error', down);
    client.on('end', down);
    client.on('notification', (n) => {
      if (n.channel !== CHANGES_CHANNEL || n.payload === this.#fingerprint) return;
      this.#fingerprint = n.payload ?? null;
      if (!this.own(n.processId)) this.#counter++;
    });
    void (async () => {
      try {
        await client.connect();
        // A process that forgot to close its store is not kept alive by this connection (as the pool's allowExitOnIdle).
        refs(client).unref();
        await client.query(`LISTEN ${CHANGES_CHANNEL}`);
        // After LISTEN: a write committed since is either in this digest or notified after it.
        const row = (await client.query(`SELECT ${DIGEST_FINGERPRINT} AS fingerprint FROM ${PG_SCHEMA}.state WHERE id = 1`)).rows[0] as { fingerprint: string } | undefined;
        clearTimeout(starting);
        if (failed || this.#closed) return;
        this.#fingerprint = row?.fingerprint ?? null;
        this.#counter++; // anything may have changed while nobody listened
        this.#listening = true;
        this.#retryMs = RETRY_FIRST_MS;
        this.#heartbeat = setInterval(() => {
          const silent = setTimeout(down, HEARTBEAT_TIMEOUT_MS);
          silent.unref();
          client.query('SELECT 1').then(() => clearTimeout(silent), down);
        }, HEARTBEAT_MS);
        this.#heartbeat.unref();
      } catch {
        down();
      }
    })();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listening = false;
    if (this.#retry) clearTimeout(this.#retry);
    clearInterval(this.#heartbeat);
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    refs(client).ref(); // else nothing may keep the process running until the server has seen the connection end
    await client.end().catch(() => {});
  }
}
