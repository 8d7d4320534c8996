/**
 * Import of an encrypted bundle (docs/design.md §4, docs/export-format.md):
 * a v1 bundle under a passphrase or key file, or an age bundle to age
 * identities. Plaintext import is plaintext.ts.
 *
 * Import reads the bundle twice: the first pass opens and checks every record
 * and the trailer without touching the store; only then does the second pass,
 * inside ONE write transaction, re-encrypt each value under the target's
 * primary data key. Any failure in either pass writes nothing. Values never
 * appear in an error or a report.
 */
import { StoreError } from '../../errors.js';
import { ageEncodingOf, dearmorAge, decryptAge, parseIdentities } from '../../crypto/age.js';
import { MAX_LINE_BYTES, RecordsDecoder } from '../../crypto/age-records.js';
import { hex, utf8, wipe } from '../../crypto/bytes.js';
import { BUNDLE_MAGIC_PREFIX, decodeBundleHeader, type BundleHeader } from '../../crypto/bundle/header.js';
import { keyFileHeader, verifyBundleKey } from '../../crypto/bundle/keys.js';
import { Bundle, bytesSource } from '../../crypto/bundle/reader.js';
import type { SecretRecord } from '../../crypto/bundle/records.js';
import { BundleWriter } from '../../crypto/bundle/writer.js';
import { readAgeIdentities } from '../../crypto/age-identity.js';
import { randomBytes } from '../../crypto/random.js';
import { customImportProblem } from '../custom-metadata.js';
import { checkJsonObject } from '../content.js';
import { nameProblem } from '../names.js';
import type { Store } from '../store.js';
import type { StoreContext } from '../context.js';
import { bundleKeyFor } from './bundle-key.js';
import { checkPolicy, RECORDS_BETWEEN_LOOKS, shown, usage } from './checks.js';
import { MemorySink, openBundleFile, readBounded, readHead } from './files.js';
import { stopIfInterrupted, writeImport, type Importer } from './importer.js';
import { LineSplitter } from './lines.js';
import { plainFormatOf } from './plaintext.js';
import {
  ImportRefusedError, MAX_AGE_BUNDLE_BYTES,
  type AgeIdentity, type BundleImportOptions, type BundleInfo, type ConflictPolicy, type ImportFormat, type ImportReport,
} from './types.js';

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
  const file = openBundleFile(path);
  try {
    return infoOf(decodeBundleHeader(file.headerBytes));
  } finally {
    file.close();
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
export async function importBundleInto(c: StoreContext, path: string, options: BundleImportOptions): Promise<ImportReport> {
  const onConflict = checkPolicy(options.onConflict);
  const dryRun = options.dryRun ?? false;
  // Either kind of bundle may come: each takes the key it needs and ignores the other.
  if (ageEncodingOf(readHead(path, 64)) !== undefined) return importAge(c, path, options, dryRun, onConflict);
  if (options.key === undefined) {
    throw new StoreError('E_MASTER_KEY', `${path} is sealed with a passphrase or a key file: give its key`, [
      'key: { passphrase } or { keyFile } (store import --export-passphrase-file or --recipient-keyfile)',
    ]);
  }
  const file = openBundleFile(path);
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

/** `store.importBundle(path, options)`, as a function of the store (the library's API before the method). */
export function importBundle(store: Store, path: string, options: BundleImportOptions): Promise<ImportReport> {
  return store.importBundle(path, options);
}

/**
 * The two passes of every bundle import, over `file` opened with `key`: the
 * first opens and checks every record and the trailer and what the target
 * would refuse; the second writes them in one transaction.
 */
async function importRecords(
  c: StoreContext, file: Bundle, key: Uint8Array, path: string, format: 'bundle' | 'age', dryRun: boolean, onConflict: ConflictPolicy,
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
      const problem = nameProblem(rec.name) ?? customImportProblem(rec.custom) ?? versionProblem(rec.currentVersion);
      if (problem) problems.push(`${shown(rec.name)}: ${problem}`);
    } else {
      const problem = rec.value.length > limit
        ? `the value is ${rec.value.length} bytes; this store takes at most ${limit}`
        : rec.json ? jsonProblem(rec.value) : undefined;
      if (problem) problems.push(`${current!.name} version ${rec.version}: ${problem}`);
      wipe(rec.value);
    }
    if (++seen % RECORDS_BETWEEN_LOOKS === 0) await stopIfInterrupted(signal, path);
  }
  if (problems.length > 0) throw new ImportRefusedError(path, problems);
  await stopIfInterrupted(signal, path);

  // Pass 2: the same records again, now written in one transaction.
  return writeImport(c, path, format, dryRun, onConflict, async (im) => {
    let group: { rec: SecretRecord; target: Awaited<ReturnType<Importer['begin']>>; versions: number[]; appended: boolean } | undefined;
    const close = async () => {
      if (!group) return;
      const { rec, target } = group;
      if (target.mode === 'create') {
        await im.finish(target.row, { currentVersion: rec.currentVersion, maxVersions: rec.maxVersions, custom: rec.custom, updatedAt: rec.updatedAt }, group.versions);
      } else if (target.mode === 'append' && !group.appended) {
        im.noCurrentValue(rec.name);
      }
    };
    for (const rec of file.records(key)) {
      if (rec.type === 'secret') {
        await close();
        group = { rec, target: await im.begin(rec.name, rec.createdAt), versions: [], appended: false };
        continue;
      }
      try {
        const g = group!;
        if (g.target.mode === 'create') {
          await im.insert(g.target.row, g.rec.name, rec.version, rec.createdAt, rec.deletedAt, rec.value, rec.json ?? false);
          g.versions.push(rec.version);
        } else if (g.target.mode === 'append' && rec.version === g.rec.currentVersion && rec.deletedAt === null) {
          await im.append(g.target.row, rec.value, rec.json ?? false);
          g.appended = true;
        }
      } finally {
        wipe(rec.value);
      }
    }
    await close();
  });
}

/** The highest version number a store holds (its schema's limit): a secret already there could take no new version. */
const LAST_VERSION = 0xffffffff;

function versionProblem(currentVersion: number): string | undefined {
  return currentVersion >= LAST_VERSION ? `its current version ${currentVersion} leaves no room for another (the last is ${LAST_VERSION - 1})` : undefined;
}

/** Why a version marked JSON is not the text of a JSON object (as a put would refuse it), or undefined. The reason never quotes the value. */
function jsonProblem(value: Uint8Array): string | undefined {
  try {
    checkJsonObject(value);
    return undefined;
  } catch (e) {
    if (e instanceof StoreError) return `it is marked JSON, but ${e.message}`;
    throw e;
  }
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
async function spoolAge(path: string, identities: string[], spoolKey: Uint8Array): Promise<Bundle> {
  let file = readBounded(path, MAX_AGE_BUNDLE_BYTES, 'an age bundle');
  if (ageEncodingOf(file.subarray(0, 64)) === 'armored') file = await dearmorAge(file);
  const plain = await decryptAge(file, identities);
  const decoder = new RecordsDecoder();
  const spool = new MemorySink();
  let writer: BundleWriter | undefined;
  const lines = new LineSplitter(MAX_LINE_BYTES, (line) => {
    const rec = decoder.next(line);
    if (rec.type === 'header') {
      const { allVersions, createdAt, secrets, versions, contentTypes } = rec;
      writer = new BundleWriter(spoolKey, { ...keyFileHeader(spoolKey, { allVersions, createdAt }), secrets, versions, ...(contentTypes ? { contentTypes } : {}) });
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
  return new Bundle(bytesSource(spool.take()));
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
