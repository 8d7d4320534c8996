/**
 * `store edit NAME`: the current value in the user's editor, written back as
 * a new version only when it changed, and only if nobody wrote the secret
 * meanwhile (check-and-set against the version read). The value passes
 * through a private scratch file (src/platform/scratch-file.ts) that is
 * overwritten and removed whatever happens, except SIGKILL.
 */
import type { Command } from 'commander';
import { equalBytes, tryUtf8, wipe } from '../../crypto/bytes.js';
import { SecretBytes } from '../../crypto/secret.js';
import { CasMismatchError, StoreError } from '../../errors.js';
import { createScratchFile, removeScratch, scratchParent, SCRATCH_PREFIX } from '../../platform/scratch-file.js';
import { checkName } from '../../store/names.js';
import type { Store } from '../../store/store.js';
import { readFileAtMost } from '../bounded-read.js';
import { EditSignals, editorCommand, runEditor, type EditorExit } from '../editor.js';
import { EXIT } from '../exit-codes.js';
import { signalExitStatus } from '../interrupt.js';
import { writtenJson } from '../json-output.js';
import { childEnv } from '../secret-env.js';
import { stripNewline } from '../secret-input.js';
import type { Context } from '../context.js';

interface EditOptions {
  keepNewline?: boolean;
  allowEmpty?: boolean;
  json?: boolean;
}

/**
 * The current value and its version; an empty value and version 0 for a
 * secret that does not exist (edit makes it, as pass does). A deleted or
 * destroyed current version is an error (undelete it first). Should a
 * secret exist without a current version, the write's check-and-set
 * against 0 refuses it.
 */
async function current(store: Store, name: string): Promise<{ value: Uint8Array; version: number; createdAt: Date | null; json: boolean }> {
  try {
    const s = await store.get(name);
    return { value: s.value.expose(), version: s.version, createdAt: s.createdAt, json: s.json };
  } catch (e) {
    if (e instanceof StoreError && e.code === 'E_NOT_FOUND') return { value: new Uint8Array(0), version: 0, createdAt: null, json: false };
    throw e;
  }
}

/** What the editor left, or why there is nothing to take. */
type Outcome = { edited: Uint8Array } | { editor: EditorExit } | { signal: NodeJS.Signals };

/**
 * Put `value` in a scratch file, run the editor on it, read it back, and
 * remove the file. Signals are held off from before the file exists until
 * it is gone.
 */
async function editInScratch(ctx: Context, name: string, value: Uint8Array, limit: number): Promise<Outcome> {
  const env = ctx.io.env;
  const parent = scratchParent(env);
  if (!parent.inMemory) {
    await ctx.note(`warning: no memory-backed directory ($XDG_RUNTIME_DIR or /dev/shm): the value goes to a file under ${parent.dir}, overwritten and removed after, though the disk may keep a copy`);
  }
  const editor = editorCommand(env);
  const signals = new EditSignals();
  try {
    // The name's last part, so the editor shows which secret it is (names hold only [A-Za-z0-9._-] per part).
    const scratch = createScratchFile(parent.dir, name.split('/').pop()!, value);
    let outcome: Outcome | undefined;
    let failure: unknown;
    try {
      const exit = await runEditor(editor, scratch.path, childEnv(env, []), signals);
      if (signals.received) outcome = { signal: signals.received };
      else if (exit.status !== 0) outcome = { editor: exit };
      else outcome = { edited: readFileAtMost(scratch.path, limit) };
    } catch (e) {
      failure = e;
    }
    try {
      removeScratch(scratch);
    } catch (e) {
      if (outcome && 'edited' in outcome) wipe(outcome.edited);
      // A leftover plaintext outweighs whatever else went wrong; say both.
      if (failure instanceof StoreError) await ctx.note(`error: ${failure.message}`);
      throw e;
    }
    if (failure !== undefined) throw failure;
    return outcome!;
  } finally {
    signals.release();
  }
}

function endsWithNewline(b: Uint8Array): boolean {
  return b.length > 0 && b[b.length - 1] === 0x0a;
}

