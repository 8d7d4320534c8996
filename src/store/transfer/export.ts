/**
 * Export (docs/design.md §4): an encrypted bundle portable to another store
 * (docs/export-format.md) — a v1 bundle under a passphrase or key file, or an
 * age bundle to age recipients. Plaintext export is plaintext.ts.
 *
 * Export reads one consistent snapshot (one read transaction) and writes the
 * bundle record by record, so memory does not grow with the store (an age
 * bundle is the exception: it is spooled in memory, see MemorySink). Values
 * never appear in an error, a report or a temp file (there is none: the
 * output file is the only file written, created 0600, never overwritten).
 */
import { armorAge, checkRecipients, encryptAge } from '../../crypto/age.js';
import { encodeHeaderLine, encodeSecretLine, encodeVersionLine } from '../../crypto/age-records.js';
import { concat, hex, wipe } from '../../crypto/bytes.js';
import { decodeBundleHeader, type BundleHeader } from '../../crypto/bundle/header.js';
import { keyFileHeader } from '../../crypto/bundle/keys.js';
import { Bundle, bytesSource } from '../../crypto/bundle/reader.js';
import { BundleWriter } from '../../crypto/bundle/writer.js';
import { randomBytes } from '../../crypto/random.js';
import { refuseUnlogged } from '../read-only.js';
import type { Store } from '../store.js';
import type { StoreContext } from '../context.js';
import type { StorageOps } from '../../storage/storage.js';
import { newBundleKey } from './bundle-key.js';
import { checkPrefix, looker, usage, type Look } from './checks.js';
import { MemorySink, withNewFile, type Sink } from './files.js';
import { auditExport, plaintextOf, selection, snapshot } from './snapshot.js';
import { MAX_AGE_BUNDLE_BYTES, type ExportOptions, type ExportReport } from './types.js';

/**
 * Write an encrypted bundle of the store's secrets to `path` (a new file,
 * mode 0600): a v1 bundle under `key`, or an age bundle to `recipients`.
 * One consistent snapshot; records written one by one.
 * @throws E_USAGE (file exists), E_IO, E_MASTER_KEY, E_INSECURE_KEYFILE, E_TAMPERED
 */
export async function writeBundleExport(c: StoreContext, path: string, options: ExportOptions): Promise<ExportReport> {
  refuseUnlogged(c, 'an export');
  const prefix = checkPrefix(options.prefix);
  const allVersions = options.allVersions ?? false;
  if (options.recipients !== undefined) {
    if (options.key !== undefined) throw usage('give an export key (a v1 bundle) or age recipients, not both');
    return exportAge(c, path, await checkRecipients(options.recipients), options.armor ?? false, prefix, allVersions, looker(options.signal, path));
  }
  if (options.key === undefined) throw usage('an export needs a key ({ passphrase }, { keyFile } or { key }) or age recipients');
  if (options.armor) throw usage('armor is for age bundles (recipients); a v1 bundle is binary');
  const { header, bundleKey } = await newBundleKey(options.key, { allVersions, createdAt: c.now() });
  try {
    return await withNewFile(path, false, (sink) => snapshot(c, sink, async (tx) => {
      const report: ExportReport = {
        path, format: 'bundle', secrets: 0, versions: 0, allVersions, skippedNotLive: [], skippedDestroyed: 0,
        keyKind: header.kind, bytes: 0,
      };
      if (header.keyId) report.keyId = hex(header.keyId);
      await writeRecords(c, tx, sink, bundleKey, header, report, prefix, looker(options.signal, path));
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
async function writeRecords(
  c: StoreContext, tx: StorageOps, sink: Pick<Sink, 'write'>, key: Uint8Array, header: BundleHeader, report: ExportReport, prefix: string,
  look: Look,
): Promise<void> {
  const { allVersions } = header;
  // First pass: counts (the header states them), and whether any version is JSON; second: the records.
  let json = false;
  for await (const s of selection(tx, prefix, allVersions)) {
    await look();
    report.skippedDestroyed += s.destroyed;
    if (s.versions.length === 0) {
      report.skippedNotLive.push(s.secret.name);
      continue;
    }
    report.secrets++;
    report.versions += s.versions.length;
    json ||= s.versions.some((v) => v.json);
  }
  // Format 0x02 only when needed: a bundle without JSON versions stays readable by programs that know only 0x01.
  const writer = new BundleWriter(key, { ...header, secrets: report.secrets, versions: report.versions, ...(json ? { contentTypes: true as const } : {}) });
  sink.write(writer.header());
  for await (const { secret: s, versions } of selection(tx, prefix, allVersions)) {
    if (versions.length === 0) continue;
    sink.write(writer.secret({
      name: s.name, currentVersion: s.currentVersion, maxVersions: s.maxVersions, createdAt: s.createdAt,
      updatedAt: s.updatedAt, custom: s.custom, versionCount: versions.length,
    }));
    for (const v of versions) {
      await look();
      const value = await plaintextOf(c, tx, s.name, v.version);
      try {
        sink.write(writer.version({ version: v.version, createdAt: v.createdAt, deletedAt: v.deletedAt, value, ...(v.json ? { json: true as const } : {}) }));
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
  c: StoreContext, path: string, recipients: string[], armor: boolean, prefix: string, allVersions: boolean, look: Look,
): Promise<ExportReport> {
  const spoolKey = randomBytes(32);
  try {
    return await withNewFile(path, false, async (sink) => {
      const report: ExportReport = {
        path, format: 'age', secrets: 0, versions: 0, allVersions, skippedNotLive: [], skippedDestroyed: 0, recipients, armored: armor, bytes: 0,
      };
      const spool = new MemorySink();
      const header = keyFileHeader(spoolKey, { allVersions, createdAt: c.now() });
      await snapshot(c, spool, async (tx) => {
        Object.assign(report, { secrets: 0, versions: 0, skippedNotLive: [], skippedDestroyed: 0 });
        await writeRecords(c, tx, spool, spoolKey, header, report, prefix, look);
      });
      const staged = new Bundle(bytesSource(spool.take()));
      try {
        const cipher = (await encryptAge(recipients, recordLines(staged, spoolKey))).getReader();
        // Every bundle written can be imported: an importer refuses a larger file, armored or not.
        const tooLarge = () => usage(`an age bundle holds at most ${MAX_AGE_BUNDLE_BYTES} bytes; this export is larger, nothing was written`, [
          'export less (--prefix), or write a v1 bundle (a passphrase or --recipient-keyfile), which has no such limit',
        ]);
        const parts: Uint8Array[] = [];
        let size = 0;
        for (;;) {
          await look();
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

/** `store.exportBundle(path, options)`, as a function of the store (the library's API before the method). */
export function exportStore(store: Store, path: string, options: ExportOptions): Promise<ExportReport> {
  return store.exportBundle(path, options);
}

/** The spooled bundle's records as JSON Lines, made one record at a time as the encrypter pulls them. */
function recordLines(staged: Bundle, key: Uint8Array): ReadableStream<Uint8Array> {
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
