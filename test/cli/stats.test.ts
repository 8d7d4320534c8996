/** `store stats`: text, JSON and Prometheus exposition (checked against the format's grammar), and -o written atomically. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runInProcess, runInProcessOk } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';
import { setRotatedAt } from '../helpers/rotated-at.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];
const LONG_AGO = '2000-01-01T00:00:00.000Z';

const ok = (args: string[], input?: string) => runInProcessOk(store(...args), { input });

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const VALUE = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|NaN|[+-]Inf)';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL}=${LABEL_VALUE})(?:,${LABEL}=${LABEL_VALUE})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`);
const PAIR = new RegExp(`(${LABEL})=(${LABEL_VALUE})`, 'g');

function unescape(quoted: string): string {
  return quoted.slice(1, -1).replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/**
 * Parse text exposition format 0.0.4 strictly, line by line: every line is a
 * HELP, a TYPE, another comment, blank, or a sample; HELP and TYPE come once
 * per metric and before its samples; a metric's samples are contiguous and
 * their label sets distinct; the text ends with a newline.
 */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string>; help: Map<string, string> } {
  expect(text.endsWith('\n'), 'ends with a newline').toBe(true);
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  const finished = new Set<string>();
  let current: string | undefined;
  const seen = new Set<string>();
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1}: ${line}`;
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      const [, kind, name, rest = ''] = meta;
      expect(name, where).toMatch(new RegExp(`^${NAME}$`));
      const map = kind === 'HELP' ? help : types;
      expect(map.has(name!), `second ${kind}: ${where}`).toBe(false);
      expect(samples.some((s) => s.name === name), `${kind} after samples: ${where}`).toBe(false);
      if (kind === 'TYPE') expect(['counter', 'gauge', 'histogram', 'summary', 'untyped'], where).toContain(rest);
      else expect(rest, where).not.toMatch(/\\[^\\n]/);
      map.set(name!, rest);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    expect(m, `not a sample: ${where}`).not.toBeNull();
    const name = m![1]!;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m![2] ?? '').matchAll(PAIR)) {
      expect(labels[k!], `label twice: ${where}`).toBeUndefined();
      labels[k!] = unescape(v!);
    }
    if (current !== name) {
      expect(finished.has(name), `samples of ${name} not contiguous: ${where}`).toBe(false);
      if (current) finished.add(current);
      current = name;
    }
    expect(types.has(name) && help.has(name), `no HELP/TYPE before ${where}`).toBe(true);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    expect(seen.has(key), `duplicate sample: ${where}`).toBe(false);
    seen.add(key);
    const raw = m![3]!;
    samples.push({ name, labels, value: raw === 'NaN' ? NaN : raw.endsWith('Inf') ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw) });
  }
  return { samples, types, help };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

beforeEach(async () => {
  ws = workspace();
  await ok(['init', '--master', 'keyfile']);
});
afterEach(() => ws.cleanup());

/** Three secrets, one per state of the current version, with policies: one overdue, one expired. */
async function populate(): Promise<void> {
  await ok(['set', 'app/live'], 'v1');
  await ok(['set', 'app/live'], 'v2');
  await ok(['set', 'app/gone'], 'v1');
  await ok(['set', 'app/gone'], 'v2');
  await ok(['delete', 'app/gone']); // current (2) deleted, 1 live
  await ok(['set', 'app/erased'], 'v1');
  await ok(['destroy', 'app/erased', '--versions', '1']);
  await ok(['set', 'app/due'], 'v1');
  await ok(['set', 'app/expired'], 'v1');
  await ok(['policy', 'set', 'app/due', '--rotate-every', '90d']);
  await ok(['policy', 'set', 'app/expired', '--rotate-every', '30d', '--expires-after', '60d']);
  await ok(['policy', 'set', 'app/live', '--rotate-every', '90d']);
  await setRotatedAt(ws.db, ws.key, 'app/due', LONG_AGO);
  await setRotatedAt(ws.db, ws.key, 'app/expired', '2001-01-01T00:00:00.000Z');
}

describe('store stats --format prometheus', () => {
  it('parses as exposition format 0.0.4 and counts what the store holds', async () => {
    await populate();
    await ok(['rotate-keys', '--no-rewrap']);
    const before = Date.now();
    const r = await ok(['stats', '--format', 'prometheus']);
    const { samples, types } = parseExposition(r.out);
    for (const t of types.values()) expect(t).toBe('gauge');
    for (const s of samples) expect(s.labels.store).toBe(ws.db);

    expect(value(samples, 'strongbox_secrets', { state: 'live' })).toBe(3); // live, due, expired
    expect(value(samples, 'strongbox_secrets', { state: 'deleted' })).toBe(1);
    expect(value(samples, 'strongbox_secrets', { state: 'destroyed' })).toBe(1);
    expect(value(samples, 'strongbox_versions', { state: 'live' })).toBe(5);
    expect(value(samples, 'strongbox_versions', { state: 'deleted' })).toBe(1);
    expect(value(samples, 'strongbox_versions', { state: 'destroyed' })).toBe(1);
    expect(value(samples, 'strongbox_data_keys', { status: 'primary' })).toBe(1);
    expect(value(samples, 'strongbox_data_keys', { status: 'active' })).toBe(1);
    expect(value(samples, 'strongbox_data_keys', { status: 'retired' })).toBe(0);
    expect(value(samples, 'strongbox_versions_needing_rewrap')).toBe(6); // every version not destroyed is under key 1
    expect(value(samples, 'strongbox_secrets_with_policy')).toBe(3);
    expect(value(samples, 'strongbox_rotation_overdue_secrets')).toBe(2);
    expect(value(samples, 'strongbox_expired_secrets')).toBe(1);
    expect(value(samples, 'strongbox_last_value_rotation_timestamp_seconds')).toBe(Date.parse('2001-01-01T00:00:00.000Z') / 1000);
    const rotatedAt = value(samples, 'strongbox_last_key_rotation_timestamp_seconds')!;
    expect(rotatedAt * 1000).toBeGreaterThan(before - 60_000);
    expect(rotatedAt * 1000).toBeLessThanOrEqual(Date.now());
    const primaryAge = value(samples, 'strongbox_primary_key_age_seconds')!;
    const oldestAge = value(samples, 'strongbox_oldest_key_age_seconds')!;
    expect(primaryAge).toBeGreaterThanOrEqual(0);
    expect(oldestAge).toBeGreaterThan(primaryAge); // key 1 came before key 2
    expect(samples.find((s) => s.name === 'strongbox_info')).toMatchObject({ value: 1, labels: { schema: expect.stringMatching(/^\d+$/), master: 'keyfile' } });
    // Counts and times only: no secret name anywhere.
    expect(r.out).not.toMatch(/app\//);

    await ok(['rotate-keys']);
    const after = parseExposition((await ok(['stats', '--format', 'prometheus'])).out).samples;
    expect(value(after, 'strongbox_data_keys', { status: 'primary' })).toBe(1);
    expect(value(after, 'strongbox_data_keys', { status: 'retired' })).toBe(2);
    expect(value(after, 'strongbox_data_keys', { status: 'active' })).toBe(0);
    expect(value(after, 'strongbox_versions_needing_rewrap')).toBe(0);
  });

  it('a store never rotated has no last value rotation sample, and its lone key is both primary and oldest', async () => {
    await ok(['set', 'a'], 'x');
    const { samples, types } = parseExposition((await ok(['stats', '--format', 'prometheus'])).out);
    expect(types.has('strongbox_last_value_rotation_timestamp_seconds')).toBe(true);
    expect(value(samples, 'strongbox_last_value_rotation_timestamp_seconds')).toBeUndefined();
    expect(value(samples, 'strongbox_primary_key_age_seconds')).toBe(value(samples, 'strongbox_oldest_key_age_seconds'));
    expect(value(samples, 'strongbox_rotation_overdue_secrets')).toBe(0);
  });

  it('emits exactly the metrics the README lists (with their labels besides store)', async () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const start = readme.indexOf('## Monitoring');
    const section = readme.slice(start, readme.indexOf('```cron', start));
    const listed = [...section.matchAll(/`(strongbox_[a-z_]+)(?:\{([a-z_,]+)\})?`/g)].map((m) => `${m[1]}{${m[2] ?? ''}}`).sort();
    await populate(); // a sample of every metric, the last value rotation's too
    const { samples, types } = parseExposition((await ok(['stats', '--format', 'prometheus'])).out);
    const labelsOf = (name: string) => Object.keys(samples.find((s) => s.name === name)?.labels ?? {}).filter((l) => l !== 'store');
    expect([...types.keys()].map((name) => `${name}{${labelsOf(name).join(',')}}`).sort()).toEqual(listed);
  });

  it('escapes a store path with a quote, a backslash and a newline in its label', async () => {
    const odd = join(ws.dir, 'we"ird\\na\nme.db');
    expect((await runInProcess(['--store', odd, '--keyfile', ws.key, 'init', '--master', 'keyfile'])).status).toBe(0);
    const r = await runInProcess(['--store', odd, '--keyfile', ws.key, 'stats', '--format', 'prometheus']);
    expect(r.status, r.err).toBe(0);
    const { samples } = parseExposition(r.out);
    expect(samples.length).toBeGreaterThan(10);
    for (const s of samples) expect(s.labels.store).toBe(odd);
  });
});

