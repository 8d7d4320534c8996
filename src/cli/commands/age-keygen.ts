/**
 * age-keygen: an age identity for receiving age bundles, for someone who
 * does not have age installed (age's own age-keygen makes the same file).
 */
import type { Command } from 'commander';
import { ageRecipientsOfFile, createAgeIdentityFile } from '../../crypto/age-identity.js';
import type { Context } from '../context.js';

interface KeygenCliOptions {
  public?: boolean;
  json?: boolean;
}

export function registerAgeKeygen(program: Command, ctx: Context): void {
  program
    .command('age-keygen')
    .description('make an age identity file (mode 0600) and print its public key, the age1… recipient others export to')
    .argument('<file>', 'the identity file to create (never overwritten); with -y, the one to read')
    .option('-y, --public', 'print the public key(s) of an existing identity file instead')
    .option('--json', 'print {"path", "recipients"} as JSON')
    .addHelpText('after', `
The file is the one age-keygen writes: give its public key to whoever runs
store export --recipient age1…, and open what they send with
store import BUNDLE --identity FILE (or age -d -i FILE BUNDLE).`)
    .action(async (file: string, opts: KeygenCliOptions) => {
      const recipients = opts.public ? await ageRecipientsOfFile(file) : [await createAgeIdentityFile(file)];
      if (opts.json) return ctx.json({ path: file, recipients });
      await ctx.out(recipients.join('\n'));
      if (!opts.public) await ctx.note(`created age identity file ${file} (mode 0600): keep it private; give the public key above to whoever exports for you`);
    });
}
