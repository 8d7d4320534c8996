/** Profiles in $XDG_CONFIG_HOME/strongbox/config.json, `--profile`, `STORE_PROFILE` and `store profiles`, run as a user would. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInProcess, type InProcessOptions } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
let configDir: string;
let configFile: string;
const at = (name: string) => join(ws.dir, name);

/** The CLI with the test's config home (and HOME, for `~`), plus `env`. */
function run(args: string[], input?: string, env: InProcessOptions['env'] = {}) {
  return runInProcess(args, { input, env: { XDG_CONFIG_HOME: join(ws.dir, 'config'), HOME: ws.dir, ...env } });
}

async function ok(args: string[], input?: string, env: InProcessOptions['env'] = {}) {
  const r = await run(args, input, env);
  expect(r.status, r.err).toBe(0);
  return r;
}

function writeConfig(doc: unknown, mode = 0o600): void {
  writeFileSync(configFile, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2));
  chmodSync(configFile, mode); // not left to the umask
}

const PROFILES = () => ({
  default: 'dev',
  profiles: {
    dev: { store: at('dev.db'), keyfile: at('dev.key') },
    prod: { store: at('prod.db'), master: 'keyfile', keyfile: at('prod.key') },
  },
});

/** Read a store by its path and key, with no profiles at all. */
const direct = (db: string, key: string, ...args: string[]) => runInProcess(['--store', at(db), '--keyfile', at(key), ...args]);

beforeEach(async () => {
  ws = workspace();
  configDir = join(ws.dir, 'config', 'strongbox');
  configFile = join(configDir, 'config.json');
  mkdirSync(configDir, { recursive: true });
  writeConfig(PROFILES());
  await ok(['--profile', 'dev', 'init']);
  await ok(['--profile', 'prod', 'init']);
});
afterEach(() => ws.cleanup());

describe('choosing a profile', () => {
  it('--profile prod writes to the prod store and reads from it; dev does not see the value', async () => {
    await ok(['--profile', 'prod', 'set', 'app/token'], 'prod-value');
    expect((await ok(['--profile', 'prod', 'get', 'app/token'])).out).toBe('prod-value');
    expect((await ok(['get', 'app/token', '--profile', 'prod'])).out).toBe('prod-value'); // a global option, after the command too
    expect((await run(['--profile', 'dev', 'get', 'app/token'])).status).toBe(3);
    expect((await direct('prod.db', 'prod.key', 'get', 'app/token')).out).toBe('prod-value');
    expect((await direct('dev.db', 'dev.key', 'get', 'app/token')).status).toBe(3);
  });

  it('STORE_PROFILE selects a profile, and --profile beats it', async () => {
    await ok(['set', 'app/token'], 'from-env-profile', { STORE_PROFILE: 'prod' });
    expect((await direct('prod.db', 'prod.key', 'get', 'app/token')).out).toBe('from-env-profile');
    expect((await run(['--profile', 'dev', 'get', 'app/token'], undefined, { STORE_PROFILE: 'prod' })).status).toBe(3);
  });

  it('the file\'s "default" selects when neither is given', async () => {
    await ok(['set', 'app/token'], 'dev-value');
    expect((await direct('dev.db', 'dev.key', 'get', 'app/token')).out).toBe('dev-value');
    expect((await direct('prod.db', 'prod.key', 'get', 'app/token')).status).toBe(3);
  });

  it('an unknown profile is a usage error naming the known ones', async () => {
    for (const r of [await run(['--profile', 'staging', 'list']), await run(['list'], undefined, { STORE_PROFILE: 'staging' })]) {
      expect(r.status).toBe(2);
      expect(r.err).toContain('staging');
      expect(r.err).toContain('(profiles: dev, prod)');
    }
  });

  it('asking for a profile without a config file says where it looked; no file and no profile is fine', async () => {
    const empty = { XDG_CONFIG_HOME: at('nowhere') };
    const r = await run(['--profile', 'prod', 'list'], undefined, empty);
    expect(r.status).toBe(2);
    expect(r.err).toContain(join(at('nowhere'), 'strongbox', 'config.json'));
    await ok(['--store', at('plain.db'), '--keyfile', at('plain.key'), 'init'], undefined, empty);
  });
});

