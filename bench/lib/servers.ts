import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ChildMemory, ChildStats } from './child';

export interface ServerHandle {
  name: string;
  url: string;
  stats(): Promise<ChildStats>;
  memory(): Promise<ChildMemory>;
  stop(): Promise<void>;
}

/** A server pinned to one core of a busy machine can take a while to open its database. */
const START_TIMEOUT_MS = 180_000;

export const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** Moves this process (the load generator) to a core of its own. */
export function pinSelf(core: number): boolean {
  return hasTaskset && spawnSync('taskset', ['-cp', String(core), String(process.pid)]).status === 0;
}

/** The runner's own settings that its servers read too. */
const passThrough = (...names: string[]): Record<string, string> =>
  Object.fromEntries(names.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])));

/**
 * Starts a compiled bench server script (relative to bench/, or an absolute path: another build's)
 * in a child process, pinned to `core` when taskset exists.
 */
export async function startServer(name: string, script: string, env: Record<string, string>, core: number | null): Promise<ServerHandle> {
  const file = path.resolve(__dirname, '..', script);
  // BENCH_NODE in a server's settings: another Node.js binary runs that server (a Node 24 variant).
  const { BENCH_NODE: node = process.execPath, ...serverEnv } = env;
  const [command, args] = hasTaskset && core !== null ? ['taskset', ['-c', String(core), node, file]] : [node, [file]];
  const child: ChildProcess = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '', ...passThrough('BENCH_PROFILE_DIR', 'BENCH_POOL_PRIORITY'), ...serverEnv },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS / 1000}s`)), START_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
    child.on('message', (message: { ready?: string }) => {
      if (message.ready) {
        clearTimeout(timer);
        resolve(message.ready);
      }
    });
  });
  return {
    name,
    url,
    stats: () => ask<ChildStats>(child, 'stats'),
    memory: () => ask<ChildMemory>(child, 'memory'),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Sends `kind` to the server process and resolves with its answer's `kind` field. */
function ask<T>(child: ChildProcess, kind: 'stats' | 'memory'): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (message: Record<string, unknown>) => {
      if (message[kind]) {
        child.off('message', onMessage);
        resolve(message[kind] as T);
      }
    };
    child.on('message', onMessage);
    child.send(kind);
  });
}
