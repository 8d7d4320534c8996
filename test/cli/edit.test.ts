/**
 * `store edit NAME` with real editors: small shell scripts set as EDITOR
 * that change the file as a person would (or leave it, or fail), and record
 * what they were given and what they saw. In-process through run(argv, io),
 * except where the store must be killed or written from inside the editor
 * (the built CLI). XDG_RUNTIME_DIR points at a directory of each test's own,
 * so the scratch directory can be watched.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';
import { CLI, startCli } from './run-cli.js';
import { scratchParent } from '../../src/platform/scratch-file.js';

let dir: string;
let runtime: string;
let keep: string;
let base: string[];

/** An editor script: `body` runs with the file as $1; every run appends its arguments to args.log and the modes it saw to modes.log. */
function editor(body: string): string {
  const path = join(dir, `editor-${readdirSync(dir).length}.sh`);
  writeFileSync(path, `#!/bin/sh
for a in "$@"; do printf '%s\\n' "$a" >> "${dir}/args.log"; done
stat -c '%a' "$1" "$(dirname "$1")" >> "${dir}/modes.log"
${body}
`);
  chmodSync(path, 0o755);
  return path;
}

function store(args: string[], env: Record<string, string> = {}, input: string | Buffer = '') {
  return runInProcess([...base, ...args], { input, env: { XDG_RUNTIME_DIR: runtime, VISUAL: '', ...env } });
}

async function ok(args: string[], env: Record<string, string> = {}, input: string | Buffer = '') {
  const r = await store(args, env, input);
  expect(r.status, r.err).toBe(0);
  return r;
}

const value = async (name: string) => (await ok(['get', name])).out;
const versions = async (name: string) => (JSON.parse((await ok(['history', name, '--json'])).out) as { versions: unknown[] }).versions.length;
const args = () => readFileSync(join(dir, 'args.log'), 'utf8').split('\n').filter(Boolean);

beforeEach(async () => {
  dir = tempDir();
  runtime = join(dir, 'runtime');
  keep = join(dir, 'keep');
  mkdirSync(runtime, { mode: 0o700 });
  mkdirSync(keep);
  base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
  await ok(['init', '--master', 'keyfile']);
  await ok(['set', 'app/db'], {}, 'old-value');
});

