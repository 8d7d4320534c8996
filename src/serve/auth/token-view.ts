/**
 * Tokens as Vault's API shows them (field by field as hvac, node-vault and
 * the Go SDK parse them): the `auth` object of a login, a create or a
 * renewal, and the `data` of a lookup. Also the CLI's listing. Durations are
 * whole seconds, times RFC 3339 in UTC.
 */
import type { TokenEntry } from './tokens.js';

/** Seconds the token has left (rounded up: a token that is alive has at least 1); 0 for one that never expires. */
export function ttlLeft(e: TokenEntry, now: number): number {
  return e.expireAt === null ? 0 : Math.max(0, Math.ceil((e.expireAt - now) / 1000));
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Vault's `auth` object (HTTPAuth): what a login, a create and a renewal answer with. */
export function authObject(token: string, e: TokenEntry, now: number) {
  return {
    client_token: token,
    accessor: e.accessor,
    policies: e.policies,
    token_policies: e.policies,
    metadata: e.meta,
    lease_duration: ttlLeft(e, now),
    renewable: e.renewable,
    entity_id: '',
    token_type: 'service',
    orphan: e.orphan,
    mfa_requirement: null,
    num_uses: e.numUses,
  };
}

/** Vault's lookup `data` (lookup-self, lookup, lookup-accessor). `token` is omitted (id "") when looked up by accessor. */
export function lookupData(token: string | undefined, e: TokenEntry, now: number) {
  return {
    accessor: e.accessor,
    creation_time: Math.floor(e.createdAt / 1000),
    creation_ttl: e.creationTtl,
    display_name: e.displayName,
    entity_id: '',
    expire_time: iso(e.expireAt),
    explicit_max_ttl: e.explicitMaxTtl,
    id: token ?? '',
    issue_time: iso(e.createdAt),
    ...(e.lastRenewalAt !== null ? { last_renewal_time: Math.floor(e.lastRenewalAt / 1000) } : {}),
    meta: e.meta,
    num_uses: e.numUses,
    orphan: e.orphan,
    path: e.path,
    policies: e.policies,
    renewable: e.renewable,
    ttl: ttlLeft(e, now),
    type: 'service',
  };
}

/** A token in a listing (the CLI's `store token list --json`): metadata only, never the token. */
export function tokenSummary(e: TokenEntry, now: number) {
  return {
    accessor: e.accessor,
    displayName: e.displayName,
    policies: e.policies,
    createdAt: iso(e.createdAt),
    expireTime: iso(e.expireAt),
    ttl: ttlLeft(e, now),
    renewable: e.renewable,
    numUses: e.numUses,
    orphan: e.orphan,
    parent: e.parent,
    path: e.path,
    meta: e.meta,
  };
}
