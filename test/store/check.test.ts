/** checkSecrets / parseRequirement: the library side of `store check`. */
import { describe, expect, it } from 'vitest';
import { checkSecrets, parseRequirement } from '../../src/index.js';
import { freshStore, flipValue, reopenStore } from '../helpers/store.js';
import { codeOf, codeOfAsync } from '../helpers/errors.js';

describe('parseRequirement', () => {
  it('reads a name with no rule, one rule, several', () => {
    expect(parseRequirement('db/url')).toEqual({ name: 'db/url', rules: [] });
    expect(parseRequirement('jwt/key:pem')).toEqual({ name: 'jwt/key', rules: [{ kind: 'pem' }] });
    expect(parseRequirement('api/key:hex,min=32')).toEqual({ name: 'api/key', rules: [{ kind: 'hex' }, { kind: 'min', bytes: 32 }] });
  });

  it('a bad name or rule is E_USAGE', () => {
    for (const bad of ['', ':pem', 'a//b', 'a:', 'a:pem,,hex', 'a:min=x']) expect(codeOf(() => parseRequirement(bad)), bad).toBe('E_USAGE');
  });
});

describe('checkSecrets', () => {
  it('reports a value that no longer decrypts as unreadable, beside the other problems, and goes on', async () => {
    const { store, path, key } = await freshStore();
    await store.put('a/tampered', 'deadbeef');
    await store.put('b/short', 'abc');
    await store.close();
    flipValue(path, 'a/tampered', 1);
    const reopened = await reopenStore(path, key);
    const report = await checkSecrets(reopened, [parseRequirement('a/tampered:hex'), parseRequirement('b/short:min=4'), parseRequirement('c/none')]);
    expect(report).toEqual({
      ok: false,
      checked: 3,
      problems: [
        { name: 'a/tampered', problem: 'unreadable', message: 'cannot be decrypted (altered or moved)' },
        { name: 'b/short', problem: 'format', rule: 'min=4', message: 'too short (3 bytes, needs at least 4)' },
        { name: 'c/none', problem: 'missing', message: 'missing' },
      ],
    });
  });

  it('refuses a bad name in a requirement built by hand', async () => {
    const { store } = await freshStore();
    expect(await codeOfAsync(() => checkSecrets(store, [{ name: '../x', rules: [] }]))).toBe('E_INVALID_NAME');
  });
});
