/**
 * Policy text: the HCL subset and JSON Vault users write, the legacy
 * `policy =` shorthand, what is refused (with the line, never the input at
 * length), policy names, and rendering back to HCL.
 */
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/errors.js';
import {
  DEFAULT_POLICY_NAME,
  DEFAULT_POLICY_TEXT,
  checkPolicyName,
  parsePolicy,
  renderPolicy,
  type AclPolicy,
} from '../../../src/serve/acl/index.js';
import { errorOf } from '../../helpers/errors.js';

const failure = errorOf;

const invalid = (text: string) => failure(() => parsePolicy('app', text));

describe('parsePolicy: HCL', () => {
  it('reads path blocks with comments of every kind and trailing commas', () => {
    const text = `
# full-line hash comment
// full-line slash comment
path "secret/data/app/*" {      # trailing comment
  capabilities = ["read", "list",]   // another
}
/* a block comment
   over lines */
path "secret/metadata/+/config" { capabilities = [ "create" , "update" ] }
path "/auth/token/lookup-self" {
  capabilities = [
    "read",
  ]
}
`;
    expect(parsePolicy('app', text)).toEqual({
      name: 'app',
      rules: [
        { path: 'secret/data/app/*', capabilities: ['read', 'list'] },
        { path: 'secret/metadata/+/config', capabilities: ['create', 'update'] },
        // One leading '/' is dropped, as Vault does: policy paths start after /v1/.
        { path: 'auth/token/lookup-self', capabilities: ['read'] },
      ],
    });
  });

  it('puts capabilities in one order without repeats, and deny stands alone', () => {
    const p = parsePolicy('app', `
path "a" { capabilities = ["list", "read", "read", "sudo", "patch", "create"] }
path "b" { capabilities = ["read", "deny", "update"] }
path "c" { capabilities = [] }
path "d" { }
`);
    expect(p.rules).toEqual([
      { path: 'a', capabilities: ['create', 'read', 'patch', 'list', 'sudo'] },
      { path: 'b', capabilities: ['deny'] },
      { path: 'c', capabilities: [] },
      { path: 'd', capabilities: [] },
    ]);
  });

  it('keeps a pattern written twice as two rules, in order', () => {
    const p = parsePolicy('app', 'path "x/*" { capabilities = ["read"] }\npath "x/*" { capabilities = ["list"] }');
    expect(p.rules).toEqual([
      { path: 'x/*', capabilities: ['read'] },
      { path: 'x/*', capabilities: ['list'] },
    ]);
  });

  it('expands the legacy policy shorthand as Vault does', () => {
    const p = parsePolicy('app', `
path "r" { policy = "read" }
path "w" { policy = "write" }
path "s" { policy = "sudo" }
path "d" { policy = "deny" }
path "both" { policy = "read"
  capabilities = ["update"] }
path "deny-wins" { capabilities = ["read", "update"], policy = "deny" }
`);
    expect(p.rules).toEqual([
      { path: 'r', capabilities: ['read', 'list'] },
      // write never included patch
      { path: 'w', capabilities: ['create', 'read', 'update', 'delete', 'list'] },
      { path: 's', capabilities: ['create', 'read', 'update', 'delete', 'list', 'sudo'] },
      { path: 'd', capabilities: ['deny'] },
      { path: 'both', capabilities: ['read', 'update', 'list'] },
      { path: 'deny-wins', capabilities: ['deny'] },
    ]);
  });

  it('accepts the object form path = { "p" = { … } }, a top-level name, a rule comment, and keys as bare words', () => {
    const p = parsePolicy('app', `
name = "ignored: the stored name counts"
path = {
  "secret/*" = { capabilities = ["read"], comment = "team A" }
  "sys/health" { capabilities = ["read"] }
}
path plain { capabilities = ["list"] }
`);
    expect(p).toEqual({
      name: 'app',
      rules: [
        { path: 'secret/*', capabilities: ['read'] },
        { path: 'sys/health', capabilities: ['read'] },
        { path: 'plain', capabilities: ['list'] },
      ],
    });
  });

  it('reads string escapes in paths', () => {
    expect(parsePolicy('app', 'path "a\\"b\\\\c\\u00e9" { capabilities = ["read"] }').rules[0]!.path).toBe('a"b\\cé');
  });

  it('parses the default policy', () => {
    const p = parsePolicy(DEFAULT_POLICY_NAME, DEFAULT_POLICY_TEXT);
    expect(p.rules.map((r) => r.path)).toEqual([
      'auth/token/lookup-self',
      'auth/token/renew-self',
      'auth/token/revoke-self',
      'sys/capabilities-self',
    ]);
    expect(p.rules.some((r) => r.path.startsWith('secret'))).toBe(false);
  });
});