describe('store edit', () => {
  it('writes what the editor saved as a new version, dropping the newline the editor added', async () => {
    const r = await ok(['edit', 'app/db'], { EDITOR: editor(`printf 'new-value\\n' > "$1"`) });
    expect(r.out).toBe('app/db: version 2\n');
    expect(await value('app/db')).toBe('new-value');
  });

  it('gives the editor the file path only, in a 0700 directory under XDG_RUNTIME_DIR, mode 0600, and leaves nothing behind', async () => {
    await ok(['edit', 'app/db'], { EDITOR: editor(`printf 'new-value' > "$1"`) });
    const [path, ...rest] = args();
    expect(rest).toEqual([]);
    expect(path).toMatch(new RegExp(`^${runtime}/strongbox-edit\\.[^/]+/db$`));
    expect(readFileSync(join(dir, 'modes.log'), 'utf8')).toBe('600\n700\n');
    expect(readdirSync(runtime)).toEqual([]);
  });

  it('splits an editor command with arguments as a shell does ($VISUAL before $EDITOR)', async () => {
    const visual = `${editor(`printf 'v' > "$2"`)} --wait`;
    await ok(['edit', 'app/db'], { VISUAL: visual, EDITOR: editor('exit 1') });
    expect(args()).toEqual(['--wait', expect.stringMatching(/\/db$/)]);
    expect(await value('app/db')).toBe('v');
  });

  it('overwrites the file with zeros before removing it, and the editor\'s swap file too', async () => {
    // Hard links outlive the names store edit removes: they show what became of the bytes.
    const ed = editor(`printf 'edited-value' > "$1"; ln "$1" "${keep}/file"
printf 'swap holds old-value' > "$1.swp"; ln "$1.swp" "${keep}/swap"`);
    await ok(['edit', 'app/db'], { EDITOR: ed });
    expect(readFileSync(join(keep, 'file'))).toEqual(Buffer.alloc('edited-value'.length));
    expect(readFileSync(join(keep, 'swap'))).toEqual(Buffer.alloc('swap holds old-value'.length));
    expect(readdirSync(runtime)).toEqual([]);
    expect(await value('app/db')).toBe('edited-value');
  });

  it('zeroes the file as created even when the editor saved by writing a new file and renaming it over (as vim does)', async () => {
    const ed = editor(`ln "$1" "${keep}/created"; printf 'renamed-in' > "$1.new"; mv "$1.new" "$1"`);
    await ok(['edit', 'app/db'], { EDITOR: ed });
    expect(await value('app/db')).toBe('renamed-in');
    expect(readFileSync(join(keep, 'created'))).toEqual(Buffer.alloc('old-value'.length));
    expect(readdirSync(runtime)).toEqual([]);
  });

  it('writes no version when the value is unchanged, newline added or not', async () => {
    for (const body of ['true', `printf '\\n' >> "$1"`]) {
      const r = await ok(['edit', 'app/db'], { EDITOR: editor(body) });
      expect(r.err).toContain('app/db unchanged: no new version written');
      expect(r.out).toBe('');
    }
    const json = await ok(['edit', 'app/db', '--json'], { EDITOR: editor('true') });
    // The same shape as a written edit's, {name, version, createdAt, changed}: createdAt is the current version's.
    const createdAt = JSON.parse((await ok(['get', 'app/db', '--json'])).out).createdAt as string;
    expect(JSON.parse(json.out)).toEqual({ name: 'app/db', version: 1, createdAt, changed: false });
    expect(Object.keys(JSON.parse(json.out))).toEqual(['name', 'version', 'createdAt', 'changed']);
    const none = await ok(['edit', 'app/none', '--json'], { EDITOR: editor('true') });
    expect(JSON.parse(none.out)).toEqual({ name: 'app/none', version: null, createdAt: null, changed: false });
    expect(await versions('app/db')).toBe(1);
  });

  it('writes nothing when the editor exits non-zero (exit 1), and still removes the file', async () => {
    const r = await store(['edit', 'app/db'], { EDITOR: editor(`printf 'half-done' > "$1"; exit 3`) });
    expect(r.status).toBe(1);
    expect(r.err).toContain('exited with status 3');
    expect(r.err).toContain('nothing written');
    expect(await value('app/db')).toBe('old-value');
    expect(await versions('app/db')).toBe(1);
    expect(readdirSync(runtime)).toEqual([]);
  });

  it('an editor that cannot be found: exit 1, a hint, nothing written', async () => {
    const r = await store(['edit', 'app/db'], { EDITOR: join(dir, 'no-such-editor') });
    expect(r.status).toBe(1);
    expect(r.err).toContain('set VISUAL or EDITOR');
    expect(readdirSync(runtime)).toEqual([]);
  });

  it('a value that ended with a newline keeps what the editor saved; --keep-newline keeps an added one', async () => {
    await ok(['set', 'app/lines'], {}, 'line1\nline2\n');
    await ok(['edit', 'app/lines'], { EDITOR: editor(`sed -i 's/line2/line3/' "$1"`) });
    expect(await value('app/lines')).toBe('line1\nline3\n');
    await ok(['edit', 'app/db', '--keep-newline'], { EDITOR: editor(`printf 'kept\\n' > "$1"`) });
    expect(await value('app/db')).toBe('kept\n');
  });

  it('creates a secret that does not exist, starting empty; left empty, it is not created', async () => {
    const none = await ok(['edit', 'app/new'], { EDITOR: editor('test ! -s "$1"') });
    expect(none.err).toContain('app/new left empty: not created');
    expect((await store(['get', 'app/new'])).status).toBe(3);
    const r = await ok(['edit', 'app/new', '--json'], { EDITOR: editor(`test ! -s "$1" && printf 'created\\n' > "$1"`) });
    expect(JSON.parse(r.out)).toMatchObject({ name: 'app/new', version: 1, changed: true });
    expect(await value('app/new')).toBe('created');
  });

  it('--json prints exactly {name, version, createdAt, changed}: never the secret\'s custom metadata', async () => {
    await ok(['meta', 'app/db', '--set', 'owner=ops-METADATA']);
    const r = await ok(['edit', 'app/db', '--json'], { EDITOR: editor(`printf 'edited' > "$1"`) });
    const o = JSON.parse(r.out) as Record<string, unknown>;
    expect(Object.keys(o).sort()).toEqual(['changed', 'createdAt', 'name', 'version']);
    expect(o).toMatchObject({ name: 'app/db', version: 2, changed: true });
    expect(r.out).not.toContain('METADATA');
    expect(await value('app/db')).toBe('edited');
  });

  it('an emptied value is refused without --allow-empty', async () => {
    const emptying = editor(`: > "$1"`);
    expect((await store(['edit', 'app/db'], { EDITOR: emptying })).status).toBe(2);
    expect(await value('app/db')).toBe('old-value');
    await ok(['edit', 'app/db', '--allow-empty'], { EDITOR: emptying });
    expect(await value('app/db')).toBe('');
  });

  it('refuses a value that is not UTF-8 before starting the editor (exit 2)', async () => {
    await ok(['set', 'app/bin'], {}, Buffer.from([0xff, 0xfe, 0x00]));
    const r = await store(['edit', 'app/bin'], { EDITOR: editor('true') });
    expect(r.status).toBe(2);
    expect(r.err).toContain('not UTF-8 text');
    expect(existsSync(join(dir, 'args.log'))).toBe(false);
  });

  it('refuses what the editor saved when it is not UTF-8 (exit 2): nothing written, the file removed, no byte of it told', async () => {
    const r = await store(['edit', 'app/db'], { EDITOR: editor(`printf 'bad-\\377-bytes\\n' > "$1"`) });
    expect(r.status, r.err).toBe(2);
    expect(r.err).toContain('store: error: the editor saved app/db in bytes that are not UTF-8 text: nothing written');
    expect(r.err).not.toContain('bad-');
    expect(await value('app/db')).toBe('old-value');
    expect(await versions('app/db')).toBe(1);
    expect(readdirSync(runtime)).toEqual([]);
    // And the value is still one the next edit takes.
    await ok(['edit', 'app/db'], { EDITOR: editor(`printf 'fixed\\n' > "$1"`) });
    expect(await value('app/db')).toBe('fixed');
  });

  it('a BOM is text: one the editor saved (or the value had) is kept byte for byte', async () => {
    await ok(['edit', 'app/db'], { EDITOR: editor(`printf '\\357\\273\\277with-bom\\n' > "$1"`) });
    expect((await ok(['get', 'app/db'])).bytes).toEqual(Buffer.from('\ufeffwith-bom'));
    await ok(['edit', 'app/db'], { EDITOR: editor(`sed -i 's/with/still/' "$1"`) });
    expect((await ok(['get', 'app/db'])).bytes).toEqual(Buffer.from('\ufeffstill-bom'));
  });

  it('an editor command that starts with variable assignments gets them (LANG=C vim)', async () => {
    const ed = editor(`printf '%s' "$EDIT_MARK" > "$1"`);
    await ok(['edit', 'app/db'], { EDITOR: `EDIT_MARK=from-editor-var ${ed}` });
    expect(await value('app/db')).toBe('from-editor-var');
  });

  it('a deleted current version is not edited (exit 3)', async () => {
    await ok(['delete', 'app/db']);
    expect((await store(['edit', 'app/db'], { EDITOR: editor('true') })).status).toBe(3);
    expect(existsSync(join(dir, 'args.log'))).toBe(false);
  });

  it('a write by someone else while the editor runs: check-and-set conflict (exit 4), theirs kept, the edit not written', async () => {
    const theirs = `printf 'theirs' | "${process.execPath}" "${CLI}" ${base.join(' ')} set app/db >/dev/null`;
    const r = await store(['edit', 'app/db'], { EDITOR: editor(`${theirs}\nprintf 'mine' > "$1"`) });
    expect(r.status, r.err).toBe(4);
    expect(r.err).toContain('changed while it was being edited (version 1 was read, version 2 is current)');
    expect(r.err).not.toContain('mine');
    expect(await value('app/db')).toBe('theirs');
    expect(readdirSync(runtime)).toEqual([]);
  });
});

