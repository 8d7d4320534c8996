/**
 * Value rotation policies. A policy lives in a secret's custom metadata under
 * reserved keys (plain metadata, not secret), written through setMetadata:
 *
 * - `strongbox.rotate-every`: milliseconds between rotations
 * - `strongbox.expires-after`: milliseconds after which the value is expired
 * - `strongbox.rotated-at`: ISO time of the last `rotateValue`
 *
 * The base time is rotated-at, or the current version's createdAt when the
 * secret was never rotated. A secret is due when now ≥ base + rotate-every,
 * expired when now ≥ base + expires-after.
 *
 * The operations here take the StoreContext; the Store's methods of the
 * same purpose (setPolicy, rotateValue, policyStatus, expiryOf, dueSecrets,
 * dueAmong) wrap them in its rules, and the functions of those names that
 * take a store call the methods.
 */
import { StoreError } from '../errors.js';
import type { SecretBytes } from '../crypto/secret.js';
import type { Store } from './store.js';
import type { StoreContext } from './context.js';
import { listSecrets } from './secrets/read.js';
import { readMetadata, updateMetadata } from './secrets/metadata.js';
import { putSecret } from './secrets/write.js';
import { policyOf, ROTATE_EVERY_KEY, EXPIRES_AFTER_KEY, ROTATED_AT_KEY, type RotationPolicy } from './policy-keys.js';
import type { PutOptions, SecretMetadata, SecretSummary, WriteResult } from './types.js';

export { EXPIRES_AFTER_KEY, policyOf, ROTATE_EVERY_KEY, ROTATED_AT_KEY, type RotationPolicy } from './policy-keys.js';

export interface DueSecret {
  name: string;
  /** When the next rotation is (was) due. */
  dueAt: Date;
  /** now − dueAt (negative when only expired: expires-after shorter than rotate-every). */
  overdueMs: number;
  /** now ≥ base + expires-after. */
  expired: boolean;
  expiresAt?: Date;
}

export interface PolicyStatus extends DueSecret {
  policy: RotationPolicy;
  /** rotated-at, or the current version's createdAt when never rotated. */
  base: Date;
  due: boolean;
}

export type Clock = Date | number;

function ms(t: Clock): number {
  return typeof t === 'number' ? t : t.getTime();
}

function checkDuration(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new StoreError('E_USAGE', `${what} must be a whole number of milliseconds above 0`);
  }
  return v;
}

/** A policy's durations, checked before the store is touched. @throws E_USAGE */
export function checkRotationPolicy(policy: RotationPolicy): RotationPolicy {
  const rotateEveryMs = checkDuration('rotateEveryMs', policy?.rotateEveryMs);
  if (policy.expiresAfterMs === undefined) return { rotateEveryMs };
  return { rotateEveryMs, expiresAfterMs: checkDuration('expiresAfterMs', policy.expiresAfterMs) };
}

/**
 * Set (replace) the rotation policy of an existing secret. Other custom
 * metadata and rotated-at are kept.
 * @throws E_NOT_FOUND, E_USAGE
 */
export async function writePolicy(c: StoreContext, name: string, policy: RotationPolicy): Promise<SecretMetadata> {
  const { rotateEveryMs, expiresAfterMs } = checkRotationPolicy(policy);
  const m = await readMetadata(c, name);
  const custom: Record<string, string> = { ...m.custom, [ROTATE_EVERY_KEY]: String(rotateEveryMs) };
  if (expiresAfterMs === undefined) delete custom[EXPIRES_AFTER_KEY];
  else custom[EXPIRES_AFTER_KEY] = String(expiresAfterMs);
  return updateMetadata(c, name, { custom });
}

/**
 * Write a new value of an existing secret and record the rotation time (the
 * new version's createdAt, from the store's clock) as rotated-at. The put
 * and the metadata change are audited each in its own transaction.
 * @throws E_NOT_FOUND and whatever put throws
 */
export async function rotateSecretValue(c: StoreContext, name: string, value: Uint8Array | string | SecretBytes, options: PutOptions): Promise<WriteResult> {
  await readMetadata(c, name); // rotation is of an existing secret: E_NOT_FOUND otherwise
  const r = await putSecret(c, name, value, options);
  const m = await readMetadata(c, name);
  await updateMetadata(c, name, { custom: { ...m.custom, [ROTATED_AT_KEY]: r.createdAt.toISOString() } });
  return r;
}

/**
 * The facts a policy needs, read straight from storage: metadata reads made
 * on behalf of another command (`store get`'s expiry check) are not audited
 * on their own. Undefined when there is no such secret.
 */
function factsOf(c: StoreContext, name: string): Promise<{ custom: Record<string, string>; currentCreatedAt: number } | undefined> {
  return c.storage.read(async (tx) => {
    const s = await tx.findSecret(name);
    if (!s) return undefined;
    const current = (await tx.listVersions(s.id)).find((v) => v.version === s.currentVersion);
    return { custom: s.custom, currentCreatedAt: current?.createdAt ?? s.createdAt };
  });
}

/** rotated-at, else the current version's createdAt. */
function baseOf(name: string, custom: Record<string, string>, currentCreatedAt: number): Date {
  const at = custom[ROTATED_AT_KEY];
  if (at === undefined) return new Date(currentCreatedAt);
  const t = Date.parse(at);
  if (!Number.isFinite(t)) throw new StoreError('E_USAGE', `${name} has a malformed ${ROTATED_AT_KEY} metadata entry`);
  return new Date(t);
}

