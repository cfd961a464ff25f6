#!/usr/bin/env node
/**
 * A longer fuzzing run than CI's (test/security/fuzz.test.ts), on whatever DATABASE_URL and
 * REDIS_URL say (the embedded defaults when unset):
 *   FUZZ_RUNS   generated requests (default 5000)
 *   FUZZ_SEED   fast-check seed (default: a new one, printed, so a failure can be replayed)
 *   FUZZ_SHRINK set to shrink a failing input to a smaller one (slower)
 * Extra arguments go to jest.
 */
import { spawnSync } from 'node:child_process';

const env = {
  ...process.env,
  FUZZ_RUNS: process.env.FUZZ_RUNS || '5000',
  FUZZ_SEED: process.env.FUZZ_SEED || String(Math.floor(Math.random() * 2 ** 31)),
};
console.log(`fuzz: ${env.FUZZ_RUNS} requests, seed ${env.FUZZ_SEED} (replay with FUZZ_SEED=${env.FUZZ_SEED})`);
const jest = [
  '--experimental-vm-modules',
  'node_modules/jest/bin/jest.js',
  '--runInBand',
  'test/security/fuzz.test.ts',
  ...process.argv.slice(2),
];
const result = spawnSync(process.execPath, jest, { stdio: 'inherit', env });
process.exit(result.status ?? 1);