describe('parsePolicy: JSON', () => {
  const hcl = `
path "secret/data/*" { capabilities = ["read", "list"] }
path "secret/data/admin" { capabilities = ["deny"] }
path "sys/+/x*" { policy = "write" }
`;

  it('gives the same policy as the HCL it mirrors', () => {
    const json = JSON.stringify({
      path: {
        'secret/data/*': { capabilities: ['read', 'list'] },
        'secret/data/admin': { capabilities: ['deny'] },
        'sys/+/x*': { policy: 'write' },
      },
    }, null, 2);
    expect(parsePolicy('app', json)).toEqual(parsePolicy('app', hcl));
  });

  it('accepts path as a list of objects (one pattern may then repeat)', () => {
    const json = '{"path": [{"secret/data/*": {"capabilities": ["read"]}}, {"secret/data/*": {"capabilities": ["list"]}}]}';
    expect(parsePolicy('app', json).rules).toEqual([
      { path: 'secret/data/*', capabilities: ['read'] },
      { path: 'secret/data/*', capabilities: ['list'] },
    ]);
  });

  it('refuses what it refuses in HCL, with the line', () => {
    const e = invalid('{\n  "path": {\n    "secret/*": {\n      "capabilities": ["read", "raed"]\n    }\n  }\n}');
    expect(e.code).toBe('E_INVALID_POLICY');
    expect(e.message).toBe('invalid policy "app": line 4: path "secret/*": unknown capability "raed" (expected create, read, update, patch, delete, list, sudo or deny)');
  });
});

describe('parsePolicy: refusals', () => {
  const cases: Array<[string, string, string]> = [
    ['an unknown capability', 'path "a" {\n  capabilities = ["read", "write"]\n}', 'line 2: path "a": unknown capability "write" (expected create, read, update, patch, delete, list, sudo or deny)'],
    ['a capability in another case', 'path "a" { capabilities = ["Read"] }', 'line 1: path "a": unknown capability "Read"'],
    ['capabilities not a list', 'path "a" {\n capabilities = "read"\n}', 'line 2: path "a": capabilities must be a list of quoted names'],
    ['a bare word in the list', 'path "a" { capabilities = [read] }', 'line 1: expected a value (a quoted string, a list or a block), found the word "read"'],
    ['a missing comma', 'path "a" {\n capabilities = ["read"\n "list"]\n}', 'line 3: expected "," or "]" in a list, found a string'],
    ['a missing closing brace', 'path "a" {\n capabilities = ["read"]\n', 'line 3: expected "}" to close the block opened on line 1, found the end of the text'],
    ['a missing opening brace', 'path "a"\n capabilities = ["read"]', 'line 2: expected "{" after "path" and its label, found "="'],
    ['an unknown top-level key', '\n\npaths "a" { capabilities = ["read"] }', 'line 3: unknown key "paths"'],
    ['an unknown rule key', 'path "a" {\n\n  capability = ["read"]\n}', 'line 3: path "a": unknown key "capability" (expected capabilities)'],
    ['an unknown legacy policy', 'path "a" { policy = "admin" }', 'line 1: path "a": unknown policy "admin"'],
    ['capabilities twice', 'path "a" {\n capabilities = ["read"]\n capabilities = ["list"]\n}', 'line 3: path "a": capabilities is given twice'],
    ['allowed_parameters', 'path "a" {\n capabilities = ["create"]\n allowed_parameters = { "foo" = [] }\n}', 'line 3: path "a": allowed_parameters is not supported here'],
    ['denied_parameters', 'path "a" { denied_parameters = { "x" = ["y"] } }', 'path "a": denied_parameters is not supported here'],
    ['required_parameters', 'path "a" { required_parameters = ["x"] }', 'path "a": required_parameters is not supported here'],
    ['min_wrapping_ttl', 'path "a" { min_wrapping_ttl = 100 }', 'path "a": min_wrapping_ttl is not supported here'],
    ['max_wrapping_ttl', 'path "a" { max_wrapping_ttl = "1h" }', 'path "a": max_wrapping_ttl is not supported here'],
    ['control_group', 'path "a" { control_group = { factor "x" { } } }', 'path "a": control_group is not supported here'],
    ['"+*"', 'path "secret/+*" { capabilities = ["read"] }', 'line 1: path "secret/+*": "+*" is not allowed'],
    ['a templated path', 'path "secret/{{identity.entity.id}}/*" { capabilities = ["read"] }', 'templated paths ({{identity…}}) are not supported'],
    ['a heredoc', 'path "a" {\n capabilities = <<EOT\nx\nEOT\n}', 'line 2: heredoc strings (<<) are not supported'],
    ['an unclosed string', 'path "a" {\n capabilities = ["read]\n}', 'line 2: a string is not closed on its line'],
    ['an unclosed comment', 'path "a" { capabilities = ["read"] }\n/* no end', 'line 2: a /* comment is never closed'],
    ['an unknown escape', 'path "a\\q" { }', 'line 1: a string holds an unknown escape'],
    ['a stray character', 'path "a" { capabilities = ["read"] };', 'line 1: unexpected character ";"'],
    ['a control character in a path', 'path "a\\u0000" { }', 'a path pattern must not hold control characters'],
    ['an empty text', '  \n\t \n', 'the policy is empty'],
    ['a path block with a scalar', 'path "a" = "read"', 'line 1: expected "{" after "path" and its label, found "="'],
    ['text after a JSON object', '{"path": {}} path', 'line 1: expected the end of the text, found the word "path"'],
  ];
  for (const [what, text, message] of cases) {
    it(`refuses ${what}`, () => {
      const e = invalid(text);
      expect(e.code).toBe('E_INVALID_POLICY');
      expect(e.message.startsWith('invalid policy "app": ')).toBe(true);
      expect(e.message).toContain(message);
    });
  }

  it('refuses deep nesting as a policy error, not a stack overflow', () => {
    for (const text of ['path "a" { x = ' + '['.repeat(200_000), '{'.repeat(200_000), 'path = ' + '{"a" = '.repeat(50_000)]) {
      expect(invalid(text).code).toBe('E_INVALID_POLICY');
    }
  });

  it('never echoes long input: long paths, keys and words are described, not quoted', () => {
    const long = 'p'.repeat(5000);
    for (const text of [
      `path "${long}" { capabilities = ["read", "${long}"] }`,
      `path "${long}" { ${long} = 1 }`,
      `${long} "x" { }`,
      `path "a" { capabilities = [${long}] }`,
    ]) {
      const e = invalid(text);
      expect(e.code).toBe('E_INVALID_POLICY');
      expect(e.message).not.toContain('ppppp');
      expect(e.message.length).toBeLessThan(200);
    }
  });

  it('checks the name first (E_USAGE), and never parses a policy named root', () => {
    expect(failure(() => parsePolicy('root', 'path "*" { capabilities = ["read"] }')).code).toBe('E_USAGE');
    expect(failure(() => parsePolicy('Admin', 'path "*" { capabilities = ["read"] }')).code).toBe('E_USAGE');
  });
});

