/**
 * Required secrets of an app (`store check`): each named secret must have a
 * readable current version that keeps its format rules. Every problem is
 * collected, so a start script reports them all at once; none names a value.
 */
import { StoreError } from '../errors.js';
import { checkName } from './names.js';
import { formatProblem, parseRule, ruleText, type FormatRule } from './formats.js';
import type { Store } from './store.js';

export interface Requirement {
  name: string;
  rules: FormatRule[];
}

export type CheckProblemKind = 'missing' | 'deleted' | 'destroyed' | 'unreadable' | 'format';

export interface CheckProblem {
  name: string;
  problem: CheckProblemKind;
  /** The rule broken, as written (`pem`, `min=32`), for a format problem. */
  rule?: string;
  /** For people: `missing`, `not PEM (...)`, `too short (...)`. Never a value or part of it. */
  message: string;
}

export interface CheckReport {
  ok: boolean;
  /** How many distinct secrets were checked. */
  checked: number;
  problems: CheckProblem[];
}

/**
 * Parse `name[:rule[,rule...]]`, as in `db/url`, `jwt/private-key:pem`, `api/key:hex,min=32`.
 * @throws StoreError E_USAGE naming the requirement (a bad name or rule)
 */
export function parseRequirement(spec: string): Requirement {
  const colon = spec.indexOf(':');
  const name = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  try {
    checkName(name);
    if (colon < 0) return { name, rules: [] };
    return { name, rules: spec.slice(colon + 1).split(',').map(parseRule) };
  } catch (e) {
    // Quoted only when short and printable, as checkName does: it may be a value typed in the wrong
    // place. Rules may hold '=' (min=32), the name may not: FOO=bar there is the NAME=value habit.
    const shown = spec.length <= 100 && /^[\x20-\x7e]*$/.test(spec) && !name.includes('=') ? ` "${spec}"` : '';
    if (e instanceof StoreError) throw new StoreError('E_USAGE', `bad requirement${shown}: ${e.message}`, e.hints);
    throw e;
  }
}

/** Requirements on one name are merged (read once, every rule kept, each rule once). */
function byName(requirements: readonly Requirement[]): Requirement[] {
  const merged = new Map<string, Map<string, FormatRule>>();
  for (const r of requirements) {
    checkName(r.name);
    const rules = merged.get(r.name) ?? new Map<string, FormatRule>();
    for (const rule of r.rules) rules.set(ruleText(rule), rule);
    merged.set(r.name, rules);
  }
  return [...merged].map(([name, rules]) => ({ name, rules: [...rules.values()] }));
}

const UNAVAILABLE: Partial<Record<string, [CheckProblemKind, string]>> = {
  E_NOT_FOUND: ['missing', 'missing'],
  E_DELETED: ['deleted', 'deleted (its current version is soft-deleted)'],
  E_DESTROYED: ['destroyed', 'destroyed (its current version was destroyed)'],
  E_TAMPERED: ['unreadable', 'cannot be decrypted (altered or moved)'],
};

/**
 * Check each required secret's current version (read once per name, wiped
 * after) against its rules; report every problem, in the order given.
 * @throws StoreError E_INVALID_NAME for a bad name; store-wide failures (E_LOCKED, E_CLOSED, E_IO) as they come
 */
export async function checkSecrets(store: Store, requirements: readonly Requirement[]): Promise<CheckReport> {
  const wanted = byName(requirements);
  const problems: CheckProblem[] = [];
  for (const { name, rules } of wanted) {
    let value;
    try {
      value = (await store.get(name)).value;
    } catch (e) {
      const known = e instanceof StoreError ? UNAVAILABLE[e.code] : undefined;
      if (!known) throw e;
      problems.push({ name, problem: known[0], message: known[1] });
      continue;
    }
    try {
      for (const rule of rules) {
        const why = formatProblem(rule, value.expose());
        if (why !== undefined) problems.push({ name, problem: 'format', rule: ruleText(rule), message: why });
      }
    } finally {
      value.wipe();
    }
  }
  return { ok: problems.length === 0, checked: wanted.length, problems };
}