describe('precedence: flag > environment > profile > default', () => {
  it('STORE_PATH overrides the profile\'s store, which keeps its key file', async () => {
    await ok(['--profile', 'prod', 'init'], undefined, { STORE_PATH: at('other.db') });
    expect(existsSync(at('other.db'))).toBe(true);
    expect((await direct('other.db', 'prod.key', 'status')).status).toBe(0);
  });

  it('--store overrides both STORE_PATH and the profile', async () => {
    await ok(['--profile', 'prod', '--store', at('flag.db'), 'init'], undefined, { STORE_PATH: at('env.db') });
    expect(existsSync(at('flag.db'))).toBe(true);
    expect(existsSync(at('env.db'))).toBe(false);
  });

  it('STORE_KEYFILE overrides the profile\'s key file, and --keyfile overrides STORE_KEYFILE', async () => {
    await ok(['--profile', 'prod', 'set', 'app/token'], 'v');
    expect((await run(['--profile', 'prod', 'get', 'app/token'], undefined, { STORE_KEYFILE: at('dev.key') })).status).toBe(5);
    const r = await ok(['--profile', 'prod', '--keyfile', at('prod.key'), 'get', 'app/token'], undefined, { STORE_KEYFILE: at('dev.key') });
    expect(r.out).toBe('v');
  });

  it('STORE_MASTER_KEY still works, over a profile\'s key file', async () => {
    const masterKey = randomBytes(32).toString('base64');
    writeConfig({ profiles: { ...PROFILES().profiles, ci: { store: at('ci.db'), keyfile: at('no-such.key') } } });
    await ok(['--store', at('ci.db'), 'init', '--master', 'env'], undefined, { STORE_MASTER_KEY: masterKey });
    await ok(['--profile', 'ci', 'set', 'app/token'], 'ci-value', { STORE_MASTER_KEY: masterKey });
    expect((await ok(['--profile', 'ci', 'get', 'app/token'], undefined, { STORE_MASTER_KEY: masterKey })).out).toBe('ci-value');
    expect((await run(['--profile', 'ci', 'get', 'app/token'])).status).toBe(6); // without it, the profile's (missing) key file
  });
});

describe('store init with a profile', () => {
  it('creates the profile\'s store with its master kind and passphrase file', async () => {
    writeFileSync(at('pp.pass'), 'correct horse battery staple\n', { mode: 0o600 });
    writeConfig({ profiles: { pp: { store: at('pp.db'), master: 'passphrase', passphraseFile: at('pp.pass') } } });
    const r = await ok(['--profile', 'pp', 'init', '--scrypt-log-n', '15', '--json']);
    expect(JSON.parse(r.out)).toMatchObject({ path: at('pp.db'), masterKind: 'passphrase' });
    await ok(['--profile', 'pp', 'set', 'app/token'], 'pp-value');
    expect((await ok(['--profile', 'pp', 'get', 'app/token'])).out).toBe('pp-value');
  });

  it('--master beats the profile\'s master kind', async () => {
    writeConfig({ profiles: { pp: { store: at('pp.db'), master: 'passphrase', keyfile: at('pp.key') } } });
    expect(JSON.parse((await ok(['--profile', 'pp', 'init', '--master', 'keyfile', '--json'])).out)).toMatchObject({ masterKind: 'keyfile' });
  });

  it('takes relative paths from the config file\'s directory and ~ from HOME', async () => {
    writeConfig({ profiles: { rel: { store: 'rel.db', keyfile: '~/home.key' } } });
    await ok(['--profile', 'rel', 'init']);
    expect(existsSync(join(configDir, 'rel.db'))).toBe(true);
    expect(existsSync(at('home.key'))).toBe(true);
  });
});

