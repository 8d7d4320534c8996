/**
 * Text as one word of a shell: POSIX shells (sh, bash, zsh) for completion
 * scripts we generate, `store env --format shell` output that a shell
 * evaluates, and fixes printed for a user to paste; fish for `store env
 * --format fish`. The one place that knows the quoting rules.
 */

/** `'text'`: in single quotes, each `'` as `'\''`. Any text, the empty one as `''`. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * `'text'` for fish, whose single quotes differ from POSIX ones: inside them
 * `\\` is one backslash and `\'` a quote (every other character, newline and
 * other backslashes included, is itself), so each `\` and `'` gets a `\`
 * before it. POSIX quoting is not safe for fish: `'x\'` does not end where
 * sh ends it, and what follows runs as code. Any text, the empty one as `''`.
 */
export function fishQuote(text: string): string {
  return `'${text.replace(/[\\']/g, '\\$&')}'`;
}

/** Characters no POSIX shell treats specially anywhere in a word. */
const PLAIN_WORD = /^[\w@%+=:,./-]+$/;

/** `text` as it is when no shell would change it, else `shellQuote(text)`: for commands a person reads and pastes. */
export function shellWord(text: string): string {
  return PLAIN_WORD.test(text) ? text : shellQuote(text);
}
