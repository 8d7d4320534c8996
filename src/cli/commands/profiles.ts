import type { Command } from 'commander';
import { table, type Context } from '../context.js';
import { profilesPath } from '../profiles.js';
import type { SettingOrigin } from '../settings.js';
import { shownLocator } from '../../storage/locator.js';

const CHOSEN_BY = { flag: '--profile', env: 'STORE_PROFILE', default: 'the file\'s "default"' } as const;

function fromText(o: SettingOrigin, profile: string | undefined): string {
  if (o.from === 'env') return `env ${o.env}`;
  if (o.from === 'profile') return `profile ${profile}`;
  return o.from;
}

export function registerProfiles(program: Command, ctx: Context): void {
  program
    .command('profiles')
    .description('the profiles in the config file, the active one, and where each setting comes from')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const file = ctx.profilesFile();
      const { settings, origins, profile } = ctx.resolve(cmd);
      // A store's URL may carry the database's password: shown as status shows it, without.
      const shown = <T>(name: string, value: T): T => (name === 'store' && typeof value === 'string' ? shownLocator(value) as T : value);
      const profiles = Object.entries(file?.profiles ?? {}).map(([name, body]) => ({
        name, active: name === profile?.name, default: name === file?.default, ...body, ...(body.store === undefined ? {} : { store: shown('store', body.store) }),
      }));
      const resolved = Object.fromEntries(Object.entries(origins).map(([name, o]) => [
        name, { value: shown(name, settings[name as keyof typeof settings] ?? null), ...o },
      ]));
      if (opts.json) {
        return ctx.json({
          configFile: profilesPath(ctx.io.env), found: file !== undefined, active: profile ?? null, profiles, settings: resolved,
        });
      }
      const lines = [`config file: ${profilesPath(ctx.io.env)}${file ? '' : ' (none)'}`];
      if (profiles.length) {
        lines.push('', table(['', 'PROFILE', 'STORE', 'MASTER'], profiles.map((p) => [
          p.active ? '*' : '', p.default ? `${p.name} (default)` : p.name, p.store ?? '-', p.master ?? '-',
        ])));
      }
      lines.push('', profile ? `active profile: ${profile.name} (from ${CHOSEN_BY[profile.from]})` : 'active profile: none');
      lines.push('', table(['SETTING', 'VALUE', 'FROM'], Object.entries(resolved).map(([name, r]) => [
        name, r.value ?? '-', fromText(r, profile?.name),
      ])));
      return ctx.out(lines.join('\n'));
    });
}
