/** export, import: encrypted bundles between stores (v1, or age to recipients); plaintext JSON / .env only when asked. */
import { existsSync, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { StoreError } from '../../errors.js';
import { BUNDLE_SCRYPT_LIMITS, DEFAULT_SCRYPT, MAX_BUNDLE_LOG_N, MIN_LOG_N, checkScryptParams } from '../../crypto/kdf.js';
import { readAgeRecipientsFile } from '../../crypto/age-identity.js';
import { createKeyFile } from '../../crypto/master/keyfile.js';
import { detectImportFormat } from '../../store/transfer/import.js';
import type { AgeIdentity, BundleKey, ConflictPolicy, ExportReport, ImportReport, PlainFormat } from '../../store/transfer/types.js';
import { wholeNumber, type Context } from '../context.js';
import { interruptible, stopOnSignals } from '../interrupt.js';
import { write, type Io } from '../io.js';
import { promptsForbidden, readSecretInput } from '../secret-input.js';

interface KeyOptions {
  recipientKeyfile?: string;
  exportPassphraseFile?: string;
}

interface ExportCliOptions extends KeyOptions {
  recipient: string[];
  recipientsFile: string[];
  armor?: boolean;
  prefix?: string;
  allVersions?: boolean;
  scryptLogN?: number;
  plaintext?: boolean;
  format?: PlainFormat;
  json?: boolean;
}

interface ImportCliOptions extends KeyOptions {
  identity: string[];
  onConflict: ConflictPolicy;
  dryRun?: boolean;
  format?: PlainFormat;
  prefix?: string;
  allowEmpty?: boolean;
  json?: boolean;
}

/** A repeatable option's values, in order. */
const collect = (value: string, previous: string[]): string[] => [...previous, value];

const PASSPHRASE_HINT = 'use --export-passphrase-file F or STORE_EXPORT_PASSPHRASE, or run on a terminal to be asked';

/** The bundle passphrase: a file, STORE_EXPORT_PASSPHRASE, or a no-echo prompt (twice when exporting). Never argv. */
function bundlePassphrase(opts: KeyOptions, io: Io, confirm: boolean): Promise<Uint8Array> {
  return readSecretInput({
    what: 'export passphrase', file: opts.exportPassphraseFile, fromEnv: io.env.STORE_EXPORT_PASSPHRASE, noPrompt: promptsForbidden(io.env),
    hints: [PASSPHRASE_HINT, 'or seal the bundle to a key file with --recipient-keyfile K'],
  }, confirm);
}

function summaryOfExport(r: ExportReport): string {
  const what = `exported ${r.secrets} secret(s) (${r.versions} version(s)) to ${r.path}`;
  if (r.format === 'age') {
    return `${what}, an age file${r.armored ? ' (armored)' : ''} for ${r.recipients!.length} recipient(s)${r.allVersions ? '' : ' (current versions only)'}`;
  }
  if (r.format !== 'bundle') return `${what} as ${r.format}`;
  return `${what}, sealed ${r.keyKind === 'keyfile' ? `to key file id ${r.keyId}` : 'with a passphrase'}${r.allVersions ? '' : ' (current versions only)'}`;
}

function summaryOfImport(r: ImportReport): string {
  const secrets = r.created.length + r.overwritten.length + r.appended.length;
  const head = r.dryRun ? `dry run, nothing written: would import ${secrets} secret(s) (${r.versions} version(s)) from ${r.path}` : `imported ${secrets} secret(s) (${r.versions} version(s)) from ${r.path}`;
  const parts = [`${r.created.length} created`];
  if (r.overwritten.length) parts.push(`${r.overwritten.length} overwritten`);
  if (r.appended.length) parts.push(`${r.appended.length} given a new version`);
  if (r.onConflict === 'update') parts.push(`${r.unchanged.length} unchanged`);
  parts.push(`${r.skipped.length} skipped`);
  if (r.pruned) parts.push(`${r.pruned} old version(s) pruned by max-versions`);
  return `${head}: ${parts.join(', ')}`;
}

/** A dry run's plan: one line per name, what would be done to it (names only, never values). */
function planOfImport(r: ImportReport): string {
  // A loop, not Math.max(...): a spread of every action overflows the stack from ~126k of them.
  let width = 0;
  for (const a of r.actions) width = Math.max(width, a.action.length);
  return r.actions.map((a) => `  ${a.action.padEnd(width)}  ${a.name}\n`).join('');
}

/** A directory is a usage mistake, not an I/O failure: read(2) on one says only EISDIR. */
function refuseDirectory(file: string): void {
  let dir = false;
  try {
    dir = statSync(file).isDirectory();
  } catch {
    return; // absent or unreadable: the reader says which, naming the file
  }
  if (dir) {
    throw new StoreError('E_USAGE', `${file} is a directory: import takes one file (a bundle from store export, a JSON object or a .env file)`, [
      'name the file inside it, e.g. store import DIR/secrets.bundle',
    ]);
  }
}

export function registerExport(program: Command, ctx: Context): void {
  program
    .command('export')
    .description('write secrets to an encrypted bundle another store can import (or, with --plaintext, to JSON or .env)')
    .argument('<file>', 'the file to create (never overwritten; mode 0600)')
    .option('--prefix <prefix>', 'only secrets whose names start with this (--plaintext: written with it taken off, as import --prefix adds it)')
    .option('--all-versions', 'every version that is not destroyed, with its state (default: each current live version)')
    .option('--recipient <age1…>', 'write an age bundle this age public key can open (repeat for several people; age -d opens it too)', collect, [])
    .option('--recipients-file <path>', 'age recipients, one per line, # comments (as age -R); repeatable', collect, [])
    .option('--armor', 'with --recipient: an ASCII-armored age file (as age -a)')
    .option('--recipient-keyfile <path>', 'seal to a 32-byte key file (base64, mode 0600; created if absent) instead of a passphrase')
    .option('--export-passphrase-file <path>', 'read the bundle passphrase from a file (or env STORE_EXPORT_PASSPHRASE, or the prompt)')
    .option('--scrypt-log-n <n>', `bundle passphrase KDF cost, log2 N (${MIN_LOG_N}..${MAX_BUNDLE_LOG_N}, default 17: an importer refuses more than 256 MiB)`, wholeNumber('--scrypt-log-n'))
    .option('--plaintext', 'write values in clear text (needs --format; warns)')
    .addOption(new Option('--format <format>', 'with --plaintext: json ({"name": "value"}) or env (NAME="value")').choices(['json', 'env']))
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `
The global --passphrase-file is the store's own passphrase; the bundle's is --export-passphrase-file.
With --recipient or --recipients-file the bundle is an age file: each recipient's identity opens it
alone (store import --identity KEY, or age -d -i KEY, which prints its records as JSON Lines).
A plaintext export takes each current live value; JSON needs UTF-8 values, .env also names without '/'.
The file is written under a temp name beside FILE (.NAME.export-….tmp, mode 0600) and takes its
name once whole. Ctrl-C, SIGTERM or SIGHUP stops the export between records and removes that
file: exit 130 (Ctrl-C), 143 (SIGTERM) or 129 (SIGHUP). One that comes after the last look
between records is too late: the export finishes, and says so.`)
    .action(async (file: string, opts: ExportCliOptions, cmd: Command) => {
      const toAge = opts.recipient.length > 0 || opts.recipientsFile.length > 0;
      if (opts.plaintext) {
        if (!opts.format) throw new StoreError('E_USAGE', '--plaintext needs --format json or --format env');
        if (opts.allVersions || opts.recipientKeyfile || opts.exportPassphraseFile || opts.scryptLogN !== undefined || toAge || opts.armor) {
          throw new StoreError('E_USAGE', '--plaintext takes only --format and --prefix (no --all-versions and no key options)');
        }
      } else if (opts.format) {
        throw new StoreError('E_USAGE', '--format is for --plaintext exports; an encrypted bundle has one format');
      }
      if (toAge && (opts.recipientKeyfile || opts.exportPassphraseFile || opts.scryptLogN !== undefined)) {
        throw new StoreError('E_USAGE', 'an age bundle (--recipient, --recipients-file) takes no passphrase or key file options');
      }
      if (opts.armor && !toAge) throw new StoreError('E_USAGE', '--armor is for age bundles: give --recipient or --recipients-file');
      if (opts.recipientKeyfile && opts.exportPassphraseFile) {
        throw new StoreError('E_USAGE', 'give --recipient-keyfile or --export-passphrase-file, not both');
      }
      if (existsSync(file)) throw new StoreError('E_USAGE', `${file} already exists; export never overwrites a file`, ['remove it, or choose another file name']);
      // Before the passphrase is asked for (twice): a cost no importer would accept fails now.
      if (opts.scryptLogN !== undefined) checkScryptParams({ ...DEFAULT_SCRYPT, logN: opts.scryptLogN }, BUNDLE_SCRYPT_LIMITS);
      // Before the store is opened: a bad recipient or file fails first.
      const recipients = [...opts.recipient, ...opts.recipientsFile.flatMap((f) => readAgeRecipientsFile(f))];
      // Ctrl-C, SIGTERM or SIGHUP stops the export between records, and its temp file goes with it (not while a
      // passphrase is asked for). Undefined: stopped by SIGTERM or SIGHUP, told, and the exit status set.
      const stoppable = (run: (signal: AbortSignal) => Promise<ExportReport>): Promise<ExportReport | undefined> =>
        stopOnSignals(ctx, 'stopping the export: nothing will be written', opts.json ?? false, run,
          (signal) => `${signal} came too late to stop the export: it finished, and ${file} was written`);
      await ctx.withStore(cmd, async (store) => {
        let report: ExportReport | undefined;
        if (toAge) {
          report = await stoppable((signal) => store.exportBundle(file, { recipients, armor: opts.armor, prefix: opts.prefix, allVersions: opts.allVersions, signal }));
        } else if (opts.plaintext) {
          report = await stoppable((signal) => store.exportPlain(file, { format: opts.format!, prefix: opts.prefix, signal }));
          if (report) await ctx.note(`warning: ${file} holds ${report.secrets} secret value(s) in plain text: protect it and delete it when done`);
        } else {
          let key: BundleKey;
          let pw: Uint8Array | undefined;
          if (opts.recipientKeyfile) {
            if (!existsSync(opts.recipientKeyfile)) {
              createKeyFile(opts.recipientKeyfile);
              await ctx.note(`created key file ${opts.recipientKeyfile} (mode 0600): the importer needs it, so pass it on by a safe channel`);
            }
            key = { keyFile: opts.recipientKeyfile };
          } else {
            pw = await bundlePassphrase(opts, ctx.io, true);
            key = { passphrase: pw, scrypt: opts.scryptLogN !== undefined ? { logN: opts.scryptLogN } : undefined };
          }
          try {
            report = await stoppable((signal) => store.exportBundle(file, { key, prefix: opts.prefix, allVersions: opts.allVersions, signal }));
          } finally {
            pw?.fill(0);
          }
        }
        if (!report) return;
        if (opts.json) return ctx.report(report);
        await ctx.out(summaryOfExport(report));
        if (report.format === 'age') await ctx.note(`each recipient opens it with: store import ${file} --identity KEYFILE (or age -d -i KEYFILE ${file})`);
        if (report.skippedNotLive.length) {
          await ctx.note(`skipped ${report.skippedNotLive.length} secret(s) whose current version is deleted or destroyed: ${report.skippedNotLive.join(', ')}`);
        }
        if (report.skippedDestroyed) await ctx.note(`left out ${report.skippedDestroyed} destroyed version(s): their values no longer exist`);
      });
    });

  program
    .command('import')
    .description('import an encrypted bundle (from store export), or a plaintext JSON / .env file')
    .argument('<file>', 'a bundle, a JSON object {"name": "value"}, or a .env file')
    .addOption(new Option('--on-conflict <policy>', 'for a name the store already holds: leave it, replace the whole secret, add the imported value as a new version, or add one only if the value changed')
      .choices(['skip', 'overwrite', 'new-version', 'update']).default('skip'))
    .option('--dry-run', 'check everything and list what would be done to each name; write nothing')
    .addOption(new Option('--format <format>', 'a plaintext file: json or env (default: by extension, else by content)').choices(['json', 'env']))
    .option('--prefix <prefix>', 'a plaintext file: prepend this to every name (e.g. app/)')
    .option('--allow-empty', 'a plaintext file: accept empty values')
    .option('--identity <path>', 'an age bundle: an age identity file (AGE-SECRET-KEY-1… lines, mode 0600); repeatable', collect, [])
    .option('--recipient-keyfile <path>', 'a bundle sealed to a key file: that key file')
    .option('--export-passphrase-file <path>', 'a bundle sealed with a passphrase: read it from a file (or env STORE_EXPORT_PASSPHRASE, or the prompt)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `
Nothing is written unless every entry can be: a damaged or altered bundle (exit 5), a wrong
passphrase, key file or age identity (exit 5), or any invalid name or value (exit 2, all listed)
writes nothing. An age bundle (binary or armored) is recognised by its first line.
For a .env file each variable name becomes the secret name as it is (after --prefix).

--on-conflict update compares each value with the name's current live value:
an equal one is left unchanged (no new version), a different one (or a deleted
current version) gets a new version, a new name is created. --dry-run prints
one line per name: create, overwrite, update, unchanged, skip or
no-current-value (values are never shown); with --json, the "actions" list.
The comparisons read current values, so they are audited as reads are
(import.compare entries, unless store config audit.reads is false); a dry run
writes no version.
Ctrl-C while the file is read and checked stops with nothing imported (exit 130); the
write that follows is one transaction, which Ctrl-C does not cut short.`)
    .action(async (file: string, opts: ImportCliOptions, cmd: Command) => {
      refuseDirectory(file);
      const format = opts.format ?? detectImportFormat(file);
      if (format === 'bundle' || format === 'age') {
        if (opts.prefix !== undefined || opts.allowEmpty) {
          throw new StoreError('E_USAGE', '--prefix and --allow-empty are for plaintext files; a bundle keeps its names and values');
        }
      } else if (opts.recipientKeyfile || opts.exportPassphraseFile || opts.identity.length > 0) {
        throw new StoreError('E_USAGE', `${file} is a plaintext ${format} file: it needs no key`);
      }
      if (format === 'age' && (opts.recipientKeyfile || opts.exportPassphraseFile)) {
        throw new StoreError('E_USAGE', `${file} is an age bundle: it opens with --identity, not a passphrase or key file`);
      }
      if (format === 'bundle' && opts.identity.length > 0) {
        throw new StoreError('E_USAGE', `${file} is a v1 bundle (sealed with a passphrase or key file): --identity is for age bundles`);
      }
      if (format === 'age' && opts.identity.length === 0) {
        throw new StoreError('E_MASTER_KEY', `${file} is an age bundle: give the age identity file whose public key it was exported to`, [
          'store import FILE --identity KEYFILE (age-keygen and store age-keygen make one)',
        ]);
      }
      await ctx.withStore(cmd, async (store) => {
        let report: ImportReport;
        const interrupt = interruptible(ctx.io, 'stopping the import before it writes (once writing, it finishes)');
        try {
          if (format === 'age') {
            const identities: AgeIdentity[] = opts.identity.map((identityFile) => ({ identityFile }));
            report = await store.importBundle(file, { onConflict: opts.onConflict, dryRun: opts.dryRun, identities, signal: interrupt.signal });
          } else if (format === 'bundle') {
            let pw: Uint8Array | undefined;
            try {
              report = await store.importBundle(file, {
                onConflict: opts.onConflict,
                dryRun: opts.dryRun,
                signal: interrupt.signal,
                key: async (info) => {
                  if (info.kind === 'keyfile' && !opts.recipientKeyfile) {
                    throw new StoreError('E_MASTER_KEY', `${file} is sealed to key file id ${info.keyId}`, ['give that key file with --recipient-keyfile K']);
                  }
                  if (opts.recipientKeyfile) return { keyFile: opts.recipientKeyfile };
                  pw = await bundlePassphrase(opts, ctx.io, false);
                  return { passphrase: pw };
                },
              });
            } finally {
              pw?.fill(0);
            }
          } else {
            report = await store.importPlain(file, {
              format, onConflict: opts.onConflict, dryRun: opts.dryRun, prefix: opts.prefix, allowEmpty: opts.allowEmpty, signal: interrupt.signal,
            });
          }
          // A Ctrl-C during the write (one synchronous transaction) reaches the handler only now, after the commit.
          if (await interrupt.settle()) {
            await ctx.note(`Ctrl-C came while the import was being written, too late to stop it: it finished, ${opts.dryRun ? 'as a dry run' : 'and everything reported here was imported'}`);
          }
        } finally {
          interrupt.dispose();
        }
        if (opts.json) return ctx.report(report);
        await ctx.out(summaryOfImport(report));
        if (report.dryRun && report.actions.length) await write(ctx.io.stdout, planOfImport(report));
        if (report.skipped.length) {
          await ctx.note(`skipped ${report.skipped.length} name(s) the store already holds (see --on-conflict): ${report.skipped.join(', ')}`);
        }
        if (report.overwritten.length) await ctx.note(`${opts.dryRun ? 'would replace' : 'replaced'}: ${report.overwritten.join(', ')}`);
        if (report.appended.length) await ctx.note(`${opts.dryRun ? 'would add a new version to' : 'added a new version to'}: ${report.appended.join(', ')}`);
        if (report.unchanged.length) await ctx.note(`unchanged, the value is already current (no new version): ${report.unchanged.join(', ')}`);
        if (report.noCurrentValue.length) {
          await ctx.note(`left untouched, the bundle holds no live current value for: ${report.noCurrentValue.join(', ')}`);
        }
      });
    });
}
