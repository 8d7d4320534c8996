/**
 * Export and import (docs/design.md §4): an encrypted bundle portable to another
 * store (docs/export-format.md) — a v1 bundle under a passphrase or key file,
 * or an age bundle to age recipients — and plaintext JSON / .env only when asked.
 *
 * Export reads one consistent snapshot (one read transaction) and writes the
 * bundle record by record, so memory does not grow with the store (an age
 * bundle is the exception: it is spooled in memory, see MemorySink). Import
 * reads the bundle twice: the first pass opens and checks every record and
 * the trailer without touching the store; only then does the second pass,
 * inside ONE write transaction, re-encrypt each value under the target's
 * primary data key. Any failure in either pass writes nothing.
 *
 * Values never appear in an error, a report or a temp file (there is none:
 * the output file is the only file written, created 0600, never overwritten).
 */
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, extname } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { StoreError } from '../errors.js';
import {
  BUNDLE_MAGIC_PREFIX, BundleReader, BundleWriter, HEADER_PEEK_BYTES, bundleHeaderLength, decodeBundleHeader,
  keyFileBundleKey, keyFileHeader, passphraseBundleKey, passphraseHeader, recordLength, verifyBundleKey,
  type BundleHeader, type BundleRecord, type SecretRecord,
} from '../crypto/bundle.js';
import { ageEncodingOf, armorAge, checkRecipients, dearmorAge, decryptAge, encryptAge, parseIdentities } from '../crypto/age.js';
import { MAX_LINE_BYTES, RecordsDecoder, encodeHeaderLine, encodeSecretLine, encodeVersionLine } from '../crypto/age-records.js';
import { concat, equalBytes, hex, tryUtf8, utf8, wipe } from '../crypto/bytes.js';
import { openValue, sealValue } from '../crypto/envelope.js';
import { DEFAULT_SCRYPT, type ScryptParams } from '../crypto/kdf.js';
import { readAgeIdentities } from '../crypto/age-identity.js';
import { readKeyFile } from '../crypto/master/keyfile.js';
import { randomBytes } from '../crypto/random.js';
import { reloadKeyset, StaleKeyset } from './keys.js';
import { nameProblem } from './names.js';
import { contextOf, eventsOf, type Store, type StoreContext } from './store.js';
import { refuseUnlogged } from './read-only.js';
import { createExclusive } from '../platform/exclusive-file.js';
import { readWhole } from '../platform/read-whole.js';
import { reported } from './events.js';
import type { AuditEntry } from './audit.js';
import type { SecretRow, StorageOps, VersionRow } from './storage.js';

/** How an export bundle is sealed, or how to open one. */
export type BundleKey =
  /** A passphrase: scrypt (default logN 17, r 8, p 1; within BUNDLE_SCRYPT_LIMITS: logN 15..18 at r 8) then HKDF. */
  | { passphrase: string | Uint8Array; scrypt?: Partial<ScryptParams> }
  /** A 32-byte key in base64 in a file of mode 0600 (the rules of key-file master keys). */
  | { keyFile: string }
  /** The same 32 bytes given directly (copied). */
  | { key: Uint8Array };

/** The public facts of a bundle, readable without its key. */
export interface BundleInfo {
  kind: 'passphrase' | 'keyfile';
  /** Key-file bundles: the id of the key file they are sealed to (hex). */
  keyId?: string;
  scrypt?: ScryptParams;
  allVersions: boolean;
  createdAt: Date;
  secrets: number;
  versions: number;
}

/**
 * What opens an age bundle (key material): an age identity file
 * (`AGE-SECRET-KEY-1…` lines and # comments, mode 0600, as age-keygen writes
 * it), or the same text given directly.
 */
export type AgeIdentity = { identityFile: string } | { identity: string | Uint8Array };

export type PlainFormat = 'json' | 'env';
/** `bundle`: a v1 bundle; `age`: an age bundle (an age file of JSON Lines records). */
export type ImportFormat = 'bundle' | 'age' | PlainFormat;
/**
 * What import does with a name the target already holds: leave it, replace
 * the whole secret, add the imported value as a new version, or (`update`)
 * add it as a new version only when it differs from the current live value.
 */
export type ConflictPolicy = 'skip' | 'overwrite' | 'new-version' | 'update';
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['skip', 'overwrite', 'new-version', 'update'];

/**
 * What an import did (or, in a dry run, would do) with one name:
 * `create` a new secret; `overwrite` it whole; `update` it with a new version;
 * leave it `unchanged` (update: the value is already current); `skip` it (the
 * store holds it); or leave it alone because the bundle has `no-current-value`.
 */
export type ImportActionKind = 'create' | 'overwrite' | 'update' | 'unchanged' | 'skip' | 'no-current-value';

export interface ImportAction {
  name: string;
  action: ImportActionKind;
}

export interface ExportOptions {
  /** A v1 bundle sealed with a passphrase or key file; give this or `recipients`. */
  key?: BundleKey;
  /**
   * An age bundle instead (docs/export-format.md, "Age bundles"): a standard
   * age file that each of these recipients (`age1…` public keys) can open
   * alone, with `age -d` or `importBundle`.
   */
  recipients?: readonly string[];
  /** Age bundles: ASCII armor (`age -a`) instead of binary. */
  armor?: boolean;
  /** Only secrets whose names start with this. */
  prefix?: string;
  /** Every version that is not destroyed; default: each secret's current live version only. */
  allVersions?: boolean;
}

export interface PlainExportOptions {
  format: PlainFormat;
  prefix?: string;
}

export interface ExportReport {
  path: string;
  format: ImportFormat;
  secrets: number;
  versions: number;
  allVersions: boolean;
  /** Secrets left out because their current version is deleted or destroyed (current-only exports). */
  skippedNotLive: string[];
  /** Destroyed versions left out (their values no longer exist). */
  skippedDestroyed: number;
  /** v1 bundles: how they are sealed. */
  keyKind?: 'passphrase' | 'keyfile';
  keyId?: string;
  /** Age bundles: the recipients that can open it (public keys), duplicates dropped. */
  recipients?: string[];
  /** Age bundles: ASCII-armored. */
  armored?: boolean;
  bytes: number;
}

export interface ImportOptions {
  /** Default `skip`: an existing name is left untouched and reported. */
  onConflict?: ConflictPolicy;
  /** Check everything and report what would happen; write nothing. */
  dryRun?: boolean;
  /**
   * Stop once aborted (Ctrl-C): looked at while a bundle's records are
   * checked and once more before the write, rejecting with E_INTERRUPTED
   * with nothing written. The write itself is one transaction and is not
   * stopped part-way: an abort during it is seen only once it has committed.
   */
  signal?: AbortSignal;
}

export interface BundleImportOptions extends ImportOptions {
  /** v1 bundles: the key, or a function choosing it once the bundle's header has been read. */
  key?: BundleKey | ((info: BundleInfo) => BundleKey | Promise<BundleKey>);
  /** Age bundles: the identities to try; any one of the bundle's recipients opens it. */
  identities?: readonly AgeIdentity[];
}

export interface PlainImportOptions extends ImportOptions {
  /** Default: by extension (.json, .env), else by content. */
  format?: PlainFormat;
  /** Prepended to every name in the file. */
  prefix?: string;
  /** Accept empty values (refused by default, as `store set` does). */
  allowEmpty?: boolean;
}

