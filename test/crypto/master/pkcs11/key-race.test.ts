/**
 * Processes creating the master key under one label at the same moment
 * (two `store init --master pkcs11 --key-label L`, a retried deploy step):
 * without care each searches the token, finds nothing and generates.
 * Afterwards the label must still name one key, and no process may report
 * success with a duplicate. On one host the creations take turns
 * (create-lock.ts), so a later one finds the first one's key; a process that
 * still sees two (across hosts) removes its own and fails with E_LOCKED
 * (exit 75, "run again"). Real processes (the built CLI) racing on one
 * SoftHSM2 token, for enough rounds that the race is hit (without either
 * measure most rounds end with two keys under one label; with the second
 * look alone, now and then too: SoftHSM2's file store, written by two
 * processes at once, can hide each one's new key from the other).
 *
 * Exit 6 (E_MASTER_KEY) is allowed too: SoftHSM2's file store, used by
 * several processes at once, now and then shows a reader no token or a
 * half-written object. What is never allowed is a success whose store does
 * not open, or a label left naming two keys.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, cleanEnv } from '../../../cli/run-cli.js';
import { softHsm, USER_PIN, type SoftHsm, countKeys as countKeysOn } from '../../../helpers/softhsm.js';
import { tempDir } from '../../../helpers/tmp.js';

const TOKEN = 'race-token';
const ROUNDS = 8;
const RACERS = 3;

let hsm: SoftHsm;

beforeAll(() => {
  hsm = softHsm();
  hsm.initToken(TOKEN);
});

interface Outcome {
  status: number;
  stderr: string;
  stdout: string;
}

/** The built CLI as a child process, not waited for. */
function store(args: string[], input = ''): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv({ STORE_PKCS11_PIN: USER_PIN }), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** The AES key objects labelled `keyLabel` on the token, read through PKCS#11 after the racers are done. */
const countKeys = (keyLabel: string) => countKeysOn(hsm.module, TOKEN, USER_PIN, keyLabel);

/** What a round must leave: one key or none under the label, and every store reported made opens with it. */
async function checkRound(label: string, stores: string[], outcomes: Outcome[], allowed: number[]): Promise<number> {
  for (const o of outcomes) {
    expect(allowed, `${label}: exit ${o.status}: ${o.stderr}`).toContain(o.status);
    if (o.status === 75) expect(o.stderr).toMatch(new RegExp(`another process created a key labelled "${label}" on token "${TOKEN}" at the same moment; run again`));
  }
  const made = outcomes.filter((o) => o.status === 0).length;
  const keys = await countKeys(label);
  expect(keys, `${label}: keys under the label (exits ${outcomes.map((o) => o.status).join(', ')})`).toBeLessThanOrEqual(1);
  if (made > 0) expect(keys).toBe(1);
  for (const path of new Set(stores.filter((_, i) => outcomes[i]!.status === 0))) {
    const set = await store(['--store', path, 'set', 'k'], 'v');
    expect(set.status, `${label}: set on ${path}: ${set.stderr}`).toBe(0);
    const get = await store(['--store', path, 'get', 'k']);
    expect(get.stdout).toBe('v');
  }
  return outcomes.filter((o) => o.status === 75).length;
}

describe('creating a PKCS#11 key under one label from several processes at once', () => {
  it('store init of different stores: never two keys under the label, never a success left unusable', async () => {
    const dir = tempDir();
    let conflicts = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const label = `race-${round}`;
      const stores = Array.from({ length: RACERS }, (_, i) => join(dir, `s${round}-${i}.db`));
      const outcomes = await Promise.all(stores.map((path) => store(['--store', path, '--module', hsm.module,
        'init', '--master', 'pkcs11', '--token-label', TOKEN, '--key-label', label])));
      conflicts += await checkRound(label, stores, outcomes, [0, 6, 75]);
    }
    // Not asserted (timing decides), but shown: how often the race was hit.
    console.log(`init race: ${conflicts} of ${ROUNDS * RACERS} inits refused with E_LOCKED`);
  });

  it('store init of one path twice at once (a retried step): the store made opens, no second key left behind', async () => {
    const dir = tempDir();
    for (let round = 0; round < ROUNDS; round++) {
      const label = `same-path-${round}`;
      const path = join(dir, `s${round}.db`);
      const outcomes = await Promise.all([0, 1].map(() => store(['--store', path, '--module', hsm.module,
        'init', '--master', 'pkcs11', '--token-label', TOKEN, '--key-label', label])));
      // 7: E_STORE_EXISTS, the other one made the file first.
      await checkRound(label, [path, path], outcomes, [0, 6, 7, 75]);
    }
  });

  it('rotate-master --to pkcs11 of two stores onto one new label: each store opens with the key it reports', async () => {
    const dir = tempDir();
    const base = (path: string, key: string) => ['--store', path, '--keyfile', key, '--module', hsm.module];
    for (let round = 0; round < ROUNDS / 2; round++) {
      const label = `rotate-${round}`;
      const stores = [0, 1].map((i) => join(dir, `r${round}-${i}.db`));
      for (const [i, path] of stores.entries()) {
        const key = join(dir, `r${round}-${i}.key`);
        const init = await store(['--store', path, 'init', '--master', 'keyfile', '--keyfile', key]);
        expect(init.status, init.stderr).toBe(0);
        expect((await store(['--store', path, '--keyfile', key, 'set', 'k'], 'v')).status).toBe(0);
      }
      const outcomes = await Promise.all(stores.map((path, i) => store([...base(path, join(dir, `r${round}-${i}.key`)),
        'rotate-master', '--to', 'pkcs11', '--token-label', TOKEN, '--key-label', label])));
      for (const o of outcomes) expect([0, 6, 75], `${label}: exit ${o.status}: ${o.stderr}`).toContain(o.status);
      expect(await countKeys(label)).toBeLessThanOrEqual(1);
      for (const [i, path] of stores.entries()) {
        // Rotated: the HSM opens it (and only it); refused: the key file still does.
        const args = outcomes[i]!.status === 0 ? ['--store', path] : ['--store', path, '--keyfile', join(dir, `r${round}-${i}.key`)];
        const get = await store([...args, 'get', 'k']);
        expect(get.status, `${label}: get on ${path}: ${get.stderr}`).toBe(0);
        expect(get.stdout).toBe('v');
      }
    }
  });
});
