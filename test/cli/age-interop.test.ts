/**
 * Interoperability with the reference age (the Go implementation, Debian's
 * `age` package, installed by scripts/install-age.sh from npm test's pretest
 * and CI): `age -d` opens the age bundles Strongbox writes and prints their
 * records; a records file `age -e` seals (binary or armored, to several
 * recipients) imports into a store; identities made by either side's keygen
 * work on the other.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAgeIdentityFile } from '../../src/index.js';
import { dump, exportable } from '../helpers/dump.js';
import { rejectionCode as code } from '../helpers/errors.js';
import { freshStore } from '../helpers/store.js';

function age(args: string[], input?: Buffer): Buffer {
  try {
    return execFileSync('age', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('the age program is not installed: run bash scripts/install-age.sh (npm test runs it first)');
    throw new Error(`age ${args.join(' ')} failed: ${err.stderr?.toString() ?? err.message}`);
  }
}

/** An identity file made by the reference age-keygen, and its recipient. */
function ageKeygen(file: string): string {
  execFileSync('age-keygen', ['-o', file], { stdio: 'ignore' });
  return execFileSync('age-keygen', ['-y', file]).toString().trim();
}

async function populated() {
  const { store, dir } = await freshStore();
  await store.put('app/db', 'db-1');
  await store.put('app/db', 'db-2');
  await store.delete('app/db', { versions: [1] });
  await store.setMetadata('app/db', { custom: { owner: 'ops' } });
  await store.put('bin', new Uint8Array([0, 10, 13, 255]));
  await store.put('note', 'two\nlines "quoted"');
  return { store, dir };
}

describe('age interop (reference age 1.1)', () => {
  it('age -d opens a bundle for an age-keygen identity and a store age-keygen one, and prints the records', async () => {
    const { store, dir } = await populated();
    const theirs = join(dir, 'theirs.txt');
    const theirRecipient = ageKeygen(theirs);
    const ours = join(dir, 'ours.txt');
    const ourRecipient = await createAgeIdentityFile(ours);
    for (const armor of [false, true]) {
      const file = join(dir, armor ? 'b.age.asc' : 'b.age');
      await store.exportBundle(file, { recipients: [theirRecipient, ourRecipient], armor, allVersions: true });
      for (const id of [theirs, ours]) {
        const lines = age(['-d', '-i', id, file]).toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(lines[0]).toMatchObject({ type: 'header', format: 'strongbox-records/v1', allVersions: true, secrets: 3, versions: 4 });
        const values = lines.filter((l) => l.type === 'version').map((l) => [l.name, l.version, l.deleted === null, l.value ?? `base64:${l.base64 as string}`]);
        expect(values).toEqual([
          ['app/db', 1, false, 'db-1'],
          ['app/db', 2, true, 'db-2'],
          ['bin', 1, true, 'base64:AAoN/w=='],
          ['note', 1, true, 'two\nlines "quoted"'],
        ]);
      }
    }
  });

  it('records sealed by age -e (to several recipients, binary or armored) import with either identity', async () => {
    const { store: src, dir } = await populated();
    const mine = join(dir, 'mine.txt');
    const myRecipient = await createAgeIdentityFile(mine);
    const theirs = join(dir, 'theirs.txt');
    const theirRecipient = ageKeygen(theirs);
    // The plaintext as a person would get it: age -d of an export.
    const exported = join(dir, 'export.age');
    await src.exportBundle(exported, { recipients: [myRecipient], allVersions: true });
    const records = age(['-d', '-i', mine, exported]);
    const recipients = join(dir, 'recipients.txt');
    writeFileSync(recipients, `# two of us\n${theirRecipient}\n${myRecipient}\n`);
    for (const armor of [false, true]) {
      const resealed = join(dir, armor ? 'resealed.age.asc' : 'resealed.age');
      writeFileSync(resealed, age(['-e', '-R', recipients, ...(armor ? ['-a'] : [])], records));
      for (const id of [mine, theirs]) {
        const { store: dst } = await freshStore();
        const r = await dst.importBundle(resealed, { identities: [{ identityFile: id }] });
        expect(r.format).toBe('age');
        expect(await dump(dst)).toEqual(exportable(await dump(src)));
      }
    }
    // A file age sealed to someone else: a wrong key, not damage.
    const other = join(dir, 'other.txt');
    const otherRecipient = ageKeygen(other);
    const elsewhere = join(dir, 'elsewhere.age');
    writeFileSync(elsewhere, age(['-e', '-r', otherRecipient], records));
    const { store: dst } = await freshStore();
    expect(await code(dst.importBundle(elsewhere, { identities: [{ identityFile: mine }] }))).toBe('E_WRONG_MASTER_KEY');
    expect(readFileSync(elsewhere).subarray(0, 21).toString()).toBe('age-encryption.org/v1');
  });
});
