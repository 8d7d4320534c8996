/**
 * From a request-target to the path the router matches and the query.
 *
 * The path is percent-decoded exactly once, so '%2F' arrives as '/' and
 * '%252F' as '%2F' (decoding twice would let a client smuggle a separator
 * past a policy check made on the once-decoded text).
 */

export interface SplitTarget {
  path: string;
  query: URLSearchParams;
}

/** Why a target is refused; the server answers 400 with it. */
export type TargetProblem = 'form' | 'escape';

const NO_QUERY = '';

/**
 * Origin-form ('/v1/x?y=1') and absolute-form ('http://host/v1/x', which
 * RFC 9112 says a server must accept) are taken; anything else, and any
 * invalid or control-character-producing escape, is a problem.
 */
export function splitTarget(target: string): SplitTarget | TargetProblem {
  let start = 0;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    const scheme = /^https?:\/\//i.exec(target);
    if (!scheme) return 'form';
    const slash = target.indexOf('/', scheme[0].length);
    const question = target.indexOf('?', scheme[0].length);
    if (slash < 0 || (question >= 0 && question < slash)) {
      // 'http://host' or 'http://host?x': the path is empty, which means '/'.
      return finish('/', question < 0 ? NO_QUERY : target.slice(question + 1));
    }
    start = slash;
  }
  const question = target.indexOf('?', start);
  const rawPath = question < 0 ? target.slice(start) : target.slice(start, question);
  return finish(rawPath, question < 0 ? NO_QUERY : target.slice(question + 1));
}

function finish(rawPath: string, rawQuery: string): SplitTarget | TargetProblem {
  const path = rawPath.includes('%') ? decodePath(rawPath) : rawPath;
  if (path === undefined) return 'escape';
  return { path, query: new URLSearchParams(rawQuery) };
}

/**
 * decodeURIComponent decodes every escape once and throws on a malformed
 * one or on bytes that are not UTF-8. A decoded control character (NUL, CR,
 * LF, DEL...) is refused as well: no route holds one, and it would reach
 * logs and audit entries.
 */
function decodePath(raw: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return undefined;
  }
  return decoded;
}
