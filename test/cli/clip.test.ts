/**
 * `store get --clip`. There is no display here (nor in CI), so the
 * clipboard is a stand-in: a real `xclip` script first on PATH that keeps
 * the clipboard in a file ($FAKE_CLIPBOARD) and logs its arguments. The rest
 * is real: the built CLI, the tool run with the value on its stdin, and the
 * detached clearer process, which reads the clipboard back through the same
 * script and empties it. Tool discovery is tested with real files on PATH.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyToClipboard, DEFAULT_CLIP_SECONDS, findClipboard, readClipboard } from '../../src/cli/clipboard.js';
import { tempDir } from '../helpers/tmp.js';
import { runInProcessOk } from '../helpers/in-process.js';
import { cli, workspace } from './run-cli.js';

const VALUE = 'clip-me-9f2c';

let ws: ReturnType<typeof workspace>;
let bin: string;
let clip: string;
let env: Record<string, string | undefined>;
/** Clearers started by a test and to be ended by it (ours: we started them). */
const clearers: number[] = [];

function script(dir: string, name: string, body: string): void {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

const FAKE_XCLIP = `printf '%s\\n' "$*" >> "$FAKE_CLIPBOARD.log"
case " $* " in
  *" -out "*) cat "$FAKE_CLIPBOARD" ;;
  *) cat > "$FAKE_CLIPBOARD" ;;
esac`;

const run = (args: string[], extra: Record<string, string | undefined> = {}, input?: string | Uint8Array) =>
  cli(['--store', ws.db, ...args], { env: { ...env, ...extra }, input });
const log = () => (existsSync(`${clip}.log`) ? readFileSync(`${clip}.log`, 'utf8').split('\n').filter(Boolean) : []);
const clipboard = () => readFileSync(clip, 'utf8');

async function waitFor(what: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(what()).toBe(true);
}

/** The clearer of this test: the process whose environment names this test's clipboard file. */
function clearerPid(): number | undefined {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      if (environ.includes(`FAKE_CLIPBOARD=${clip}\0`) && cmdline.includes('__clip-clear')) return Number(pid);
    } catch {
      /* gone, or not ours */
    }
  }
  return undefined;
}

beforeEach(async () => {
  ws = workspace();
  bin = join(ws.dir, 'bin');
  mkdirSync(bin);
  script(bin, 'xclip', FAKE_XCLIP);
  clip = join(ws.dir, 'clipboard');
  env = { PATH: `${bin}:${process.env.PATH}`, DISPLAY: ':99', WAYLAND_DISPLAY: undefined, FAKE_CLIPBOARD: clip, STORE_KEYFILE: ws.key };
  // The store is made in-process (faster); the commands under test run as processes.
  await runInProcessOk(['--store', ws.db, 'init', '--master', 'keyfile'], { env });
  await runInProcessOk(['--store', ws.db, 'set', 'app/token'], { env, input: VALUE });
});

afterEach(() => {
  for (const pid of clearers.splice(0)) {
    try {
      process.kill(pid);
    } catch {
      /* already done */
    }
  }
  ws.cleanup();
});

