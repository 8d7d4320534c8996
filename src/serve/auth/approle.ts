/**
 * AppRole (Vault's auth/approle) over the store's authenticated records:
 * roles (record kind `approle-role`, id = the role's name), an index from
 * role id to name (`approle-role-id`), and secret-ids (`approle-secret-id`,
 * id = the SHA-256 of the secret-id: the secret-id itself is never stored).
 * A login with a role id and a valid secret-id makes an orphan token with
 * the role's policies and `{ role_name }` metadata, in one transaction that
 * also takes one of the secret-id's uses.
 *
 * Each role must require a secret-id (`bind_secret_id`): a role id alone is
 * no secret, and Vault's other login constraints (CIDR lists) are not served.
 */
import { StoreError, TamperedError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import type { RecordTx } from '../../store/records.js';
import { credentialHash, MAX_CREDENTIAL_LENGTH, newUuid } from './credentials.js';
import { parseDuration } from './duration.js';
import { policyNames, ROOT_POLICY } from './policy-names.js';
import type { TokenEntry, TokenStore } from './tokens.js';

export const ROLE_KIND = 'approle-role';
export const ROLE_ID_KIND = 'approle-role-id';
export const SECRET_ID_KIND = 'approle-secret-id';
export const APPROLE_LOGIN_PATH = 'auth/approle/login';

export interface AppRoleRole {
  name: string;
  roleId: string;
  /** Sorted, never `root` (an auth method makes no root token); `default` is added to the token. */
  tokenPolicies: string[];
  /** Seconds; 0: the store's default TTL. */
  tokenTtl: number;
  /** Seconds; 0: the store's maximum TTL. */
  tokenMaxTtl: number;
  /** Uses of each token; 0: unlimited. */
  tokenNumUses: number;
  /** Seconds a secret-id is valid; 0: until it is used up or the role deleted. */
  secretIdTtl: number;
  /** Logins per secret-id; 0: unlimited. */
  secretIdNumUses: number;
  bindSecretId: boolean;
}

/** A secret-id as stored: everything but the secret-id. */
interface SecretIdEntry {
  role: string;
  roleId: string;
  accessor: string;
  createdAt: number;
  expireAt: number | null;
  /** Logins left; 0: unlimited. */
  numUses: number;
  metadata: Record<string, string> | null;
}

export interface NewSecretId {
  secretId: string;
  accessor: string;
  /** Seconds; 0: no expiry. */
  ttl: number;
  numUses: number;
}

/**
 * A login with a role id or secret-id that is unknown, expired, used up or
 * of another role. A route answers it with 400 "invalid role or secret ID",
 * as Vault does (not 403). Its code makes the failed login recorded in the
 * audit log (input errors, E_USAGE, are not).
 */
export class InvalidLoginError extends StoreError {
  constructor() {
    super('E_PERMISSION_DENIED', 'invalid role or secret ID');
    this.name = 'InvalidLoginError';
  }
}

export function isInvalidLogin(e: unknown): e is InvalidLoginError {
  return e instanceof InvalidLoginError;
}

interface RecordReader {
  get(kind: string, id: string): Promise<string | undefined>;
}

const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function usage(message: string): StoreError {
  return new StoreError('E_USAGE', message);
}

/** @throws E_USAGE */
export function checkRoleName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !ROLE_NAME.test(name)) {
    throw usage('a role name is 1 to 128 letters, digits, ".", "_" and "-", starting with a letter or digit');
  }
}

function parseJson<T>(kind: string, id: string, text: string, ok: (v: T) => boolean): T {
  try {
    const v = JSON.parse(text) as T;
    if (typeof v === 'object' && v !== null && ok(v)) return v;
  } catch {
    // reported below
  }
  throw new TamperedError(`record ${kind}/${id} does not hold what a ${kind} record holds`);
}

const isCount = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

function parseRole(name: string, text: string): AppRoleRole {
  return parseJson<AppRoleRole>(ROLE_KIND, name, text, (r) => r.name === name && typeof r.roleId === 'string'
    && Array.isArray(r.tokenPolicies) && r.tokenPolicies.every((p) => typeof p === 'string') && isCount(r.tokenTtl) && isCount(r.tokenMaxTtl)
    && isCount(r.tokenNumUses) && isCount(r.secretIdTtl) && isCount(r.secretIdNumUses) && typeof r.bindSecretId === 'boolean');
}

