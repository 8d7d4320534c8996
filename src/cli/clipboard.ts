/**
 * The system clipboard, for `store get --clip`: through the tool the desktop
 * has (wl-copy on Wayland, xclip or xsel on X11, pbcopy on macOS, clip.exe on
 * WSL), found on PATH, the value always on the tool's stdin, never in argv.
 * Copying also starts a detached clearer (`store __clip-clear`, see
 * clipboard-clear.ts) that empties the clipboard after a delay if it still
 * holds the value, as pass does.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { StoreError } from '../errors.js';
import { wholeNumber } from './context.js';

export type Env = Record<string, string | undefined>;

/** A clipboard's copy and paste commands, each an absolute program path and its arguments. */
export interface ClipboardTool {
  /** The copy program's name, for messages: wl-copy, xclip, xsel, pbcopy, clip.exe. */
  name: string;
  copy: string[];
  paste: string[];
  /** What paste adds after the text (PowerShell's Get-Clipboard ends it with CRLF), dropped before comparing. */
  pasteSuffix?: string;
  /** Variables the tools need set (pbcopy and pbpaste read the locale to know the text is UTF-8). */
  env?: Record<string, string>;
}

export const DEFAULT_CLIP_SECONDS = 45;
export const MAX_CLIP_SECONDS = 86_400;
/** A clipboard tool that takes longer than this is stuck (an X server that does not answer). */
const TOOL_TIMEOUT_MS = 10_000;

/** `cmd`'s absolute path on the PATH of `env`, as a shell would find it. */
export function which(cmd: string, env: Env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const path = join(dir, cmd);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Both programs of a tool, or undefined unless both are on PATH. */
function pair(name: string, copy: [string, ...string[]], paste: [string, ...string[]], env: Env, extra: Partial<ClipboardTool> = {}): ClipboardTool | undefined {
  const copyPath = which(copy[0], env);
  const pastePath = which(paste[0], env);
  if (!copyPath || !pastePath) return undefined;
  return { name, copy: [copyPath, ...copy.slice(1)], paste: [pastePath, ...paste.slice(1)], ...extra };
}

/**
 * The clipboard of this session, in pass's order: Wayland, then X11, then
 * macOS, then WSL. A tool counts only with its paste side, since the clearer
 * must be able to look before it clears. Undefined when there is none, as
 * over SSH or in CI.
 */
export function findClipboard(env: Env, platform: NodeJS.Platform = process.platform): ClipboardTool | undefined {
  const candidates: (() => ClipboardTool | undefined)[] = [
    () => (env.WAYLAND_DISPLAY ? pair('wl-copy', ['wl-copy'], ['wl-paste', '--no-newline'], env) : undefined),
    () => (env.DISPLAY ? pair('xclip', ['xclip', '-selection', 'clipboard', '-in'], ['xclip', '-selection', 'clipboard', '-out'], env) : undefined),
    () => (env.DISPLAY ? pair('xsel', ['xsel', '--clipboard', '--input'], ['xsel', '--clipboard', '--output'], env) : undefined),
    () => (platform === 'darwin' ? pair('pbcopy', ['pbcopy'], ['pbpaste'], env, { env: { LC_CTYPE: 'UTF-8' } }) : undefined),
    () => (env.WSL_DISTRO_NAME || env.WSL_INTEROP
      ? pair('clip.exe', ['clip.exe'], ['powershell.exe', '-NoProfile', '-NonInteractive', '-Command', 'Get-Clipboard'], env, { pasteSuffix: '\r\n' })
      : undefined),
  ];
  for (const candidate of candidates) {
    const tool = candidate();
    if (tool) return tool;
  }
  return undefined;
}

/** Why --clip cannot work here, with what to install. */
export function noClipboard(env: Env): StoreError {
  const seen = env.WAYLAND_DISPLAY ? `WAYLAND_DISPLAY is ${env.WAYLAND_DISPLAY}` : env.DISPLAY ? `DISPLAY is ${env.DISPLAY}` : 'neither WAYLAND_DISPLAY nor DISPLAY is set';
  return new StoreError('E_USAGE', `no clipboard tool found (${seen}): --clip needs wl-copy and wl-paste (Wayland), xclip or xsel (X11), pbcopy and pbpaste (macOS), or clip.exe and powershell.exe (WSL) on PATH`, [
    'install one (Debian/Ubuntu: apt install wl-clipboard, or apt install xclip); over SSH or in CI there is no clipboard: use store get NAME',
  ]);
}

/** `--clip-seconds`, else STORE_CLIP_SECONDS, else 45 (pass's default). @throws StoreError E_USAGE */
export function clipSeconds(option: number | undefined, env: Env): number {
  const check = (n: number, what: string): number => {
    if (n > MAX_CLIP_SECONDS) throw new StoreError('E_USAGE', `${what} takes 1..${MAX_CLIP_SECONDS} seconds, not ${n}`);
    return n;
  };
  if (option !== undefined) return check(option, '--clip-seconds');
  const fromEnv = env.STORE_CLIP_SECONDS;
  if (fromEnv) return check(wholeNumber('STORE_CLIP_SECONDS', 1)(fromEnv), 'STORE_CLIP_SECONDS');
  return DEFAULT_CLIP_SECONDS;
}

/** The digest the clearer compares the clipboard with: it is given this, never the value. */
export function clipDigest(value: Uint8Array): string {
  return createHash('sha256').update(value).digest('hex');
}

function toolEnv(tool: ClipboardTool, env: Env): NodeJS.ProcessEnv {
  return { ...env, ...tool.env };
}

/**
 * Run one of the tool's programs with `input` on its stdin (nothing when
 * undefined) and collect its stdout when `output` is set. Done when it
 * exits: wl-copy and xclip leave a child behind that serves the clipboard
 * and keeps the pipes open, so their end is not awaited.
 */
function runTool(argv: string[], env: NodeJS.ProcessEnv, input: Uint8Array | undefined, output: boolean): Promise<{ status: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', output ? 'pipe' : 'ignore', 'pipe'], env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    // A tool that exits without reading all of stdin makes an EPIPE here; its exit status tells.
    child.stdin!.on('error', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), TOOL_TIMEOUT_MS);
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new StoreError('E_IO', `cannot run ${argv[0]}: ${e.code ?? e.message}`));
    });
    let done = false;
    const finish = (status: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stderr!.destroy();
      resolve({ status, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8').trim() });
    };
    // The paste side's output is complete only once its stdout has ended, which may come after the exit.
    child.once('exit', (status) => {
      if (!output || child.stdout!.readableEnded) finish(status);
      else child.stdout!.once('end', () => finish(status)).once('close', () => finish(status));
    });
    if (input && input.length > 0) child.stdin!.end(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
    else child.stdin!.end();
  });
}

