/**
 * How the CLI writes JSON: one document on one line, no indentation, so a
 * log shipper tailing a cron job's output takes each line as one record, and
 * `jq` reads it as before. Reports of operations (rotate-keys, backup,
 * verify, …) also say when they were printed, as `time` (RFC 3339, UTC, to
 * the millisecond), the first field, as log records usually start; what
 * data commands print (a secret, a list, a history) keeps its own shape.
 */

/** `value` as one line of JSON, newline included. */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value ?? null)}\n`;
}

/** A report with the time it is printed at, as its first field. */
export function stamped<T extends object>(report: T, at: Date = new Date()): { time: string } & T {
  return { time: at.toISOString(), ...report };
}

/**
 * What set, rollback, rotate and edit print of a write with --json: the version
 * written. The secret's custom metadata, which the library's WriteResult also
 * carries (a Vault write answers it), stays out: `store meta` prints it.
 */
export function writtenJson(r: { name: string; version: number; createdAt: Date }): { name: string; version: number; createdAt: Date } {
  return { name: r.name, version: r.version, createdAt: r.createdAt };
}
