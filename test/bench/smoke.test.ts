/**
 * A smoke run of the benchmark harness (`npm run bench` with BENCH_SMOKE=1: one second per run,
 * Warden and R0 only, each started once for all scenarios, embedded), so the harness cannot rot
 * while CI never runs the real bench:
 * every server starts, every scenario's load runs and is checked (no errors, no non-2xx, no
 * sampled body with "errors", S3's bodies with their 20 authors), and the results, table and
 * chart are written. Figures are not looked at: one second on a shared machine says nothing.
 * Runs the compiled harness (dist/, as `npm test` compiles first), in the PostgreSQL + Redis
 * pass only (skipped, with the reason, in the embedded pass), to keep the embedded pass short;
 * the servers it starts are embedded either way.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeInServicesPass } from '../kit';

const ROOT = path.resolve(__dirname, '..', '..');
// A BENCH_ONLY run names its files after the scenarios it ran.
const NAME = 'only-S1-S2-S3-S4';
describeInServicesPass('the benchmark harness (smoke run)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'warden-bench-smoke-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs S1–S4 to valid results and writes the table and the chart', async () => {
    // The runner's own environment without the test pass's services: the smoke run is embedded.
    const { DATABASE_URL: _db, REDIS_URL: _redis, ...env } = process.env;
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'bench', 'run.js')], {
      env: { ...env, BENCH_SMOKE: '1', BENCH_RESULTS_DIR: dir, BENCH_ONLY: 'S1,S2,S3,S4' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, output: code === 0 ? '' : output.slice(-2000) }).toEqual({ code: 0, output: '' });

    const results = JSON.parse(readFileSync(path.join(dir, `${NAME}.json`), 'utf8')) as {
      scenarios: Array<{
        id: string;
        mode: string;
        results: Array<{ server: string; valid: boolean; requests: number; cpuMicrosPerRequest: number }>;
      }>;
    };
    expect(results.scenarios.map((s) => s.id)).toEqual(['S1', 'S2', 'S3', 'S4']);
    for (const scenario of results.scenarios) {
      expect(scenario.mode).toBe('embedded');
      expect(scenario.results.some((r) => r.server === 'Warden')).toBe(true);
      for (const result of scenario.results) {
        expect(result).toMatchObject({ valid: true });
        expect(result.requests).toBeGreaterThan(0);
        expect(result.cpuMicrosPerRequest).toBeGreaterThan(0);
      }
    }
    expect(readFileSync(path.join(dir, `${NAME}.md`), 'utf8')).toContain('| S3 `posts(first: 20)` with each author | embedded | Warden |');
    const svg = readFileSync(path.join(dir, `${NAME}.svg`), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('S3 posts(first: 20) with each author');
  }, 120_000);
});
