/**
 * The committed age bundle vectors (test/vectors/export-age-v1.json, see
 * test/vectors/README.md): age files written once by exportStore. Each is
 * checked in both directions where the format is deterministic (the records
 * encode to exactly the committed plaintext, and decode back to the records),
 * opened by typage with each of its recipients' identities, and imported into
 * a store, which then holds exactly the records.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Decrypter, armor, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import {
  RecordsDecoder, encodeHeaderLine, encodeSecretLine, encodeVersionLine, type RecordsLine,
} from '../../src/crypto/age-records.js';
import { dump, type DumpedSecret } from '../helpers/dump.js';
import { rejectionCode as code } from '../helpers/errors.js';
import { freshStore } from '../helpers/store.js';

interface VectorRecord {
  type: 'header' | 'secret' | 'version';
  [field: string]: unknown;
}

interface Vector {
  name: string;
  recipients: number;
  armored: boolean;
  records: VectorRecord[];
  plaintext: string;
  file: string;
}

const DOC = JSON.parse(readFileSync('test/vectors/export-age-v1.json', 'utf8')) as { identities: string[]; recipients: string[]; vectors: Vector[] };
const ms = (iso: unknown) => Date.parse(iso as string);

/** The vector's records as the codec's types. */
function typed(v: Vector): RecordsLine[] {
  return v.records.map((r): RecordsLine => {
    if (r.type === 'header') return { type: 'header', allVersions: r.allVersions as boolean, createdAt: ms(r.created), secrets: r.secrets as number, versions: r.versions as number };
    if (r.type === 'secret') {
      return {
        type: 'secret', name: r.name as string, currentVersion: r.currentVersion as number, maxVersions: r.maxVersions as number,
        createdAt: ms(r.created), updatedAt: ms(r.updated), custom: r.custom as Record<string, string>, versionCount: r.versionCount as number,
      };
    }
    return { type: 'version', version: r.version as number, createdAt: ms(r.created), deletedAt: r.deleted === null ? null : ms(r.deleted), value: new Uint8Array(Buffer.from(r.value as string, 'hex')) };
  });
}

/** The store an import of the vector should give, in the shape of test/helpers/dump.ts. */
function expectedStore(v: Vector): DumpedSecret[] {
  const out: DumpedSecret[] = [];
  for (const r of v.records) {
    if (r.type === 'secret') {
      out.push({
        name: r.name as string, currentVersion: r.currentVersion as number, maxVersions: r.maxVersions as number, custom: r.custom as Record<string, string>,
        createdAt: ms(r.created), updatedAt: ms(r.updated), versions: [],
      });
    } else if (r.type === 'version') {
      out[out.length - 1]!.versions.push({
        version: r.version as number, createdAt: ms(r.created), state: r.deleted === null ? 'live' : 'deleted',
        ...(r.deleted === null ? {} : { deletedAt: ms(r.deleted) }), value: r.value as string,
      });
    }
  }
  return out;
}

function fileBytes(v: Vector): Uint8Array {
  return v.armored ? new Uint8Array(Buffer.from(v.file, 'latin1')) : new Uint8Array(Buffer.from(v.file, 'base64'));
}

describe('committed vectors (test/vectors/export-age-v1.json)', () => {
  it('the identities are the recipients\' keys', async () => {
    expect(await Promise.all(DOC.identities.map((i) => identityToRecipient(i)))).toEqual(DOC.recipients);
  });

  for (const v of DOC.vectors) {
    describe(v.name, () => {
      it('records encode to exactly the committed plaintext, and decode back to the records', () => {
        const recs = typed(v);
        let name = '';
        const encoded = recs.map((r) => {
          if (r.type === 'header') return encodeHeaderLine(r);
          if (r.type === 'secret') return (name = r.name), encodeSecretLine(r);
          return encodeVersionLine(name, r);
        });
        expect(Buffer.concat(encoded).toString('utf8')).toBe(v.plaintext);
        const d = new RecordsDecoder();
        const lines = Buffer.from(v.plaintext, 'utf8').toString('utf8').split('\n').slice(0, -1);
        expect(lines.map((l) => d.next(new Uint8Array(Buffer.from(l, 'utf8'))))).toEqual(recs);
        d.finish();
      });

      it('typage opens it with each recipient\'s identity (and no other), giving exactly the plaintext', async () => {
        const raw = fileBytes(v);
        expect(Buffer.from(raw.subarray(0, 64)).toString('latin1').startsWith(v.armored ? '-----BEGIN AGE ENCRYPTED FILE-----\n' : 'age-encryption.org/v1\n')).toBe(true);
        const bin = v.armored ? armor.decode(Buffer.from(raw).toString('latin1')) : raw;
        for (const [i, id] of DOC.identities.entries()) {
          const d = new Decrypter();
          d.addIdentity(id);
          if (i < v.recipients) expect(await d.decrypt(bin, 'text')).toBe(v.plaintext);
          else await expect(d.decrypt(bin, 'text')).rejects.toThrow();
        }
      });

      it('imports into a store that then holds exactly the records', async () => {
        const { store, dir } = await freshStore();
        const file = join(dir, v.armored ? 'vector.age.asc' : 'vector.age');
        writeFileSync(file, fileBytes(v));
        const idFile = join(dir, 'id.txt');
        writeFileSync(idFile, `# vector identity\n${DOC.identities[v.recipients - 1]}\n`, { mode: 0o600 });
        const r = await store.importBundle(file, { identities: [{ identityFile: idFile }] });
        expect(r).toMatchObject({ format: 'age', versions: v.records.filter((x) => x.type === 'version').length });
        expect(await dump(store)).toEqual(expectedStore(v));
        if (v.recipients < DOC.identities.length) {
          const other = join(dir, 'other.txt');
          writeFileSync(other, `${DOC.identities[DOC.identities.length - 1]}\n`, { mode: 0o600 });
          const { store: empty } = await freshStore();
          expect(await code(empty.importBundle(file, { identities: [{ identityFile: other }] }))).toBe('E_WRONG_MASTER_KEY');
        }
      });
    });
  }
});
