/**
 * The environment variables and files `store` uses, for the man page's
 * ENVIRONMENT and FILES. A test holds the list of variables equal to the
 * ones the sources read, so a new one cannot go undocumented.
 */

export interface Entry {
  name: string;
  meaning: string;
}

export const ENVIRONMENT: readonly Entry[] = [
  { name: 'STORE_PATH', meaning: 'the store file, or a postgres:// URL, as --store' },
  { name: 'STORE_PROFILE', meaning: 'the profile, as --profile' },
  { name: 'STORE_KEYFILE', meaning: 'the master key file, as --keyfile' },
  { name: 'STORE_PASSPHRASE_FILE', meaning: 'a file holding the passphrase, as --passphrase-file' },
  { name: 'STORE_PASSPHRASE', meaning: 'the passphrase itself (visible to processes that can read this environment)' },
  { name: 'STORE_MASTER_KEY', meaning: 'the master key itself, base64 of 32 bytes (the env master key kind: CI and containers)' },
  { name: 'STORE_PKCS11_MODULE', meaning: 'the PKCS#11 module of an HSM master key, as --module' },
  { name: 'STORE_PKCS11_PROVIDERS', meaning: 'directories (colon-separated) the PKCS#11 module path a store recorded at init may also be loaded from when no module is given; by default only /usr/lib, /usr/lib64, /usr/local/lib, /usr/local/lib64, /lib and /lib64 (its real path counts): a module elsewhere must be given with --module or STORE_PKCS11_MODULE' },
  { name: 'STORE_PKCS11_PIN_FILE', meaning: 'a file holding the PKCS#11 PIN, as --pin-file' },
  { name: 'STORE_PKCS11_PIN', meaning: 'the PKCS#11 PIN itself' },
  { name: 'STORE_NO_PROMPT', meaning: 'when set (not empty or 0), never ask on the terminal: what would be asked for is an error' },
  { name: 'STORE_EXPORT_PASSPHRASE', meaning: "an export bundle's passphrase, as --export-passphrase-file" },
  { name: 'STORE_NEW_PASSPHRASE', meaning: 'rotate-master --to passphrase: the new passphrase, as --new-passphrase-file' },
  { name: 'STORE_NEW_MASTER_KEY', meaning: 'rotate-master --to env: the new master key, base64 of 32 bytes' },
  { name: 'XDG_DATA_HOME', meaning: 'where the default store lives (default ~/.local/share)' },
  { name: 'XDG_CONFIG_HOME', meaning: 'where the profiles file lives (default ~/.config)' },
  { name: 'XDG_RUNTIME_DIR', meaning: "the unlock agent's directory (without it: $TMPDIR/strongbox-UID)" },
  { name: 'TMPDIR', meaning: "the unlock agent's directory when XDG_RUNTIME_DIR is unset" },
  { name: 'HOME', meaning: 'the home directory, for the defaults above and ~ in profiles' },
  { name: 'NO_COLOR', meaning: 'when set and not empty, no colour (store doctor is the only command that colours)' },
  { name: 'TERM', meaning: 'dumb: no colour' },
  { name: 'VISUAL', meaning: 'store edit: the editor (may hold arguments); else EDITOR' },
  { name: 'EDITOR', meaning: 'store edit: the editor when VISUAL is unset; else vi' },
  { name: 'STORE_CLIP_SECONDS', meaning: 'store get --clip: seconds before the clipboard is cleared, as --clip-seconds (default 45)' },
  { name: 'WAYLAND_DISPLAY', meaning: 'store get --clip: a Wayland session, so wl-copy is used' },
  { name: 'DISPLAY', meaning: 'store get --clip: an X11 session, so xclip or xsel is used' },
  { name: 'PATH', meaning: 'where store get --clip looks for a clipboard tool' },
  { name: 'WSL_DISTRO_NAME', meaning: 'store get --clip: running under WSL, so clip.exe is used' },
  { name: 'WSL_INTEROP', meaning: 'store get --clip: as WSL_DISTRO_NAME' },
  { name: 'PGHOST', meaning: 'a store in PostgreSQL: the server (or unix socket directory) when its URL names none; node-postgres also reads PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE and PGAPPNAME as libpq does' },
  { name: 'PGPORT', meaning: 'a store in PostgreSQL: the port when its URL names none (default 5432)' },
  { name: 'PGPASSFILE', meaning: 'a store in PostgreSQL: the password file (default ~/.pgpass; ignored when group or others may read it)' },
  { name: 'PGCONNECT_TIMEOUT', meaning: 'a store in PostgreSQL: seconds to wait for a connection when its URL has no connect_timeout (default 10)' },
  { name: 'PGOPTIONS', meaning: 'a store in PostgreSQL: session options (-c name=value) when its URL has no options=; a store opened read-only adds default_transaction_read_only=on to them' },
];

export const FILES: readonly Entry[] = [
  { name: '$XDG_DATA_HOME/strongbox/store.db', meaning: 'the default store (one SQLite file; SQLite keeps its -wal and -shm beside it)' },
  { name: '$XDG_CONFIG_HOME/strongbox/config.json', meaning: 'the profiles: named stores and where their master keys come from' },
  { name: '$XDG_RUNTIME_DIR/strongbox/agent.sock', meaning: "the unlock agent's socket (its directory 0700, the socket 0600)" },
  { name: '$XDG_RUNTIME_DIR/strongbox/agent.log', meaning: 'why the unlock agent stopped, when it failed' },
  { name: 'STORE.lock', meaning: 'the exclusive lock of key and master rotation, restore and migrations (with STORE.lock-owner)' },
  { name: 'STORE.pre-restore-TIME', meaning: 'the store as it was before store restore replaced it' },
  { name: '~/.pgpass', meaning: "a store in PostgreSQL: passwords for its connections, in libpq's format (or $PGPASSFILE)" },
];
