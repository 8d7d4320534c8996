/**
 * The profiles file, $XDG_CONFIG_HOME/strongbox/config.json: named sets of
 * store path and master-key settings, so dev and prod stores stay apart.
 * It names where secrets are, never a secret: fields that would hold one are
 * refused, and so is a file others may edit (they could point us at their
 * store or their key), as ssh does with its config.
 */
import { closeSync, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { StoreError } from '../errors.js';
import type { MasterKind } from '../crypto/master/master-key.js';
import { modeText } from '../platform/file-mode.js';
import type { MasterOptions } from './master.js';
import { isPostgresLocator } from '../storage/locator.js';

/** What one profile may set: the store and its master-key options; the path fields are absolute once read. */
export interface Profile extends Pick<MasterOptions, 'keyfile' | 'passphraseFile' | 'module' | 'pinFile' | 'tokenLabel' | 'keyLabel'> {
  store?: string;
  /** The master key kind `store init` uses. */
  master?: MasterKind;
}

export interface ProfilesFile {
  path: string;
  default?: string;
  profiles: Record<string, Profile>;
}

type Env = Record<string, string | undefined>;

const PATH_FIELDS = ['store', 'keyfile', 'passphraseFile', 'module', 'pinFile'] as const;
const TEXT_FIELDS = ['tokenLabel', 'keyLabel'] as const;
const MASTER_KINDS: readonly MasterKind[] = ['passphrase', 'keyfile', 'env', 'pkcs11'];
const KNOWN_FIELDS = ['store', 'master', ...PATH_FIELDS.slice(1), ...TEXT_FIELDS];

/** Fields people reach for to put a secret in the file, and where the secret goes instead. */
const SECRET_FIELDS: Record<string, string> = {
  passphrase: 'passphraseFile', password: 'passphraseFile',
  pin: 'pinFile', masterKey: 'keyfile', key: 'keyfile',
};

const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Where the file is: $XDG_CONFIG_HOME (absolute, per the XDG spec), else ~/.config. */
export function profilesPath(env: Env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const config = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.config');
  return join(config, 'strongbox', 'config.json');
}

function invalid(path: string, problem: string, hints: string[] = []): StoreError {
  return new StoreError('E_USAGE', `config file ${path}: ${problem}`, hints);
}

/**
 * Read and check the profiles file; undefined when there is none.
 * @throws StoreError E_USAGE when it is unreadable, not JSON of the expected shape, holds a secret, or is writable by others
 */
export function readProfiles(env: Env): ProfilesFile | undefined {
  const path = profilesPath(env);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalid(path, `cannot read it: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    // Checked on the open file, so what is read is what was checked.
    checkOwnership(path, fstatSync(fd));
    return checkShape(path, parseJson(path, readFileSync(fd, 'utf8')), env);
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw invalid(path, `cannot read it: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  } finally {
    closeSync(fd);
  }
}

/** Refuse a file that group, others or another user could have written. */
function checkOwnership(path: string, st: Stats): void {
  if (!st.isFile()) throw invalid(path, 'not a regular file');
  if ((st.mode & 0o022) !== 0) {
    throw invalid(path, `writable by group or others (mode ${modeText(st.mode)}): whoever can edit it can point store at their store or key`, [
      `run: chmod go-w ${path}`,
    ]);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    throw invalid(path, `owned by another user (uid ${st.uid})`, ['make it yours (chown) or move it away']);
  }
}

/**
 * JSON.parse, with V8's message cut down: it quotes the text around the
 * error, and a malformed file may hold a secret someone pasted into it.
 */
function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const message = (e as Error).message;
    const what = message.startsWith('Unexpected token')
      ? 'unexpected character'
      : message.replace(/, ".*$/s, '').replace(/ in JSON.*$/s, '');
    const at = /at position (\d+)/.exec(message);
    throw invalid(path, `not valid JSON: ${what[0]!.toLowerCase()}${what.slice(1)}${at ? ` at ${lineAndColumn(text, Number(at[1]))}` : ''}`);
  }
}

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position).split('\n');
  return `line ${before.length} column ${before.at(-1)!.length + 1}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkShape(path: string, doc: unknown, env: Env): ProfilesFile {
  if (!isObject(doc)) throw invalid(path, 'expected an object with "profiles"');
  for (const key of Object.keys(doc)) {
    if (key !== 'default' && key !== 'profiles') throw invalid(path, `unknown field ${JSON.stringify(key)} (known: default, profiles)`);
  }
  const profilesDoc = doc.profiles ?? {};
  if (!isObject(profilesDoc)) throw invalid(path, '"profiles" must be an object of named profiles');
  const profiles: Record<string, Profile> = {};
  for (const [name, body] of Object.entries(profilesDoc)) {
    if (!PROFILE_NAME.test(name)) throw invalid(path, `profile name ${JSON.stringify(name)} must be letters, digits, '.', '_' or '-'`);
    profiles[name] = checkProfile(path, name, body, env);
  }
  const def = doc.default;
  if (def !== undefined && (typeof def !== 'string' || !Object.hasOwn(profiles, def))) {
    throw invalid(path, `"default" names no profile (profiles: ${Object.keys(profiles).join(', ') || 'none'})`);
  }
  return { path, default: def, profiles };
}

function checkProfile(path: string, name: string, body: unknown, env: Env): Profile {
  const where = `profile ${JSON.stringify(name)}`;
  if (!isObject(body)) throw invalid(path, `${where} must be an object`);
  const profile: Profile = {};
  for (const [field, value] of Object.entries(body)) {
    const instead = Object.hasOwn(SECRET_FIELDS, field) ? SECRET_FIELDS[field] : undefined;
    if (instead) {
      // Name the field, never its value.
      throw invalid(path, `${where} has "${field}": the config file must not hold secrets`, [
        `put it in a 0600 file and name that file with "${instead}", or use the environment`,
      ]);
    }
    if (!KNOWN_FIELDS.includes(field)) throw invalid(path, `${where} has unknown field ${JSON.stringify(field)} (known: ${KNOWN_FIELDS.join(', ')})`);
    if (typeof value !== 'string' || value === '') throw invalid(path, `${where}: "${field}" must be a non-empty string`);
    if (field === 'master') {
      if (!(MASTER_KINDS as string[]).includes(value)) throw invalid(path, `${where}: "master" must be one of ${MASTER_KINDS.join(', ')}`);
      profile.master = value as MasterKind;
    } else if ((PATH_FIELDS as readonly string[]).includes(field)) {
      profile[field as (typeof PATH_FIELDS)[number]] = expandPath(value, dirname(path), env, field === 'module');
    } else {
      profile[field as (typeof TEXT_FIELDS)[number]] = value;
    }
  }
  return profile;
}

/**
 * `~` is the home directory; a relative path is taken from the config file's
 * directory, not the working one, so a profile means one store wherever store
 * runs. A bare module name (no slash) is left for the loader's search path,
 * and a postgres:// URL as it is.
 */
function expandPath(value: string, base: string, env: Env, loaderName: boolean): string {
  if (isPostgresLocator(value)) return value; // a store in PostgreSQL: a URL, not a path
  if (value === '~' || value.startsWith('~/')) return join(env.HOME || homedir(), value.slice(1));
  if (loaderName && !value.includes('/')) return value;
  return resolve(base, value);
}
