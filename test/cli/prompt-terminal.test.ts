/**
 * The no-echo prompt on a real terminal: the built CLI (dist/bin/store.js)
 * run by `script` on a pseudo-terminal, keys typed one write at a time after
 * the prompt shows, as a person types them. Backspace takes off the last
 * whole character (not one byte of it), and an arrow key's escape sequence
 * goes nowhere. The key handling itself is in prompt-keys.test.ts. `script`
 * (util-linux; bsdutils on Debian) is installed by scripts/install-shells.sh.
 */
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, cliOk, workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
beforeEach(() => {
  ws = workspace();
  cliOk([...ws.base, 'init', '--master', 'keyfile']);
});
afterEach(() => ws.cleanup());

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `store set NAME` on a terminal, typing `keys` once the prompt shows; the bytes stored. */
function typed(name: string, keys: (string | number[])[]): Promise<Buffer> {
  const cmd = ['exec', process.execPath, CLI, ...ws.base, 'set', name].map(quote).join(' ');
  const p = spawn('script', ['-qec', cmd, '/dev/null'], { env: cleanEnv({ SHELL: '/bin/sh' }), stdio: ['pipe', 'pipe', 'pipe'] });
  let shown = '';
  let typing = false;
  const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
  p.stdout.on('data', (d: Buffer) => {
    shown += d.toString();
    if (typing || !shown.includes(`Value for ${name}: `)) return;
    typing = true;
    void (async () => {
      for (const k of keys) {
        p.stdin.write(typeof k === 'string' ? Buffer.from(k) : Buffer.from(k));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
  });
  return new Promise((resolve, reject) => {
    p.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`script exited ${code}: ${shown}`));
      resolve(cliOk([...ws.base, 'get', name]).stdout);
    });
  });
}

describe('the hidden prompt on a terminal', () => {
  it('backspace after é removes é whole: p é ⌫ x ⏎ stores "px"', async () => {
    expect(await typed('pr/backspace', ['p', 'é', [0x7f], 'x', '\r'])).toEqual(Buffer.from('px'));
  }, 60_000);

  it('an arrow key is not stored: a b ← c ⏎ stores "abc"', async () => {
    expect(await typed('pr/arrow', ['ab', '\u001b[D', 'c', '\r'])).toEqual(Buffer.from('abc'));
  }, 60_000);

  it('backspace over a four-byte character, and Home/End/Delete keys, leave the rest', async () => {
    expect(await typed('pr/more', ['a🔑', [0x08], 'b', '\u001bOH', '\u001b[3~', '\u001b[1;5C', 'c', '\r'])).toEqual(Buffer.from('abc'));
  }, 60_000);
});
