/**
 * store token create | list | revoke: the tokens `store serve` accepts, made
 * by whoever holds the store's master key. A token is printed once, to
 * stdout, and never again: the store keeps only its SHA-256, and the audit
 * log names it by its accessor.
 */
import type { Command } from 'commander';
import { table, wholeNumber, type Context } from '../context.js';
import { parseDuration } from '../../serve/auth/duration.js';
import { TokenStore } from '../../serve/auth/tokens.js';
import { authObject, tokenSummary } from '../../serve/auth/token-view.js';

interface CreateOptions {
  policy: string[];
  ttl?: number;
  numUses?: number;
  orphan?: boolean;
  defaultPolicy: boolean;
  displayName?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];
const when = (ms: number | null) => (ms === null ? 'never' : new Date(ms).toISOString());

export function registerToken(program: Command, ctx: Context): void {
  const token = program
    .command('token')
    .description('tokens for store serve: make, list and revoke them (the store keeps only their hashes)');

  token
    .command('create')
    .description('make a token and print it once, to stdout')
    .option('--policy <name>', 'a policy it carries (repeat for more); root makes a root token', collect, [])
    .option('--ttl <duration>', 'how long it lives: seconds, or such as 1h30m or 7d (default 768h; a root token: forever)', (t) => parseDuration(t, '--ttl'))
    .option('--num-uses <n>', 'how many requests it may make (default 0: unlimited)', wholeNumber('--num-uses', 0))
    .option('--orphan', 'mark it an orphan (a token made here has no parent either way)')
    .option('--no-default-policy', 'leave out the default policy')
    .option('--display-name <name>', 'a name for listings (shown as token-<name>)')
    .option('--json', "print Vault's auth object instead (the token in client_token)")
    .addHelpText('after', `
The token goes to stdout only: keep it where it is needed (a file of mode
0600, a secret of your CI). Listings and the audit log name it by its
accessor, which revokes it: store token revoke ACCESSOR.`)
    .action(async (opts: CreateOptions, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const tokens = new TokenStore(store);
        const { token: made, entry } = await tokens.create(undefined, {
          policies: opts.policy, ttl: opts.ttl, numUses: opts.numUses, orphan: opts.orphan ?? false,
          noDefaultPolicy: !opts.defaultPolicy, displayName: opts.displayName,
        });
        if (opts.json) return ctx.json(authObject(made, entry, tokens.now()));
        await ctx.out(made);
        await ctx.note(`accessor ${entry.accessor}; policies ${entry.policies.join(',')}; expires ${when(entry.expireAt)}`);
      });
    });

  token
    .command('list')
    .description('the live tokens: accessors and metadata (never the tokens)')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const tokens = new TokenStore(store);
        const now = tokens.now();
        const list = await tokens.list();
        if (opts.json) return ctx.json(list.map((e) => tokenSummary(e, now)));
        if (list.length === 0) return ctx.note('no tokens');
        return ctx.out(table(
          ['ACCESSOR', 'NAME', 'POLICIES', 'CREATED', 'EXPIRES', 'USES', 'PATH'],
          list.map((e) => [e.accessor, e.displayName, e.policies.join(','), when(e.createdAt), when(e.expireAt),
            e.numUses === 0 ? '-' : String(e.numUses), e.path]),
        ));
      });
    });

  token
    .command('revoke')
    .description('revoke a token, and the tokens it made, by its accessor')
    .argument('<accessor>', 'the accessor (see store token list)')
    .option('--json', 'print as JSON')
    .action(async (accessor: string, opts: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const revoked = await new TokenStore(store).revokeByAccessor(accessor);
        if (opts.json) return ctx.json({ accessor, revoked });
        return ctx.out(`revoked ${revoked} token(s)`);
      });
    });
}
