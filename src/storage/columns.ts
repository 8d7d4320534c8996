/**
 * The columns of a secret row (with its current version's state, `h_…`) and
 * of a version row, as both drivers' queries name them: one table layout,
 * whichever database holds it.
 */
export type Blob = Buffer | null;

export interface SecretCols {
  id: number; name: string; current_version: number; max_versions: number; custom: string; created_at: number; updated_at: number; mac: Blob;
  h_version: number | null; h_created_at: number; h_deleted_at: number | null; h_destroyed_at: number | null; h_json: unknown;
}

export interface VersionCols {
  secret_id: number; version: number; created_at: number; deleted_at: number | null; destroyed_at: number | null; key_id: number | null; ciphertext: Blob; mac: Blob;
  json: unknown;
}
