/**
 * `store --version --json`: what a script or a bug report needs to know about
 * this build, beyond its version: which Node.js runs it, and which store
 * schema and file formats it writes (a store or bundle from a newer build is
 * refused, not guessed at). Loaded only for that command.
 */
import { BUNDLE_MAGIC, BUNDLE_FORMAT_V1 } from '../../crypto/bundle/header.js';
import { FORMAT_V1 } from '../../crypto/format.js';
import { STORE_FORMAT } from '../../store/header.js';
import { SCHEMA_VERSION } from '../../storage/sqlite/schema.js';

export interface VersionInfo {
  version: string;
  node: string;
  /** The SQLite schema version (PRAGMA user_version) of the stores this build writes. */
  schema: number;
  formats: {
    /** The store header's format. */
    store: string;
    /** The format byte of every encrypted value. */
    value: number;
    /** The export bundle's magic line (without its newline) and format byte. */
    export: string;
    exportFormat: number;
  };
}

export function versionInfo(version: string): VersionInfo {
  return {
    version,
    node: process.version,
    schema: SCHEMA_VERSION,
    formats: {
      store: STORE_FORMAT,
      value: FORMAT_V1,
      export: new TextDecoder().decode(BUNDLE_MAGIC).trimEnd(),
      exportFormat: BUNDLE_FORMAT_V1,
    },
  };
}