function parseSecretId(hash: string, text: string): SecretIdEntry {
  return parseJson<SecretIdEntry>(SECRET_ID_KIND, hash, text, (s) => typeof s.role === 'string' && typeof s.roleId === 'string'
    && typeof s.accessor === 'string' && isCount(s.createdAt) && (s.expireAt === null || isCount(s.expireAt)) && isCount(s.numUses)
    && (s.metadata === null || typeof s.metadata === 'object'));
}

function count(value: unknown, field: string): number {
  const n = typeof value === 'string' && /^[0-9]+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw usage(`${field} takes a whole number from 0 up`);
  return n;
}

function flag(value: unknown, field: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw usage(`${field} takes true or false`);
}

/** Secret-id metadata: an object of text values, or that object as a JSON string (Vault's API takes both); null for none. */
function metadataOf(value: unknown): Record<string, string> | null {
  let v = value;
  if (typeof v === 'string') {
    if (v.trim() === '') return null;
    try {
      v = JSON.parse(v);
    } catch {
      throw usage('metadata takes an object of text values (or it as a JSON string)');
    }
  }
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw usage('metadata takes an object of text values');
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > 64 || entries.some(([k, x]) => k.length === 0 || k.length > 128 || typeof x !== 'string' || x.length > 1024)) {
    throw usage('metadata takes at most 64 keys of 1 to 128 characters, with text values of at most 1024');
  }
  return entries.length === 0 ? null : Object.fromEntries(entries) as Record<string, string>;
}

/** Vault's words for a login that would make a root token. */
const NO_ROOT_TOKENS = 'auth methods cannot create root tokens';

/** The role with the fields of a Vault role write applied (those absent keep their value). */
function applyFields(role: AppRoleRole, fields: Record<string, unknown>): AppRoleRole {
  const next = { ...role };
  const given = (k: string) => fields[k] !== undefined && fields[k] !== null;
  // hvac sends token_policies as "a,b"; node-vault sends the older `policies`.
  if (given('token_policies')) next.tokenPolicies = policyNames(fields.token_policies, 'token_policies');
  else if (given('policies')) next.tokenPolicies = policyNames(fields.policies, 'policies');
  // A login would hand anyone holding a secret-id a token that allows everything (Vault refuses it too).
  if (next.tokenPolicies.includes(ROOT_POLICY)) throw usage(`${NO_ROOT_TOKENS}: a role's token policies cannot hold root`);
  if (given('token_ttl')) next.tokenTtl = parseDuration(fields.token_ttl, 'token_ttl');
  if (given('token_max_ttl')) next.tokenMaxTtl = parseDuration(fields.token_max_ttl, 'token_max_ttl');
  if (given('token_num_uses')) next.tokenNumUses = count(fields.token_num_uses, 'token_num_uses');
  if (given('secret_id_ttl')) next.secretIdTtl = parseDuration(fields.secret_id_ttl, 'secret_id_ttl');
  if (given('secret_id_num_uses')) next.secretIdNumUses = count(fields.secret_id_num_uses, 'secret_id_num_uses');
  if (given('bind_secret_id')) next.bindSecretId = flag(fields.bind_secret_id, 'bind_secret_id');
  if (!next.bindSecretId) throw usage('bind_secret_id must stay true: a role id alone is no secret, and no other login constraint is supported');
  if (next.tokenMaxTtl > 0 && next.tokenTtl > next.tokenMaxTtl) throw usage('token_ttl cannot be longer than token_max_ttl');
  return next;
}

/** A role as Vault's `GET auth/approle/role/{name}` shows it (`data`). */
export function roleData(role: AppRoleRole) {
  return {
    bind_secret_id: role.bindSecretId,
    secret_id_bound_cidrs: null,
    secret_id_num_uses: role.secretIdNumUses,
    secret_id_ttl: role.secretIdTtl,
    token_bound_cidrs: [],
    token_explicit_max_ttl: 0,
    token_max_ttl: role.tokenMaxTtl,
    token_no_default_policy: false,
    token_num_uses: role.tokenNumUses,
    token_period: 0,
    token_policies: role.tokenPolicies,
    policies: role.tokenPolicies,
    token_ttl: role.tokenTtl,
    token_type: 'default',
  };
}

export class AppRole {
  readonly #outside: RecordReader;

