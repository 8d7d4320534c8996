/**
 * `store acl`: the access policies `store serve` checks every request
 * against, in the HCL (or JSON) form Vault users write. (`store policy` is
 * something else: rotation policies.)
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { PolicyStore } from '../../serve/policy-store.js';
import type { Context } from '../context.js';

async function readText(ctx: Context, file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of ctx.io.stdin) chunks.push(Buffer.from(c as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new StoreError('E_IO', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export function registerAcl(program: Command, ctx: Context): void {
  const acl = program.command('acl').description('access policies for store serve (Vault ACL policies, HCL or JSON)');
  acl
    .command('write <name> <file>')
    .description('create or replace a policy from a file (- reads stdin)')
    .action(async (name: string, file: string, _o: unknown, cmd: Command) => {
      const text = await readText(ctx, file);
      await ctx.withStore(cmd, async (store) => {
        const policy = await new PolicyStore(store).write(name, text);
        await ctx.note(`policy ${name} written (${policy.rules.length} path rule${policy.rules.length === 1 ? '' : 's'})`);
      });
    });
  acl
    .command('read <name>')
    .description('print a policy as written')
    .option('--json', 'as JSON: name, text and parsed rules')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const policies = new PolicyStore(store);
        const text = await policies.text(name);
        if (text === undefined) {
          if (name === 'root') throw new StoreError('E_USAGE', 'the root policy is built in: it allows everything');
          throw new StoreError('E_NOT_FOUND', `no policy named ${name}`);
        }
        if (o.json) await ctx.json({ name, policy: text, rules: (await policies.load([name]))[0]!.rules });
        else await ctx.out(text.replace(/\n$/, ''));
      });
    });
  acl
    .command('list')
    .description('policy names (default and root are built in)')
    .option('--json', 'as a JSON list')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const names = await new PolicyStore(store).names();
        if (o.json) await ctx.json(names);
        else for (const n of names) await ctx.out(n);
      });
    });
  acl
    .command('delete <name>')
    .description('remove a policy (tokens naming it lose what it granted)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        await new PolicyStore(store).delete(name, { mustExist: true });
        await ctx.note(`policy ${name} deleted`);
      });
    });
}
