import type { BundleHeader } from './header.js';
import type { SecretRecord, VersionRecord } from './records.js';

/**
 * The order rules both sides enforce: secrets in strictly ascending name
 * order, each followed by exactly its announced number of version records in
 * strictly ascending version order, none above the secret's current version.
 * Also the rules of the records inside an age bundle (src/crypto/age-records.ts).
 */
export class Sequence {
  secrets = 0;
  versions = 0;
  #lastName: string | undefined;
  #pending = 0;
  #lastVersion = 0;
  #current = 0;

  constructor(private readonly h: Pick<BundleHeader, 'allVersions' | 'secrets' | 'versions'>, private readonly fail: (m: string) => Error) {}

  secret(r: Pick<SecretRecord, 'name' | 'currentVersion' | 'versionCount'>, at: string): void {
    if (this.#pending > 0) throw this.fail(`${at}: a secret where a version of ${this.#lastName} was expected`);
    if (this.#lastName !== undefined && !(r.name > this.#lastName)) throw this.fail(`${at}: secret names out of order`);
    if (this.secrets + 1 > this.h.secrets) throw this.fail(`${at}: more secrets than the header states`);
    if (!this.h.allVersions && r.versionCount !== 1) throw this.fail(`${at}: a current-only bundle has one version per secret`);
    this.secrets++;
    this.#lastName = r.name;
    this.#pending = r.versionCount;
    this.#lastVersion = 0;
    this.#current = r.currentVersion;
  }

  version(r: Pick<VersionRecord, 'version' | 'deletedAt'>, at: string): void {
    if (this.#pending === 0) throw this.fail(`${at}: a version with no secret before it`);
    if (r.version <= this.#lastVersion || r.version > this.#current) throw this.fail(`${at}: versions out of order`);
    if (!this.h.allVersions && (r.version !== this.#current || r.deletedAt !== null)) {
      throw this.fail(`${at}: a current-only bundle holds only live current versions`);
    }
    if (this.versions + 1 > this.h.versions) throw this.fail(`${at}: more versions than the header states`);
    this.versions++;
    this.#pending--;
    this.#lastVersion = r.version;
  }

  end(at: string): void {
    if (this.#pending > 0 || this.secrets !== this.h.secrets || this.versions !== this.h.versions) {
      throw this.fail(`${at}: ${this.secrets} secrets and ${this.versions} versions, the header states ${this.h.secrets} and ${this.h.versions}`);
    }
  }
}
