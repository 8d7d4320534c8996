/**
 * Every decision of Acl against a reference written from Vault's documented
 * rules, brute force: random policy sets over a small alphabet (so patterns
 * collide and overlap often) and random request paths.
 *
 * The reference knows nothing of the implementation's maps, sorted lists or
 * longest-prefix probes: a pattern is a regular expression (`+` = one
 * segment, a trailing `*` = anything), every rule is looked at for every
 * request, and the five priority rules are applied as the documentation
 * words them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Acl, parsePolicy, ROOT_POLICY_NAME, type AclPolicy, type Capability } from '../../../src/serve/acl/index.js';

const ALL: Capability[] = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny'];
const REPORT_ORDER: Capability[] = ['sudo', 'read', 'list', 'update', 'delete', 'create', 'patch'];

interface RefRule {
  path: string; // as written in the policy text
  caps: Capability[];
}
interface RefPolicy {
  name: string;
  rules: RefRule[];
}

// --- the reference ---------------------------------------------------------

/** The pattern a rule is known by: Vault drops one leading '/' of a policy path. */
const patternOf = (written: string) => (written.startsWith('/') ? written.slice(1) : written);
const isPlusSegment = (pattern: string) => pattern.split('/').includes('+');
const isExact = (pattern: string) => !pattern.endsWith('*') && !isPlusSegment(pattern);

function regexOf(pattern: string): RegExp {
  const glob = pattern.endsWith('*');
  const stem = glob ? pattern.slice(0, -1) : pattern;
  const body = stem
    .split('/')
    .map((seg) => (seg === '+' ? '[^/]*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}${glob ? '[^]*' : ''}$`);
}

/** Negative when p1 has lower priority than p2, by the documentation's five rules in order. */
function docPriority(p1: string, p2: string): number {
  const first = (p: string) => p.search(/[+*]/);
  if (first(p1) !== first(p2)) return first(p1) < first(p2) ? -1 : 1; // 1. first wildcard or glob earlier: lower
  if (p1.endsWith('*') !== p2.endsWith('*')) return p1.endsWith('*') ? -1 : 1; // 2. ends in *: lower
  const plus = (p: string) => p.split('/').filter((s) => s === '+').length;
  if (plus(p1) !== plus(p2)) return plus(p1) > plus(p2) ? -1 : 1; // 3. more + segments: lower
  if (p1.length !== p2.length) return p1.length < p2.length ? -1 : 1; // 4. shorter: lower
  return p1 < p2 ? -1 : p1 > p2 ? 1 : 0; // 5. lexically smaller: lower
}

class Reference {
  private readonly root: boolean;
  private readonly rules: Array<{ pattern: string; caps: Capability[] }>;
  constructor(policies: RefPolicy[]) {
    this.root = policies.some((p) => p.name === ROOT_POLICY_NAME);
    this.rules = policies.flatMap((p) => p.rules.map((r) => ({ pattern: patternOf(r.path), caps: r.caps })));
  }

  /** Union of every rule written with this pattern; a deny in any of them is a deny. */
  private capsOf(pattern: string): Set<Capability> {
    const caps = new Set<Capability>();
    for (const r of this.rules) if (r.pattern === pattern) for (const c of r.caps) caps.add(c);
    return caps.has('deny') ? new Set(['deny']) : caps;
  }

  private exact(path: string): string | undefined {
    return this.rules.find((r) => isExact(r.pattern) && r.pattern === path)?.pattern;
  }

  private best(path: string): string | undefined {
    const matching = this.rules.filter((r) => !isExact(r.pattern) && regexOf(r.pattern).test(path)).map((r) => r.pattern);
    return matching.sort(docPriority).at(-1);
  }

  /** The deciding pattern's capabilities: exact first, then patterns; a list also tries the path without its '/'. */
  private decide(path: string, list: boolean): Set<Capability> {
    const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
    const tries: Array<() => string | undefined> = [() => this.exact(path)];
    if (list) tries.push(() => this.exact(trimmed));
    if (list && path.endsWith('/')) tries.push(() => this.best(trimmed));
    tries.push(() => this.best(path));
    for (const t of tries) {
      const pattern = t();
      if (pattern !== undefined) return this.capsOf(pattern);
    }
    return new Set();
  }

  allows(path: string, cap: Capability): boolean {
    if (cap === 'deny') return false;
    if (this.root) return true;
    let p = path.replace(/^\/+/, '');
    if (cap === 'list' && !p.endsWith('/')) p += '/'; // a LIST request's path always ends in '/'
    const caps = this.decide(p, cap === 'list');
    return !caps.has('deny') && caps.has(cap);
  }

  capabilities(path: string): Capability[] {
    if (this.root) return REPORT_ORDER;
    const caps = this.decide(path.replace(/^\/+/, ''), true);
    if (caps.has('deny') || caps.size === 0) return ['deny'];
    return REPORT_ORDER.filter((c) => caps.has(c));
  }
}

// --- generators --------------------------------------------------------------

/**
 * Patterns of 1–4 segments; `+` only as a whole segment; sometimes a trailing
 * `*` (never `+*`). Some runs draw from a tiny alphabet so that patterns tie
 * on the first priority rules and only the later ones (length, lexical order)
 * can tell them apart.
 */
const ALPHABETS = [['a', 'b', 'ab', '+', ''], ['a', '+'], ['a', 'b', '+']];
const patternArb = (alphabet: string[]) =>
  fc.tuple(fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 4 }), fc.boolean()).map(([segments, glob]) => {
    const p = segments.join('/');
    return glob && !p.endsWith('+') ? `${p}*` : p;
  });

