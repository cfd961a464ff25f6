/**
 * lowerThreadPoolPriority() in a fresh process (jest's own pool started long ago): the pool's
 * threads, and only they, end up below the event loop, and bcrypt still runs on them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describeInEmbeddedPass } from '../kit';

const MODULE = path.join(__dirname, '..', '..', 'dist', 'src', 'lib', 'thread-pool-priority.js');

const script = `
const { readdirSync, readFileSync } = require('node:fs');
const bcrypt = require('bcrypt');
const { lowerThreadPoolPriority, THREAD_POOL_NICE } = require(${JSON.stringify(MODULE)});
// /proc/<pid>/task/<tid>/stat: the fields after "(comm) " start at field 3; nice is field 19.
const niceOf = (tid) => Number(readFileSync('/proc/self/task/' + tid + '/stat', 'utf8').split(') ')[1].split(' ')[16]);
lowerThreadPoolPriority().then(async ({ threads }) => {
  const ok = await bcrypt.compare('x', await bcrypt.hash('x', 4));
  const nices = readdirSync('/proc/self/task').map((tid) => ({ tid: Number(tid), nice: niceOf(tid) }));
  console.log(JSON.stringify({ threads, ok, pid: process.pid, nices, expected: THREAD_POOL_NICE }));
});
`;

const linux = process.platform === 'linux';
if (!linux) console.warn('thread pool priority test skipped: it needs Linux');

// Does not depend on the backend: runs in CI's embedded pass only.
describeInEmbeddedPass('the thread pool', () => {
  (linux ? it : it.skip)('lowers the priority of the thread pool threads only', () => {
    if (!existsSync(MODULE)) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
    const run = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, UV_THREADPOOL_SIZE: '3' },
      encoding: 'utf8',
      cwd: path.join(__dirname, '..', '..'),
    });
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
      threads: number;
      ok: boolean;
      pid: number;
      expected: number;
      nices: Array<{ tid: number; nice: number }>;
    };
    expect(result.expected).toBeGreaterThan(0);
    expect(result.threads).toBe(3);
    expect(result.ok).toBe(true);
    expect(result.nices.filter((t) => t.nice === result.expected)).toHaveLength(3);
    expect(result.nices.find((t) => t.tid === result.pid)?.nice).toBe(0);
  });
});
