/**
 * The `default` policy: what every token may do to itself. Vault's own also
 * covers cubbyhole, response wrapping, leases, identity lookups and the UI's
 * resultant-acl; we serve none of those, so only the token's self-service
 * endpoints remain. Nothing here reaches a secret.
 */
export const DEFAULT_POLICY_TEXT = `# Every token may look itself up (clients call this to check that they are logged in)
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

# ... renew itself (up to its maximum TTL)
path "auth/token/renew-self" {
  capabilities = ["update"]
}

# ... and revoke itself (log out)
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# ... and ask what its own policies allow on a path
path "sys/capabilities-self" {
  capabilities = ["update"]
}
`;