function statusOf(name: string, policy: RotationPolicy, base: Date, now: number): PolicyStatus {
  const dueAt = new Date(base.getTime() + policy.rotateEveryMs);
  const expiresAt = policy.expiresAfterMs === undefined ? undefined : new Date(base.getTime() + policy.expiresAfterMs);
  const expired = expiresAt !== undefined && now >= expiresAt.getTime();
  return {
    name,
    policy,
    base,
    dueAt,
    overdueMs: now - dueAt.getTime(),
    due: now >= dueAt.getTime() || expired,
    expired,
    ...(expiresAt ? { expiresAt } : {}),
  };
}

/**
 * The policy status of one secret at `now` (default: the store's clock);
 * undefined when it has no policy. A read of the secret's metadata (the
 * Store audits it as one).
 * @throws E_NOT_FOUND, E_INVALID_NAME, E_USAGE (malformed policy metadata)
 */
export async function readPolicyStatus(c: StoreContext, name: string, now?: Clock): Promise<PolicyStatus | undefined> {
  const t = now === undefined ? c.now() : ms(now);
  await readMetadata(c, name); // E_NOT_FOUND, E_INVALID_NAME
  const facts = await factsOf(c, name);
  const policy = facts && policyOf(facts.custom, name);
  if (!facts || !policy) return undefined;
  return statusOf(name, policy, baseOf(name, facts.custom, facts.currentCreatedAt), t);
}

/**
 * When the current value of `name` expires; undefined when its policy sets
 * no expires-after, it has no policy, or there is no such secret (the check
 * `store get` makes before reading; the read itself then fails).
 * @throws E_USAGE on malformed policy metadata
 */
export async function readExpiry(c: StoreContext, name: string): Promise<Date | undefined> {
  const facts = await factsOf(c, name);
  const policy = facts && policyOf(facts.custom, name);
  if (!facts || policy?.expiresAfterMs === undefined) return undefined;
  return new Date(baseOf(name, facts.custom, facts.currentCreatedAt).getTime() + policy.expiresAfterMs);
}

/**
 * Secrets with a policy whose rotation is due (or whose value has expired)
 * at `now` (default: the store's clock), most overdue first. Secrets whose
 * current version is deleted or destroyed are left out. A listing of every
 * secret (the Store audits it as one).
 */
export async function findDueSecrets(context: () => StoreContext, now?: Clock): Promise<DueSecret[]> {
  const secrets = await listSecrets(context, {});
  return findDue(context(), secrets, now);
}

/**
 * findDueSecrets over the given secrets: store-wide reports run often by cron
 * (stats, doctor) pass the unaudited listing (`store.entries()`).
 */
export async function findDue(c: StoreContext, secrets: Iterable<SecretSummary> | AsyncIterable<SecretSummary>, now?: Clock): Promise<DueSecret[]> {
  const t = now === undefined ? c.now() : ms(now);
  const out: DueSecret[] = [];
  for await (const s of secrets) {
    if (s.state !== 'live') continue;
    const policy = policyOf(s.custom, s.name);
    if (!policy) continue;
    const facts = await factsOf(c, s.name);
    if (!facts) continue; // purged meanwhile
    const st = statusOf(s.name, policy, baseOf(s.name, facts.custom, facts.currentCreatedAt), t);
    if (!st.due) continue;
    out.push({ name: st.name, dueAt: st.dueAt, overdueMs: st.overdueMs, expired: st.expired, ...(st.expiresAt ? { expiresAt: st.expiresAt } : {}) });
  }
  return out.sort((a, b) => b.overdueMs - a.overdueMs || (a.name < b.name ? -1 : 1));
}

/** `store.policyStatus(name, now)`, as a function of the store (the library's API before the method). */
export function policyStatus(store: Store, name: string, now?: Clock): Promise<PolicyStatus | undefined> {
  return store.policyStatus(name, now);
}

/** `store.expiryOf(name)`, as a function of the store (the library's API before the method). */
export function expiryOf(store: Store, name: string): Promise<Date | undefined> {
  return store.expiryOf(name);
}

/** `store.dueSecrets(now)`, as a function of the store (the library's API before the method). */
export function dueSecrets(store: Store, now?: Clock): Promise<DueSecret[]> {
  return store.dueSecrets(now);
}

/** `store.dueAmong(secrets, now)`, as a function of the store (the library's API before the method). */
export function dueAmong(store: Store, secrets: Iterable<SecretSummary> | AsyncIterable<SecretSummary>, now?: Clock): Promise<DueSecret[]> {
  return store.dueAmong(secrets, now);
}

/** `store.setPolicy(name, policy)`, as a function of the store (the library's API before the method). */
export function setPolicy(store: Store, name: string, policy: RotationPolicy): Promise<SecretMetadata> {
  return store.setPolicy(name, policy);
}

/** `store.rotateValue(name, value, options)`, as a function of the store (the library's API before the method). */
export function rotateValue(store: Store, name: string, value: Uint8Array | string | SecretBytes, options: PutOptions = {}): Promise<WriteResult> {
  return store.rotateValue(name, value, options);
}
