/**
 * `store --version` (and `-V`) prints the version package.json gives; with
 * --json one line with the Node.js version, the store schema and the formats
 * this build writes. `get --version N` stays get's option.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../../src/cli/main.js';
import { STORE_FORMAT } from '../../../src/store/header.js';
import { SCHEMA_VERSION } from '../../../src/storage/sqlite/schema.js';
import { runInProcess } from '../../helpers/in-process.js';
import { tempDir } from '../../helpers/tmp.js';

const packageVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

describe('store --version', () => {
  it('is package.json\'s version', async () => {
    expect(VERSION).toBe(packageVersion);
    for (const flag of ['--version', '-V']) {
      const r = await runInProcess([flag]);
      expect({ status: r.status, out: r.out, err: r.err }).toEqual({ status: 0, out: `${packageVersion}\n`, err: '' });
    }
  });

  it('--json: one line with node, schema and formats, in either order of the flags', async () => {
    for (const argv of [['--version', '--json'], ['--json', '--version'], ['-V', '--json']]) {
      const r = await runInProcess(argv);
      expect(r.status).toBe(0);
      expect(r.err).toBe('');
      expect(r.out.endsWith('\n') && !r.out.trimEnd().includes('\n')).toBe(true);
      expect(JSON.parse(r.out)).toEqual({
        version: packageVersion,
        node: process.version,
        schema: SCHEMA_VERSION,
        formats: { store: STORE_FORMAT, value: 1, export: 'strongbox-export/v1', exportFormat: 1 },
      });
    }
  });

  it('README\'s example of --version --json has the shape and schema this build prints', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const example = /`store --version --json` prints[\s\S]*?`(\{"version"[^`]*\})`/.exec(readme)?.[1];
    expect(example, 'no --version --json example in README.md').toBeDefined();
    const shown = JSON.parse(example!) as Record<string, unknown>;
    const actual = JSON.parse((await runInProcess(['--version', '--json'])).out) as Record<string, unknown>;
    expect(Object.keys(shown)).toEqual(Object.keys(actual));
    expect({ ...shown, version: actual.version, node: actual.node }).toEqual(actual);
    expect(shown.schema).toBe(SCHEMA_VERSION);
  });

  it('with anything else it is not the version: get --version N, or a stray option', async () => {
    const dir = tempDir();
    const base = ['--store', join(dir, 's.db'), '--keyfile', join(dir, 'k')];
    expect((await runInProcess([...base, 'init', '--master', 'keyfile'])).status).toBe(0);
    expect((await runInProcess([...base, 'set', 'a'], { input: 'one' })).status).toBe(0);
    expect((await runInProcess([...base, 'set', 'a'], { input: 'two' })).status).toBe(0);
    expect(await runInProcess([...base, 'get', 'a', '--version', '1'])).toMatchObject({ status: 0, out: 'one' });
    expect((await runInProcess(['--version', '--debug'])).status).toBe(2);
    expect((await runInProcess(['--version', '--json', '--json'])).status).toBe(2);
  });
});
