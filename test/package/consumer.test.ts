/**
 * The package as a user gets it: `npm pack` of the built tree, unpacked into
 * a consumer project's node_modules, then used from CommonJS and ESM, from
 * plain JavaScript and from TypeScript (checked with skipLibCheck off, so a
 * broken published declaration fails), and through its `store` bin.
 *
 * Not `npm install` of the tarball: that would reach the registry and rebuild
 * better-sqlite3. The package's dependencies are linked from this checkout's
 * node_modules instead; what is tested is what the tarball holds (its files,
 * exports map, declarations and bin), as a user's resolver sees it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

const repo = resolve('.');
/** Where this checkout's packages really are (node_modules may be a link). */
const modulesRoot = dirname(realpathSync(join(repo, 'node_modules')));
const tsc = join(repo, 'node_modules', '.bin', 'tsc');

interface PackedFile { path: string }

let work: string;
let consumer: string;
let pkgDir: string;
let packed: string[];
let manifest: { version: string; dependencies: Record<string, string> };

/** Run node in the consumer project; the result's stdout, failing the test with stderr otherwise. */
function node(args: string[], cwd = consumer): string {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

function typecheck(dir: string): void {
  const r = spawnSync(tsc, ['-p', dir], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
}

function writeFiles(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

/** Every file under dir, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/**
 * A small program against the public API, the same text for CommonJS and ESM:
 * a real store in a temp dir, a write, a read, and a typed error.
 */
const PROGRAM = `import { initStore, openStore, keyFile, StoreError, type Store } from 'strongbox';

async function main(dir: string): Promise<string> {
  const path = dir + '/s.db';
  const key = dir + '/master.key';
  const created: Store = await initStore(path, keyFile(key, { create: true }));
  await created.put('app/greeting', 'hello from a consumer');
  await created.close();
  const store = await openStore(path, keyFile(key));
  try {
    const got = await store.get('app/greeting');
    let missing = '';
    try {
      await store.get('app/absent');
    } catch (e) {
      if (e instanceof StoreError) missing = e.code;
    }
    return JSON.stringify({ value: got.value.text(), version: got.version, missing });
  } finally {
    await store.close();
  }
}

main(process.argv[2]!).then((out) => process.stdout.write(out), (e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
`;

const EXPECTED = { value: 'hello from a consumer', version: 1, missing: 'E_NOT_FOUND' };

beforeAll(() => {
  work = tempDir('strongbox-pack-');
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
  });
  const [info] = JSON.parse(out) as [{ filename: string; files: PackedFile[] }];
  packed = info.files.map((f) => f.path).sort();

  consumer = join(work, 'consumer');
  const modules = join(consumer, 'node_modules');
  mkdirSync(modules, { recursive: true });
  execFileSync('tar', ['-xzf', join(work, info.filename), '-C', modules]);
  pkgDir = join(modules, 'strongbox');
  renameSync(join(modules, 'package'), pkgDir);
  manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));

  // What npm would install beside it: the dependencies (not the optional
  // pkcs11js peer, not our devDependencies), and the user's own @types/node.
  for (const dep of [...Object.keys(manifest.dependencies), '@types/node']) {
    mkdirSync(dirname(join(modules, dep)), { recursive: true });
    symlinkSync(join(repo, 'node_modules', dep), join(modules, dep), 'dir');
  }
  // npm's bin link.
  mkdirSync(join(modules, '.bin'));
  symlinkSync('../strongbox/dist/bin/store.js', join(modules, '.bin', 'store'));
  writeFileSync(join(consumer, 'package.json'), '{ "name": "consumer", "private": true }\n');
}, 60_000);

afterAll(() => cleanupTempDirs());