describe('store edit and signals (the built CLI)', () => {
  it('SIGTERM while the editor runs: passed on, nothing written, the file removed, exit 143', async () => {
    const started = join(dir, 'started');
    const ed = editor(`printf 'late' > "$1"; echo go > "${started}"; sleep 5; printf 'too-late' > "$1"`);
    const run = startCli([...base, 'edit', 'app/db'], { XDG_RUNTIME_DIR: runtime, EDITOR: ed, VISUAL: undefined });
    for (let i = 0; i < 200 && !existsSync(started); i++) await new Promise((r) => setTimeout(r, 25));
    expect(existsSync(started)).toBe(true);
    expect(readdirSync(runtime)).toHaveLength(1);
    run.child.kill('SIGTERM');
    const end = await run.exited;
    expect(end.status).toBe(143);
    expect(end.stderr).toContain('edit aborted by SIGTERM: nothing written');
    expect(readdirSync(runtime)).toEqual([]);
    expect(await value('app/db')).toBe('old-value');
  });
});

describe('where the scratch directory goes', () => {
  it('$XDG_RUNTIME_DIR when it is an absolute path to a directory, else /dev/shm on Linux, else the temp directory (not in memory)', () => {
    const tmp = tempDir();
    expect(scratchParent({ XDG_RUNTIME_DIR: tmp })).toEqual({ dir: tmp, inMemory: true });
    const shm = existsSync('/dev/shm') ? { dir: '/dev/shm', inMemory: true } : { dir: tmp, inMemory: false };
    for (const runtime of ['relative/dir', join(tmp, 'missing')]) {
      expect(scratchParent({ XDG_RUNTIME_DIR: runtime, TMPDIR: tmp }, 'linux')).toEqual(shm);
    }
    expect(scratchParent({ TMPDIR: tmp }, 'darwin')).toEqual({ dir: tmp, inMemory: false });
  });
});
