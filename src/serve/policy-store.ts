/**
 * ACL policies kept in the store (records `acl-policy`/name, the policy's
 * text as written, HCL or JSON), parsed when loaded. `root` and `default`
 * are built in: root cannot be written, default can be replaced.
 */
import { StoreError } from '../errors.js';
import { Acl, checkPolicyName, DEFAULT_POLICY_NAME, DEFAULT_POLICY_TEXT, parsePolicy, ROOT_POLICY_NAME, type AclPolicy } from './acl/index.js';
import { NOT_CACHED, RecordCache } from './record-cache.js';
import type { Store } from '../store/store.js';

const KIND = 'acl-policy';

export class PolicyStore {
  readonly #cache: RecordCache;

  /** `cache`: where compiled policies are kept while the store is unchanged (a server shares one); default: a cache of its own. */
  constructor(private readonly store: Store, cache?: RecordCache) {
    this.#cache = cache ?? new RecordCache(store);
  }

  /**
   * The named policies compiled into one Acl (what a request is checked
   * against), kept while the store is unchanged: a policy written or deleted
   * by any process applies from the next request on.
   */
  async acl(names: readonly string[]): Promise<Acl> {
    return this.#cache.get(`acl:${names.join('\n')}`, async () => Acl.of(await this.load(names)));
  }

  /** acl(names) at once when it is cached, else NOT_CACHED. */
  aclCached(names: readonly string[]): Acl | typeof NOT_CACHED {
    return this.#cache.cached<Acl>(`acl:${names.join('\n')}`);
  }

  /** The policy's text, or undefined when there is none by that name. */
  async text(name: string): Promise<string | undefined> {
    if (name === ROOT_POLICY_NAME) return undefined;
    const stored = await this.store.readRecord(KIND, name);
    if (stored !== undefined) return stored;
    return name === DEFAULT_POLICY_NAME ? DEFAULT_POLICY_TEXT : undefined;
  }

  /** The named policies that exist, parsed (unknown names are skipped, as Vault does). */
  async load(names: readonly string[]): Promise<AclPolicy[]> {
    const out: AclPolicy[] = [];
    for (const name of names) {
      if (name === ROOT_POLICY_NAME) {
        out.push({ name, rules: [] });
        continue;
      }
      const text = await this.text(name);
      if (text !== undefined) out.push(parsePolicy(name, text));
    }
    return out;
  }

  async names(): Promise<string[]> {
    const stored = (await this.store.listRecords(KIND)).map((r) => r.id);
    return [...new Set([DEFAULT_POLICY_NAME, ROOT_POLICY_NAME, ...stored])].sort();
  }

  /** Parse, then keep `text` as given. @throws E_INVALID_POLICY, E_USAGE */
  async write(name: string, text: string): Promise<AclPolicy> {
    checkPolicyName(name);
    if (name === ROOT_POLICY_NAME) throw new StoreError('E_USAGE', 'the root policy is built in and cannot be changed');
    const policy = parsePolicy(name, text);
    await this.store.changeRecords({ action: 'acl.write', detail: name }, (tx) => tx.put(KIND, name, text));
    return policy;
  }

  /**
   * @returns whether there was such a policy (Vault's API deletes a missing one without a word)
   * @throws E_NOT_FOUND with `mustExist` when there is none: the audit entry then says so, as the caller does
   */
  async delete(name: string, options: { mustExist?: boolean } = {}): Promise<boolean> {
    if (name === ROOT_POLICY_NAME || name === DEFAULT_POLICY_NAME) {
      throw new StoreError('E_USAGE', `the ${name} policy is built in and cannot be deleted`);
    }
    // No policy has a name that breaks the rules (write checks them): nothing to delete, and such a name stays out of the audit log.
    checkPolicyName(name);
    return this.store.changeRecords({ action: 'acl.delete', detail: name }, async (tx) => {
      const deleted = await tx.delete(KIND, name);
      if (!deleted && options.mustExist) throw new StoreError('E_NOT_FOUND', `no policy named ${name}`);
      return deleted;
    });
  }
}
