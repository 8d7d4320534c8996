/**
 * Starting the agent for `store unlock`: reuse a running one, else spawn this
 * program as `store __agent` in its own session, detached, with an empty
 * environment (nothing the user exported, such as STORE_PASSPHRASE, reaches
 * it), and wait until its socket answers.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { connectAgent, AgentError, type AgentConnection } from './client.js';
import { agentSocketPath, ensureAgentDir, type Env } from './paths.js';

const START_WITHIN_MS = 5000;
const POLL_MS = 20;

/** A connection to the agent, started from `entry` (the CLI's script) if none runs. */
export async function startAgent(env: Env, entry: string): Promise<AgentConnection> {
  const socketPath = agentSocketPath(env);
  ensureAgentDir(dirname(socketPath));
  const running = await connectAgent(socketPath);
  if (running) return running;
  const child = spawn(process.execPath, [entry, '__agent', '--socket', socketPath], {
    detached: true,
    stdio: 'ignore',
    env: {},
    cwd: '/',
  });
  child.unref();
  const deadline = Date.now() + START_WITHIN_MS;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    const connection = await connectAgent(socketPath);
    if (connection) return connection;
    if (child.exitCode !== null && child.exitCode !== 0) break;
  }
  throw new AgentError('the agent did not start', [`see ${join(dirname(socketPath), 'agent.log')}, and check that the directory is writable`]);
}