const capsArb = fc
  .tuple(fc.subarray(ALL.filter((c) => c !== 'deny')), fc.nat(5))
  .map(([caps, d]) => (d === 0 ? [...caps, 'deny' as const] : caps));

const policyArb = (i: number, alphabet: string[]) =>
  fc.array(fc.record({ path: patternArb(alphabet), caps: capsArb }), { maxLength: 6 }).map((rules): RefPolicy => ({ name: `p${i}`, rules }));

const policiesArb = fc
  .tuple(fc.integer({ min: 1, max: 3 }), fc.constantFrom(...ALPHABETS), fc.nat(19))
  .chain(([count, alphabet, r]) =>
    fc.tuple(...Array.from({ length: count }, (_, i) => policyArb(i, alphabet))).map((ps): RefPolicy[] => (r === 0 ? [...ps, { name: ROOT_POLICY_NAME, rules: [] }] : ps)),
  );

const requestArb = fc
  .tuple(fc.array(fc.constantFrom('a', 'b', 'ab', 'ba', ''), { maxLength: 5 }), fc.nat(4))
  .map(([segments, lead]) => (lead === 0 ? '/' : '') + segments.join('/'));

/** Through the real parser: the text a user would write for these rules. */
function toAclPolicy(p: RefPolicy): AclPolicy {
  if (p.name === ROOT_POLICY_NAME) return { name: p.name, rules: [] };
  const text = p.rules.map((r) => `path ${JSON.stringify(r.path)} { capabilities = ${JSON.stringify(r.caps)} }`).join('\n');
  return text === '' ? { name: p.name, rules: [] } : parsePolicy(p.name, text);
}

describe('Acl against the documented rules', () => {
  it('allows and capabilities agree with the brute-force reference on every path and capability', () => {
    fc.assert(
      fc.property(policiesArb, fc.array(requestArb, { minLength: 1, maxLength: 10 }), (policies, requests) => {
        const acl = Acl.of(policies.map(toAclPolicy));
        const ref = new Reference(policies);
        for (const path of requests) {
          for (const cap of ALL) {
            if (acl.allows(path, cap) !== ref.allows(path, cap)) {
              throw new Error(`allows(${JSON.stringify(path)}, ${cap}): acl says ${acl.allows(path, cap)}, the reference ${ref.allows(path, cap)}`);
            }
          }
          expect(acl.capabilities(path)).toEqual(ref.capabilities(path));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('the order of policies and of rules does not change a decision', () => {
    fc.assert(
      fc.property(policiesArb, requestArb, (policies, path) => {
        const forward = Acl.of(policies.map(toAclPolicy));
        const backward = Acl.of([...policies].reverse().map((p) => toAclPolicy({ ...p, rules: [...p.rules].reverse() })));
        expect(backward.capabilities(path)).toEqual(forward.capabilities(path));
        for (const cap of ALL) expect(backward.allows(path, cap)).toBe(forward.allows(path, cap));
      }),
      { numRuns: 1000 },
    );
  });

  it('the reference is not vacuous: random cases grant and refuse, through exact, glob and + rules', () => {
    // Guards the property above against a generator that only ever produces "deny everything".
    const seen = { allowed: 0, refused: 0, exact: 0, glob: 0, plus: 0 };
    fc.assert(
      fc.property(policiesArb, requestArb, (policies, path) => {
        const ref = new Reference(policies.filter((p) => p.name !== ROOT_POLICY_NAME));
        const ok = ref.allows(path, 'read');
        if (ok) seen.allowed++;
        else seen.refused++;
        if (!ok) return;
        const p = path.replace(/^\/+/, '');
        const patterns = policies.flatMap((x) => x.rules.map((r) => patternOf(r.path)));
        if (patterns.includes(p)) seen.exact++;
        else if (patterns.some((x) => x.endsWith('*') && !isPlusSegment(x) && regexOf(x).test(p))) seen.glob++;
        else seen.plus++;
      }),
      { numRuns: 2000, seed: 7 },
    );
    expect(seen.allowed).toBeGreaterThan(100);
    expect(seen.refused).toBeGreaterThan(100);
    expect(seen.exact).toBeGreaterThan(10);
    expect(seen.glob).toBeGreaterThan(10);
    expect(seen.plus).toBeGreaterThan(10);
  });
});
