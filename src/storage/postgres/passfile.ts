/**
 * The password for a connection from libpq's password file: PGPASSFILE, else
 * ~/.pgpass. node-postgres reads the file itself too, but announces on
 * stderr that it will stop doing so; reading it here keeps the CLI's stderr
 * clean and the file honoured after that.
 *
 * libpq's rules: one `hostname:port:database:username:password` per line,
 * `*` matches anything, `\` escapes `:` and `\`, `#` starts a comment, the
 * first matching line wins; a unix socket connection matches its socket
 * directory and `localhost`; a file that group or others may read is ignored.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What a line is matched against (node-postgres' connection parameters). */
export interface PassfileTarget {
  host?: string | undefined;
  port?: number | string | undefined;
  database?: string | undefined;
  user?: string | undefined;
}

/** A line's fields, unescaped; undefined for a comment, a blank line, or one with too few fields. */
function fields(line: string): string[] | undefined {
  if (line.startsWith('#') || line.trim() === '') return undefined;
  const out: string[] = [];
  let field = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) field += line[++i];
    else if (ch === ':' && out.length < 4) {
      out.push(field);
      field = '';
    } else field += ch;
  }
  out.push(field);
  return out.length === 5 ? out : undefined;
}

/** The file to read: PGPASSFILE, else ~/.pgpass. */
function passfilePath(env: Record<string, string | undefined>): string {
  return env.PGPASSFILE || join(env.HOME || homedir(), '.pgpass');
}

/**
 * The password the password file holds for `target`; undefined when there is
 * no file, no matching line, or the file may be read by group or others.
 */
export function passfilePassword(target: PassfileTarget, env: Record<string, string | undefined> = process.env): string | undefined {
  const path = passfilePath(env);
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile() || (st.mode & 0o077) !== 0) return undefined;
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const host = target.host || 'localhost';
  const hosts = host.startsWith('/') ? [host, 'localhost'] : [host];
  const wanted = [String(target.port ?? 5432), target.database ?? '', target.user ?? ''];
  for (const line of text.split(/\r?\n/)) {
    const f = fields(line);
    if (!f) continue;
    const [h, ...rest] = f;
    if (h !== '*' && !hosts.includes(h!)) continue;
    if (rest.slice(0, 3).every((v, i) => v === '*' || v === wanted[i])) return rest[3];
  }
  return undefined;
}