describe('a config file that cannot be trusted or read', () => {
  it('malformed JSON is a usage error naming the file and the place, never quoting the text', async () => {
    writeConfig('{"profiles": {\n  "dev": {"store": "a.db",}}}');
    const r = await run(['list']);
    expect(r.status).toBe(2);
    expect(r.err).toContain(configFile);
    expect(r.err).toContain('not valid JSON');
    expect(r.err).toContain('line 2 column 27');
    writeConfig('{"profiles": {"dev": {"keyfile": CANARY-not-quoted}}}');
    const bare = await run(['list']);
    expect(bare.status).toBe(2);
    expect(bare.err).toContain('not valid JSON');
    expect(bare.err).not.toContain('CANARY');
  });

  it('a field that would hold a secret is refused, pointing to the file field, without its value', async () => {
    for (const [field, instead] of [['passphrase', 'passphraseFile'], ['pin', 'pinFile'], ['masterKey', 'keyfile']]) {
      writeConfig({ profiles: { dev: { store: at('dev.db'), [field!]: 'CANARY-secret' } } });
      const r = await run(['list']);
      expect(r.status).toBe(2);
      expect(r.err).toContain(`"${field}"`);
      expect(r.err).toContain(`"${instead}"`);
      expect(r.err).not.toContain('CANARY');
    }
  });

  it('unknown fields, a bad master kind and a default naming no profile are refused', async () => {
    writeConfig({ profiles: { dev: { stor: 'x.db' } } });
    expect((await run(['list'])).err).toContain('unknown field "stor"');
    writeConfig({ profiles: { dev: { master: 'hsm' } } });
    expect((await run(['list'])).status).toBe(2);
    writeConfig({ default: 'prod', profiles: { dev: {} } });
    expect((await run(['list'])).err).toContain('"default" names no profile');
  });

  it('a config file writable by group or others is refused, saying what to run', async () => {
    for (const mode of [0o620, 0o602]) {
      writeConfig(PROFILES(), mode);
      const r = await run(['--profile', 'dev', 'list']);
      expect(r.status).toBe(2);
      expect(r.err).toContain('writable by group or others');
      expect(r.err).toContain(`chmod go-w ${configFile}`);
    }
    writeConfig(PROFILES(), 0o644); // readable by others is fine: it holds no secret
    await ok(['--profile', 'dev', 'list']);
  });
});

describe('store profiles', () => {
  it('--json lists the profiles, the active one and where each setting comes from', async () => {
    const r = await ok(['--profile', 'prod', 'profiles', '--json'], undefined, { STORE_PATH: at('env.db') });
    const shown = JSON.parse(r.out) as {
      configFile: string; found: boolean; active: { name: string; from: string };
      profiles: { name: string; active: boolean; default: boolean }[]; settings: Record<string, { value: string | null; from: string; env?: string }>;
    };
    expect(shown).toMatchObject({ configFile, found: true, active: { name: 'prod', from: 'flag' } });
    expect(shown.profiles.map((p) => [p.name, p.active, p.default])).toEqual([['dev', false, true], ['prod', true, false]]);
    expect(shown.settings).toEqual({
      store: { value: at('env.db'), from: 'env', env: 'STORE_PATH' },
      master: { value: 'keyfile', from: 'profile' },
      keyfile: { value: at('prod.key'), from: 'profile' },
    });
  });

  it('marks the active profile in text and falls back to the default store without a profile', async () => {
    const text = (await ok(['profiles'])).out;
    expect(text).toMatch(/^\*\s+dev \(default\)/m);
    expect(text).toContain('active profile: dev (from the file\'s "default")');
    writeConfig({ profiles: PROFILES().profiles });
    const none = JSON.parse((await ok(['profiles', '--json'], undefined, { XDG_DATA_HOME: at('data') })).out) as { active: unknown; settings: unknown };
    expect(none).toMatchObject({ active: null, settings: { store: { value: join(at('data'), 'strongbox', 'store.db'), from: 'default' } } });
  });
});

describe('store profiles never shows a database password', () => {
  it('a PostgreSQL URL in a profile, --store or STORE_PATH is shown without its password, as status shows it', async () => {
    const url = (where: string) => `postgres://app:Sup3rSecret-${where}@127.0.0.1:1/db?sslmode=disable&password=Param-${where}`;
    writeConfig({ default: 'pg', profiles: { pg: { store: url('profile') } } });
    for (const [args, env] of [[[], {}], [['--store', url('flag')], {}], [[], { STORE_PATH: url('env') }]] as const) {
      for (const json of [false, true]) {
        const r = await ok([...args, 'profiles', ...(json ? ['--json'] : [])], undefined, env);
        expect(r.out).not.toMatch(/Sup3rSecret|Param-/);
        expect(r.out).toContain('postgres://app@127.0.0.1:1/db?sslmode=disable');
      }
    }
  });
});