describe('store stats -o FILE', () => {
  it('writes the whole file by rename: 0644, no temp file left, a reader of the old file never sees the new one', async () => {
    await populate();
    const out = join(ws.dir, 'strongbox.prom');
    writeFileSync(out, 'old\n');
    const fd = openSync(out, 'r'); // a collector that opened the old file just before
    try {
      const r = await ok(['stats', '--format', 'prometheus', '-o', out]);
      expect(r.out).toBe('');
      const buf = Buffer.alloc(64);
      expect(buf.subarray(0, readSync(fd, buf, 0, 64, 0)).toString()).toBe('old\n');
    } finally {
      closeSync(fd);
    }
    const text = readFileSync(out, 'utf8');
    const { types } = parseExposition(text);
    expect(types.size).toBe(16);
    expect(statSync(out).mode & 0o777).toBe(0o644);
    expect(readdirSync(ws.dir).filter((f) => f.includes('strongbox.prom')).sort()).toEqual(['strongbox.prom']);

    // Refused output leaves no file behind.
    const missingDir = join(ws.dir, 'nope', 'x.prom');
    const bad = await runInProcess(store('stats', '--format', 'prometheus', '-o', missingDir));
    expect(bad.status).toBe(1);
    expect(bad.err).toMatch(/cannot write/);
  });
});

