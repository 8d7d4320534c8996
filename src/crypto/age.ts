/**
 * age files (age-encryption.org/v1) through typage, the age authors' own
 * TypeScript implementation (npm `age-encryption`): the recipients' X25519
 * (or ML-KEM hybrid) wrapping of the file key, the header and its MAC, and
 * the STREAM payload are all theirs. This module only validates what goes
 * in, and gives what fails our error codes:
 *
 * - no identity given opens the file: E_WRONG_MASTER_KEY (told apart from
 *   damage by a last identity of our own, which typage asks only when none
 *   of the real ones matched);
 * - any other fault of the header or the payload (a flipped bit, a cut):
 *   E_TAMPERED. age authenticates the payload in 64 KiB chunks, the last one
 *   marked, so a truncation is caught even at a chunk boundary.
 *
 * Identities are key material: they are never put into a message (typage's
 * own parse errors can quote their input, so those are replaced, not wrapped).
 * Recipients are public keys and may be shown.
 *
 * typage is loaded on first use: it is not small, and most commands never
 * need it.
 */
import type * as Typage from 'age-encryption';
import { StoreError, WrongMasterKeyError } from '../errors.js';

let loading: Promise<typeof Typage> | undefined;

function typage(): Promise<typeof Typage> {
  loading ??= import('age-encryption');
  return loading;
}

/** The version line every binary age file starts with. */
export const AGE_V1_LINE = 'age-encryption.org/v1';
const AGE_PREFIX = 'age-encryption.org/';
const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';

export type AgeEncoding = 'binary' | 'armored';

/** Whether these first bytes of a file (64 are enough) start an age file, and in which encoding. */
export function ageEncodingOf(head: Uint8Array): AgeEncoding | undefined {
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
  if (text.startsWith(AGE_PREFIX)) return 'binary';
  // age's armor allows whitespace before the first line.
  if (text.replace(/^\s+/, '').startsWith(ARMOR_BEGIN)) return 'armored';
  return undefined;
}

function damaged(what: string): StoreError {
  return new StoreError('E_TAMPERED', `the age bundle is damaged or was altered: ${what}`, [
    'nothing was imported; get an intact copy of the bundle',
  ]);
}

/** A recipient as it may appear in a message: they are public, but the text came from a user or a file. */
function shown(s: string): string {
  return /^[\x21-\x7e]{1,128}$/.test(s) ? `"${s}"` : `a string of ${s.length} characters`;
}

// ---- recipients ------------------------------------------------------------------------------

/**
 * The recipients in a recipients file's text, as `age -R` reads it: one per
 * line, blank lines and lines starting with '#' ignored.
 */
export function parseRecipients(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/**
 * Each recipient checked by typage itself, duplicates dropped (first kept).
 * @throws StoreError E_USAGE naming the first one typage refuses, or when the list is empty
 */
export async function checkRecipients(recipients: readonly string[]): Promise<string[]> {
  if (recipients.length === 0) throw new StoreError('E_USAGE', 'an age bundle needs at least one recipient (age1…)');
  const { Encrypter } = await typage();
  const out: string[] = [];
  for (const r of recipients) {
    if (typeof r !== 'string') throw new StoreError('E_USAGE', 'an age recipient is a string (age1…)');
    if (out.includes(r)) continue;
    if (r.startsWith('ssh-')) {
      throw new StoreError('E_USAGE', `${shown(r)} is an SSH public key; Strongbox seals age bundles to age recipients only`, [
        'ask for the public key of an age identity (age1…): age-keygen -y KEYFILE, or store age-keygen -y KEYFILE',
      ]);
    }
    try {
      new Encrypter().addRecipient(r);
    } catch {
      throw new StoreError('E_USAGE', `${shown(r)} is not an age recipient (a public key age1…)`, [
        'age-keygen prints one as "Public key: age1…"; age-keygen -y KEYFILE prints it again',
      ]);
    }
    out.push(r);
  }
  return out;
}

// ---- identities ------------------------------------------------------------------------------

/**
 * The identities in an identity file's bytes, as `age -i` reads a file of
 * native keys: one `AGE-SECRET-KEY-1…` (or `AGE-SECRET-KEY-PQ-1…`) per line,
 * blank lines and lines starting with '#' ignored. Each is checked by typage.
 * The strings are key material: the caller drops them when done. `where`
 * names the source in messages (a path), never its content.
 * @throws StoreError E_MASTER_KEY (no identities, or a line that is not one)
 */
export async function parseIdentities(bytes: Uint8Array, where: string): Promise<string[]> {
  const { Decrypter } = await typage();
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  if (ageEncodingOf(bytes.subarray(0, 64)) !== undefined) {
    throw new StoreError('E_MASTER_KEY', `${where} is an encrypted (passphrase-protected) age identity file, which Strongbox cannot read`, [
      'give an identity file of plain AGE-SECRET-KEY-1… lines',
    ]);
  }
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (l === '' || l.startsWith('#')) continue;
    if (l.startsWith('-----BEGIN')) {
      throw new StoreError('E_MASTER_KEY', `${where} holds a PEM block (an SSH key?); Strongbox reads native age identities only`, [
        'give an identity file of AGE-SECRET-KEY-1… lines (age-keygen makes one)',
      ]);
    }
    try {
      new Decrypter().addIdentity(l);
    } catch {
      // typage's message may quote the line: say only where it is.
      throw new StoreError('E_MASTER_KEY', `${where} line ${i + 1} is not an age identity (AGE-SECRET-KEY-1…)`, [
        'an identity file holds AGE-SECRET-KEY-1… lines and # comments (age-keygen makes one)',
      ]);
    }
    out.push(l);
  }
  if (out.length === 0) {
    throw new StoreError('E_MASTER_KEY', `${where} holds no age identity (AGE-SECRET-KEY-1…)`, ['age-keygen -o FILE (or store age-keygen FILE) makes one']);
  }
  return out;
}

