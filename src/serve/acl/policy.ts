/**
 * Vault ACL policies as text: parsing (HCL or JSON) into path rules, the
 * policy-name rules, and rendering back to HCL. What the rules mean when a
 * request comes is in acl.ts.
 */
import { StoreError } from '../../errors.js';
import { quotedIfSafe } from '../../store/names.js';
import { CAPABILITIES, LEGACY_POLICIES, isCapability, normalizeCapabilities, type Capability } from './capabilities.js';
import { PolicySyntaxError, invalidPolicy, parseSyntax, shown, type SyntaxItem, type SyntaxNode } from './syntax.js';

export interface PathRule {
  /** The pattern as written, less one leading '/': exact, `…*` (prefix) or with `+` segments. */
  path: string;
  /** Canonical order, no repeats; `['deny']` alone when denied; may be empty (the rule then grants nothing). */
  capabilities: Capability[];
}

export interface AclPolicy {
  name: string;
  /** In the order written; the same pattern may appear twice (their capabilities then add up). */
  rules: PathRule[];
}

export const DEFAULT_POLICY_NAME = 'default';
export const ROOT_POLICY_NAME = 'root';
export const MAX_POLICY_NAME_LENGTH = 128;

/**
 * Names Vault keeps for itself: `root` is built in (it allows everything, so
 * a stored policy of that name would be a backdoor); `response-wrapping` and
 * `control-group` are Vault's fixed internal policies.
 */
const RESERVED_NAMES = new Set([ROOT_POLICY_NAME, 'response-wrapping', 'control-group']);

/**
 * A name for a stored policy. Vault lower-cases names on the way in; we ask
 * for the lower-case name instead of changing it silently. No '/', ',' or
 * space: names travel in URL paths and in comma-joined lists (hvac sends
 * `token_policies` as "a,b").
 * @throws StoreError E_USAGE
 */
export function checkPolicyName(name: string): void {
  const problem = policyNameProblem(name);
  // Quoted only as the store quotes a secret name: short, printable, and no '=' (what follows it may be a value).
  if (problem) throw new StoreError('E_USAGE', `invalid policy name${quotedIfSafe(name)}: ${problem}`);
}

function policyNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'a policy name must not be empty';
  if (name.length > MAX_POLICY_NAME_LENGTH) return `a policy name is at most ${MAX_POLICY_NAME_LENGTH} characters`;
  if (/[A-Z]/.test(name) && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return `policy names are lower-case (as Vault stores them): use "${name.toLowerCase()}"`;
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) return 'a policy name is lower-case letters, digits and . _ - (starting with a letter or digit)';
  if (RESERVED_NAMES.has(name)) return `"${name}" is a built-in policy and cannot be stored`;
  return undefined;
}

/**
 * Keys Vault accepts in a path block that narrow what a capability allows
 * (request parameters, response wrapping, control groups, MFA). We enforce
 * capabilities only, so a rule that relies on one of these would grant more
 * than it says: such a policy is refused rather than half-applied.
 */
const UNSUPPORTED_RULE_KEYS = new Set([
  'allowed_parameters',
  'denied_parameters',
  'required_parameters',
  'min_wrapping_ttl',
  'max_wrapping_ttl',
  'control_group',
  'mfa_methods',
]);

const CAPABILITY_LIST = `${CAPABILITIES.slice(0, -1).join(', ')} or deny`;

/**
 * Parse a policy written in HCL or JSON, as Vault reads it: top-level `path`
 * blocks (HCL `path "p" { … }`, or `path = { "p" = { … } }`, JSON
 * `{"path": {"p": {…}}}`, or a list of such objects), each with `capabilities`
 * and/or the legacy `policy = "read"|"write"|"sudo"|"deny"`; a top-level
 * `name` and a rule's `comment` are accepted and ignored.
 * @throws StoreError E_USAGE for a bad name, E_INVALID_POLICY naming the line and what was expected
 */
export function parsePolicy(name: string, text: string): AclPolicy {
  checkPolicyNameForParse(name);
  if (text.trim() === '') throw invalidPolicy(name, 'the policy is empty');
  let items: SyntaxItem[];
  try {
    items = parseSyntax(text);
  } catch (e) {
    if (e instanceof PolicySyntaxError) throw invalidPolicy(name, e.message);
    throw e;
  }
  const rules: PathRule[] = [];
  try {
    for (const item of items) topLevelItem(item, rules);
  } catch (e) {
    if (e instanceof PolicySyntaxError) throw invalidPolicy(name, e.message);
    throw e;
  }
  return { name, rules };
}

/** The default policy parses under its own name; root never comes from text. */
function checkPolicyNameForParse(name: string): void {
  if (name === DEFAULT_POLICY_NAME) return;
  checkPolicyName(name);
}

function fail(line: number, detail: string): never {
  throw new PolicySyntaxError(line, detail);
}