describe('the packed tarball', () => {
  it('holds what a user needs', () => {
    for (const f of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cjs/index.js',
      'dist/cjs/index.d.ts', 'dist/cjs/package.json', 'dist/bin/store.js', 'dist/bin/store-main.cjs',
      'dist/bin/store-main.cjs.cache', 'dist/bin/package.json']) {
      expect(packed).toContain(f);
    }
    expect(readFileSync(join(pkgDir, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 The Strongbox authors\n/);
  });

  it('holds nothing else: no source maps, sources, tests or the CLI modules the bundle already holds', () => {
    const allowed = /^(LICENSE|README\.md|package\.json|dist\/(.+\.js|.+\.d\.ts|(.+\/)?package\.json|(.+\/)?THIRD-PARTY-LICENSES\.txt|bin\/store-main\.cjs(\.cache)?|bin\/age-encryption\.cjs|man\/(store|strongbox)\.1))$/;
    expect(packed.filter((f) => !allowed.test(f))).toEqual([]);
    expect(packed.filter((f) => /\.map$|^src\/|^test\/|^dist\/cli\//.test(f))).toEqual([]);
  });

  it('names no path of the build machine, and points at no source map', () => {
    const leaks = [repo, modulesRoot, 'strongbox-build-', 'sourceMappingURL'];
    const found: string[] = [];
    for (const f of filesUnder(pkgDir)) {
      const bytes = readFileSync(join(pkgDir, f));
      for (const leak of leaks) if (bytes.includes(leak)) found.push(`${f}: ${leak}`);
    }
    expect(found).toEqual([]);
  });

  it('gives each bundle the licences of the packages bundled into it', () => {
    expect(readFileSync(join(pkgDir, 'dist/cjs/THIRD-PARTY-LICENSES.txt'), 'utf8')).toMatch(/^@noble\/hashes@\S+ \(MIT\)$/m);
    expect(readFileSync(join(pkgDir, 'dist/bin/THIRD-PARTY-LICENSES.txt'), 'utf8')).toMatch(/^commander@\S+ \(MIT\)$/m);
  });
});

describe('JavaScript consumers', () => {
  it('require() gets the CommonJS build, with the same exports as import', () => {
    const cjs = JSON.parse(node(['-e', "console.log(JSON.stringify(Object.keys(require('strongbox')).sort()))"]));
    const esm = JSON.parse(node(['--input-type=module', '-e',
      "import * as s from 'strongbox'; console.log(JSON.stringify(Object.keys(s).sort()))"]));
    expect(cjs).toContain('openStore');
    expect(cjs).toEqual(esm);
    expect(node(['-p', "require.resolve('strongbox')"]).trim()).toBe(realpathSync(join(pkgDir, 'dist/cjs/index.js')));
  });

  it('the CommonJS build requires no ES module, so it does not depend on require(esm) (Node ≥ 20.19)', () => {
    const bundle = readFileSync(join(pkgDir, 'dist/cjs/index.js'), 'utf8');
    const required = [...new Set([...bundle.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!))];
    const packages = required.filter((r) => !r.startsWith('node:'));
    expect(packages.length).toBeGreaterThan(0);
    for (const p of packages) {
      const type = JSON.parse(readFileSync(join(consumer, 'node_modules', p, 'package.json'), 'utf8')).type;
      expect(type, `${p} is required by the CommonJS build`).not.toBe('module');
    }
    // And on a Node that can turn require(esm) off, it loads with it off.
    if (process.allowedNodeEnvironmentFlags.has('--no-experimental-require-module')) {
      expect(node(['--no-experimental-require-module', '-p', "typeof require('strongbox').openStore"]).trim()).toBe('function');
    }
  });

  it('package.json is exported, for tools that read the version', () => {
    expect(node(['-p', "require('strongbox/package.json').version"]).trim()).toBe(manifest.version);
  });
});

describe('TypeScript consumers (skipLibCheck off) type-check and run', () => {
  const tsconfig = (module: string) => JSON.stringify({
    compilerOptions: { module, target: 'ES2022', strict: true, skipLibCheck: false, types: ['node'], outDir: 'out' },
    files: ['main.ts'],
  });

  for (const [kind, type, module] of [
    ['CommonJS (module node16)', 'commonjs', 'node16'],
    ['CommonJS (module commonjs)', 'commonjs', 'commonjs'],
    ['ESM (module nodenext)', 'module', 'nodenext'],
    ['ESM (module preserve: a bundler\'s resolution)', 'module', 'preserve'],
  ] as const) {
    it(kind, () => {
      const dir = join(consumer, `ts-${type}-${module}`);
      writeFiles(dir, { 'package.json': `{ "type": "${type}" }\n`, 'tsconfig.json': tsconfig(module), 'main.ts': PROGRAM });
      typecheck(dir);
      const emitted = readFileSync(join(dir, 'out', 'main.js'), 'utf8');
      expect(emitted).toContain(type === 'commonjs' ? 'require("strongbox")' : "from 'strongbox'");
      const data = tempDir('strongbox-consumer-data-');
      expect(JSON.parse(node([join(dir, 'out', 'main.js'), data], dir))).toEqual(EXPECTED);
    });
  }
});

describe('the store bin', () => {
  const env = () => ({
    ...process.env,
    PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
    XDG_CONFIG_HOME: join(work, 'no-config'),
  });
  const store = (args: string[], extra: Record<string, string> = {}) =>
    spawnSync(join(consumer, 'node_modules', '.bin', 'store'), args, { cwd: consumer, encoding: 'utf8', env: { ...env(), ...extra } });

  it('runs from the installed package and prints its version', () => {
    const r = store(['--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(manifest.version);
  });

  it('uses its code cache though the package is not where it was built', () => {
    const r = store(['--version'], { STRONGBOX_BUILD_CODE_CACHE: 'check' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('strongbox: code cache accepted');
  });

  it('--debug traces name the package, not the build machine', () => {
    const r = store(['--debug', '--store', join(work, 'none.db'), '--keyfile', join(work, 'none.key'), 'get', 'x']);
    expect(r.status).toBe(7);
    expect(r.stderr).toContain('StoreError: no store at');
    expect(r.stderr).toMatch(/\(strongbox\/dist\/bin\/store-main\.cjs:\d+:\d+\)/);
    expect(r.stderr).not.toContain(repo);
    expect(r.stderr).not.toContain(modulesRoot);
  });
});
