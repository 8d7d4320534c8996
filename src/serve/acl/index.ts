/** Vault ACL policies for `store serve`: parse (HCL or JSON), render, and match requests against them. */
export { CAPABILITIES, type Capability } from './capabilities.js';
export {
  DEFAULT_POLICY_NAME,
  MAX_POLICY_NAME_LENGTH,
  ROOT_POLICY_NAME,
  checkPolicyName,
  parsePolicy,
  renderPolicy,
  type AclPolicy,
  type PathRule,
} from './policy.js';
export { DEFAULT_POLICY_TEXT } from './default-policy.js';
export { Acl } from './acl.js';
