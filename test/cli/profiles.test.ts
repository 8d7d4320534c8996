/** Profiles in $XDG_CONFIG_HOME/strongbox/config.json, `--profile`, `STORE_PROFILE` and `store profiles`, run as a user would. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, workspace, type CliOptions } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
let configDir: string;
let configFile: string;
const at = (name: string) => join(ws.dir, name);

/** The CLI with the test's config home (and HOME, for `~`), plus `env`. */
function run(args: string[], input?: string, env: CliOptions['env'] = {}) {
  return cli(args, { input, env: { XDG_CONFIG_HOME: join(ws.dir, 'config'), HOME: ws.dir, ...env } });
}

function ok(args: string[], input?: string, env: CliOptions['env'] = {}) {
  const r = run(args, input, env);
  expect(r.status, r.stderr).toBe(0);
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
const direct = (db: string, key: string, ...args: string[]) => cli(['--store', at(db), '--keyfile', at(key), ...args]);

beforeEach(() => {
  ws = workspace();
  configDir = join(ws.dir, 'config', 'strongbox');
  configFile = join(configDir, 'config.json');
  mkdirSync(configDir, { recursive: true });
  writeConfig(PROFILES());
  ok(['--profile', 'dev', 'init']);
  ok(['--profile', 'prod', 'init']);
});
afterEach(() => ws.cleanup());

describe('choosing a profile', () => {
  it('--profile prod writes to the prod store and reads from it; dev does not see the value', () => {
    ok(['--profile', 'prod', 'set', 'app/token'], 'prod-value');
    expect(ok(['--profile', 'prod', 'get', 'app/token']).out).toBe('prod-value');
    expect(ok(['get', 'app/token', '--profile', 'prod']).out).toBe('prod-value'); // a global option, after the command too
    expect(run(['--profile', 'dev', 'get', 'app/token']).status).toBe(3);
    expect(direct('prod.db', 'prod.key', 'get', 'app/token').out).toBe('prod-value');
    expect(direct('dev.db', 'dev.key', 'get', 'app/token').status).toBe(3);
  });

  it('STORE_PROFILE selects a profile, and --profile beats it', () => {
    ok(['set', 'app/token'], 'from-env-profile', { STORE_PROFILE: 'prod' });
    expect(direct('prod.db', 'prod.key', 'get', 'app/token').out).toBe('from-env-profile');
    expect(run(['--profile', 'dev', 'get', 'app/token'], undefined, { STORE_PROFILE: 'prod' }).status).toBe(3);
  });

  it('the file\'s "default" selects when neither is given', () => {
    ok(['set', 'app/token'], 'dev-value');
    expect(direct('dev.db', 'dev.key', 'get', 'app/token').out).toBe('dev-value');
    expect(direct('prod.db', 'prod.key', 'get', 'app/token').status).toBe(3);
  });

  it('an unknown profile is a usage error naming the known ones', () => {
    for (const r of [run(['--profile', 'staging', 'list']), run(['list'], undefined, { STORE_PROFILE: 'staging' })]) {
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('staging');
      expect(r.stderr).toContain('(profiles: dev, prod)');
    }
  });

  it('asking for a profile without a config file says where it looked; no file and no profile is fine', () => {
    const empty = { XDG_CONFIG_HOME: at('nowhere') };
    const r = run(['--profile', 'prod', 'list'], undefined, empty);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(join(at('nowhere'), 'strongbox', 'config.json'));
    ok(['--store', at('plain.db'), '--keyfile', at('plain.key'), 'init'], undefined, empty);
  });
});

describe('precedence: flag > environment > profile > default', () => {
  it('STORE_PATH overrides the profile\'s store, which keeps its key file', () => {
    ok(['--profile', 'prod', 'init'], undefined, { STORE_PATH: at('other.db') });
    expect(existsSync(at('other.db'))).toBe(true);
    expect(direct('other.db', 'prod.key', 'status').status).toBe(0);
  });

  it('--store overrides both STORE_PATH and the profile', () => {
    ok(['--profile', 'prod', '--store', at('flag.db'), 'init'], undefined, { STORE_PATH: at('env.db') });
    expect(existsSync(at('flag.db'))).toBe(true);
    expect(existsSync(at('env.db'))).toBe(false);
  });

  it('STORE_KEYFILE overrides the profile\'s key file, and --keyfile overrides STORE_KEYFILE', () => {
    ok(['--profile', 'prod', 'set', 'app/token'], 'v');
    expect(run(['--profile', 'prod', 'get', 'app/token'], undefined, { STORE_KEYFILE: at('dev.key') }).status).toBe(5);
    const r = ok(['--profile', 'prod', '--keyfile', at('prod.key'), 'get', 'app/token'], undefined, { STORE_KEYFILE: at('dev.key') });
    expect(r.out).toBe('v');
  });

  it('STORE_MASTER_KEY still works, over a profile\'s key file', () => {
    const masterKey = randomBytes(32).toString('base64');
    writeConfig({ profiles: { ...PROFILES().profiles, ci: { store: at('ci.db'), keyfile: at('no-such.key') } } });
    ok(['--store', at('ci.db'), 'init', '--master', 'env'], undefined, { STORE_MASTER_KEY: masterKey });
    ok(['--profile', 'ci', 'set', 'app/token'], 'ci-value', { STORE_MASTER_KEY: masterKey });
    expect(ok(['--profile', 'ci', 'get', 'app/token'], undefined, { STORE_MASTER_KEY: masterKey }).out).toBe('ci-value');
    expect(run(['--profile', 'ci', 'get', 'app/token']).status).toBe(6); // without it, the profile's (missing) key file
  });
});

describe('store init with a profile', () => {
  it('creates the profile\'s store with its master kind and passphrase file', () => {
    writeFileSync(at('pp.pass'), 'correct horse battery staple\n', { mode: 0o600 });
    writeConfig({ profiles: { pp: { store: at('pp.db'), master: 'passphrase', passphraseFile: at('pp.pass') } } });
    const r = ok(['--profile', 'pp', 'init', '--scrypt-log-n', '15', '--json']);
    expect(JSON.parse(r.out)).toMatchObject({ path: at('pp.db'), masterKind: 'passphrase' });
    ok(['--profile', 'pp', 'set', 'app/token'], 'pp-value');
    expect(ok(['--profile', 'pp', 'get', 'app/token']).out).toBe('pp-value');
  });

  it('--master beats the profile\'s master kind', () => {
    writeConfig({ profiles: { pp: { store: at('pp.db'), master: 'passphrase', keyfile: at('pp.key') } } });
    expect(JSON.parse(ok(['--profile', 'pp', 'init', '--master', 'keyfile', '--json']).out)).toMatchObject({ masterKind: 'keyfile' });
  });

  it('takes relative paths from the config file\'s directory and ~ from HOME', () => {
    writeConfig({ profiles: { rel: { store: 'rel.db', keyfile: '~/home.key' } } });
    ok(['--profile', 'rel', 'init']);
    expect(existsSync(join(configDir, 'rel.db'))).toBe(true);
    expect(existsSync(at('home.key'))).toBe(true);
  });
});

describe('a config file that cannot be trusted or read', () => {
  it('malformed JSON is a usage error naming the file and the place, never quoting the text', () => {
    writeConfig('{"profiles": {\n  "dev": {"store": "a.db",}}}');
    const r = run(['list']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(configFile);
    expect(r.stderr).toContain('not valid JSON');
    expect(r.stderr).toContain('line 2 column 27');
    writeConfig('{"profiles": {"dev": {"keyfile": CANARY-not-quoted}}}');
    const bare = run(['list']);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toContain('not valid JSON');
    expect(bare.stderr).not.toContain('CANARY');
  });

  it('a field that would hold a secret is refused, pointing to the file field, without its value', () => {
    for (const [field, instead] of [['passphrase', 'passphraseFile'], ['pin', 'pinFile'], ['masterKey', 'keyfile']]) {
      writeConfig({ profiles: { dev: { store: at('dev.db'), [field!]: 'CANARY-secret' } } });
      const r = run(['list']);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`"${field}"`);
      expect(r.stderr).toContain(`"${instead}"`);
      expect(r.stderr).not.toContain('CANARY');
    }
  });

  it('unknown fields, a bad master kind and a default naming no profile are refused', () => {
    writeConfig({ profiles: { dev: { stor: 'x.db' } } });
    expect(run(['list']).stderr).toContain('unknown field "stor"');
    writeConfig({ profiles: { dev: { master: 'hsm' } } });
    expect(run(['list']).status).toBe(2);
    writeConfig({ default: 'prod', profiles: { dev: {} } });
    expect(run(['list']).stderr).toContain('"default" names no profile');
  });

  it('a config file writable by group or others is refused, saying what to run', () => {
    for (const mode of [0o620, 0o602]) {
      writeConfig(PROFILES(), mode);
      const r = run(['--profile', 'dev', 'list']);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('writable by group or others');
      expect(r.stderr).toContain(`chmod go-w ${configFile}`);
    }
    writeConfig(PROFILES(), 0o644); // readable by others is fine: it holds no secret
    ok(['--profile', 'dev', 'list']);
  });
});

describe('store profiles', () => {
  it('--json lists the profiles, the active one and where each setting comes from', () => {
    const r = ok(['--profile', 'prod', 'profiles', '--json'], undefined, { STORE_PATH: at('env.db') });
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

  it('marks the active profile in text and falls back to the default store without a profile', () => {
    const text = ok(['profiles']).out;
    expect(text).toMatch(/^\*\s+dev \(default\)/m);
    expect(text).toContain('active profile: dev (from the file\'s "default")');
    writeConfig({ profiles: PROFILES().profiles });
    const none = JSON.parse(ok(['profiles', '--json'], undefined, { XDG_DATA_HOME: at('data') }).out) as { active: unknown; settings: unknown };
    expect(none).toMatchObject({ active: null, settings: { store: { value: join(at('data'), 'strongbox', 'store.db'), from: 'default' } } });
  });
});
