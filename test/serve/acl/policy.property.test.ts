/**
 * Policy text, at random: the same rules written as HCL blocks, as an HCL
 * object, or as JSON (with comments, trailing commas and layout drawn at
 * random) parse to the same policy; whatever parsePolicy accepts renders to
 * HCL that parses back to it; and whatever it is given, it either answers or
 * throws E_INVALID_POLICY with a short message, never anything else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/errors.js';
import { parsePolicy, renderPolicy, type AclPolicy, type Capability } from '../../../src/serve/acl/index.js';

const ALL: Capability[] = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny'];

/** What parsePolicy should make of a capability list: deny alone, or the canonical order without repeats. */
const canonical = (caps: Capability[]): Capability[] => (caps.includes('deny') ? ['deny'] : ALL.filter((c) => caps.includes(c)));

/** Paths with the characters that stress quoting: quotes, backslashes, braces, comment starters, non-ASCII. */
const pathArb = fc
  .string({ unit: fc.constantFrom('a', 'b', '/', '+', '*', '-', '"', '\\', '{', '}', '#', ' ', 'é', '☃', '='), maxLength: 12 })
  .filter((p) => !p.includes('+*') && !p.includes('{{'));
const capsArb = fc.array(fc.constantFrom(...ALL), { maxLength: 5 });
const rulesArb = fc.array(fc.record({ path: pathArb, caps: capsArb }), { minLength: 1, maxLength: 5 });

type Rule = { path: string; caps: Capability[] };
const q = (s: string) => JSON.stringify(s);

/** Layout noise between tokens: spaces, newlines, comments of each kind. */
const gapArb = fc.array(fc.constantFrom(' ', '\n', '\t', '  ', ' # hash comment\n', ' // slash comment\n', ' /* block\n comment */ '), { maxLength: 3 }).map((g) => g.join(''));

function capsText(caps: Capability[], gap: () => string, trailingComma: boolean, sep = '='): string {
  return `capabilities ${sep} [${gap()}${caps.map((c) => q(c)).join(`,${gap()}`)}${trailingComma && caps.length > 0 ? ',' : ''}${gap()}]`;
}

function asBlocks(rules: Rule[], gap: () => string, comma: boolean): string {
  return rules.map((r) => `path ${q(r.path)}${gap()}{${gap()}${capsText(r.caps, gap, comma)}${gap()}}`).join(`\n${gap()}`);
}

function asHclObject(rules: Rule[], gap: () => string, comma: boolean): string {
  return `path = {${gap()}${rules.map((r) => `${q(r.path)} = { ${capsText(r.caps, gap, comma)} }`).join(comma ? `,${gap()}` : `\n${gap()}`)}${gap()}}`;
}

function asJson(rules: Rule[], gap: () => string): string {
  return `{${gap()}"path": [${rules.map((r) => `{${q(r.path)}: {${gap()}"capabilities": [${r.caps.map(q).join(', ')}]}}`).join(`,${gap()}`)}]}`;
}

describe('policy text at random', () => {
  it('HCL blocks, an HCL object and JSON give the same policy: the rules in order, capabilities canonical', () => {
    fc.assert(
      fc.property(rulesArb, fc.array(gapArb, { minLength: 1, maxLength: 8 }), fc.boolean(), (rules, gaps, comma) => {
        let n = 0;
        const gap = () => gaps[n++ % gaps.length]!;
        const expected: AclPolicy = {
          name: 'app',
          rules: rules.map((r) => ({ path: r.path.startsWith('/') ? r.path.slice(1) : r.path, capabilities: canonical(r.caps) })),
        };
        expect(parsePolicy('app', asBlocks(rules, gap, comma))).toEqual(expected);
        expect(parsePolicy('app', asHclObject(rules, gap, comma))).toEqual(expected);
        expect(parsePolicy('app', asJson(rules, gap))).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('whatever parses renders to HCL that parses back to the same policy', () => {
    fc.assert(
      fc.property(rulesArb, (rules) => {
        const p = parsePolicy('app', asBlocks(rules, () => ' ', false));
        expect(parsePolicy('app', renderPolicy(p))).toEqual(p);
      }),
      { numRuns: 500 },
    );
  });

  /** Pieces of policy syntax, valid and not, glued in random order. */
  const pieceArb = fc.constantFrom(
    'path', 'name', 'capabilities', 'policy', 'comment', 'allowed_parameters', 'true', 'null', '1', '-', '<<',
    '"secret/*"', '"a/+/b"', '"/x"', '"//"', '"+*"', '"read"', '"list"', '"deny"', '"write"', '"sudo"', '"bogus"', '"path"', '"capabilities"',
    '{', '}', '[', ']', '=', ':', ',', ';', '\n', ' ', '#c\n', '// c\n', '/* c */', '/*', '"', '\\', '"\\u00e9"', '"\\q"',
  );
  /** How many texts were accepted (with rules) and refused: the random-text properties must see both. */
  const seen = { accepted: 0, refused: 0 };
  const checkAnswer = (text: string) => {
    let p: AclPolicy;
    try {
      p = parsePolicy('app', text);
    } catch (e) {
      expect(e).toBeInstanceOf(StoreError);
      expect((e as StoreError).code).toBe('E_INVALID_POLICY');
      expect((e as StoreError).message.length).toBeLessThan(300);
      seen.refused++;
      return;
    }
    if (p.rules.length > 0) seen.accepted++;
    expect(parsePolicy('app', renderPolicy(p))).toEqual(p);
  };
  const counted = (run: () => void) => {
    seen.accepted = 0;
    seen.refused = 0;
    run();
    return seen;
  };

  it('any soup of syntax pieces parses to something that round-trips, or is refused as E_INVALID_POLICY', () => {
    const soup = fc.array(pieceArb, { maxLength: 30 }).map((a) => a.join(''));
    const outcome = counted(() => fc.assert(fc.property(soup, checkAnswer), { numRuns: 3000, seed: 11 }));
    // Soup almost never makes a rule: it tests the refusals; accepted texts come from the edits below.
    expect(outcome.refused).toBeGreaterThan(1000);
  });

  it('a valid policy with a random edit parses to something that round-trips, or is refused as E_INVALID_POLICY', () => {
    const outcome = counted(() =>
      fc.assert(
        fc.property(rulesArb, fc.array(fc.tuple(fc.nat(), fc.constantFrom(0, 0, 0, 1, 4), pieceArb), { minLength: 1, maxLength: 2 }), (rules, edits) => {
          let text = asBlocks(rules, () => '\n', true);
          for (const [at, drop, piece] of edits) {
            const i = at % (text.length + 1);
            text = text.slice(0, i) + piece + text.slice(i + drop);
          }
          checkAnswer(text);
        }),
        { numRuns: 3000, seed: 12 },
      ),
    );
    // Most edits break the text; enough of them keep it valid (a changed path, a comment, a space).
    expect(outcome.accepted).toBeGreaterThan(50);
    expect(outcome.refused).toBeGreaterThan(1000);
  });

  it('arbitrary text is answered or refused as E_INVALID_POLICY', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), checkAnswer), { numRuns: 2000 });
  });
});