describe('checkPolicyName', () => {
  it('accepts the names people give policies, and default (it may be replaced)', () => {
    for (const name of ['default', 'app', 'my-app', 'app_read', 'team.dev', 'kv2-ro', '1st', 'a'.repeat(128)]) {
      expect(() => checkPolicyName(name)).not.toThrow();
    }
  });

  const refused: Array<[string, string]> = [
    ['', 'must not be empty'],
    ['root', '"root" is a built-in policy and cannot be stored'],
    ['response-wrapping', 'built-in'],
    ['Admin', 'policy names are lower-case (as Vault stores them): use "admin"'],
    ['a/b', 'lower-case letters, digits and . _ -'],
    ['a,b', 'lower-case letters, digits and . _ -'],
    ['a b', 'lower-case letters, digits and . _ -'],
    ['-a', 'starting with a letter or digit'],
    ['.hidden', 'starting with a letter or digit'],
    ['a'.repeat(129), 'at most 128 characters'],
  ];
  for (const [name, message] of refused) {
    it(`refuses ${JSON.stringify(name.length > 20 ? `${name.slice(0, 5)}…(${name.length})` : name)}`, () => {
      const e = failure(() => checkPolicyName(name));
      expect(e.code).toBe('E_USAGE');
      expect(e.message).toContain(message);
    });
  }
});

describe('renderPolicy', () => {
  it('writes canonical HCL that parses back to the same policy', () => {
    const p = parsePolicy('app', '{"path": {"secret/data/*": {"policy": "read"}, "//odd": {}, "a\\"b": {"capabilities": ["deny", "read"]}}}');
    const text = renderPolicy(p);
    expect(text).toBe(
      'path "secret/data/*" {\n  capabilities = ["read", "list"]\n}\n\n'
      + 'path "//odd" {\n  capabilities = []\n}\n\n'
      + 'path "a\\"b" {\n  capabilities = ["deny"]\n}\n',
    );
    expect(parsePolicy('app', text)).toEqual(p);
  });

  it('writes a policy without rules as a comment, which parses to no rules', () => {
    const empty: AclPolicy = { name: 'app', rules: [] };
    expect(parsePolicy('app', renderPolicy(empty))).toEqual(empty);
  });
});
