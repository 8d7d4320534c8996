/**
 * Where the unlock agent listens: a socket in a directory only this user can
 * enter, as ssh-agent and gpg-agent do. That directory's mode is the guard:
 * Node cannot ask the kernel who is at the other end of a Unix socket, so a
 * directory that anyone else could enter, or could have made, is refused
 * rather than used.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { StoreError } from '../../../errors.js';
import { modeText } from '../../../platform/file-mode.js';

/** The environment the agent's place is read from (the CLI's Io.env, or process.env). */
export type Env = Record<string, string | undefined>;

/** An absolute path from the environment, else undefined: the XDG spec says to ignore relative ones. */
function absolute(value: string | undefined): string | undefined {
  return value && isAbsolute(value) ? value : undefined;
}

/** `$XDG_RUNTIME_DIR/strongbox`, else a per-user directory under the temp dir. */
export function agentDir(env: Env): string {
  const runtime = absolute(env.XDG_RUNTIME_DIR);
  if (runtime) return join(runtime, 'strongbox');
  return join(absolute(env.TMPDIR) ?? tmpdir(), `strongbox-${process.getuid?.() ?? 'user'}`);
}

/**
 * The longest path a Unix socket can bind or connect to, in bytes: sun_path
 * holds 108 on Linux, 104 on macOS and the BSDs, one of them the final NUL.
 * Node does not refuse a longer one: it cuts it short, and the agent would
 * bind that cut path, outside its private directory.
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

/**
 * The agent's socket: `agent.sock` in agentDir.
 * @throws E_AGENT when that path is too long for a Unix socket (a long XDG_RUNTIME_DIR or TMPDIR)
 */
export function agentSocketPath(env: Env): string {
  const path = join(agentDir(env), 'agent.sock');
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    const from = absolute(env.XDG_RUNTIME_DIR) ? 'XDG_RUNTIME_DIR' : 'TMPDIR';
    throw new StoreError('E_AGENT', `the agent socket path ${path} is ${bytes} bytes, longer than the ${MAX_SOCKET_PATH_BYTES} a Unix socket path can be`, [
      `set ${from} to a shorter directory for store unlock and the commands that use the agent`,
    ]);
  }
  return path;
}

function notPrivate(dir: string, why: string): StoreError {
  return new StoreError('E_AGENT', `the agent directory ${dir} ${why}: refusing to use it`, [
    `remove it (rm -r ${dir}) and run store unlock again`,
  ]);
}

/**
 * Is `dir` the agent's private directory? false when it does not exist;
 * throws E_AGENT when it exists but is a link, not ours, or open to others.
 */
export function checkAgentDir(dir: string): boolean {
  let st;
  try {
    st = lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new StoreError('E_AGENT', `cannot read the agent directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (!st.isDirectory()) throw notPrivate(dir, 'is not a directory');
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw notPrivate(dir, `belongs to uid ${st.uid}, not ${uid}`);
  if ((st.mode & 0o077) !== 0) throw notPrivate(dir, `has mode ${modeText(st.mode)}, not 0700`);
  return true;
}

/** Make the agent directory (0700) if it is missing, then check it. */
export function ensureAgentDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') throw new StoreError('E_AGENT', `cannot create the agent directory ${dir}: ${code ?? 'error'}`);
  }
  checkAgentDir(dir);
}