export interface ImportReport {
  path: string;
  format: ImportFormat;
  dryRun: boolean;
  onConflict: ConflictPolicy;
  /** Names that did not exist and were created. */
  created: string[];
  /** Existing names replaced entirely (overwrite). */
  overwritten: string[];
  /** Existing names that got the imported value as a new version (new-version; update when it differed). */
  appended: string[];
  /** update: existing names whose current live value already equals the imported one (no version added). */
  unchanged: string[];
  /** Existing names left untouched (skip). */
  skipped: string[];
  /** new-version, update: existing names the bundle holds no live current value for (left untouched). */
  noCurrentValue: string[];
  /** Versions written (or, in a dry run, that would be). */
  versions: number;
  /** Old versions removed by max-versions after the import. */
  pruned: number;
  /** Every name in the order the file (or bundle) gives them, with what was (or would be) done to it. */
  actions: ImportAction[];
}

/** An import refused because of its content; `problems` lists every one (names, never values). */
export class ImportRefusedError extends StoreError {
  readonly problems: readonly string[];
  constructor(path: string, problems: string[]) {
    const shown = problems.slice(0, MAX_PROBLEMS_SHOWN).map((p) => `\n  ${p}`).join('');
    const more = problems.length > MAX_PROBLEMS_SHOWN ? `\n  … and ${problems.length - MAX_PROBLEMS_SHOWN} more` : '';
    super('E_INVALID_IMPORT', `cannot import ${path}: ${problems.length} problem(s), nothing was written:${shown}${more}`);
    this.name = 'ImportRefusedError';
    this.problems = problems;
  }
}

const MAX_PROBLEMS_SHOWN = 100;
const LIST_PAGE = 500;
/** The store's own limits on custom metadata (src/store/store.ts). */
const MAX_CUSTOM_KEYS = 64;
const MAX_CUSTOM_KEY_LENGTH = 128;
const MAX_CUSTOM_VALUE_LENGTH = 512;
/** Plaintext import files are read whole; this bounds the memory it takes. */
const MAX_PLAIN_FILE_BYTES = 256 * 1024 * 1024;
/** An age bundle is held in memory (see MemorySink): export and import refuse a larger one. */
export const MAX_AGE_BUNDLE_BYTES = 256 * 1024 * 1024;
const FLUSH_BYTES = 1024 * 1024;
/** Bundle records checked between two looks at the abort signal (each look lets the event loop run). */
const RECORDS_BETWEEN_LOOKS = 256;

function usage(message: string, hints: string[] = []): StoreError {
  return new StoreError('E_USAGE', message, hints);
}

/** A name as it may appear in a message: quoted when short and printable (it may be a misplaced value). */
function shown(name: string, where?: string): string {
  if (name.length > 0 && name.length <= 64 && /^[\x21-\x7e]*$/.test(name) && !name.includes('=')) return `"${name}"`;
  return where ?? `a name of ${name.length} characters`;
}

function checkPolicy(p: ConflictPolicy | undefined): ConflictPolicy {
  const policy = p ?? 'skip';
  if (!CONFLICT_POLICIES.includes(policy)) throw usage(`onConflict must be one of ${CONFLICT_POLICIES.join(', ')}, not "${String(p)}"`);
  return policy;
}

function checkPrefix(prefix: string | undefined): string {
  if (prefix === undefined) return '';
  if (typeof prefix !== 'string' || prefix.length > 256) throw usage('a prefix must be a string of at most 256 characters');
  return prefix;
}

// ---- files ------------------------------------------------------------------------------------