describe('store stats as text and JSON', () => {
  it('--json gives the same numbers; text is one fact a line; a bad --format is a usage error', async () => {
    await populate();
    const s = JSON.parse((await ok(['stats', '--json'])).out) as Record<string, unknown>;
    expect(s).toMatchObject({
      path: ws.db,
      secrets: { live: 3, deleted: 1, destroyed: 1 },
      versions: { live: 5, deleted: 1, destroyed: 1 },
      dataKeys: { primary: 1, active: 0, retired: 0, destroyed: 0 },
      versionsNeedingRewrap: 0,
      secretsWithPolicy: 3,
      rotationOverdueSecrets: 2,
      expiredSecrets: 1,
      lastValueRotationAt: '2001-01-01T00:00:00.000Z',
    });
    expect(JSON.parse((await ok(['stats', '--format', 'json'])).out)).toMatchObject({ secrets: s.secrets });
    const text = (await ok(['stats'])).out;
    expect(text).toMatch(/^secrets:\s+3 live, 1 deleted, 1 destroyed$/m);
    expect(text).toMatch(/^rotation overdue:\s+2 secret\(s\), 1 expired$/m);
    expect(text).not.toMatch(/app\//);
    expect((await runInProcess(store('stats', '--format', 'xml'))).status).toBe(2);
    expect((await runInProcess(store('stats', '--json', '--format', 'prometheus'))).status).toBe(2);
  });

  it('adds no audit entry (a collector runs it every minute)', async () => {
    const count = async () => (JSON.parse((await ok(['audit', '--json'])).out) as unknown[]).length;
    const before = await count();
    await ok(['stats', '--format', 'prometheus']);
    await ok(['stats']);
    expect(await count()).toBe(before);
  });
});

describe('store stats: last maintenance and the audit log', () => {
  it('shows the last backup, key and master rotation, and the audit log, in text, JSON and Prometheus', async () => {
    const before = Date.now();
    await ok(['set', 'a'], 'x');
    const fresh = (await ok(['stats'])).out;
    expect(fresh).toMatch(/^keys rotated:\s+never \(key 1 is the store's first\)$/m);
    expect(fresh).toMatch(/^master rotated:\s+none recorded$/m);
    expect(fresh).toMatch(/^backed up:\s+none recorded$/m);
    expect(fresh).toMatch(/^audit log:\s+entries 1\.\.\d+ \(\d+\), last \S+Z; chain not verified \(--verify-audit walks it\)$/m);

    await ok(['backup', join(ws.dir, 'b.db')]);
    await ok(['rotate-keys']);
    const newKey = join(ws.dir, 'new.key');
    await ok(['rotate-master', '--to', 'keyfile', '--new-keyfile', newKey]);
    const base = ['--store', ws.db, '--keyfile', newKey];
    const run = (...args: string[]) => runInProcessOk([...base, ...args]);

    const s = JSON.parse((await run('stats', '--json', '--verify-audit')).out) as {
      lastBackupAt: string; lastKeyRotationAt: string; lastMasterRotationAt: string;
      audit: { entries: number; lastSeq: number; firstSeq: number; prunedThrough: number | null; chain: string };
    };
    for (const field of ['lastBackupAt', 'lastKeyRotationAt', 'lastMasterRotationAt'] as const) {
      const t = Date.parse(s[field]);
      expect(t, field).toBeGreaterThanOrEqual(before - 1000);
      expect(t, field).toBeLessThanOrEqual(Date.now());
    }
    expect(Date.parse(s.lastBackupAt)).toBeLessThanOrEqual(Date.parse(s.lastKeyRotationAt));
    expect(Date.parse(s.lastKeyRotationAt)).toBeLessThanOrEqual(Date.parse(s.lastMasterRotationAt));
    expect(s.audit).toMatchObject({ firstSeq: 1, prunedThrough: null, chain: 'intact' });
    expect(s.audit.entries).toBe(s.audit.lastSeq);

    const text = (await run('stats')).out;
    expect(text).toMatch(/^keys rotated:\s+\S+Z \(0\.0 days ago\)$/m);
    expect(text).toMatch(/^master rotated:\s+\S+Z \(0\.0 days ago\)$/m);
    expect(text).toMatch(/^backed up:\s+\S+Z \(0\.0 days ago\)$/m);
    expect((await run('stats', '--verify-audit')).out).toMatch(/^audit log:\s+entries 1\.\.\d+ \(\d+\), last \S+Z; chain intact$/m);

    const { samples } = parseExposition((await run('stats', '--format', 'prometheus')).out);
    expect(value(samples, 'strongbox_last_backup_timestamp_seconds')).toBe(Date.parse(s.lastBackupAt) / 1000);
    expect(value(samples, 'strongbox_last_master_rotation_timestamp_seconds')).toBe(Date.parse(s.lastMasterRotationAt) / 1000);
    expect(value(samples, 'strongbox_audit_entries')).toBe(s.audit.entries); // stats itself adds no entry
    expect(value(samples, 'strongbox_audit_chain_intact')).toBeUndefined(); // not walked
    expect(value(parseExposition((await run('stats', '--format', 'prometheus', '--verify-audit')).out).samples, 'strongbox_audit_chain_intact')).toBe(1);
  });

  it('--verify-audit on a broken chain: reported, and exit 10 (found, not failed); without it the chain is not walked', async () => {
    await ok(['set', 'a'], 'x');
    await ok(['set', 'b'], 'y');
    const db = new Database(ws.db);
    db.prepare("UPDATE audit SET name = 'c' WHERE seq = 2").run();
    db.close();
    expect((await ok(['stats'])).out).toMatch(/chain not verified/);
    const r = await runInProcess(store('stats', '--verify-audit'));
    expect(r.status, r.err).toBe(10);
    expect(r.out).toMatch(/^audit log:\s+.*; chain BROKEN at entry 2: entry was altered/m);
    expect(r.err).toContain('store: the audit log is broken at entry 2: run store audit verify');
    const p = await runInProcess(store('stats', '--format', 'prometheus', '--verify-audit'));
    expect(p.status).toBe(10);
    expect(value(parseExposition(p.out).samples, 'strongbox_audit_chain_intact')).toBe(0);
  });
});
