/**
 * Examples for every command, in one place: shown at the end of each
 * command's `--help` and in the man page. Kept apart from the command
 * modules so a command's code and its examples can change independently; a
 * test parses every example with the real program, so one that names a
 * command or option that does not exist fails.
 *
 * Keyed by the command's path from the root ("get", "audit prune").
 * `line` is a shell command line (one or more `store` invocations, which the
 * test parses: keep redirections after a store invocation's own words, not
 * within them, and no `store` call inside quotes); `does` says what it does.
 * No example puts a value in argv.
 */
import type { Command } from 'commander';

export interface Example {
  line: string;
  does: string;
}

export const EXAMPLES: Readonly<Record<string, readonly Example[]>> = {
  init: [
    { line: 'store init --master keyfile --keyfile ~/.config/strongbox/master.key', does: 'a store whose master key is a key file (created 0600 if absent, and remembered)' },
    { line: 'store init', does: 'a store under a passphrase, asked twice on the terminal' },
    { line: 'STORE_MASTER_KEY=$(head -c 32 /dev/urandom | base64) store init --master env --json', does: 'a store for CI, its key in the environment' },
  ],
  set: [
    { line: "printf '%s' \"$NEW_PASSWORD\" | store set app/db-password", does: 'the value from stdin (never from argv)' },
    { line: 'store set app/db-password', does: 'on a terminal: asks for the value without echo' },
    { line: 'store set app/tls-key --file ./tls.key', does: 'the value from a file' },
    { line: 'store set app/db-password --cas 2 < new-password.txt', does: 'only if version 2 is still the current one (exit 4 otherwise)' },
    { line: 'store set app/session-secret --generate --length 48 --charset base64url', does: 'a new random value from the OS CSPRNG, never printed' },
    { line: 'store set app/db --type json --file ./db.json', does: 'a JSON object of fields (a Vault-style secret), checked and recorded as JSON' },
  ],
  edit: [
    { line: 'store edit app/config.yaml', does: 'the value in $VISUAL or $EDITOR, through a private 0600 file zeroed afterwards; no new version when unchanged' },
    { line: 'EDITOR="code --wait" store edit app/new-secret', does: 'a new secret written in an editor that needs arguments' },
  ],
  get: [
    { line: 'store get app/db-password', does: 'the value, byte for byte (a newline is added only on a terminal)' },
    { line: 'DB_PASSWORD=$(store get app/db-password)', does: 'into a shell variable, without the value passing through argv' },
    { line: 'store get app/db-password --version 2 --json', does: 'an older version, with its number and time, as JSON' },
    { line: 'store get app/db-password --at 2026-01-31T12:00:00Z', does: 'the version that was current at that time' },
    { line: 'store get app/db-password --clip --clip-seconds 20', does: 'to the clipboard (wl-copy, xclip, xsel, pbcopy or clip.exe), cleared after 20 s if still there' },
    { line: 'store get app/db --field password', does: 'one field of a JSON secret (set with --type json), as vault kv get -field does' },
  ],
  list: [
    { line: 'store list', does: 'every secret: name, version, versions kept, state, last update (never values)' },
    { line: 'store ls app/', does: 'the secrets whose names start with app/' },
    { line: "store list 'app/*/db' --json", does: 'a glob, as JSON' },
  ],
  history: [
    { line: 'store history app/db-password', does: 'every version: number, time, state, data key' },
    { line: 'store history app/db-password --json', does: 'the same as JSON' },
  ],
  delete: [
    { line: 'store delete app/db-password', does: 'soft-delete the current version (store undelete brings it back)' },
    { line: 'store delete app/db-password --versions 1,2', does: 'soft-delete versions 1 and 2' },
  ],
  undelete: [
    { line: 'store undelete app/db-password', does: 'restore the soft-deleted current version' },
    { line: 'store undelete app/db-password --versions 3', does: 'restore version 3' },
  ],
  destroy: [
    { line: 'store destroy app/db-password --versions 1', does: 'erase version 1 for good' },
  ],
  purge: [
    { line: 'store purge app/old-token', does: 'remove the secret and all its versions for good' },
  ],
  rollback: [
    { line: 'store rollback app/db-password 1', does: "write a new version holding version 1's value" },
    { line: 'store rollback app/db-password 1 --cas 3', does: 'only if version 3 is still the current one' },
  ],
  meta: [
    { line: 'store meta app/db-password', does: "show the secret's metadata" },
    { line: 'store meta app/db-password --max-versions 5 --set owner=ops', does: 'keep 5 versions, and record an owner' },
    { line: 'store meta app/db-password --unset owner --json', does: 'remove a metadata entry, print the result as JSON' },
  ],
  status: [
    { line: 'store status', does: "the store's path, id, master key kind, counts and data keys" },
    { line: 'store --profile prod status --json', does: "another profile's store, as JSON" },
  ],
  'rotate-keys': [
    { line: 'store rotate-keys', does: 'a new primary data key, then re-encrypt old versions under it' },
    { line: 'store rotate-keys --if-older-than 30d --wait --json', does: 'for cron: only when the primary key is 30 days old' },
  ],
  keys: [
    { line: 'store keys', does: 'every data key: id, version, status, created, versions it encrypts' },
    { line: 'store keys --json', does: 'the same as JSON' },
  ],
  'keys destroy': [
    { line: 'store keys destroy 1', does: 'erase retired data key version 1 (refused while a version uses it)' },
  ],
  'rotate-master': [
    { line: 'store rotate-master --to keyfile --new-keyfile ~/.config/strongbox/new.key', does: 'move the store to a new key file' },
    { line: 'store rotate-master --to passphrase', does: 'move to a new passphrase, asked on the terminal' },
  ],
  audit: [
    { line: 'store audit --name app/db-password', does: 'who did what to one secret' },
    { line: 'store audit --action get --since 2026-01-01T00:00:00Z --json', does: 'every read since a time, as JSON' },
  ],
  'audit verify': [
    { line: 'store audit verify', does: 'check the hash chain; report the first entry edited, removed, moved or inserted' },
  ],
  'audit prune': [
    { line: 'store audit prune --before 180d', does: 'remove entries older than 180 days (for cron)' },
    { line: 'store audit prune --before 2026-01-01T00:00:00Z --json', does: 'remove entries before a date, report as JSON' },
  ],
  config: [
    { line: 'store config list', does: 'every store setting with its value' },
    { line: 'store config set audit.reads false', does: 'stop auditing reads' },
  ],
  'config get': [
    { line: 'store config get audit.reads', does: 'whether reads are audited' },
  ],
  'config set': [
    { line: 'store config set audit.reads false', does: 'stop auditing reads (the change itself is audited)' },
  ],
  'config list': [
    { line: 'store config list --json', does: 'every store setting, as JSON' },
  ],
  export: [
    { line: 'store export app.sbx --prefix app/', does: 'the secrets under app/ into a bundle sealed with a passphrase (asked)' },
    { line: 'store export all.sbx --all-versions --recipient-keyfile ./transfer.key', does: 'every version, sealed to a key file' },
    { line: 'store export app.env --plaintext --format env --prefix app/', does: 'the secrets under app/ in clear text as a .env file, app/ taken off their names (warns; never overwrites); store import app.env --prefix app/ puts it back' },
    { line: 'store export team.age --prefix app/ --recipient age1qqexample --recipients-file team.txt', does: 'an age file each recipient opens alone (store import --identity, or age -d)' },
  ],
  import: [
    { line: 'store import app.sbx --dry-run', does: 'check a bundle and report what would happen, writing nothing' },
    { line: 'store import app.sbx --on-conflict new-version --json', does: 'import, adding a new version where a name exists' },
    { line: 'store import .env --prefix app/', does: 'each variable of a .env file as app/VARIABLE' },
    { line: 'store import .env --prefix app/ --on-conflict update --dry-run', does: 'which values changed since the last import (a new version only for those)' },
    { line: 'store import team.age --identity ~/.config/age/key.txt', does: 'an age bundle, opened with your age identity' },
  ],
  'age-keygen': [
    { line: 'store age-keygen ~/.config/age/key.txt', does: 'a new age identity (0600); prints its public key to hand out' },
    { line: 'store age-keygen ~/.config/age/key.txt -y --json', does: 'the public key of an existing identity, as JSON' },
  ],
  backup: [
    { line: 'store backup /var/backups/secrets-2026-01-31.db --verify', does: 'a verified online snapshot to a new 0600 file (never over an existing one)' },
    { line: 'store backup /var/backups/secrets-2026-02-01.db --json', does: 'the report as JSON' },
  ],
  restore: [
    { line: 'store restore /var/backups/secrets-2026-01-31.db', does: 'replace the store with a verified backup (the old file is kept)' },
    { line: 'store restore old.db --force --wait', does: "another store's backup, waiting for the lock" },
  ],
  migrate: [
    { line: 'store migrate --from ./store.db --to postgres://app@db.internal/secrets', does: 'move a store file into an empty PostgreSQL database: same keys, versions and audit log, verified' },
    { line: 'store --store postgres://app@db.internal/secrets migrate --to ./store.db --json', does: 'and back into a new store file; the report as JSON' },
  ],
  verify: [
    { line: 'store verify', does: 'the file\'s structure, every row\'s MAC, the state digest, master key, every version\'s key' },
    { line: 'store verify --deep --json', does: 'also decrypt every version; the report as JSON' },
  ],
  rotate: [
    { line: 'store rotate app/api-token --generate --length 40', does: 'a new random value (never printed: read it with store get)' },
    { line: 'store rotate app/db-password < new-password.txt', does: 'a new value from stdin, recorded as a rotation' },
  ],
  policy: [
    { line: 'store policy set app/db-password --rotate-every 90d', does: 'rotate every 90 days' },
    { line: 'store policy show app/db-password', does: 'the policy and whether it is due' },
  ],
  'policy set': [
    { line: 'store policy set app/db-password --rotate-every 90d --expires-after 365d', does: 'due after 90 days, expired after 365' },
  ],
  'policy show': [
    { line: 'store policy show app/db-password --json', does: 'the policy and whether it is due, as JSON' },
  ],
  due: [
    { line: 'store due', does: 'the secrets past their rotation date (exit 10 when any)' },
    { line: 'store due --json', does: 'the same as JSON, for alerting' },
  ],
  run: [
    { line: 'store run --prefix app/prod/ -- node server.js', does: 'start a program with app/prod/db-password as DB_PASSWORD and so on' },
    { line: 'store run --env PGPASSWORD=app/db-password -- psql -h db.internal app', does: 'one secret under a variable name of your choice' },
    { line: 'store run --only db-password,api-key --prefix app/ --no-override -- ./deploy.sh', does: 'two secrets, keeping variables already set' },
  ],
  env: [
    { line: 'store env --prefix app/prod/ > .env', does: "KEY='value' lines as dotenv reads them (values in clear text)" },
    { line: 'source <(store env --prefix app/ --format shell)', does: 'export the secrets into the current shell (bash, zsh)' },
    { line: 'store env --prefix app/ --format fish | source', does: 'the same in fish' },
    { line: 'store env --env DB_PASSWORD=app/db-password --json', does: 'one secret as {"DB_PASSWORD": "…"}' },
  ],
  inject: [
    { line: 'store inject -i config.tmpl -o config.yaml', does: 'replace {{ store:name }} in a template; the result written 0600' },
    { line: 'store inject < nginx.conf.tmpl', does: 'the template from stdin, the result to stdout' },
  ],
  unlock: [
    { line: 'store unlock --for 1h', does: 'ask the passphrase once; no prompt for an hour' },
  ],
  lock: [
    { line: 'store lock', does: 'make the agent forget this store now' },
    { line: 'store lock --all', does: 'forget every store and stop the agent' },
  ],
  profiles: [
    { line: 'store profiles', does: 'the profiles, the active one, and where each setting comes from' },
    { line: 'store --profile prod profiles --json', does: 'the same for another profile, as JSON' },
  ],
  check: [
    { line: 'store check --require db/url:url --require api/key:hex,min=32', does: 'exit 10 listing every missing or malformed secret' },
    { line: 'store check --require-file required-secrets || exit 1', does: "in an app's start script" },
  ],
  token: [
    { line: 'store token create --policy app-ro --ttl 24h > ~/.vault-token', does: 'a token for store serve, valid a day, straight into a file' },
    { line: 'store token list', does: 'the live tokens: accessors, policies, expiry (never the tokens)' },
  ],
  'token create': [
    { line: 'store token create --policy ci --ttl 1h --num-uses 20 --display-name deploy', does: 'a short-lived token for one CI job' },
    { line: 'store token create --policy root --json', does: "a root token (no expiry), as Vault's auth object" },
  ],
  'token list': [
    { line: 'store token list --json', does: 'the same as JSON' },
  ],
  'token revoke': [
    { line: 'store token revoke Q3d7h2kLw9TzX1pRbN6mYc4s', does: 'revoke a token and the tokens it made, by its accessor' },
  ],
  serve: [
    { line: 'store serve --init-root-token ~/.vault-token', does: 'the Vault API on 127.0.0.1:8200 (VAULT_ADDR=http://127.0.0.1:8200), a root token written to a new 0600 file' },
    { line: 'store serve --listen unix:/run/strongbox/vault.sock --json', does: 'on a Unix socket only its owner can use; prints {"address":"unix:/run/strongbox/vault.sock",...}' },
    { line: 'store serve --listen 0.0.0.0:8200 --tls-cert /etc/strongbox/tls.crt --tls-key /etc/strongbox/tls.key', does: 'HTTPS on every address (plain HTTP is loopback only); kill -HUP reloads the certificate' },
    { line: 'store serve --rate-limit 50', does: 'each token held to 50 requests a second (bursts of 100), 429 beyond' },
    { line: 'STORE_NO_PROMPT=1 store serve --json', does: 'under a supervisor: a passphrase store not yet unlocked is served sealed (503) until store unlock' },
  ],
  acl: [
    { line: 'store acl write app-ro app-ro.hcl', does: 'a policy that store serve checks the tokens carrying it against' },
    { line: 'store acl list', does: 'the policy names (default and root are built in)' },
  ],
  'acl write': [
    { line: 'store acl write app-ro app-ro.hcl', does: 'create or replace the policy app-ro from a file of HCL (or JSON) path rules' },
    { line: `printf 'path "secret/data/ci/*" { capabilities = ["read"] }' | store acl write ci -`, does: 'the policy text from stdin' },
  ],
  'acl read': [
    { line: 'store acl read app-ro', does: 'the policy as it was written' },
    { line: 'store acl read default --json', does: 'its text and parsed rules as JSON' },
  ],
  'acl list': [
    { line: 'store acl list --json', does: 'the policy names as a JSON list' },
  ],
  'acl delete': [
    { line: 'store acl delete app-ro', does: 'remove a policy; tokens naming it lose what it granted' },
  ],
  completion: [
    { line: 'source <(store completion bash)', does: 'bash completion (in ~/.bashrc)' },
    { line: 'store completion fish | source', does: 'fish completion (in ~/.config/fish/config.fish)' },
  ],
  doctor: [
    { line: 'store doctor', does: 'health checks, each finding with what to do (exit 10 on a failure)' },
    { line: 'store doctor --deep --strict --max-key-age 30d --json', does: 'decrypt everything, fail on warnings too, as JSON' },
  ],
  stats: [
    { line: 'store stats', does: 'counts, data key ages and rotation debt (no names, no values)' },
    { line: 'store stats --format prometheus -o /var/lib/node_exporter/textfile/strongbox.prom', does: "for node_exporter's textfile collector, from cron" },
  ],
};

/** The command's path from the root, as EXAMPLES is keyed: '' for the root, "audit prune". */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The "Examples:" block of a command's help; '' when it has none. */
export function examplesText(path: string): string {
  const examples = EXAMPLES[path];
  if (!examples?.length) return '';
  return `\nExamples:\n${examples.map((e) => `  # ${e.does}\n  ${e.line}`).join('\n')}`;
}

/** Add each command's examples to the end of its help, below what the command says there itself. */
export function addExamples(program: Command): void {
  const visit = (cmd: Command): void => {
    const text = examplesText(commandPath(cmd));
    if (text) cmd.addHelpText('after', text);
    cmd.commands.forEach(visit);
  };
  program.commands.forEach(visit);
}
