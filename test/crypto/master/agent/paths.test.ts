/**
 * The agent's socket path is refused (E_AGENT) when it is too long for a Unix
 * socket (a long XDG_RUNTIME_DIR): Node would cut it short, and the agent
 * would bind the cut path, outside its private directory.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { privateAgentSocket } from '../../../../src/crypto/master/agent/client.js';
import { agentSocketPath, MAX_SOCKET_PATH_BYTES } from '../../../../src/crypto/master/agent/paths.js';
import { startAgent } from '../../../../src/crypto/master/agent/start.js';
import { runInProcess } from '../../../helpers/in-process.js';
import { tempDir } from '../../../helpers/tmp.js';

/** A runtime directory (0700, existing) whose agent socket path is `socketBytes` long. */
function runtimeFor(socketBytes: number): string {
  const base = tempDir();
  const tail = '/strongbox/agent.sock'.length;
  const runtime = join(base, 'r'.repeat(socketBytes - tail - base.length - 1));
  mkdirSync(runtime, { mode: 0o700 });
  expect(Buffer.byteLength(join(runtime, 'strongbox', 'agent.sock'))).toBe(socketBytes);
  return runtime;
}

describe('the agent socket path', () => {
  it('is taken up to the limit, refused one byte over it with E_AGENT naming the variable to change', () => {
    const fits = runtimeFor(MAX_SOCKET_PATH_BYTES);
    expect(agentSocketPath({ XDG_RUNTIME_DIR: fits })).toBe(join(fits, 'strongbox', 'agent.sock'));
    const over = runtimeFor(MAX_SOCKET_PATH_BYTES + 1);
    let caught: unknown;
    try {
      agentSocketPath({ XDG_RUNTIME_DIR: over });
    } catch (e) {
      caught = e;
    }
    expect(caught).toMatchObject({ code: 'E_AGENT', message: expect.stringContaining(`longer than the ${MAX_SOCKET_PATH_BYTES}`) });
    expect((caught as { hints: string[] }).hints.join('\n')).toContain('XDG_RUNTIME_DIR');
  });

  it('startAgent refuses it before making the directory or starting anything', async () => {
    const over = runtimeFor(MAX_SOCKET_PATH_BYTES + 20);
    await expect(startAgent({ XDG_RUNTIME_DIR: over }, '/nonexistent-entry.js')).rejects.toMatchObject({ code: 'E_AGENT' });
    expect(existsSync(join(over, 'strongbox'))).toBe(false);
  });

  it('a client with no agent directory sees no agent, as before, however long the path', () => {
    const over = runtimeFor(MAX_SOCKET_PATH_BYTES + 20);
    expect(privateAgentSocket({ XDG_RUNTIME_DIR: over })).toBeUndefined();
  });

  it('store unlock: exit 6 (E_AGENT) saying why, before asking for a passphrase; no directory made', async () => {
    const over = runtimeFor(MAX_SOCKET_PATH_BYTES + 20);
    const dir = tempDir();
    const r = await runInProcess(['--store', join(dir, 'none.db'), 'unlock'], { env: { XDG_RUNTIME_DIR: over, STORE_NO_PROMPT: '1' } });
    expect(r.status, r.err).toBe(6);
    expect(r.err).toContain('the agent socket path');
    expect(r.err).toContain(`longer than the ${MAX_SOCKET_PATH_BYTES} a Unix socket path can be`);
    expect(existsSync(join(over, 'strongbox'))).toBe(false);
  });
});
