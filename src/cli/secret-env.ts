/**
 * Secrets as environment variables, for `store run` and `store env`: which
 * secrets, under which variable names, and the values checked as text an
 * environment can hold. (The `{{ store:name }}` templates of `store inject`
 * are in template.ts.)
 */
import { tryUtf8 } from '../crypto/bytes.js';
import { StoreError } from '../errors.js';
import { nameProblem, quotedIfSafe } from '../store/names.js';
import type { Store } from '../store/store.js';

export interface EnvSelection {
  /** Secrets under this prefix (whole segments: `a/b` is `a/b/`); the prefix is stripped from the variable name. */
  prefix?: string;
  /** `VAR=name` pairs (a full secret name), repeatable. */
  env?: string[];
  /** Only these names, relative to the prefix. */
  only?: string[];
  /** Every live secret in the store: never taken without saying so. */
  all?: boolean;
}

export interface EnvEntry {
  variable: string;
  name: string;
  value: string;
}

/** Which secret goes into which variable; `explicit` when an `--env VAR=name` asked for it. */
export interface PlannedEntry {
  variable: string;
  name: string;
  explicit?: true;
}

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The variable name for `name` under `prefix`: prefix stripped, uppercased, other chars `_`. */
export function variableFor(name: string, prefix = ''): string {
  const rest = prefix && name.startsWith(prefix) ? name.slice(prefix.length) : name;
  return rest.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/**
 * The prefix as secret names start with it: whole segments, so a '/' is
 * added when it has none (app/prod takes app/prod/db, never
 * app/production/db); '' (all names) stays ''.
 * @throws E_USAGE for what no secret name starts with: a glob (a prefix is
 * never a pattern: `store list` takes those), '=' (then not shown: it may
 * be a value), an empty or '.' segment.
 */
export function namePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === '') return '';
  const segments = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (/[*?[\]]/.test(segments)) {
    throw new StoreError('E_USAGE', `--prefix takes the start of secret names, not a pattern${quotedIfSafe(prefix)}: * ? [ ] are in no secret's name`, [
      'give the segments the names start with, as in --prefix app/prod/; store list PATTERN takes globs',
    ]);
  }
  const problem = nameProblem(segments);
  if (problem) throw new StoreError('E_USAGE', `--prefix takes the start of secret names, whole segments such as app/prod/${quotedIfSafe(prefix)}: ${problem}`);
  return `${segments}/`;
}

/** After an `--env VAR=...` that names no secret: what follows '=' is never shown, as it may be a value. */
const NAME_NOT_VALUE = "(the part after = is a secret's name, never a value; values come from the store)";

/** An `--env VAR=name` whose name is no secret's. */
function noSuchSecret(variable: string): StoreError {
  return new StoreError('E_NOT_FOUND', `--env ${variable}: no such secret ${NAME_NOT_VALUE}`, ['see the names with: store list']);
}

/**
 * Whether a secret `name` exists, looked up in the names and metadata
 * (entries(), which the store does not audit), its value not read. An
 * `--env VAR=value` typed by habit then fails before any get: a get that
 * misses is audited under the name asked for, and that name would be the
 * value. The get of a name found is audited as any read.
 */
async function exists(store: Store, name: string): Promise<boolean> {
  // Names are listed in byte order, so a name comes before every longer one that starts with it.
  for await (const s of store.entries({ pattern: name })) return s.name === name;
  return false;
}

/** Parse repeatable `--env VAR=name` values (commander collector). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parse `--only a,b`. */
export function nameList(text: string): string[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new StoreError('E_USAGE', '--only takes a comma-separated list of names');
  return names;
}

/**
 * Which secret goes into which variable, before any value is read. Secrets
 * under the prefix (all of them, or the `--only` ones) are taken unless only
 * `--env` pairs were given; an explicit `--env` for a secret replaces its
 * derived variable. Two secrets for one variable is a usage error naming both.
 */