describe('store get --clip', () => {
  it('puts the value on the tool\'s stdin (never its argv), prints nothing on stdout, and clears it after the delay', async () => {
    const r = run(['get', 'app/token', '--clip', '--clip-seconds', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.out).toBe('');
    expect(r.stderr).toContain('copied app/token (version 1) to the clipboard with xclip; cleared in 1 s');
    expect(r.stderr).not.toContain(VALUE);
    expect(clipboard()).toBe(VALUE);
    await waitFor(() => clipboard() === '');
    expect(log()).toEqual(['-selection clipboard -in', '-selection clipboard -out', '-selection clipboard -in']);
  });

  it('leaves the clipboard alone when something else was copied meanwhile', async () => {
    expect(run(['get', 'app/token', '-c', '--clip-seconds', '1']).status).toBe(0);
    writeFileSync(clip, 'copied since');
    await waitFor(() => log().length >= 2); // the clearer has looked
    await new Promise((r) => setTimeout(r, 500));
    expect(clipboard()).toBe('copied since');
    expect(log()).toEqual(['-selection clipboard -in', '-selection clipboard -out']);
  });

  it('the clearer holds no value and no STORE_* variable in its argv or environment', async () => {
    expect(run(['get', 'app/token', '--clip', '--clip-seconds', '60'], { STORE_PASSPHRASE: 'not-for-children' }).status).toBe(0);
    await waitFor(() => clearerPid() !== undefined);
    const pid = clearerPid()!;
    clearers.push(pid);
    const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    expect(cmdline.split('\0').filter(Boolean).slice(-1)).toEqual(['__clip-clear']);
    for (const text of [environ, cmdline]) {
      expect(text).not.toContain(VALUE);
      expect(text).not.toMatch(/(^|\0)STORE_/);
    }
    expect(clipboard()).toBe(VALUE);
  });

  it('--json prints the metadata and the delay, never the value; STORE_CLIP_SECONDS sets the default', () => {
    const r = run(['get', 'app/token', '--clip', '--json'], { STORE_CLIP_SECONDS: '60' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.out).not.toContain(VALUE);
    const out = JSON.parse(r.out) as { name: string; version: number; clipboard: { tool: string; seconds: number; clearsAt: string } };
    expect(out).toMatchObject({ name: 'app/token', version: 1, clipboard: { tool: 'xclip', seconds: 60 } });
    expect(Date.parse(out.clipboard.clearsAt)).toBeGreaterThan(Date.now() + 50_000);
    const pid = clearerPid();
    if (pid) clearers.push(pid);
  });

  it('without a clipboard tool: exit 2 naming what to install, before the store is even opened', () => {
    const r = cli(['--store', join(ws.dir, 'no-such-store.db'), 'get', 'app/token', '--clip'], { env: { ...env, PATH: '/nonexistent', DISPLAY: undefined } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no clipboard tool found (neither WAYLAND_DISPLAY nor DISPLAY is set)');
    expect(r.stderr).toContain('apt install wl-clipboard, or apt install xclip');
    // A DISPLAY without xclip or xsel on PATH is no better.
    expect(run(['get', 'app/token', '--clip'], { PATH: '/nonexistent' }).status).toBe(2);
  });

  it('refuses a value that is not UTF-8 text, --newline with --clip, and a delay of 0 (exit 2)', () => {
    expect(run(['set', 'app/bin'], {}, new Uint8Array([0xff, 0x00, 0xfe])).status).toBe(0);
    const r = run(['get', 'app/bin', '--clip']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('not UTF-8 text');
    expect(run(['get', 'app/token', '--clip', '-n']).status).toBe(2);
    expect(run(['get', 'app/token', '--clip', '--clip-seconds', '0']).status).toBe(2);
    expect(run(['get', 'app/token', '--clip'], { STORE_CLIP_SECONDS: 'soon' }).status).toBe(2);
    expect(log()).toEqual([]);
  });

  it('get --help gives the default delay', () => {
    expect(run(['get', '--help']).out).toContain(`default ${DEFAULT_CLIP_SECONDS})`);
  });
});

describe('finding the clipboard tool', () => {
  function tools(...names: string[]): string {
    const dir = tempDir();
    for (const n of names) script(dir, n, 'exit 0');
    return dir;
  }

  it('Wayland first, then xclip, then xsel; each only with its display and its paste side', () => {
    const all = tools('wl-copy', 'wl-paste', 'xclip', 'xsel');
    expect(findClipboard({ PATH: all, WAYLAND_DISPLAY: 'wayland-0', DISPLAY: ':0' }, 'linux')).toEqual({
      name: 'wl-copy', copy: [join(all, 'wl-copy')], paste: [join(all, 'wl-paste'), '--no-newline'],
    });
    expect(findClipboard({ PATH: all, DISPLAY: ':0' }, 'linux')?.name).toBe('xclip');
    expect(findClipboard({ PATH: tools('xsel'), DISPLAY: ':0' }, 'linux')?.copy.slice(1)).toEqual(['--clipboard', '--input']);
    expect(findClipboard({ PATH: all }, 'linux')).toBeUndefined();
    expect(findClipboard({ PATH: tools('wl-copy', 'xsel'), WAYLAND_DISPLAY: 'wayland-0' }, 'linux')).toBeUndefined();
  });

  it('pbcopy on macOS (with a UTF-8 locale), clip.exe on WSL', () => {
    expect(findClipboard({ PATH: tools('pbcopy', 'pbpaste') }, 'darwin')).toMatchObject({ name: 'pbcopy', env: { LC_CTYPE: 'UTF-8' } });
    expect(findClipboard({ PATH: tools('pbcopy', 'pbpaste') }, 'linux')).toBeUndefined();
    const wsl = tools('clip.exe', 'powershell.exe');
    expect(findClipboard({ PATH: wsl, WSL_DISTRO_NAME: 'Ubuntu' }, 'linux')?.name).toBe('clip.exe');
    expect(findClipboard({ PATH: wsl }, 'linux')).toBeUndefined();
  });

  it('WSL: the CRLF PowerShell puts after the clipboard is not taken for part of it', async () => {
    const dir = tempDir();
    const file = join(dir, 'clipboard');
    script(dir, 'clip.exe', `cat > "${file}"`);
    script(dir, 'powershell.exe', `cat "${file}"; printf '\\r\\n'`);
    const wslEnv = { PATH: `${dir}:/usr/bin:/bin`, WSL_INTEROP: '/run/WSL/1_interop' };
    const tool = findClipboard(wslEnv, 'linux')!;
    await copyToClipboard(tool, new TextEncoder().encode(VALUE), wslEnv);
    expect((await readClipboard(tool, wslEnv))?.toString()).toBe(VALUE);
  });
});
