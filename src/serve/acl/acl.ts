/**
 * A token's policies, compiled once for the questions asked on every request:
 * may this path have this capability, and which capabilities does it have.
 *
 * Vault's rules, which this follows (vault/acl.go):
 * - an exact pattern for the path wins outright;
 * - else, among the glob (`…*`) and `+` patterns that match, the one of
 *   highest priority decides alone (pattern.ts, comparePriority); what other
 *   matching patterns say is not consulted, even a deny;
 * - the same pattern in several rules or policies is one rule: capabilities
 *   add up, and a deny in any of them makes it deny everything;
 * - a winning rule without capabilities grants nothing; no match grants nothing;
 * - a policy named `root` allows everything;
 * - a LIST request's path ends in '/' (Vault's HTTP layer adds one), and a
 *   list check also tries the path without it, exact first, then the patterns.
 */
import { CAPABILITY_BITS, DENY_BIT, REPORT_ORDER, bitsOf, type Capability } from './capabilities.js';
import { comparePriority, patternInfo, segmentsMatch, type PatternInfo } from './pattern.js';
import { ROOT_POLICY_NAME, type AclPolicy } from './policy.js';

interface Compiled {
  info: PatternInfo;
  bits: number;
}

/** Same pattern, one more rule: deny absorbs everything, else capabilities add up. */
function merge(into: Map<string, Compiled>, info: PatternInfo, bits: number): void {
  const prev = into.get(info.key);
  if (prev === undefined) into.set(info.key, { info, bits });
  else if (prev.bits & DENY_BIT) return;
  else prev.bits = bits & DENY_BIT ? DENY_BIT : prev.bits | bits;
}

function withoutLeadingSlashes(path: string): string {
  let i = 0;
  while (path.charCodeAt(i) === 47) i++;
  return i === 0 ? path : path.slice(i);
}

export class Acl {
  private constructor(
    /** A `root` policy was among them: everything is allowed (and Vault reports the capability "root"). */
    readonly isRoot: boolean,
    private readonly exact: Map<string, Compiled>,
    private readonly prefixes: Map<string, Compiled>,
    /** The distinct glob prefix lengths, longest first: a longest-prefix lookup is one map probe per length. */
    private readonly prefixLengths: readonly number[],
    /** `+` patterns, highest priority first: the first that matches is the best of them. */
    private readonly segments: readonly Compiled[],
  ) {}

  static of(policies: readonly AclPolicy[]): Acl {
    const exact = new Map<string, Compiled>();
    const prefixes = new Map<string, Compiled>();
    const segments = new Map<string, Compiled>();
    let root = false;
    for (const policy of policies) {
      if (policy.name === ROOT_POLICY_NAME) root = true;
      for (const rule of policy.rules) {
        // As parsed: one leading '/' already dropped; a pattern that still has one never matches (requests lose theirs).
        const info = patternInfo(rule.path);
        const into = info.kind === 'exact' ? exact : info.kind === 'prefix' ? prefixes : segments;
        merge(into, info, bitsOf(rule.capabilities));
      }
    }
    const lengths = [...new Set([...prefixes.keys()].map((k) => k.length))].sort((a, b) => b - a);
    const ranked = [...segments.values()].sort((a, b) => comparePriority(b.info, a.info));
    return new Acl(root, exact, prefixes, lengths, ranked);
  }

  /**
   * May a request with this capability go to `path` (the API path without
   * `/v1/`, e.g. `secret/data/app/db`)? For 'list' the path is taken as Vault
   * sees a LIST: with a trailing '/' added when missing. 'deny' is never
   * "allowed": it is not something a request asks for. `withSudo`: the same
   * rule must grant `sudo` as well (Vault's root-protected paths).
   */
  allows(path: string, capability: Capability, withSudo = false): boolean {
    if (capability === 'deny') return false;
    if (this.isRoot) return true;
    let p = withoutLeadingSlashes(path);
    const list = capability === 'list';
    if (list && !p.endsWith('/')) p += '/';
    const bits = this.lookup(p, list);
    const need = CAPABILITY_BITS[capability] | (withSudo ? CAPABILITY_BITS.sudo : 0);
    return (bits & DENY_BIT) === 0 && (bits & need) === need;
  }

  /**
   * What the policies grant on `path`, as Vault's sys/capabilities reports it:
   * in its order (sudo, read, list, update, delete, create, patch), or
   * `['deny']` when the deciding rule denies or nothing grants anything. For
   * root: every capability (check `isRoot` to answer "root" as Vault does).
   */
  capabilities(path: string): Capability[] {
    if (this.isRoot) return [...REPORT_ORDER];
    // Vault answers this with a list-style lookup (it also tries the path without a trailing '/').
    const bits = this.lookup(withoutLeadingSlashes(path), true);
    if (bits & DENY_BIT) return ['deny'];
    const out = REPORT_ORDER.filter((c) => (bits & CAPABILITY_BITS[c]) !== 0);
    return out.length > 0 ? out : ['deny'];
  }

  /** The capability bits of the rule that decides for `path` (0: none). */
  private lookup(path: string, list: boolean): number {
    const hit = this.exact.get(path);
    if (hit !== undefined) return hit.bits;
    if (list && path.endsWith('/')) {
      const trimmed = path.slice(0, -1);
      const trimmedHit = this.exact.get(trimmed);
      if (trimmedHit !== undefined) return trimmedHit.bits;
      // Vault tries the patterns on the path without its '/' first, so that
      // `secret/+/app` (not only `secret/+/app/`) can allow listing secret/x/app/.
      const pattern = this.bestPattern(trimmed);
      if (pattern !== undefined) return pattern.bits;
    }
    return this.bestPattern(path)?.bits ?? 0;
  }

  /** The highest-priority glob or `+` pattern matching `path`. */
  private bestPattern(path: string): Compiled | undefined {
    let best: Compiled | undefined;
    for (const length of this.prefixLengths) {
      if (length > path.length) continue;
      best = this.prefixes.get(length === path.length ? path : path.slice(0, length));
      if (best !== undefined) break;
    }
    if (this.segments.length === 0) return best;
    const parts = path.split('/');
    for (const candidate of this.segments) {
      if (!segmentsMatch(candidate.info, parts)) continue;
      return best === undefined || comparePriority(candidate.info, best.info) > 0 ? candidate : best;
    }
    return best;
  }
}