/** Create `path` for writing: new file only (never overwrite), mode 0600. */
function createNew(path: string): number {
  try {
    return createExclusive(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw usage(`${path} already exists; export never overwrites a file`, ['remove it, or choose another file name']);
    throw new StoreError('E_IO', `cannot create ${path}: ${code ?? 'error'}`);
  }
}

/** Buffered positional writes to a file we created; `reset` starts it over (after a keyset reload). */
class Sink {
  #pos = 0;
  #chunks: Uint8Array[] = [];
  #pending = 0;
  constructor(private readonly fd: number, private readonly wipeChunks: boolean) {}

  get bytes(): number {
    return this.#pos + this.#pending;
  }

  write(b: Uint8Array): void {
    this.#chunks.push(b);
    this.#pending += b.length;
    if (this.#pending >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.#pending === 0) return;
    const chunks = this.#chunks;
    const all = chunks.length === 1 ? chunks[0]! : new Uint8Array(this.#pending);
    if (chunks.length > 1) {
      let off = 0;
      for (const c of chunks) {
        all.set(c, off);
        off += c.length;
      }
    }
    let done = 0;
    try {
      while (done < all.length) done += writeSync(this.fd, all, done, all.length - done, this.#pos + done);
    } catch (e) {
      throw new StoreError('E_IO', `cannot write the export file: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    } finally {
      if (this.wipeChunks) {
        wipe(all);
        for (const c of chunks) wipe(c);
      }
    }
    this.#pos += all.length;
    this.#chunks = [];
    this.#pending = 0;
  }

  reset(): void {
    if (this.wipeChunks) for (const c of this.#chunks) wipe(c);
    this.#chunks = [];
    this.#pending = 0;
    this.#pos = 0;
    ftruncateSync(this.fd, 0);
  }
}

/** Run `fn` on a new 0600 file; on failure the file is removed, on success synced to disk. */
async function withNewFile<T>(path: string, wipeChunks: boolean, fn: (sink: Sink) => Promise<T>): Promise<T> {
  const fd = createNew(path);
  const sink = new Sink(fd, wipeChunks);
  let ok = false;
  try {
    const out = await fn(sink);
    sink.flush();
    fsyncSync(fd);
    ok = true;
    return out;
  } finally {
    closeSync(fd);
    if (!ok) {
      try {
        unlinkSync(path);
      } catch {
        // already gone: nothing to clean up
      }
    }
  }
}

/**
 * An age bundle's spool: a v1 bundle under a one-time key, in memory. The
 * store is read in one synchronous transaction and typage works
 * asynchronously, so neither side can wait for the other: the records are
 * sealed here first, and opened again one at a time on the other side. Only
 * ciphertext is kept, and nothing is written to disk.
 */
class MemorySink {
  #chunks: Uint8Array[] = [];
  #bytes = 0;

  get bytes(): number {
    return this.#bytes;
  }

  write(b: Uint8Array): void {
    this.#chunks.push(b);
    this.#bytes += b.length;
  }

  reset(): void {
    this.#chunks = [];
    this.#bytes = 0;
  }

  /** Everything written, as one array; the sink is empty afterwards. */
  take(): Uint8Array {
    const out = concat(...this.#chunks);
    this.reset();
    return out;
  }
}

/** Where a bundle's bytes are read from: its file, or memory (an age bundle's spool). */
interface ByteSource {
  readonly size: number;
  /** As readSync: up to `length` bytes at `position` into `into` at `offset`; 0 at the end. */
  read(into: Uint8Array, offset: number, length: number, position: number): number;
  close(): void;
}

/** A bundle read by position, with a read-ahead buffer (it holds ciphertext only). */
class BundleFile {
  readonly size: number;
  readonly headerBytes: Uint8Array;
  readonly #source: ByteSource;
  readonly #buf = new Uint8Array(FLUSH_BYTES);
  #bufPos = 0;
  #bufLen = 0;

  private constructor(source: ByteSource) {
    this.#source = source;
    this.size = source.size;
    const peek = new Uint8Array(this.#read(0, Math.min(HEADER_PEEK_BYTES, this.size)));
    const length = bundleHeaderLength(peek);
    if (length > this.size) decodeBundleHeader(new Uint8Array(this.#read(0, this.size))); // throws: cut short
    this.headerBytes = new Uint8Array(this.#read(0, length));
  }

  static open(path: string): BundleFile {
    const fd = openForReading(path);
    try {
      const st = regularFileStat(fd, path);
      return new BundleFile({ size: st.size, read: (into, o, n, pos) => readSync(fd, into, o, n, pos), close: () => closeSync(fd) });
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** A bundle held in memory; `close()` wipes it. */
  static fromBytes(bytes: Uint8Array): BundleFile {
    return new BundleFile({
      size: bytes.length,
      read(into, o, n, pos) {
        const part = bytes.subarray(pos, Math.min(pos + n, bytes.length));
        into.set(part, o);
        return part.length;
      },
      close: () => wipe(bytes),
    });
  }

  /** `n` bytes at `pos`: a view, valid until the next read. Short reads mean the file changed under us. */
  #read(pos: number, n: number): Uint8Array {
    if (n > this.#buf.length) {
      const out = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const got = this.#source.read(out, done, n - done, pos + done);
        if (got === 0) break;
        done += got;
      }
      return out.subarray(0, done);
    }
    if (pos < this.#bufPos || pos + n > this.#bufPos + this.#bufLen) {
      this.#bufPos = pos;
      this.#bufLen = 0;
      while (this.#bufLen < this.#buf.length) {
        const got = this.#source.read(this.#buf, this.#bufLen, this.#buf.length - this.#bufLen, pos + this.#bufLen);
        if (got === 0) break;
        this.#bufLen += got;
      }
    }
    const start = pos - this.#bufPos;
    return this.#buf.subarray(start, Math.min(start + n, this.#bufLen));
  }

  /**
   * Open every record in order; ends with the checks of the trailer and of
   * the file's end, and returns the header.
   * @throws StoreError E_TAMPERED
   */
  *records(key: Uint8Array): Generator<BundleRecord, BundleHeader> {
    const reader = new BundleReader(key, this.headerBytes);
    let pos = this.headerBytes.length;
    while (pos < this.size) {
      const prefix = new Uint8Array(this.#read(pos, Math.min(4, this.size - pos)));
      if (reader.ended) reader.next(prefix, prefix); // throws: bytes after the trailer
      const n = recordLength(prefix, this.size - pos - 4, reader.index);
      const sealed = this.#read(pos + 4, n);
      if (sealed.length !== n) recordLength(prefix, sealed.length, reader.index); // throws: the file shrank
      pos += 4 + n;
      const rec = reader.next(prefix, sealed);
      if (rec.type !== 'end') yield rec;
    }
    reader.finish();
    return reader.header;
  }

  /** `records`, calling `fn` for each. */
  walk(key: Uint8Array, fn: (rec: BundleRecord) => void): BundleHeader {
    const it = this.records(key);
    for (;;) {
      const step = it.next();
      if (step.done) return step.value;
      fn(step.value);
    }
  }

  close(): void {
    this.#source.close();
  }
}

// ---- keys -------------------------------------------------------------------------------------

function passphraseBytes(p: string | Uint8Array): Uint8Array {
  const pw = typeof p === 'string' ? utf8.encode(p) : new Uint8Array(p);
  if (pw.length === 0) throw new StoreError('E_MASTER_KEY', 'the export passphrase is empty');
  return pw;
}

function fileKeyOf(key: BundleKey): Uint8Array {
  if ('keyFile' in key) return readKeyFile(key.keyFile);
  if ('key' in key) {
    if (!(key.key instanceof Uint8Array) || key.key.length !== 32) throw new StoreError('E_MASTER_KEY', 'a bundle key must be 32 bytes');
    return new Uint8Array(key.key);
  }
  throw usage('a bundle key is { passphrase }, { keyFile } or { key }');
}

/** A fresh header (random salt) for `key`, and the bundle key it gives. */
async function newBundleKey(key: BundleKey, fields: Pick<BundleHeader, 'allVersions' | 'createdAt'>): Promise<{ header: BundleHeader; bundleKey: Uint8Array }> {
  if (key && 'passphrase' in key) {
    const pw = passphraseBytes(key.passphrase);
    try {
      const header = passphraseHeader({ ...DEFAULT_SCRYPT, ...key.scrypt }, fields);
      return { header, bundleKey: await passphraseBundleKey(pw, header) };
    } finally {
      wipe(pw);
    }
  }
  const fileKey = fileKeyOf(key);
  try {
    const header = keyFileHeader(fileKey, fields);
    return { header, bundleKey: keyFileBundleKey(fileKey, header) };
  } finally {
    wipe(fileKey);
  }
}

/** The bundle key for an existing header. @throws E_WRONG_MASTER_KEY, E_MASTER_KEY */
async function bundleKeyFor(key: BundleKey, header: BundleHeader): Promise<Uint8Array> {
  if (key && 'passphrase' in key) {
    const pw = passphraseBytes(key.passphrase);
    try {
      return await passphraseBundleKey(pw, header);
    } finally {
      wipe(pw);
    }
  }
  const fileKey = fileKeyOf(key);
  try {
    return keyFileBundleKey(fileKey, header);
  } finally {
    wipe(fileKey);
  }
}

function infoOf(h: BundleHeader): BundleInfo {
  const info: BundleInfo = { kind: h.kind, allVersions: h.allVersions, createdAt: new Date(h.createdAt), secrets: h.secrets, versions: h.versions };
  if (h.keyId) info.keyId = hex(h.keyId);
  if (h.scrypt) info.scrypt = { ...h.scrypt };
  return info;
}

/**
 * The public facts at the head of a bundle, without its key (which key it wants, counts).
 * @throws E_IO, E_UNSUPPORTED_FORMAT, E_TAMPERED
 */
export function readBundleInfo(path: string): BundleInfo {
  const file = BundleFile.open(path);
  try {
    return infoOf(decodeBundleHeader(file.headerBytes));
  } finally {
    file.close();
  }
}

// ---- export -----------------------------------------------------------------------------------

/** A value under a data key this process has not loaded: reload the keyset, then start over. */
class NeedKeys extends Error {}

interface Selected {
  secret: SecretRow;
  /** Versions to export (no ciphertext), oldest first; empty when the secret is left out. */
  versions: VersionRow[];
  destroyed: number;
}

/** The secrets under `prefix` in name order, with the versions an export takes from each. */
function* selection(tx: StorageOps, prefix: string, allVersions: boolean): Generator<Selected> {
  let after = '';
  for (;;) {
    const page = tx.listSecrets(prefix, after, LIST_PAGE);
    for (const s of page) {
      const all = tx.listVersions(s.id);
      const notDestroyed = all.filter((v) => v.destroyedAt === null);
      const versions = allVersions
        ? notDestroyed
        : notDestroyed.filter((v) => v.version === s.currentVersion && v.deletedAt === null);
      yield { secret: s, versions, destroyed: allVersions ? all.length - notDestroyed.length : 0 };
    }
    if (page.length < LIST_PAGE) return;
    after = page[page.length - 1]!.name;
  }
}

/** The plaintext of a version in a read transaction. The caller wipes it. */
function plaintextOf(c: StoreContext, tx: StorageOps, name: string, version: number): Uint8Array {
  const found = tx.readVersion(name, version)?.version;
  if (!found || found.destroyedAt !== null) throw new Error(`export: ${name} version ${version} vanished inside one snapshot`);
  if (found.keyId !== null && !c.keyset.byId(found.keyId)) throw new NeedKeys();
  return openValue(c.keyset, c.header.storeId, name, version, found.ciphertext);
}

/** Run `fn` over one snapshot; if it meets a data key we lack (another process rotated), reload and start over. */
async function snapshot<T>(c: StoreContext, sink: Pick<Sink, 'reset'>, fn: (tx: StorageOps) => T): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return c.storage.read(fn);
    } catch (e) {
      if (!(e instanceof NeedKeys) || attempt >= 3) throw e;
      sink.reset();
      await reloadKeyset(c);
    }
  }
}

/**
 * Write an encrypted bundle of the store's secrets to `path` (a new file,
 * mode 0600): a v1 bundle under `key`, or an age bundle to `recipients`.
 * One consistent snapshot; records written one by one.
 * @throws E_USAGE (file exists), E_IO, E_MASTER_KEY, E_INSECURE_KEYFILE, E_TAMPERED
 */
export async function exportStore(store: Store, path: string, options: ExportOptions): Promise<ExportReport> {
  return reported(eventsOf(store), 'exportStore', undefined, () => exportStoreUnreported(store, path, options));
}

async function exportStoreUnreported(store: Store, path: string, options: ExportOptions): Promise<ExportReport> {
  const c = contextOf(store);
  refuseUnlogged(c, 'an export');
  const prefix = checkPrefix(options.prefix);
  const allVersions = options.allVersions ?? false;
  if (options.recipients !== undefined) {
    if (options.key !== undefined) throw usage('give an export key (a v1 bundle) or age recipients, not both');
    return exportAge(c, path, await checkRecipients(options.recipients), options.armor ?? false, prefix, allVersions);
  }
  if (options.key === undefined) throw usage('an export needs a key ({ passphrase }, { keyFile } or { key }) or age recipients');
  if (options.armor) throw usage('armor is for age bundles (recipients); a v1 bundle is binary');
  const { header, bundleKey } = await newBundleKey(options.key, { allVersions, createdAt: c.now() });
  try {
    return await withNewFile(path, false, (sink) => snapshot(c, sink, (tx) => {
      const report: ExportReport = {
        path, format: 'bundle', secrets: 0, versions: 0, allVersions, skippedNotLive: [], skippedDestroyed: 0,
        keyKind: header.kind, bytes: 0,
      };
      if (header.keyId) report.keyId = hex(header.keyId);
      writeRecords(c, tx, sink, bundleKey, header, report, prefix);
      report.bytes = sink.bytes;
      return report;
    }).then((report) => auditExport(c, report)));
  } finally {
    wipe(bundleKey);
  }
}

/**
 * A whole v1 bundle of the snapshot `tx` under `key` into `sink`; the
 * report gets the counts and what was left out.
 */
function writeRecords(
  c: StoreContext, tx: StorageOps, sink: Pick<Sink, 'write'>, key: Uint8Array, header: BundleHeader, report: ExportReport, prefix: string,
): void {
  const { allVersions } = header;
  // First pass: counts (the header states them); second: the records.
  for (const s of selection(tx, prefix, allVersions)) {
    report.skippedDestroyed += s.destroyed;
    if (s.versions.length === 0) {
      report.skippedNotLive.push(s.secret.name);
      continue;
    }
    report.secrets++;
    report.versions += s.versions.length;
  }
  const writer = new BundleWriter(key, { ...header, secrets: report.secrets, versions: report.versions });
  sink.write(writer.header());
  for (const { secret: s, versions } of selection(tx, prefix, allVersions)) {
    if (versions.length === 0) continue;
    sink.write(writer.secret({
      name: s.name, currentVersion: s.currentVersion, maxVersions: s.maxVersions, createdAt: s.createdAt,
      updatedAt: s.updatedAt, custom: s.custom, versionCount: versions.length,
    }));
    for (const v of versions) {
      const value = plaintextOf(c, tx, s.name, v.version);
      try {
        sink.write(writer.version({ version: v.version, createdAt: v.createdAt, deletedAt: v.deletedAt, value }));
      } finally {
        wipe(value);
      }
    }
  }
  sink.write(writer.trailer());
}

/**
 * Write an age bundle: the snapshot spooled as a v1 bundle under a one-time
 * key in memory (see MemorySink), then its records as JSON Lines
 * (src/crypto/age-records.ts) through typage's encrypter to the file.
 */
async function exportAge(
  c: StoreContext, path: string, recipients: string[], armor: boolean, prefix: string, allVersions: boolean,
): Promise<ExportReport> {
  const spoolKey = randomBytes(32);
  try {
    return await withNewFile(path, false, async (sink) => {
      const report: ExportReport = {
        path, format: 'age', secrets: 0, versions: 0, allVersions, skippedNotLive: [], skippedDestroyed: 0, recipients, armored: armor, bytes: 0,
      };
      const spool = new MemorySink();
      const header = keyFileHeader(spoolKey, { allVersions, createdAt: c.now() });
      await snapshot(c, spool, (tx) => {
        Object.assign(report, { secrets: 0, versions: 0, skippedNotLive: [], skippedDestroyed: 0 });
        writeRecords(c, tx, spool, spoolKey, header, report, prefix);
      });
      const staged = BundleFile.fromBytes(spool.take());
      try {
        const cipher = (await encryptAge(recipients, recordLines(staged, spoolKey))).getReader();
        // Every bundle written can be imported: an importer refuses a larger file, armored or not.
        const tooLarge = () => usage(`an age bundle holds at most ${MAX_AGE_BUNDLE_BYTES} bytes; this export is larger, nothing was written`, [
          'export less (--prefix), or write a v1 bundle (a passphrase or --recipient-keyfile), which has no such limit',
        ]);
        const parts: Uint8Array[] = [];
        let size = 0;
        for (;;) {
          const { done, value } = await cipher.read();
          if (done) break;
          size += value.length;
          if (size > MAX_AGE_BUNDLE_BYTES) {
            await cipher.cancel();
            throw tooLarge();
          }
          if (armor) parts.push(value);
          else sink.write(value);
        }
        if (armor) {
          const armored = await armorAge(concat(...parts));
          if (armored.length > MAX_AGE_BUNDLE_BYTES) throw tooLarge();
          sink.write(armored);
        }
      } finally {
        staged.close();
      }
      report.bytes = sink.bytes;
      return auditExport(c, report);
    });
  } finally {
    wipe(spoolKey);
  }
}

/** The spooled bundle's records as JSON Lines, made one record at a time as the encrypter pulls them. */
function recordLines(staged: BundleFile, key: Uint8Array): ReadableStream<Uint8Array> {
  const header = decodeBundleHeader(staged.headerBytes);
  const records = staged.records(key);
  let name = '';
  let started = false;
  return new ReadableStream<Uint8Array>({
    pull(out) {
      if (!started) {
        started = true;
        out.enqueue(encodeHeaderLine(header));
        return;
      }
      const step = records.next();
      if (step.done) {
        out.close();
        return;
      }
      const rec = step.value;
      if (rec.type === 'secret') {
        name = rec.name;
        out.enqueue(encodeSecretLine(rec));
        return;
      }
      try {
        out.enqueue(encodeVersionLine(name, rec));
      } finally {
        wipe(rec.value);
      }
    },
  }, { highWaterMark: 0 });
}

/**
 * Record an export in the audit log before the file is kept: an export that
 * cannot be logged is removed (fail closed, like every change).
 */
function auditExport(c: StoreContext, r: ExportReport): ExportReport {
  const to = r.recipients ? ` for ${r.recipients.length} recipient(s)` : '';
  const detail = `${r.format} ${r.path}${to}: ${r.secrets} secret(s), ${r.versions} version(s)${r.allVersions ? ', all versions' : ''}`;
  c.storage.write((tx) => c.audit.append(tx, { action: 'export', outcome: 'ok', detail }));
  return r;
}

const ENV_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * `NAME=<value>\n` such that dotenv's parser reads back exactly `value`, or
 * undefined when no quoting does (dotenv has no escape for a backslash or a
 * quote inside double quotes). Each candidate is checked by parsing it.
 */
export function envLine(name: string, value: string): string | undefined {
  if (!ENV_NAME.test(name)) return undefined;
  const candidates = [
    `"${value.replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`,
    `'${value}'`,
    `\`${value}\``,
    value,
  ];
  for (const quoted of candidates) {
    const line = `${name}=${quoted}\n`;
    const back = parseDotenv(line);
    const keys = Object.keys(back);
    if (keys.length === 1 && keys[0] === name && back[name] === value) return line;
  }
  return undefined;
}

/**
 * Write each current live value under `prefix` in plain text, as a JSON
 * object `{"name": "value"}` or a .env file, to `path` (a new file, 0600).
 * Values must be UTF-8 (and, for .env, names without '/' and values dotenv
 * can read back unchanged); otherwise nothing is written and every offending
 * secret is named.
 * @throws E_USAGE, E_INVALID_VALUE, E_IO, E_TAMPERED
 */
export async function exportPlain(store: Store, path: string, options: PlainExportOptions): Promise<ExportReport> {
  return reported(eventsOf(store), 'exportPlain', undefined, () => exportPlainUnreported(store, path, options));
}

async function exportPlainUnreported(store: Store, path: string, options: PlainExportOptions): Promise<ExportReport> {
  const c = contextOf(store);
  refuseUnlogged(c, 'an export');
  const prefix = checkPrefix(options.prefix);
  const format = options.format;
  if (format !== 'json' && format !== 'env') throw usage(`a plaintext export format is json or env, not "${String(format)}"`);
  return withNewFile(path, true, (sink) => snapshot(c, sink, (tx) => {
    const report: ExportReport = {
      path, format, secrets: 0, versions: 0, allVersions: false, skippedNotLive: [], skippedDestroyed: 0, bytes: 0,
    };
    // First pass: every value must be writable, or nothing is written.
    const problems: string[] = [];
    for (const { secret: s, versions } of selection(tx, prefix, false)) {
      if (versions.length === 0) {
        report.skippedNotLive.push(s.name);
        continue;
      }
      if (format === 'env' && !ENV_NAME.test(s.name)) {
        problems.push(`${s.name}: a .env name holds only letters, digits and _ . - (no '/')`);
        continue;
      }
      const value = plaintextOf(c, tx, s.name, versions[0]!.version);
      try {
        const text = tryUtf8(value);
        if (text === undefined) problems.push(`${s.name}: the value is not UTF-8 text`);
        else if (format === 'env' && envLine(s.name, text) === undefined) {
          problems.push(`${s.name}: the value cannot be quoted so that dotenv reads it back unchanged`);
        }
      } finally {
        wipe(value);
      }
    }
    if (problems.length > 0) {
      throw new StoreError('E_INVALID_VALUE', `cannot export as ${format}, nothing was written:${problems.map((p) => `\n  ${p}`).join('')}`, [
        'use an encrypted export (it carries any bytes and every name), or leave these out with --prefix',
      ]);
    }
    sink.write(utf8.encode(format === 'json' ? '{' : '# Strongbox plaintext export: this file holds secret values in clear text\n'));
    for (const { secret: s, versions } of selection(tx, prefix, false)) {
      if (versions.length === 0) continue;
      const value = plaintextOf(c, tx, s.name, versions[0]!.version);
      const text = tryUtf8(value)!;
      wipe(value);
      const entry = format === 'json'
        ? `${report.secrets === 0 ? '' : ','}\n  ${JSON.stringify(s.name)}: ${JSON.stringify(text)}`
        : envLine(s.name, text)!;
      sink.write(utf8.encode(entry));
      report.secrets++;
      report.versions++;
    }
    if (format === 'json') sink.write(utf8.encode(report.secrets === 0 ? '}\n' : '\n}\n'));
    report.bytes = sink.bytes;
    return report;
  }).then((report) => auditExport(c, report)));
}

// ---- import -----------------------------------------------------------------------------------

function emptyReport(path: string, format: ImportFormat, dryRun: boolean, onConflict: ConflictPolicy): ImportReport {
  return {
    path, format, dryRun, onConflict, created: [], overwritten: [], appended: [], unchanged: [], skipped: [], noCurrentValue: [], versions: 0, pruned: 0,
    actions: [],
  };
}

function customProblem(custom: Record<string, string>): string | undefined {
  const entries = Object.entries(custom);
  if (entries.length > MAX_CUSTOM_KEYS) return `custom metadata holds ${entries.length} keys (at most ${MAX_CUSTOM_KEYS})`;
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > MAX_CUSTOM_KEY_LENGTH) return `a custom metadata key is not 1..${MAX_CUSTOM_KEY_LENGTH} characters`;
    if (v.length > MAX_CUSTOM_VALUE_LENGTH) return `a custom metadata value is over ${MAX_CUSTOM_VALUE_LENGTH} characters`;
  }
  return undefined;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Let pending events run (a Ctrl-C handler among them: a signal that came
 * during synchronous work waits for the event loop's poll, which lies between
 * two turns of setImmediate), then reject with E_INTERRUPTED if `signal` was
 * aborted. Only called before the import's transaction, so "nothing was
 * imported" is always true when it rejects.
 */
async function stopIfInterrupted(signal: AbortSignal | undefined, path: string): Promise<void> {
  if (!signal) return;
  await yieldToEventLoop();
  await yieldToEventLoop();
  if (signal.aborted) {
    throw new StoreError('E_INTERRUPTED', `the import of ${path} was interrupted before anything was written: nothing was imported`, [
      'run it again: it starts from the beginning (an import writes everything in one transaction, or nothing)',
    ]);
  }
}

/**
 * Run `fn` in a write transaction (a read one for a dry run) whose sealing
 * key is the stored primary; reload the keyset and retry if another process rotated.
 */
async function sealingTransaction(c: StoreContext, dryRun: boolean, fn: (tx: StorageOps) => void): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      if (dryRun) {
        c.storage.read(fn);
      } else {
        try {
          c.storage.write((tx) => {
            if (tx.primaryKeyId() !== c.keyset.primary()?.id) throw new StaleKeyset();
            fn(tx);
          });
        } finally {
          c.cache?.clear(); // an import may change any secret: no cached read may outlive it
        }
      }
      return;
    } catch (e) {
      if (!(e instanceof StaleKeyset) || attempt >= 3) throw e;
      await reloadKeyset(c);
    }
  }
}

/** A dry run's comparisons, audited once its read transaction is over (a read that cannot be recorded fails, as a get does). */
function auditComparisons(c: StoreContext, entries: readonly AuditEntry[]): void {
  if (entries.length > 0) c.storage.writeRelaxed((tx) => { for (const e of entries) c.audit.append(tx, e); });
}

/** Writes (or, in a dry run, counts) inside one transaction; shared by bundle and plain imports. */
class Importer {
  readonly #detail: string;
  /** Dry run: the comparisons made (reads of current values), audited after the read transaction. */
  readonly compared: AuditEntry[] = [];

  constructor(
    private readonly c: StoreContext,
    private readonly tx: StorageOps,
    private readonly report: ImportReport,
    private readonly dryRun: boolean,
  ) {
    this.#detail = `${report.format} ${report.path} (on conflict: ${report.onConflict})`;
  }

  /** One audit entry per secret written, in the import's own transaction (fail closed, like every change). */
  audit(name: string, versions: number[]): void {
    if (!this.dryRun) this.c.audit.append(this.tx, { action: 'import', name, versions, outcome: 'ok', detail: this.#detail });
  }

  #act(name: string, action: ImportActionKind, list: string[]): void {
    list.push(name);
    this.report.actions.push({ name, action });
  }

  /** The bundle holds no live current value for an existing name (new-version, update): left alone. */
  noCurrentValue(name: string): void {
    this.#act(name, 'no-current-value', this.report.noCurrentValue);
  }

  /** The secret row to import versions into, or what the policy says instead. */
  begin(name: string, createdAt: number): { mode: 'create'; row: SecretRow | undefined } | { mode: 'skip' } | { mode: 'append'; row: SecretRow } {
    const existing = this.tx.findSecret(name);
    if (existing) {
      switch (this.report.onConflict) {
        case 'skip':
          this.#act(name, 'skip', this.report.skipped);
          return { mode: 'skip' };
        case 'new-version':
        case 'update':
          return { mode: 'append', row: existing };
        case 'overwrite':
          this.#act(name, 'overwrite', this.report.overwritten);
          if (!this.dryRun) this.tx.deleteSecret(existing.id);
          break;
      }
    } else {
      this.#act(name, 'create', this.report.created);
    }
    return { mode: 'create', row: this.dryRun ? undefined : this.tx.insertSecret(name, createdAt) };
  }

  /** Insert a version as it was in the source (number, times, state). */
  insert(row: SecretRow | undefined, name: string, version: number, createdAt: number, deletedAt: number | null, value: Uint8Array): void {
    this.report.versions++;
    if (!row) return;
    const primary = this.c.keyset.primary()!;
    const { blob, keyId } = sealValue(primary, this.c.header.storeId, name, version, value);
    this.tx.insertVersion(row.id, { version, createdAt, deletedAt, destroyedAt: null, keyId, ciphertext: blob });
  }

  /**
   * Append `value` as version n+1 of an existing secret, as a put would
   * (under `update`, only when it differs from the current live value).
   */
  append(row: SecretRow, value: Uint8Array): void {
    if (this.report.onConflict === 'update' && this.#isCurrent(row, value)) {
      this.#act(row.name, 'unchanged', this.report.unchanged);
      return;
    }
    this.#act(row.name, 'update', this.report.appended);
    const now = this.c.now();
    const next: SecretRow = { ...row, currentVersion: row.currentVersion + 1, updatedAt: now };
    if (this.dryRun) {
      this.insert(undefined, row.name, next.currentVersion, now, null, value);
      this.#prune(undefined, row.maxVersions, this.tx.listVersions(row.id).length + 1);
      return;
    }
    this.insert(row, row.name, next.currentVersion, now, null, value);
    this.tx.updateSecret(next);
    this.#prune(row.id, row.maxVersions, 0);
    this.audit(row.name, [next.currentVersion]);
  }

  /**
   * Whether `value` is the secret's current live value. Decrypting it is a
   * read, so it is audited as reads are (config audit.reads): in the import's
   * transaction, or for a dry run (a read transaction) just after it.
   * The value is compared in constant time and wiped.
   */
  #isCurrent(row: SecretRow, value: Uint8Array): boolean {
    const current = this.tx.readVersion(row.name, row.currentVersion)?.version;
    // Deleted or destroyed: importing the value makes it live again, so it is a change.
    if (!current || current.deletedAt !== null || current.destroyedAt !== null) return false;
    if (current.keyId !== null && !this.c.keyset.byId(current.keyId)) throw new StaleKeyset(); // another process rotated: reload, start over
    const plain = openValue(this.c.keyset, this.c.header.storeId, row.name, current.version, current.ciphertext);
    try {
      if (this.c.header.auditReads) {
        const entry: AuditEntry = { action: 'import.compare', name: row.name, versions: [current.version], outcome: 'ok', detail: this.#detail };
        if (this.dryRun) this.compared.push(entry);
        else this.c.audit.append(this.tx, entry);
      }
      return equalBytes(plain, value);
    } finally {
      wipe(plain);
    }
  }

  /** Set a created secret's metadata once its versions are in. */
  finish(row: SecretRow | undefined, fields: Pick<SecretRow, 'currentVersion' | 'maxVersions' | 'custom' | 'updatedAt'>, versions: number[]): void {
    if (row) {
      this.tx.updateSecret({ ...row, ...fields });
      this.audit(row.name, versions);
    }
    this.#prune(row?.id, fields.maxVersions, versions.length);
  }

  /** Apply max versions as every write does (the secret's own, else the store default). */
  #prune(secretId: number | undefined, maxVersions: number, versions: number): void {
    const keep = maxVersions || this.c.header.defaultMaxVersions;
    if (keep <= 0) return;
    if (secretId === undefined) this.report.pruned += Math.max(0, versions - keep); // dry run: count only
    else this.report.pruned += this.tx.pruneVersions(secretId, keep).length;
  }
}

/**
 * Import an encrypted bundle into `store`: a v1 bundle (with `key`) or an
 * age bundle (with `identities`), told apart by the file's first line. Every
 * record and the trailer are checked before anything is written; the import
 * itself is one transaction. Versions keep their numbers, times and states;
 * secrets their metadata.
 * @throws E_WRONG_MASTER_KEY, E_TAMPERED, E_UNSUPPORTED_FORMAT, E_INVALID_IMPORT, E_MASTER_KEY, E_IO, E_USAGE
 */
export async function importBundle(store: Store, path: string, options: BundleImportOptions): Promise<ImportReport> {
  return reported(eventsOf(store), 'importBundle', undefined, () => importBundleUnreported(store, path, options));
}

async function importBundleUnreported(store: Store, path: string, options: BundleImportOptions): Promise<ImportReport> {
  const c = contextOf(store);
  const onConflict = checkPolicy(options.onConflict);
  const dryRun = options.dryRun ?? false;
  // Either kind of bundle may come: each takes the key it needs and ignores the other.
  if (ageEncodingOf(readHead(path, 64)) !== undefined) return importAge(c, path, options, dryRun, onConflict);
  if (options.key === undefined) {
    throw new StoreError('E_MASTER_KEY', `${path} is sealed with a passphrase or a key file: give its key`, [
      'key: { passphrase } or { keyFile } (store import --export-passphrase-file or --recipient-keyfile)',
    ]);
  }
  const file = BundleFile.open(path);
  try {
    const header = decodeBundleHeader(file.headerBytes);
    const spec = typeof options.key === 'function' ? await options.key(infoOf(header)) : options.key;
    const key = await bundleKeyFor(spec, header);
    try {
      verifyBundleKey(key, file.headerBytes);
      return await importRecords(c, file, key, path, 'bundle', dryRun, onConflict, options.signal);
    } finally {
      wipe(key);
    }
  } finally {
    file.close();
  }
}

/**
 * The two passes of every bundle import, over `file` opened with `key`: the
 * first opens and checks every record and the trailer and what the target
 * would refuse; the second writes them in one transaction.
 */
async function importRecords(
  c: StoreContext, file: BundleFile, key: Uint8Array, path: string, format: 'bundle' | 'age', dryRun: boolean, onConflict: ConflictPolicy,
  signal: AbortSignal | undefined,
): Promise<ImportReport> {
  // Pass 1: open every record and the trailer; check what the target store would refuse.
  // Ctrl-C is looked for between records: until pass 2 starts, nothing has been written.
  const problems: string[] = [];
  const limit = c.header.maxValueBytes;
  let current: SecretRecord | undefined;
  let seen = 0;
  await stopIfInterrupted(signal, path);
  for (const rec of file.records(key)) {
    if (rec.type === 'secret') {
      current = rec;
      const problem = nameProblem(rec.name) ?? customProblem(rec.custom);
      if (problem) problems.push(`${shown(rec.name)}: ${problem}`);
    } else {
      if (rec.value.length > limit) {
        problems.push(`${current!.name} version ${rec.version}: the value is ${rec.value.length} bytes; this store takes at most ${limit}`);
      }
      wipe(rec.value);
    }
    if (++seen % RECORDS_BETWEEN_LOOKS === 0) await stopIfInterrupted(signal, path);
  }
  if (problems.length > 0) throw new ImportRefusedError(path, problems);
  await stopIfInterrupted(signal, path);

  // Pass 2: the same records again, now written in one transaction.
  let report = emptyReport(path, format, dryRun, onConflict);
  let compared: AuditEntry[] = [];
  await sealingTransaction(c, dryRun, (tx) => {
    report = emptyReport(path, format, dryRun, onConflict);
    const im = new Importer(c, tx, report, dryRun);
    compared = im.compared;
    let group: { rec: SecretRecord; target: ReturnType<Importer['begin']>; versions: number[]; appended: boolean } | undefined;
    const close = () => {
      if (!group) return;
      const { rec, target } = group;
      if (target.mode === 'create') {
        im.finish(target.row, { currentVersion: rec.currentVersion, maxVersions: rec.maxVersions, custom: rec.custom, updatedAt: rec.updatedAt }, group.versions);
      } else if (target.mode === 'append' && !group.appended) {
        im.noCurrentValue(rec.name);
      }
    };
    file.walk(key, (rec) => {
      if (rec.type === 'secret') {
        close();
        group = { rec, target: im.begin(rec.name, rec.createdAt), versions: [], appended: false };
        return;
      }
      try {
        const g = group!;
        if (g.target.mode === 'create') {
          im.insert(g.target.row, g.rec.name, rec.version, rec.createdAt, rec.deletedAt, rec.value);
          g.versions.push(rec.version);
        } else if (g.target.mode === 'append' && rec.version === g.rec.currentVersion && rec.deletedAt === null) {
          im.append(g.target.row, rec.value);
          g.appended = true;
        }
      } finally {
        wipe(rec.value);
      }
    });
    close();
  });
  if (!dryRun && report.overwritten.length > 0) c.storage.checkpoint();
  auditComparisons(c, compared);
  return report;
}

/**
 * Import an age bundle: decrypted by typage, each line checked by
 * RecordsDecoder and spooled as a v1 bundle under a one-time key in memory
 * (the write transaction is synchronous and typage is not), then the same
 * two passes as a v1 bundle. A bundle that fails anywhere writes nothing.
 */
async function importAge(c: StoreContext, path: string, options: BundleImportOptions, dryRun: boolean, onConflict: ConflictPolicy): Promise<ImportReport> {
  if (options.identities === undefined || options.identities.length === 0) {
    throw new StoreError('E_MASTER_KEY', `${path} is an age bundle: it needs an age identity to open`, [
      'give the identity file whose public key it was exported to (store import --identity F)',
    ]);
  }
  const identities = await identitiesOf(options.identities);
  const spoolKey = randomBytes(32);
  try {
    const staged = await spoolAge(path, identities, spoolKey);
    try {
      return await importRecords(c, staged, spoolKey, path, 'age', dryRun, onConflict, options.signal);
    } finally {
      staged.close();
    }
  } finally {
    wipe(spoolKey);
  }
}

async function identitiesOf(list: readonly AgeIdentity[]): Promise<string[]> {
  const out: string[] = [];
  for (const id of list) {
    if (id && 'identityFile' in id) {
      out.push(...await readAgeIdentities(id.identityFile));
    } else if (id && 'identity' in id) {
      const bytes = typeof id.identity === 'string' ? utf8.encode(id.identity) : new Uint8Array(id.identity);
      try {
        out.push(...await parseIdentities(bytes, 'an age identity given'));
      } finally {
        wipe(bytes);
      }
    } else {
      throw usage('an age identity is { identityFile } or { identity }');
    }
  }
  return out;
}

/** The age bundle at `path` decrypted, checked line by line, and spooled as a v1 bundle under `spoolKey`. */
async function spoolAge(path: string, identities: string[], spoolKey: Uint8Array): Promise<BundleFile> {
  let file = readAgeFile(path);
  if (ageEncodingOf(file.subarray(0, 64)) === 'armored') file = await dearmorAge(file);
  const plain = await decryptAge(file, identities);
  const decoder = new RecordsDecoder();
  const spool = new MemorySink();
  let writer: BundleWriter | undefined;
  const lines = new LineSplitter(MAX_LINE_BYTES, (line) => {
    const rec = decoder.next(line);
    if (rec.type === 'header') {
      const { allVersions, createdAt, secrets, versions } = rec;
      writer = new BundleWriter(spoolKey, { ...keyFileHeader(spoolKey, { allVersions, createdAt }), secrets, versions });
      spool.write(writer.header());
    } else if (rec.type === 'secret') {
      spool.write(writer!.secret(rec));
    } else {
      try {
        spool.write(writer!.version(rec));
      } finally {
        wipe(rec.value);
      }
    }
  });
  try {
    for (let chunk = await plain.next(); chunk; chunk = await plain.next()) {
      try {
        lines.push(chunk);
      } finally {
        wipe(chunk);
      }
    }
    lines.end();
    decoder.finish();
  } catch (e) {
    await plain.cancel();
    lines.discard();
    throw e;
  }
  spool.write(writer!.trailer());
  return BundleFile.fromBytes(spool.take());
}

/** An age bundle's bytes, read whole (bounded). */
function readAgeFile(path: string): Uint8Array {
  const fd = openForReading(path);
  try {
    const st = regularFileStat(fd, path);
    if (st.size > MAX_AGE_BUNDLE_BYTES) {
      throw new StoreError('E_INVALID_IMPORT', `${path} is ${st.size} bytes; an age bundle is at most ${MAX_AGE_BUNDLE_BYTES}`);
    }
    return readWhole(fd, st.size);
  } finally {
    closeSync(fd);
  }
}

/**
 * Cuts a byte stream into lines (without their line feeds), each at most
 * `max` bytes; the last line must end with a line feed too.
 */
class LineSplitter {
  #parts: Uint8Array[] = [];
  #length = 0;

  constructor(private readonly max: number, private readonly onLine: (line: Uint8Array) => void) {}

  /** `chunk` is not kept: the caller may wipe it afterwards. */
  push(chunk: Uint8Array): void {
    let start = 0;
    for (let lf = chunk.indexOf(0x0a); lf !== -1; lf = chunk.indexOf(0x0a, start)) {
      this.#take(chunk.subarray(start, lf));
      const parts = this.#parts;
      const line = parts.length === 1 ? parts[0]! : concat(...parts);
      if (parts.length > 1) wipe(...parts);
      this.#parts = [];
      this.#length = 0;
      try {
        this.onLine(line);
      } finally {
        wipe(line);
      }
      start = lf + 1;
    }
    this.#take(chunk.subarray(start));
  }

  end(): void {
    if (this.#length > 0) {
      this.discard();
      throw new StoreError('E_TAMPERED', 'the age bundle is damaged or was altered: its last line has no line feed', ['nothing was imported']);
    }
  }

  discard(): void {
    wipe(...this.#parts);
    this.#parts = [];
    this.#length = 0;
  }

  #take(part: Uint8Array): void {
    if (part.length === 0) return;
    this.#length += part.length;
    if (this.#length > this.max) {
      this.discard();
      throw new StoreError('E_TAMPERED', `the age bundle is damaged or was altered: a line is longer than ${this.max} bytes`, ['nothing was imported']);
    }
    this.#parts.push(new Uint8Array(part));
  }
}

/**
 * Which kind of import file `path` is: an encrypted bundle (by its magic
 * line: a v1 bundle, or an age file, binary or armored), else JSON or .env by extension (.json; .env, *.env, .env.*), else by
 * content (JSON starts with '{').
 * @throws E_IO
 */
export function detectImportFormat(path: string): ImportFormat {
  const head = readHead(path, 64);
  if (Buffer.from(head).toString('latin1').startsWith(BUNDLE_MAGIC_PREFIX)) return 'bundle';
  if (ageEncodingOf(head) !== undefined) return 'age';
  return plainFormatOf(path, head);
}

function plainFormatOf(path: string, head: Uint8Array): PlainFormat {
  const ext = extname(path).toLowerCase();
  const base = basename(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.env' || base === '.env' || base.startsWith('.env.')) return 'env';
  const text = Buffer.from(head).toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  return text.startsWith('{') ? 'json' : 'env';
}

/** Open `path` read-only; E_IO naming the path when it cannot be. */
function openForReading(path: string): number {
  try {
    return openSync(path, constants.O_RDONLY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StoreError('E_IO', `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? 'error'}`);
  }
}

/** `fd`'s stat; E_IO when `path` (what `fd` was opened from) is not a regular file. */
function regularFileStat(fd: number, path: string): Stats {
  const st = fstatSync(fd);
  if (!st.isFile()) throw new StoreError('E_IO', `${path} is not a regular file`);
  return st;
}

function readHead(path: string, n: number): Uint8Array {
  const fd = openForReading(path);
  try {
    regularFileStat(fd, path);
    const buf = new Uint8Array(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

function readPlainFile(path: string): Uint8Array {
  const fd = openForReading(path);
  try {
    const st = regularFileStat(fd, path);
    if (st.size > MAX_PLAIN_FILE_BYTES) throw new StoreError('E_INVALID_IMPORT', `${path} is ${st.size} bytes; a plaintext import file is at most ${MAX_PLAIN_FILE_BYTES}`);
    return readWhole(fd, st.size);
  } finally {
    closeSync(fd);
  }
}

/** The entries of a plaintext import file, in file order, or the problems that stop it. */
export function parsePlain(text: string, format: PlainFormat): { entries: [string, unknown][]; problems: string[] } {
  if (format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // JSON.parse's message quotes the input: never pass it on.
      return { entries: [], problems: ['the file is not valid JSON (expected an object {"name": "value", …})'] };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return { entries: [], problems: ['the JSON is not an object (expected {"name": "value", …})'] };
    }
    return { entries: Object.entries(parsed), problems: [] };
  }
  return { entries: Object.entries(parseDotenv(text)), problems: [] };
}

/**
 * Import a plaintext JSON object `{"name": "value"}` or .env file (dotenv's
 * parser; each variable name is the secret name, after `prefix`). Every
 * entry is checked first (name rules, string values, size, empty values) and
 * all problems are reported at once; then one transaction writes them all.
 * @throws E_INVALID_IMPORT, E_IO, E_USAGE
 */
export async function importPlain(store: Store, path: string, options: PlainImportOptions = {}): Promise<ImportReport> {
  return reported(eventsOf(store), 'importPlain', undefined, () => importPlainUnreported(store, path, options));
}

async function importPlainUnreported(store: Store, path: string, options: PlainImportOptions): Promise<ImportReport> {
  const c = contextOf(store);
  const onConflict = checkPolicy(options.onConflict);
  const dryRun = options.dryRun ?? false;
  const prefix = checkPrefix(options.prefix);
  if (options.format !== undefined && options.format !== 'json' && options.format !== 'env') {
    throw usage(`a plaintext import format is json or env, not "${String(options.format)}"`);
  }
  const bytes = readPlainFile(path);
  if (Buffer.from(bytes.subarray(0, 32)).toString('latin1').startsWith(BUNDLE_MAGIC_PREFIX) || ageEncodingOf(bytes.subarray(0, 64)) !== undefined) {
    wipe(bytes);
    throw usage(`${path} is an encrypted export bundle, not a plaintext file`, ['import it without --format']);
  }
  const format = options.format ?? plainFormatOf(path, bytes.subarray(0, 64));
  let text = tryUtf8(bytes);
  wipe(bytes);
  if (text === undefined) throw new ImportRefusedError(path, ['the file is not UTF-8 text']);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const { entries, problems } = parsePlain(text, format);
  const limit = c.header.maxValueBytes;
  const values: [string, Uint8Array][] = [];
  try {
    entries.forEach(([key, value], i) => {
      const name = prefix + key;
      const where = `entry ${i + 1}`;
      const problem = nameProblem(name);
      if (problem) problems.push(`${shown(name, where)}: invalid secret name: ${problem}`);
      if (typeof value !== 'string') {
        problems.push(`${shown(name, where)}: the value must be a string, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
        return;
      }
      // A lone surrogate ("\ud800" in JSON) has no UTF-8 form: encoding would store U+FFFD in its place.
      if (/\p{Cs}/u.test(value)) {
        problems.push(`${shown(name, where)}: the value holds a lone UTF-16 surrogate (\\uD800-\\uDFFF unpaired), which is not text; store such bytes with store set`);
        return;
      }
      const bytesOf = utf8.encode(value);
      if (bytesOf.length === 0 && !options.allowEmpty) problems.push(`${shown(name, where)}: the value is empty (allow with --allow-empty)`);
      else if (bytesOf.length > limit) problems.push(`${shown(name, where)}: the value is ${bytesOf.length} bytes; this store takes at most ${limit}`);
      values.push([name, bytesOf]);
    });
    if (problems.length > 0) throw new ImportRefusedError(path, problems);
    await stopIfInterrupted(options.signal, path);

    let report = emptyReport(path, format, dryRun, onConflict);
    let compared: AuditEntry[] = [];
    await sealingTransaction(c, dryRun, (tx) => {
      report = emptyReport(path, format, dryRun, onConflict);
      const im = new Importer(c, tx, report, dryRun);
      compared = im.compared;
      const now = c.now();
      for (const [name, value] of values) {
        const target = im.begin(name, now);
        if (target.mode === 'create') {
          im.insert(target.row, name, 1, now, null, value);
          im.finish(target.row, { currentVersion: 1, maxVersions: 0, custom: {}, updatedAt: now }, [1]);
        } else if (target.mode === 'append') {
          im.append(target.row, value);
        }
      }
    });
    if (!dryRun && report.overwritten.length > 0) c.storage.checkpoint();
    auditComparisons(c, compared);
    return report;
  } finally {
    for (const [, v] of values) wipe(v);
  }
}