function topLevelItem(item: SyntaxItem, rules: PathRule[]): void {
  const [key, label, extra] = item.keys;
  if (key!.text === 'name' && !label) {
    if (item.value.kind !== 'string') fail(item.line, 'name must be a quoted string');
    return; // Vault ignores it too: a policy's name is the one it is stored under
  }
  if (key!.text !== 'path') fail(key!.line, `unknown key ${shown(key!.text, 'key')} (a policy holds path blocks: path "secret/*" { capabilities = ["read"] })`);
  if (extra) fail(extra.line, 'expected "{" after path and its pattern');
  if (label) {
    rules.push(pathRule(label.text, item.value, label.line));
    return;
  }
  // path = { "p" = {…}, … } (HCL) or "path": {"p": {…}} (JSON), or a list of such objects.
  const groups = item.value.kind === 'list' ? item.value.items : [item.value];
  for (const group of groups) {
    if (group.kind !== 'object') fail(group.line, 'expected a block of path patterns after path');
    for (const sub of group.items) {
      if (sub.keys.length !== 1) fail(sub.line, 'expected one quoted path pattern, then its block');
      rules.push(pathRule(sub.keys[0]!.text, sub.value, sub.line));
    }
  }
}

function pathRule(written: string, body: SyntaxNode, line: number): PathRule {
  const path = written.startsWith('/') ? written.slice(1) : written;
  const where = `path ${shown(path, 'pattern')}`;
  if (body.kind !== 'object') fail(body.line, `expected a block { … } for ${where}`);
  if (/[\x00-\x1f\x7f]/.test(path)) fail(line, `${where}: a path pattern must not hold control characters`);
  if (path.includes('+*')) fail(line, `${where}: "+*" is not allowed (a + segment cannot also be a glob; write +/*)`);
  if (path.includes('{{')) fail(line, `${where}: templated paths ({{identity…}}) are not supported`);

  let capabilities: Capability[] | undefined;
  let legacy: readonly Capability[] | undefined;
  for (const item of body.items) {
    const key = item.keys[0]!;
    if (item.keys.length > 1) fail(item.keys[1]!.line, `${where}: expected "=" after ${shown(key.text, 'key')}`);
    if (key.text === 'capabilities') {
      if (capabilities) fail(key.line, `${where}: capabilities is given twice`);
      capabilities = capabilityList(item.value, where);
    } else if (key.text === 'policy') {
      if (legacy) fail(key.line, `${where}: policy is given twice`);
      if (item.value.kind !== 'string') fail(item.value.line, `${where}: policy must be a quoted string: "read", "write", "sudo" or "deny"`);
      if (!Object.prototype.hasOwnProperty.call(LEGACY_POLICIES, item.value.value)) {
        fail(item.value.line, `${where}: unknown policy ${shown(item.value.value, 'word')} (expected "read", "write", "sudo" or "deny")`);
      }
      legacy = LEGACY_POLICIES[item.value.value];
    } else if (key.text === 'comment') {
      // Vault accepts a free-form comment in a rule and ignores it.
    } else if (UNSUPPORTED_RULE_KEYS.has(key.text)) {
      fail(key.line, `${where}: ${key.text} is not supported here (only capabilities are enforced, so the rule would allow more than it says)`);
    } else {
      fail(key.line, `${where}: unknown key ${shown(key.text, 'key')} (expected capabilities)`);
    }
  }
  // As in Vault: the legacy deny replaces everything; the others add to capabilities.
  const all = legacy?.includes('deny') ? ['deny' as const] : [...(capabilities ?? []), ...(legacy ?? [])];
  return { path, capabilities: normalizeCapabilities(all) };
}

function capabilityList(value: SyntaxNode, where: string): Capability[] {
  if (value.kind !== 'list') fail(value.line, `${where}: capabilities must be a list of quoted names, such as ["read", "list"]`);
  const out: Capability[] = [];
  for (const v of value.items) {
    if (v.kind !== 'string') fail(v.line, `${where}: capabilities must be a list of quoted names, such as ["read", "list"]`);
    if (!isCapability(v.value)) fail(v.line, `${where}: unknown capability ${shown(v.value, 'word')} (expected ${CAPABILITY_LIST})`);
    out.push(v.value);
  }
  return out;
}

/**
 * A policy as HCL that parses back to the same rules (the canonical form
 * shown by `store acl read`; comments and layout of the original are not kept).
 */
export function renderPolicy(policy: AclPolicy): string {
  if (policy.rules.length === 0) return '# no path rules: this policy grants nothing\n';
  return policy.rules
    // parsePolicy drops one leading '/', so a pattern that still starts with one is written with one more.
    .map((r) => `path ${JSON.stringify(r.path.startsWith('/') ? `/${r.path}` : r.path)} {\n  capabilities = [${r.capabilities.map((c) => JSON.stringify(c)).join(', ')}]\n}\n`)
    .join('\n');
}
