/**
 * What a rule's path pattern is, by Vault's own tests on the text:
 * - a segment pattern when it is `+`, starts with `+/` or holds `/+`: a
 *   segment that is exactly `+` matches any one segment (even an empty one);
 *   a trailing `*` then makes its last segment a prefix;
 * - otherwise a prefix (glob) when it ends in `*`: everything that starts with
 *   the text before the `*`;
 * - otherwise exact.
 * A `*` anywhere but last, or a `+` inside a longer segment, is a literal
 * character, as in Vault.
 */

export type PatternKind = 'exact' | 'prefix' | 'segments';

export interface PatternInfo {
  kind: PatternKind;
  /** The text the pattern is keyed by: the path for exact and segment patterns, the prefix (without `*`) for a glob. */
  key: string;
  /** Segment patterns: the pattern without its trailing `*`, split on '/'. */
  parts: string[];
  /** Ends in `*` (a glob, or a segment pattern whose last segment is a prefix). */
  isPrefix: boolean;
  /** Where the first `+` (segment patterns) or the `*` (globs) is: an earlier one ranks lower. */
  firstWildcard: number;
  /** How many segments are exactly `+`: more ranks lower. */
  wildcards: number;
  /** The pattern without a trailing `*`: a shorter one ranks lower, then a lexically smaller one. */
  stem: string;
}

export function hasSegmentWildcards(path: string): boolean {
  return path === '+' || path.startsWith('+/') || path.includes('/+');
}

export function patternInfo(path: string): PatternInfo {
  const segments = hasSegmentWildcards(path);
  const isPrefix = path.endsWith('*');
  const stem = isPrefix ? path.slice(0, -1) : path;
  if (segments) {
    const parts = stem.split('/');
    return {
      kind: 'segments',
      key: path,
      parts,
      isPrefix,
      firstWildcard: path.indexOf('+'),
      wildcards: parts.filter((p) => p === '+').length,
      stem,
    };
  }
  if (isPrefix) return { kind: 'prefix', key: stem, parts: [], isPrefix, firstWildcard: stem.length, wildcards: 0, stem };
  return { kind: 'exact', key: path, parts: [], isPrefix: false, firstWildcard: path.length, wildcards: 0, stem };
}

/** Does a segment pattern match the request path (already split on '/')? */
export function segmentsMatch(p: PatternInfo, pathParts: readonly string[]): boolean {
  const parts = p.parts;
  if (pathParts.length < parts.length) return false;
  if (!p.isPrefix && pathParts.length !== parts.length) return false;
  const last = parts.length - 1;
  for (let i = 0; i <= last; i++) {
    const want = parts[i]!;
    const got = pathParts[i]!;
    if (want === '+' || want === got) continue;
    if (p.isPrefix && i === last && got.startsWith(want)) continue;
    return false;
  }
  return true;
}

/**
 * Vault's priority between two non-exact patterns that both match: negative
 * when `a` ranks lower than `b`. In order: the first wildcard or glob later
 * wins; not ending in `*` wins; fewer `+` segments win; longer wins; lexically
 * greater wins.
 */
export function comparePriority(a: PatternInfo, b: PatternInfo): number {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard - b.firstWildcard;
  if (a.isPrefix !== b.isPrefix) return a.isPrefix ? -1 : 1;
  if (a.wildcards !== b.wildcards) return b.wildcards - a.wildcards;
  if (a.stem.length !== b.stem.length) return a.stem.length - b.stem.length;
  return a.stem < b.stem ? -1 : a.stem > b.stem ? 1 : 0;
}
