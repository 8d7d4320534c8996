/**
 * Colour for people, never for pipes: only on a terminal, with NO_COLOR
 * unset or empty (https://no-color.org: "when present and not an empty
 * string" it forbids colour) and TERM not "dumb". Colour only ever adds to
 * text that reads the same without it.
 */

/** Whether output to a stream may be coloured. */
export function colorAllowed(isTTY: boolean, env: Record<string, string | undefined>): boolean {
  return isTTY && !env.NO_COLOR && env.TERM !== 'dumb';
}

export type Paint = (text: string) => string;

export interface Palette {
  green: Paint;
  yellow: Paint;
  red: Paint;
  dim: Paint;
}

const sgr = (on: number, off: number): Paint => (text) => `\x1b[${on}m${text}\x1b[${off}m`;
const plain: Paint = (text) => text;

/** SGR colours when `enabled`, else functions that return the text as it is. */
export function palette(enabled: boolean): Palette {
  if (!enabled) return { green: plain, yellow: plain, red: plain, dim: plain };
  return { green: sgr(32, 39), yellow: sgr(33, 39), red: sgr(31, 39), dim: sgr(2, 22) };
}
