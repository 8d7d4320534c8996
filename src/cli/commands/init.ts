import { Option, type Command } from 'commander';
import { initStore } from '../../store/open.js';
import { MIN_LOG_N, MAX_LOG_N } from '../../crypto/kdf.js';
import { wholeNumber, type Context } from '../context.js';
import { defaultInitKind, sourceForInit } from '../master.js';

export function registerInit(program: Command, ctx: Context): void {
  program
    .command('init')
    .description('create a new store')
    .addOption(new Option('--master <kind>', 'where the master key comes from').choices(['passphrase', 'keyfile', 'env', 'pkcs11']))
    .option('--token-label <label>', 'with --master pkcs11: the token holding the key')
    .option('--key-label <label>', 'with --master pkcs11: the AES key (created non-extractable if absent)')
    .option('--max-versions <n>', 'versions kept per secret (0: all)', wholeNumber('--max-versions'))
    .option('--max-value-bytes <n>', 'largest value accepted (default 1 MiB)', wholeNumber('--max-value-bytes', 1))
    .option('--scrypt-log-n <n>', `passphrase KDF cost, log2 N (${MIN_LOG_N}..${MAX_LOG_N}, default 17)`, wholeNumber('--scrypt-log-n'))
    .option('--json', 'print the result as JSON')
    .action(async (opts: { maxVersions?: number; maxValueBytes?: number; scryptLogN?: number; json?: boolean }, cmd: Command) => {
      const g = ctx.globals(cmd); // --master is resolved there too: the flag, else the profile's
      const kind = g.master ?? defaultInitKind(g, ctx.io);
      const source = await sourceForInit(kind, { ...g, scryptLogN: opts.scryptLogN }, ctx.io);
      const store = await initStore(g.store, source, { maxVersions: opts.maxVersions, maxValueBytes: opts.maxValueBytes });
      try {
        const s = await store.status();
        if (opts.json) await ctx.json({ path: s.path, storeId: s.storeId, masterKind: s.masterKind });
        else await ctx.out(`created store ${s.path} (master key: ${s.masterKind}${g.keyfile && kind === 'keyfile' ? ` ${g.keyfile}` : ''})`);
      } finally {
        await store.close();
      }
    });
}