export function registerEdit(program: Command, ctx: Context): void {
  program
    .command('edit')
    .description('edit a secret\'s value in $VISUAL or $EDITOR (a new secret starts empty); a new version only if it changed')
    .argument('<name>', 'secret name')
    .option('--keep-newline', 'keep the newline the editor adds at the end (by default one is dropped unless the value already ended with one)')
    .option('--allow-empty', 'accept an empty value')
    .option('--json', 'print {name, version, createdAt, changed} (never the value)')
    .addHelpText('after', `
The editor is $VISUAL, else $EDITOR, else vi, run as sh -c 'exec <editor> "$@"' with
the file's path as its only argument (so "code --wait" works), with this terminal,
and with no STORE_* variable. The file is 0600 in a new 0700 directory named
${SCRATCH_PREFIX}XXXXXX under $XDG_RUNTIME_DIR, else /dev/shm (both kept in memory),
else the temp directory (with a warning). When the editor exits the file as
created (even if the editor renamed a new file over it) and every file in the
directory (swap and backup files too) are overwritten with zeros and removed,
also on errors, SIGTERM and SIGHUP (passed on to the editor). SIGINT and SIGQUIT are
left to the editor, as git does.

Nothing is written when the editor exits non-zero (vim: :cq) or by a signal (exit
1), when store is sent SIGTERM or SIGHUP (exit 128+N), or when the value is
unchanged. Editors end a file with a newline: one is dropped
unless the value already ended with one (--keep-newline keeps it). The new
version is written only if the secret's current version is still the one read
(else exit 4, and the edit is not kept). Values that are not UTF-8 text are
refused (exit 2), before the editor starts or, for what it saved, with nothing
written: store set NAME --file F writes those.`)
    .action(async (name: string, opts: EditOptions, cmd: Command) => {
      checkName(name);
      await ctx.withStore(cmd, async (store) => {
        const before = await current(store, name);
        let edited: Uint8Array | undefined;
        try {
          if (tryUtf8(before.value) === undefined) {
            throw new StoreError('E_INVALID_VALUE', `${name} is not UTF-8 text, which an editor may not keep byte for byte`, [
              `write a new value with store set ${name} --file FILE`,
            ]);
          }
          const outcome = await editInScratch(ctx, name, before.value, store.maxValueBytes);
          if ('signal' in outcome) {
            await ctx.note(`edit aborted by ${outcome.signal}: nothing written`);
            ctx.exitStatus = signalExitStatus(outcome.signal);
            return;
          }
          if ('editor' in outcome) {
            const how = outcome.editor.signal ? `was ended by ${outcome.editor.signal}` : `exited with status ${outcome.editor.status}`;
            const notFound = outcome.editor.status === 127 ? ' (not found? set VISUAL or EDITOR)' : '';
            await ctx.note(`edit aborted: the editor (${editorCommand(ctx.io.env)}) ${how}${notFound}: nothing written`);
            // 1, as git does: passing the editor's status on would collide with store's own (3: not found).
            ctx.exitStatus = EXIT.generic;
            return;
          }
          edited = outcome.edited;
          // The value went to the editor as text, and comes back as text or not at all (a BOM is text: kept as saved).
          if (tryUtf8(edited) === undefined) {
            throw new StoreError('E_INVALID_VALUE', `the editor saved ${name} in bytes that are not UTF-8 text: nothing written`, [
              `save the file as UTF-8 (vim: :set fileencoding=utf-8), or write a value of any bytes with store set ${name} --file FILE`,
            ]);
          }
          const value = opts.keepNewline || endsWithNewline(before.value) ? edited : stripNewline(edited);
          if (equalBytes(value, before.value)) {
            await ctx.note(before.version === 0 ? `${name} left empty: not created` : `${name} unchanged: no new version written`);
            // The shape of a written edit's: the current version (none for a secret left uncreated) and when it was written.
            if (opts.json) await ctx.json({ name, version: before.version || null, createdAt: before.createdAt, changed: false });
            return;
          }
          let r;
          try {
            // SecretBytes takes the view as it is; `edited` is zeroed below, after the write.
            // A JSON secret stays one: the edited text must still be a JSON object (E_INVALID_VALUE otherwise).
            r = await store.put(name, new SecretBytes(value), { cas: before.version, allowEmpty: opts.allowEmpty, json: before.json });
          } catch (e) {
            if (!(e instanceof CasMismatchError)) throw e;
            throw new StoreError('E_CAS_MISMATCH', `${name} changed while it was being edited (version ${e.expected} was read, version ${e.actual} is current): the edit was not written`, [
              `run store edit ${name} again to edit the current value`,
            ]);
          }
          // The version written, as set prints it: not the rest of the WriteResult (the secret's custom metadata).
          if (opts.json) await ctx.json({ ...writtenJson(r), changed: true });
          else await ctx.out(`${r.name}: version ${r.version}`);
        } finally {
          wipe(before.value, edited);
        }
      });
    });
}
