/** The furthest time from 1970, either way, that a JavaScript Date holds, in ms (ECMA-262 §21.4.1.1): a time past it is no time. */
export const MAX_DATE_MS = 8.64e15;
