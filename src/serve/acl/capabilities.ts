/**
 * The capabilities a Vault path rule can grant, as names and as bits. The bit
 * form is what the matcher merges and tests on every request.
 */

export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';

/** Every capability in the order a policy is rendered and compared (deny last: it stands alone). */
export const CAPABILITIES: readonly Capability[] = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny'];

export const DENY_BIT = 1;
export const CAPABILITY_BITS: Readonly<Record<Capability, number>> = {
  deny: DENY_BIT,
  create: 1 << 1,
  read: 1 << 2,
  update: 1 << 3,
  delete: 1 << 4,
  list: 1 << 5,
  sudo: 1 << 6,
  patch: 1 << 7,
};

/**
 * The order Vault's sys/capabilities answers in (sudo first, then the verbs
 * as its ACL lists them), so that an answer built from `Acl.capabilities`
 * reads like Vault's.
 */
export const REPORT_ORDER: readonly Capability[] = ['sudo', 'read', 'list', 'update', 'delete', 'create', 'patch'];

/** The pre-capabilities `policy = "…"` shorthand, as Vault expands it (write never included patch). */
export const LEGACY_POLICIES: Readonly<Record<string, readonly Capability[]>> = {
  deny: ['deny'],
  read: ['read', 'list'],
  write: ['create', 'read', 'update', 'delete', 'list'],
  sudo: ['create', 'read', 'update', 'delete', 'list', 'sudo'],
};

export function isCapability(text: string): text is Capability {
  return Object.prototype.hasOwnProperty.call(CAPABILITY_BITS, text);
}

/** A rule's capabilities as bits: deny, when present, stands alone and cancels the rest. */
export function bitsOf(capabilities: readonly string[]): number {
  let bits = 0;
  for (const c of capabilities) {
    if (c === 'deny') return DENY_BIT;
    if (isCapability(c)) bits |= CAPABILITY_BITS[c];
  }
  return bits;
}

/** Capabilities in canonical order, deduplicated; deny alone when present. */
export function normalizeCapabilities(capabilities: readonly Capability[]): Capability[] {
  if (capabilities.includes('deny')) return ['deny'];
  return CAPABILITIES.filter((c) => c !== 'deny' && capabilities.includes(c));
}