/** Put `value` on the clipboard. @throws StoreError E_IO when the tool fails */
export async function copyToClipboard(tool: ClipboardTool, value: Uint8Array, env: Env): Promise<void> {
  const r = await runTool(tool.copy, toolEnv(tool, env), value, false);
  if (r.status !== 0) {
    throw new StoreError('E_IO', `${tool.name} failed (${r.status === null ? 'killed' : `exit status ${r.status}`})${r.stderr ? `: ${r.stderr.split('\n')[0]}` : ''}`);
  }
}

/** What the clipboard holds, or undefined when it cannot be read. */
export async function readClipboard(tool: ClipboardTool, env: Env): Promise<Buffer | undefined> {
  const r = await runTool(tool.paste, toolEnv(tool, env), undefined, true).catch(() => undefined);
  if (!r || r.status !== 0) return undefined;
  const suffix = tool.pasteSuffix ? Buffer.from(tool.pasteSuffix) : undefined;
  if (suffix && r.stdout.subarray(-suffix.length).equals(suffix)) return r.stdout.subarray(0, -suffix.length);
  return r.stdout;
}

/** What the clearer is handed on its stdin. */
export interface ClearRequest {
  tool: ClipboardTool;
  /** clipDigest of the value copied. */
  digest: string;
  seconds: number;
}

/**
 * Start the clearer, detached in its own session (closing the terminal
 * does not end it), with `request` on its stdin. `entry` is this program's
 * script. Resolves with its pid once it runs.
 * @throws StoreError E_IO when it cannot be started
 */
export function startClearer(entry: string, request: ClearRequest, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, '__clip-clear'], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env, cwd: '/' });
    child.stdin!.on('error', () => {});
    child.once('error', (e: NodeJS.ErrnoException) => reject(new StoreError('E_IO', `cannot start the clipboard clearer: ${e.code ?? e.message}`)));
    child.once('spawn', () => {
      child.stdin!.end(JSON.stringify(request));
      child.unref();
      resolve(child.pid!);
    });
  });
}
