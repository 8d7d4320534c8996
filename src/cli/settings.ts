/**
 * The one place the CLI decides each setting: a flag, else an environment
 * variable, else the active profile, else the built-in default. Every command
 * gets its store path and master-key options from here, so the master-key
 * code, which falls back to the environment only for what is still unset,
 * never sees a profile value where an environment variable should have won.
 */
import { StoreError } from '../errors.js';
import { defaultStorePath } from '../platform/paths.js';
import type { Profile, ProfilesFile } from './profiles.js';

export type Origin = 'flag' | 'env' | 'profile' | 'default';

/** Where a setting came from; `env` names the variable. */
export interface SettingOrigin {
  from: Origin;
  env?: string;
}

/** The settings a profile may hold, resolved: a store path always. */
export interface Settings extends Profile {
  store: string;
}

export type SettingName = keyof Settings;

export interface Resolved {
  settings: Settings;
  /** Only the settings that have a value, or that an environment secret displaced. */
  origins: Partial<Record<SettingName, SettingOrigin>>;
  /** The active profile and what chose it. */
  profile?: { name: string; from: 'flag' | 'env' | 'default' };
}

type Env = Record<string, string | undefined>;

/**
 * Per setting: the flag, the environment variable (if it has one), and the
 * variable that gives the same secret as a value. A value in the environment
 * (STORE_MASTER_KEY, STORE_PASSPHRASE, STORE_PKCS11_PIN) beats a profile's
 * file for that secret, as any environment variable beats the profile; a
 * flag or the *_FILE variable still beats it, as before profiles.
 */
const RULES: { name: SettingName; env?: string; valueEnv?: string }[] = [
  { name: 'store', env: 'STORE_PATH' },
  { name: 'master' },
  { name: 'keyfile', env: 'STORE_KEYFILE', valueEnv: 'STORE_MASTER_KEY' },
  { name: 'passphraseFile', env: 'STORE_PASSPHRASE_FILE', valueEnv: 'STORE_PASSPHRASE' },
  { name: 'module', env: 'STORE_PKCS11_MODULE' },
  { name: 'pinFile', env: 'STORE_PKCS11_PIN_FILE', valueEnv: 'STORE_PKCS11_PIN' },
  { name: 'tokenLabel' },
  { name: 'keyLabel' },
];

/**
 * The profile to use: --profile, else STORE_PROFILE, else the file's default.
 * @throws StoreError E_USAGE when one is asked for and there is no file, or no such profile in it
 */
function activeProfile(asked: string | undefined, env: Env, file: ProfilesFile | undefined, where: string): Resolved['profile'] & { body: Profile } | undefined {
  const fromEnv = env.STORE_PROFILE || undefined;
  const name = asked ?? fromEnv;
  if (name === undefined) {
    return file?.default !== undefined ? { name: file.default, from: 'default', body: file.profiles[file.default]! } : undefined;
  }
  // The name as given, unless it holds '=' (what follows may be a value: README, no error quotes it).
  const shown = name.includes('=') ? '(a name holding \'=\', not shown)' : name;
  const how = asked !== undefined ? `--profile ${shown}` : `STORE_PROFILE=${shown}`;
  if (!file) throw new StoreError('E_USAGE', `${how}: there is no config file ${where}`, ['create it with a "profiles" object (see the README, "Profiles")']);
  if (!Object.hasOwn(file.profiles, name)) {
    const known = Object.keys(file.profiles);
    throw new StoreError('E_USAGE', `${how}: no such profile in ${file.path} (profiles: ${known.length ? known.join(', ') : 'none'})`);
  }
  return { name, from: asked !== undefined ? 'flag' : 'env', body: file.profiles[name]! };
}

/**
 * Resolve every setting.
 * @param flags the command line's values (undefined when not given)
 * @param where the config file's path, for the message when it is missing
 * @throws StoreError E_USAGE for an unknown or unavailable profile
 */
export function resolveSettings(
  flags: Partial<Settings> & { profile?: string },
  env: Env,
  file: ProfilesFile | undefined,
  where: string,
): Resolved {
  const active = activeProfile(flags.profile, env, file, where);
  const settings: Partial<Settings> = {};
  const origins: Resolved['origins'] = {};
  const set = (name: SettingName, value: string | undefined, origin: SettingOrigin): void => {
    (settings as Record<string, string | undefined>)[name] = value;
    origins[name] = origin;
  };
  for (const { name, env: variable, valueEnv } of RULES) {
    const flag = flags[name];
    if (flag !== undefined) set(name, flag, { from: 'flag' });
    else if (variable && env[variable]) set(name, env[variable], { from: 'env', env: variable });
    else if (valueEnv && env[valueEnv]) set(name, undefined, { from: 'env', env: valueEnv });
    else if (active?.body[name] !== undefined) set(name, active.body[name], { from: 'profile' });
  }
  if (settings.store === undefined) set('store', defaultStorePath(env), { from: 'default' });
  return {
    settings: settings as Settings,
    origins,
    profile: active && { name: active.name, from: active.from },
  };
}
