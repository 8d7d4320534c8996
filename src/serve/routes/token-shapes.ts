/** How a token is described to Vault clients: the `auth` block of a login or create, and the `data` of a lookup. */
import { vaultTime } from '../kv-values.js';
import type { TokenEntry } from '../auth/tokens.js';

/** Seconds left before `entry` expires at `now` (0: it never does). */
export function ttlLeft(entry: TokenEntry, now: number): number {
  return entry.expireAt === null ? 0 : Math.max(0, Math.floor((entry.expireAt - now) / 1000));
}

/** The `auth` block: `client_token` is the token the client holds from then on (node-vault adopts it). */
export function authBlock(token: string, entry: TokenEntry, now: number): Record<string, unknown> {
  const policies = [...entry.policies];
  return {
    client_token: token,
    accessor: entry.accessor,
    policies,
    token_policies: policies,
    metadata: entry.meta && Object.keys(entry.meta).length > 0 ? entry.meta : null,
    lease_duration: ttlLeft(entry, now),
    renewable: entry.renewable,
    entity_id: '',
    token_type: 'service',
    orphan: entry.orphan,
    mfa_requirement: null,
    num_uses: entry.numUses,
  };
}

/** A lookup's `data`. `id` only for the caller's own token (lookup-self, or lookup of the token sent). */
export function lookupData(token: string | undefined, entry: TokenEntry, now: number): Record<string, unknown> {
  return {
    accessor: entry.accessor,
    creation_time: Math.floor(entry.createdAt / 1000),
    creation_ttl: entry.ttl,
    display_name: entry.displayName,
    entity_id: '',
    expire_time: entry.expireAt === null ? null : vaultTime(entry.expireAt),
    explicit_max_ttl: entry.explicitMaxTtl,
    id: token ?? '',
    issue_time: vaultTime(entry.createdAt),
    meta: entry.meta && Object.keys(entry.meta).length > 0 ? entry.meta : null,
    num_uses: entry.numUses,
    orphan: entry.orphan,
    path: entry.path,
    policies: [...entry.policies],
    renewable: entry.renewable,
    ttl: ttlLeft(entry, now),
    type: 'service',
  };
}
