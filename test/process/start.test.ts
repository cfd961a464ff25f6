/**
 * The real process: `node dist/src/main.js`, as `npm start` runs it (npm test builds first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeInEmbeddedPass, LOGIN, SIGNUP, uniqueEmail } from '../kit';

const MAIN = path.join(__dirname, '..', '..', 'dist', 'src', 'main.js');

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

function run(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: '0', BCRYPT_COST: '10', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function start(env: Record<string, string>): Promise<Running> {
  const proc = run(env);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const match = /ready at (http:\/\/[^"\s]+)/.exec(proc.output());
    if (match) return { ...proc, url: match[1] };
    if (proc.child.exitCode !== null || Date.now() > deadline) throw new Error(`did not start:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const gql = async (url: string, query: string, variables: object, headers: Record<string, string> = {}): Promise<any> =>
  (
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    })
  ).json();

/** Resolves once the server has logged `text`; fails with its output after `ms`. */
async function waitForOutput(proc: Running, text: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!proc.output().includes(text)) {
    if (proc.child.exitCode !== null || Date.now() > deadline) throw new Error(`never logged ${text}:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error('dist/src/main.js is missing: run `npm run build` (npm test does)');
});

// Does not depend on the backend: runs in CI's embedded pass only.
describeInEmbeddedPass('the server process', () => {
  it('starts on the embedded defaults, keeps data across restarts, and drains on SIGTERM', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'warden-proc-'));
    const env = { DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', BCRYPT_COST: '13' };
    const first = await start(env);
    expect(first.output()).toMatch(/applied database migrations/);
    const email = uniqueEmail();
    const signup = await gql(first.url, SIGNUP, { input: { email, password: 'long enough pw', name: 'Kept' } });
    expect(signup.data.signup.user.email).toBe(email);

    // A login is in flight (bcrypt at cost 13, several hundred ms) when SIGTERM arrives: it must
    // complete. A request that arrived after SIGTERM would get 503 instead, so the signal is sent
    // only once the server has logged the login's arrival (a fixed delay was too short under load).
    const inFlight = gql(first.url, LOGIN, { input: { email, password: 'long enough pw' } }, { 'x-request-id': 'in-flight-login' });
    await waitForOutput(first, '"reqId":"in-flight-login"');
    first.child.kill('SIGTERM');
    const answered = await inFlight;
    expect(answered.data.login.user.email).toBe(email);
    expect(await first.exited).toBe(0);

    const second = await start(env);
    expect(second.output()).not.toMatch(/applied database migrations/);
    const login = await gql(second.url, LOGIN, { input: { email, password: 'long enough pw' } });
    expect(login.data.login.user.email).toBe(email);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  }, 120_000);

  it('stops with a clear message when DATABASE_URL cannot be reached, within 15 s', async () => {
    const began = Date.now();
    const proc = run({
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'warden-proc-')),
      DATABASE_URL: 'postgresql://warden:x@127.0.0.1:9/warden',
      REDIS_URL: '',
    });
    const code = await proc.exited;
    expect(code).not.toBe(0);
    expect(Date.now() - began).toBeLessThan(15_000);
    expect(proc.output()).toMatch(/Cannot reach PostgreSQL at postgresql:\/\/warden:\*\*\*@127\.0\.0\.1:9\/warden/);
  }, 30_000);

  it('stops with a message naming a bad variable', async () => {
    const proc = run({ DATA_DIR: mkdtempSync(path.join(tmpdir(), 'warden-proc-')), ACCESS_TOKEN_TTL: 'forever' });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain('ACCESS_TOKEN_TTL');
  }, 30_000);
});