  constructor(readonly store: Store, readonly tokens: TokenStore) {
    this.#outside = { get: (kind, id) => store.readRecord(kind, id) };
  }

  async #role(r: RecordReader, name: string): Promise<AppRoleRole | undefined> {
    const text = await r.get(ROLE_KIND, name);
    return text === undefined ? undefined : parseRole(name, text);
  }

  /** The role a role id belongs to; undefined for anything else. */
  async #roleByRoleId(r: RecordReader, roleId: unknown): Promise<AppRoleRole | undefined> {
    if (typeof roleId !== 'string' || roleId.length === 0 || roleId.length > MAX_CREDENTIAL_LENGTH || !/^[\x21-\x7e]+$/.test(roleId)) return undefined;
    const index = await r.get(ROLE_ID_KIND, roleId);
    if (index === undefined) return undefined;
    const { name } = parseJson<{ name: string }>(ROLE_ID_KIND, roleId, index, (v) => typeof v.name === 'string');
    const role = ROLE_NAME.test(name) ? await this.#role(r, name) : undefined;
    return role?.roleId === roleId ? role : undefined;
  }

  /**
   * Create the role `name`, or change the fields given of an existing one
   * (Vault's `POST auth/approle/role/{name}` body: token_policies or
   * policies, token_ttl, token_max_ttl, token_num_uses, secret_id_ttl,
   * secret_id_num_uses, bind_secret_id; other fields are ignored). A new
   * role gets a random role id.
   * @throws E_USAGE
   */
  async createOrUpdateRole(name: string, fields: Record<string, unknown> = {}): Promise<AppRoleRole> {
    checkRoleName(name);
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw usage('a role is written from an object of fields');
    return this.store.changeRecords({ action: 'approle.role.write', detail: `role ${name}` }, async (tx) => {
      const old = await this.#role(tx, name);
      const base: AppRoleRole = old ?? {
        name, roleId: newUuid(), tokenPolicies: [], tokenTtl: 0, tokenMaxTtl: 0, tokenNumUses: 0, secretIdTtl: 0, secretIdNumUses: 0, bindSecretId: true,
      };
      const role = applyFields(base, fields);
      await tx.put(ROLE_KIND, name, JSON.stringify(role));
      if (!old) await tx.put(ROLE_ID_KIND, role.roleId, JSON.stringify({ name }));
      return role;
    });
  }

  /** @throws E_USAGE */
  async readRole(name: string): Promise<AppRoleRole | undefined> {
    checkRoleName(name);
    return this.#role(this.#outside, name);
  }

  /** The names of every role, sorted. */
  async listRoles(): Promise<string[]> {
    return (await this.store.listRecords(ROLE_KIND)).map((r) => r.id);
  }

  /** The role's role id; undefined when there is no such role. @throws E_USAGE */
  async roleId(name: string): Promise<string | undefined> {
    return (await this.readRole(name))?.roleId;
  }

  /**
   * Delete the role, its role id and every secret-id of it (tokens already
   * issued live on until they expire or are revoked, as in Vault); false
   * when there was no such role (nothing is written).
   * @throws E_USAGE
   */
  async deleteRole(name: string): Promise<boolean> {
    if (!(await this.readRole(name))) return false;
    return this.store.changeRecords({ action: 'approle.role.delete', detail: `role ${name}` }, async (tx) => {
      const role = await this.#role(tx, name);
      if (!role) return false;
      await tx.delete(ROLE_KIND, name);
      await tx.delete(ROLE_ID_KIND, role.roleId);
      for (const s of await tx.list(SECRET_ID_KIND)) {
        if (parseSecretId(s.id, s.value).role === name) await tx.delete(SECRET_ID_KIND, s.id);
      }
      return true;
    });
  }

  /**
   * A new secret-id for the role, valid for its secret_id_ttl and
   * secret_id_num_uses. Returned once: the store keeps its hash. Expired
   * secret-ids of the role are removed in the same transaction.
   * @throws E_NOT_FOUND when there is no such role, E_USAGE
   */
  async generateSecretId(name: string, options: { metadata?: unknown } = {}): Promise<NewSecretId> {
    checkRoleName(name);
    const metadata = metadataOf(options.metadata);
    const secretId = newUuid();
    const accessor = newUuid();
    return this.store.changeRecords({ action: 'approle.secret-id.create', detail: `role ${name}, secret-id accessor ${accessor}` }, async (tx) => {
      const role = await this.#role(tx, name);
      if (!role) throw new StoreError('E_NOT_FOUND', `there is no role ${name}`);
      const now = this.tokens.now();
      for (const s of await tx.list(SECRET_ID_KIND)) {
        const e = parseSecretId(s.id, s.value);
        if (e.role === name && e.expireAt !== null && e.expireAt <= now) await tx.delete(SECRET_ID_KIND, s.id);
      }
      const entry: SecretIdEntry = {
        role: name, roleId: role.roleId, accessor, createdAt: now,
        expireAt: role.secretIdTtl === 0 ? null : now + role.secretIdTtl * 1000, numUses: role.secretIdNumUses, metadata,
      };
      await tx.put(SECRET_ID_KIND, credentialHash(secretId), JSON.stringify(entry));
      return { secretId, accessor, ttl: role.secretIdTtl, numUses: role.secretIdNumUses };
    });
  }

  /** The secret-id's entry while it is valid for `role`; undefined otherwise. */
  async #secretIdFor(r: RecordReader, role: AppRoleRole, secretId: unknown): Promise<{ hash: string; entry: SecretIdEntry } | undefined> {
    if (typeof secretId !== 'string' || secretId.length === 0 || secretId.length > MAX_CREDENTIAL_LENGTH) return undefined;
    const hash = credentialHash(secretId);
    const text = await r.get(SECRET_ID_KIND, hash);
    if (text === undefined) return undefined;
    const entry = parseSecretId(hash, text);
    if (entry.role !== role.name || entry.roleId !== role.roleId) return undefined;
    if (entry.expireAt !== null && entry.expireAt <= this.tokens.now()) return undefined;
    return { hash, entry };
  }

  /** Take one use of a secret-id (the last removes it). */
  async #spend(tx: RecordTx, found: { hash: string; entry: SecretIdEntry }): Promise<void> {
    const { hash, entry } = found;
    if (entry.numUses === 0) return;
    if (entry.numUses === 1) await tx.delete(SECRET_ID_KIND, hash);
    else await tx.put(SECRET_ID_KIND, hash, JSON.stringify({ ...entry, numUses: entry.numUses - 1 }));
  }

  /**
   * Log in: a new orphan token with the role's policies, TTLs and uses, and
   * metadata `{ role_name }` (plus the secret-id's metadata). Every failed
   * login is recorded in the audit log, as a failed change.
   * @throws InvalidLoginError for credentials that are not valid (a route answers 400)
   */
  async login(roleId: unknown, secretId: unknown): Promise<{ token: string; entry: TokenEntry }> {
    // Read first to draft the token (its accessor goes into the audit entry); checked again, and spent, in the transaction.
    const role = await this.#roleByRoleId(this.#outside, roleId);
    const found = role && (await this.#secretIdFor(this.#outside, role, secretId));
    if (!role || !found) {
      return this.store.changeRecords({ action: 'approle.login' }, async () => {
        throw new InvalidLoginError();
      });
    }
    const draft = this.tokens.draft(undefined, {
      policies: role.tokenPolicies,
      ttl: role.tokenTtl === 0 ? undefined : role.tokenTtl,
      numUses: role.tokenNumUses,
      orphan: true,
      meta: { ...found.entry.metadata, role_name: role.name },
    }, { path: APPROLE_LOGIN_PATH, displayName: 'approle', maxTtlSeconds: role.tokenMaxTtl });
    // Roles are refused root when written; a role record holding it anyway (written before that check, or by hand) makes none either.
    if (draft.entry.policies.includes(ROOT_POLICY)) throw usage(NO_ROOT_TOKENS);
    await this.store.changeRecords({ action: 'approle.login', detail: `role ${role.name}, accessor ${draft.entry.accessor}` }, async (tx) => {
      const now = await this.#roleByRoleId(tx, roleId);
      const still = now && JSON.stringify(now) === JSON.stringify(role) ? await this.#secretIdFor(tx, now, secretId) : undefined;
      if (!still) throw new InvalidLoginError(); // changed, used up or removed since the first read
      await this.#spend(tx, still);
      await this.tokens.issueIn(tx, draft);
    });
    return { token: draft.token, entry: draft.entry };
  }
}