export async function planEnv(store: Store, sel: EnvSelection): Promise<PlannedEntry[]> {
  const prefix = namePrefix(sel.prefix);
  const explicit: PlannedEntry[] = [];
  for (const pair of sel.env ?? []) {
    const eq = pair.indexOf('=');
    const variable = eq > 0 ? pair.slice(0, eq) : '';
    const name = eq > 0 ? pair.slice(eq + 1) : '';
    if (!VARIABLE.test(variable) || name === '') {
      // Never the pair itself: after its '=' may be a value (the NAME=value habit of other tools).
      const what = eq < 0 ? `it has no '='${quotedIfSafe(pair)}` : !VARIABLE.test(variable) ? 'the part before = is not a variable name' : 'nothing follows =';
      throw new StoreError('E_USAGE', `--env takes VAR=name (VAR of letters, digits and _, not starting with a digit; name a secret's name): ${what}`, [
        'the value comes from the store: the part after = names the secret holding it',
      ]);
    }
    // Not a name, or no secret's: what follows '=' may be a value (DB_PASSWORD=hunter2), so only the variable is named.
    const problem = nameProblem(name);
    if (problem) {
      throw new StoreError('E_INVALID_NAME', `--env ${variable}: not a secret's name ${NAME_NOT_VALUE}: ${problem}`, [
        'the value comes from the store: the part after = names the secret holding it',
      ]);
    }
    explicit.push({ variable, name, explicit: true });
  }
  // Scoping mistakes must not be silent: the whole store only when asked for, and never nothing.
  const scoped = sel.prefix !== undefined || sel.only !== undefined;
  if (sel.all && scoped) throw new StoreError('E_USAGE', '--all takes every secret in the store: leave out --prefix and --only, or --all');
  if (!sel.all && !scoped && explicit.length === 0) {
    throw new StoreError('E_USAGE', 'say which secrets to take: --prefix P, --only a,b, --env VAR=name, or --all for every secret in the store');
  }
  for (const { variable, name } of explicit) if (!(await exists(store, name))) throw noSuchSecret(variable);
  const derivedWanted = scoped || sel.all === true;
  let derived: string[] = [];
  if (derivedWanted) {
    if (sel.only) {
      derived = sel.only.map((n) => prefix + n);
    } else {
      // Only the live ones: a deleted current version is not an error when taking a whole prefix.
      // list() treats * ? [ as a glob: namePrefix refused them, so a prefix stays a prefix.
      derived = (await store.list({ pattern: prefix })).filter((s) => s.state === 'live').map((s) => s.name);
    }
  }
  const explicitNames = new Set(explicit.map((e) => e.name));
  const plan = [
    ...derived.filter((n) => !explicitNames.has(n)).map((name) => ({ variable: variableFor(name, prefix), name })),
    ...explicit,
  ];
  const byVariable = new Map<string, string>();
  for (const { variable, name } of plan) {
    if (variable === '') throw new StoreError('E_USAGE', `${name} gives an empty variable name`, ['map it with --env VAR=name']);
    const other = byVariable.get(variable);
    if (other !== undefined) {
      throw new StoreError('E_USAGE', `${other} and ${name} both map to the variable ${variable}; nothing was started`, [
        'map one of them to another variable with --env VAR=name, or leave one out with --only',
      ]);
    }
    byVariable.set(variable, name);
  }
  if (plan.length === 0) {
    const where = sel.all ? 'the store holds no live secret' : `no live secret is under the prefix${quotedIfSafe(prefix)}`;
    throw new StoreError('E_NOT_FOUND', `${where}: nothing to take`, ['check the prefix with: store list PREFIX']);
  }
  return plan.sort((a, b) => (a.variable < b.variable ? -1 : a.variable > b.variable ? 1 : 0));
}

/** The value as text an environment variable can hold. @throws E_INVALID_VALUE naming the secret */
export function envText(name: string, bytes: Uint8Array): string {
  const text = tryUtf8(bytes);
  if (text === undefined) throw new StoreError('E_INVALID_VALUE', `${name} is not valid UTF-8, so it cannot be an environment variable`);
  if (text.includes('\0')) throw new StoreError('E_INVALID_VALUE', `${name} holds a NUL byte, which an environment variable cannot hold`);
  return text;
}

/**
 * Our own settings and credentials: STORE_MASTER_KEY, STORE_PASSPHRASE,
 * STORE_PKCS11_PIN, STORE_KEYFILE, STORE_EXPORT_PASSPHRASE, every STORE_*
 * the CLI reads now or later. Matched without regard to case, as Windows
 * reads its environment.
 */
const OWN_VARIABLE = /^STORE_/i;

/**
 * The environment `store run` gives its command: ours without any STORE_*
 * variable (what unlocked the store is not the command's to have: the
 * command is given the secrets asked for, not the key to all of them), then
 * the secrets. A secret whose variable is a STORE_* name (--env STORE_X=name)
 * is still given: it was asked for.
 */
export function childEnv(base: Record<string, string | undefined>, entries: readonly EnvEntry[], override = true): NodeJS.ProcessEnv {
  // No prototype: a variable named __proto__ is set like any other (on {} it would set the object's prototype),
  // and toString or constructor is unset until set (on {} it would be Object.prototype's, so "already set").
  const env: NodeJS.ProcessEnv = Object.create(null) as NodeJS.ProcessEnv;
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !OWN_VARIABLE.test(k)) env[k] = v;
  // With override off (--no-override), a variable the environment already sets keeps its value, as dotenv's default.
  for (const e of entries) if (override || !Object.hasOwn(env, e.variable)) env[e.variable] = e.value;
  return env;
}

/** Plan, then read every value (current versions). Throws before returning anything on the first problem. */
export async function resolveEnv(store: Store, sel: EnvSelection): Promise<EnvEntry[]> {
  const plan = await planEnv(store, sel);
  const out: EnvEntry[] = [];
  for (const { variable, name, explicit } of plan) {
    let s;
    try {
      s = await store.get(name);
    } catch (e) {
      // Removed since planEnv found it: still not a message that shows what followed '='.
      if (explicit && e instanceof StoreError && e.code === 'E_NOT_FOUND') throw noSuchSecret(variable);
      throw e;
    }
    try {
      out.push({ variable, name, value: envText(name, s.value.expose()) });
    } finally {
      s.value.wipe();
    }
  }
  return out;
}