/** A new X25519 identity and its recipient, by typage's own generator. */
export async function generateAgeIdentity(): Promise<{ identity: string; recipient: string }> {
  const { generateX25519Identity, identityToRecipient } = await typage();
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** The recipient (public key) of an identity that parseIdentities accepted. */
export async function recipientOf(identity: string): Promise<string> {
  const { identityToRecipient } = await typage();
  return identityToRecipient(identity);
}

// ---- files -----------------------------------------------------------------------------------

/**
 * An age file of `plaintext`, sealed to every recipient (each one alone can
 * open it). The plaintext stream is pulled as the output is read.
 */
export async function encryptAge(recipients: readonly string[], plaintext: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>> {
  const { Encrypter } = await typage();
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return e.encrypt(plaintext);
}

/** The ASCII-armored form of a binary age file (PEM-like, `age -a`). */
export async function armorAge(file: Uint8Array): Promise<Uint8Array> {
  const { armor } = await typage();
  return new Uint8Array(Buffer.from(armor.encode(file), 'latin1'));
}

/**
 * The binary form of an armored age file.
 * @throws StoreError E_TAMPERED
 */
export async function dearmorAge(text: Uint8Array): Promise<Uint8Array> {
  const { armor } = await typage();
  try {
    return armor.decode(Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('latin1'));
  } catch {
    throw damaged('its ASCII armor is malformed');
  }
}

/** Reads an age file's plaintext chunk by chunk; every fault of the payload is E_TAMPERED. */
export interface AgePlaintext {
  /** The next chunk (at most 64 KiB), or undefined at the authenticated end. */
  next(): Promise<Uint8Array | undefined>;
  /** Stop early (after a failure elsewhere): releases typage's stream. */
  cancel(): Promise<void>;
}

/**
 * Open a binary age file with `identities` (as parseIdentities returns
 * them). The header is checked before this returns; the payload as it is read.
 * @throws WrongMasterKeyError when no identity opens it; StoreError E_TAMPERED, E_UNSUPPORTED_FORMAT
 */
export async function decryptAge(file: Uint8Array, identities: readonly string[]): Promise<AgePlaintext> {
  const firstLine = Buffer.from(file.subarray(0, 64)).toString('latin1').split('\n')[0]!;
  if (!firstLine.startsWith(AGE_PREFIX)) throw new StoreError('E_UNSUPPORTED_FORMAT', 'this file is not an age file (no age-encryption.org/ line)');
  if (firstLine !== AGE_V1_LINE) {
    const v = /^[\x20-\x7e]{1,64}$/.test(firstLine) ? `"${firstLine}"` : 'an unreadable version line';
    throw new StoreError('E_UNSUPPORTED_FORMAT', `unsupported age version: ${v}; this program reads ${AGE_V1_LINE}`);
  }
  const { Decrypter } = await typage();
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  // Asked only when no real identity matched: then the fault is the key, not the file.
  const probe = {
    stanzas: undefined as string[] | undefined,
    unwrapFileKey(stanzas: Typage.Stanza[]): null {
      probe.stanzas = stanzas.map((s) => s.args[0] ?? '');
      return null;
    },
  };
  d.addIdentity(probe);
  const source = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(file);
      c.close();
    },
  });
  let out: ReadableStream<Uint8Array>;
  try {
    out = await d.decrypt(source);
  } catch {
    if (probe.stanzas) throw wrongIdentity(probe.stanzas, identities.length);
    throw damaged('its header does not parse or does not authenticate');
  }
  const reader = out.getReader();
  return {
    async next() {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch {
        throw damaged('its payload does not authenticate (altered or cut short)');
      }
      return r.done ? undefined : r.value;
    },
    async cancel() {
      await reader.cancel().catch(() => undefined);
    },
  };
}

function wrongIdentity(stanzas: string[], given: number): WrongMasterKeyError {
  const types = [...new Set(stanzas)].map((t) => (/^[\x21-\x7e]{1,32}$/.test(t) ? t : '?')).join(', ');
  const hints = ['give an identity file with the key of one of its recipients (--identity F); nothing was imported'];
  if (stanzas.length > 0 && stanzas.every((t) => t === 'scrypt')) {
    hints.unshift('it was encrypted with a passphrase (age -p), not to recipients: Strongbox imports age bundles sealed to recipients');
  }
  return new WrongMasterKeyError(
    `none of the ${given} age identit${given === 1 ? 'y' : 'ies'} given opens this bundle (it is sealed to ${stanzas.length} recipient stanza(s): ${types || 'none'})`,
    hints,
  );
}
