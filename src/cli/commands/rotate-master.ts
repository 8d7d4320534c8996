import { Option, type Command } from 'commander';
import type { MasterKind } from '../../crypto/master/master-key.js';
import { wholeNumber, type Context } from '../context.js';
import { sourceForInit } from '../master.js';
import { forgetStoreInAgent } from '../../crypto/master/agent/client.js';

interface RotateMasterOptions {
  to: MasterKind;
  tokenLabel?: string;
  keyLabel?: string;
  newKeyfile?: string;
  newPassphraseFile?: string;
  scryptLogN?: number;
  wait?: boolean;
  json?: boolean;
}

export function registerRotateMaster(program: Command, ctx: Context): void {
  program
    .command('rotate-master')
    .description('wrap the data keys under a new master key; the old one stops working')
    .addOption(new Option('--to <kind>', 'the new master key kind').choices(['passphrase', 'keyfile', 'env', 'pkcs11']).makeOptionMandatory())
    .option('--token-label <label>', 'with --to pkcs11: the token holding the new key (with the global --module and --pin-file)')
    .option('--key-label <label>', 'with --to pkcs11: the AES key (created non-extractable if absent)')
    .option('--new-keyfile <path>', 'with --to keyfile: the new key file (created 0600 if absent)')
    .option('--new-passphrase-file <path>', 'with --to passphrase: read it from a file (or env STORE_NEW_PASSPHRASE, or the prompt)')
    .option('--scrypt-log-n <n>', 'with --to passphrase: KDF cost, log2 N', wholeNumber('--scrypt-log-n'))
    .option('--wait', 'wait for another exclusive operation to finish')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nWith --to env the new key is read from STORE_NEW_MASTER_KEY (base64 of 32 bytes).')
    .action(async (opts: RotateMasterOptions, cmd: Command) => {
      // The new key is given like the old one at init, under NEW_ names, so both can be present.
      const env = ctx.io.env;
      const newIo = { ...ctx.io, env: { ...env, STORE_MASTER_KEY: env.STORE_NEW_MASTER_KEY, STORE_PASSPHRASE: env.STORE_NEW_PASSPHRASE } };
      const g = ctx.globals(cmd);
      await ctx.withStore(cmd, async (store) => {
        const next = await sourceForInit(opts.to, {
          keyfile: opts.newKeyfile, passphraseFile: opts.newPassphraseFile, scryptLogN: opts.scryptLogN,
          module: g.module, pinFile: g.pinFile, tokenLabel: opts.tokenLabel, keyLabel: opts.keyLabel,
        }, newIo);
        await store.rotateMaster(next, { wait: opts.wait ?? false });
        // An agent holding the old key would now fail every open: make it forget.
        await forgetStoreInAgent(ctx.io.env, (await store.status()).storeId, (text) => void ctx.note(`warning: ${text}`));
        if (opts.json) return ctx.report({ masterKind: opts.to });
        // True as said: a new key that is the store's own was refused (E_USAGE, master-rotation.ts). A passphrase
        // makes a new key each time (a new salt), so the same passphrase again is a rotation, and it still opens.
        const after = opts.to === 'passphrase' ? 'only the new passphrase opens this store' : 'the old key no longer opens this store';
        return ctx.out(`master key rotated to ${opts.to}${opts.newKeyfile ? ` (${opts.newKeyfile})` : ''}; ${after}`);
      });
    });
}
