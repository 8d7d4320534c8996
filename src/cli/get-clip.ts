/** `store get --clip`: the checks made before the store is opened, then the copy. */
import { tryUtf8 } from '../crypto/bytes.js';
import { StoreError } from '../errors.js';
import type { SecretVersion } from '../store/types.js';
import { clipDigest, clipSeconds, copyToClipboard, findClipboard, noClipboard, startClearer } from './clipboard.js';
import type { Context } from './context.js';
import { childEnv } from './secret-env.js';

export interface ClipPlan {
  /** Put the version's value on the clipboard and leave the clearer behind; says so on stderr (or --json on stdout). */
  copy(ctx: Context, s: SecretVersion): Promise<void>;
}

/**
 * The clipboard tool and delay, or why --clip cannot be done.
 * @throws StoreError E_USAGE: no clipboard tool, a bad delay, or --newline (it means nothing here)
 */
export function clipPlan(opts: { newline?: boolean; clipSeconds?: number; json?: boolean }, env: Record<string, string | undefined>): ClipPlan {
  if (opts.newline) throw new StoreError('E_USAGE', '--newline goes without --clip: nothing is printed');
  const seconds = clipSeconds(opts.clipSeconds, env);
  const tool = findClipboard(env);
  if (!tool) throw noClipboard(env);
  return {
    async copy(ctx, s) {
      const value = s.value.expose();
      if (tryUtf8(value) === undefined) {
        throw new StoreError('E_INVALID_VALUE', `${s.name} is not UTF-8 text, and a clipboard holds text`, [`write it to a file instead: store get ${s.name} > FILE`]);
      }
      // The tools and the clearer see the environment without the store's own variables (passphrase, PIN, key).
      const env = childEnv(ctx.io.env, []);
      const clearer = await startClearer(process.argv[1]!, { tool, digest: clipDigest(value), seconds }, env);
      try {
        await copyToClipboard(tool, value, env);
      } catch (e) {
        try {
          process.kill(clearer); // ours, started above: nothing to clear
        } catch {
          /* already gone */
        }
        throw e;
      }
      const clearsAt = new Date(Date.now() + seconds * 1000).toISOString();
      if (opts.json) await ctx.json({ name: s.name, version: s.version, createdAt: s.createdAt, clipboard: { tool: tool.name, seconds, clearsAt } });
      else await ctx.note(`copied ${s.name} (version ${s.version}) to the clipboard with ${tool.name}; cleared in ${seconds} s if it still holds the value`);
    },
  };
}
