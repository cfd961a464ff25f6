/**
 * Account lockout (docs/api.md §6): LOGIN_MAX_FAILURES failures for one normalised email within
 * LOGIN_FAILURE_WINDOW lock it for LOCKOUT_DURATION, registered or not, and no way around the
 * count (aliases, parallel requests, other client IPs) gets more guesses.
 */
import { ErrorCode } from '../../src/errors/error-code';
import { ManualClock } from '../../src/lib/clock';
import { randomPrivateIp } from '../support/raw-http';
import { login, loginCount, median, outcome } from './helpers';
import { timed, errorCode, signupUser, startTestServer, uniqueEmail, type TestServer } from '../kit';

const MAX = 3;
const LOCKOUT_SECONDS = 600;
const WRONG = 'wrong password 123';

describe('account lockout', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { LOGIN_MAX_FAILURES: String(MAX), LOGIN_FAILURE_WINDOW: '5m', LOCKOUT_DURATION: `${LOCKOUT_SECONDS}s`, TRUST_PROXY: 'true' },
    });
  });
  afterAll(() => server.close());

  it('locks an email after LOGIN_MAX_FAILURES failures, even for the right password, with retryAfter', async () => {
    const user = await signupUser(server);
    for (let i = 0; i < MAX; i++) {
      expect(outcome(await login(server, user.email, WRONG))).toEqual({ code: ErrorCode.INVALID_CREDENTIALS, retryAfter: undefined });
    }
    const locked = await login(server, user.email, user.password);
    expect(locked.body.data).toBeNull();
    const { code, retryAfter } = outcome(locked);
    expect(code).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(LOCKOUT_SECONDS - 30);
    expect(retryAfter).toBeLessThanOrEqual(LOCKOUT_SECONDS);
    expect(locked.body.errors?.[0]?.message).not.toMatch(/rate|redis|limiter/i);
  });

  it('applies the lock to the normalised email, whatever its spelling', async () => {
    const user = await signupUser(server);
    const spellings = [user.email.toUpperCase(), `  ${user.email}  `, user.email.replace('@', '\uFF20')];
    for (const spelling of spellings) expect(errorCode(await login(server, spelling, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(errorCode(await login(server, user.email, user.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
  });

  it('locks unregistered emails the same way, so a lock reveals nothing', async () => {
    const registered = await signupUser(server);
    const unknown = uniqueEmail('nobody');
    const seen: Record<string, unknown[]> = { registered: [], unknown: [] };
    for (let i = 0; i < MAX + 2; i++) {
      seen.registered.push(outcome(await login(server, registered.email, WRONG)).code);
      seen.unknown.push(outcome(await login(server, unknown, WRONG)).code);
    }
    expect(seen.unknown).toEqual(seen.registered);
    expect(seen.unknown).toEqual([...Array(MAX).fill(ErrorCode.INVALID_CREDENTIALS), ErrorCode.ACCOUNT_LOCKED, ErrorCode.ACCOUNT_LOCKED]);
    const a = outcome(await login(server, registered.email, WRONG));
    const b = outcome(await login(server, unknown, WRONG));
    expect(Math.abs((a.retryAfter as number) - (b.retryAfter as number))).toBeLessThanOrEqual(2);
  });

  it('lets at most LOGIN_MAX_FAILURES of 30 parallel wrong guesses reach the password check', async () => {
    const user = await signupUser(server);
    const failedBefore = await loginCount(server, 'failed');
    const lockedBefore = await loginCount(server, 'locked');
    const answers = await Promise.all(Array.from({ length: 30 }, () => login(server, user.email, WRONG)));
    const codes = answers.map((answer) => errorCode(answer));
    expect(codes.filter((code) => code === ErrorCode.INVALID_CREDENTIALS).length).toBeLessThanOrEqual(MAX);
    expect(codes.filter((code) => code === ErrorCode.ACCOUNT_LOCKED).length).toBeGreaterThanOrEqual(30 - MAX);
    expect(codes.every((code) => code === ErrorCode.INVALID_CREDENTIALS || code === ErrorCode.ACCOUNT_LOCKED)).toBe(true);
    // Only attempts that reached bcrypt count as "failed"; the others were refused before it.
    expect((await loginCount(server, 'failed')) - failedBefore).toBeLessThanOrEqual(MAX);
    expect((await loginCount(server, 'locked')) - lockedBefore).toBeGreaterThanOrEqual(30 - MAX);
    expect(errorCode(await login(server, user.email, user.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
  });

  it('gives aliased login fields in one request no extra guesses', async () => {
    const user = await signupUser(server);
    const failedBefore = await loginCount(server, 'failed');
    const aliases = Array.from({ length: 10 }, (_, i) => `a${i}: login(input: $input) { accessToken }`).join('\n');
    const query = `mutation Guess($input: LoginInput!) { ${aliases} }`;
    for (let request = 0; request < MAX; request++) {
      const answer = await server.gql(query, { input: { email: user.email, password: WRONG } });
      // Mutation fields run one after another; a failed non-null field ends the operation.
      expect(answer.body.errors?.map((error) => error.extensions?.code)).toEqual([ErrorCode.INVALID_CREDENTIALS]);
    }
    expect((await loginCount(server, 'failed')) - failedBefore).toBe(MAX);
    const locked = await server.gql(query, { input: { email: user.email, password: user.password } });
    expect(errorCode(locked)).toBe(ErrorCode.ACCOUNT_LOCKED);
  });

  it('counts failures from every client IP (X-Forwarded-For changes nothing)', async () => {
    const user = await signupUser(server);
    for (let i = 0; i < MAX; i++) {
      const answer = await login(server, user.email, WRONG, { headers: { 'x-forwarded-for': randomPrivateIp() } });
      expect(errorCode(answer)).toBe(ErrorCode.INVALID_CREDENTIALS);
    }
    const fromElsewhere = await login(server, user.email, user.password, { headers: { 'x-forwarded-for': randomPrivateIp() } });
    expect(errorCode(fromElsewhere)).toBe(ErrorCode.ACCOUNT_LOCKED);
  });

  it('clears the count after a successful login', async () => {
    const user = await signupUser(server);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < MAX - 1; i++) expect(errorCode(await login(server, user.email, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
      const ok = await login(server, user.email, user.password);
      expect(ok.body.errors).toBeUndefined();
      expect(ok.body.data?.login.accessToken).toEqual(expect.any(String));
    }
  });

  it('records a login_locked audit event and counts logins{result="locked"}', async () => {
    const user = await signupUser(server);
    for (let i = 0; i < MAX; i++) await login(server, user.email, WRONG);
    const lockedBefore = await loginCount(server, 'locked');
    expect(errorCode(await login(server, user.email, user.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect((await loginCount(server, 'locked')) - lockedBefore).toBe(1);
    const events = await server.app.infra.database.prisma.authEvent.findMany({ where: { userId: user.user.id }, select: { type: true } });
    const types = events.map((event) => event.type);
    expect(types.filter((type) => type === 'login_failed')).toHaveLength(MAX);
    expect(types).toContain('login_locked');
  });
});

describe('lockout timing and expiry', () => {
  it('answers a locked email without spending bcrypt time', async () => {
    // A bcrypt cost high enough that one compare clearly dominates a request's time.
    const server = await startTestServer({ env: { LOGIN_MAX_FAILURES: '3', BCRYPT_COST: '11' } });
    try {
      const email = uniqueEmail('slow');
      const failures: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { ms, value } = await timed(() => login(server, email, WRONG));
        expect(errorCode(value)).toBe(ErrorCode.INVALID_CREDENTIALS);
        failures.push(ms);
      }
      const locked: number[] = [];
      for (let i = 0; i < 5; i++) {
        const { ms, value } = await timed(() => login(server, email, WRONG));
        expect(errorCode(value)).toBe(ErrorCode.ACCOUNT_LOCKED);
        locked.push(ms);
      }
      // Relative, not absolute: a locked answer takes well under half of a bcrypt-checked one.
      expect(median(locked)).toBeLessThan(median(failures) / 2);
    } finally {
      await server.close();
    }
  });

  it('lifts the lock after LOCKOUT_DURATION', async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ env: { LOGIN_MAX_FAILURES: '2', LOGIN_FAILURE_WINDOW: '1m', LOCKOUT_DURATION: '2s' }, clock });
    try {
      const user = await signupUser(server);
      await login(server, user.email, WRONG);
      await login(server, user.email, WRONG);
      const locked = outcome(await login(server, user.email, user.password));
      expect(locked.code).toBe(ErrorCode.ACCOUNT_LOCKED);
      expect(locked.retryAfter).toBe(2);
      clock.advance(1_900);
      expect(outcome(await login(server, user.email, user.password))).toEqual({ code: ErrorCode.ACCOUNT_LOCKED, retryAfter: 1 });
      clock.advance(100);
      const ok = await login(server, user.email, user.password);
      expect(ok.body.errors).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('forgets failures older than LOGIN_FAILURE_WINDOW (a sliding window)', async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ env: { LOGIN_MAX_FAILURES: '2', LOGIN_FAILURE_WINDOW: '2m', LOCKOUT_DURATION: '10m' }, clock });
    try {
      const user = await signupUser(server);
      expect(errorCode(await login(server, user.email, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
      clock.advance(2 * 60_000);
      expect(errorCode(await login(server, user.email, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
      const ok = await login(server, user.email, user.password);
      expect(ok.body.errors).toBeUndefined();
      // Two failures a minute apart lock; the first stays counted for its whole window.
      const other = await signupUser(server);
      expect(errorCode(await login(server, other.email, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
      clock.advance(60_000);
      expect(errorCode(await login(server, other.email, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
      expect(errorCode(await login(server, other.email, other.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
    } finally {
      await server.close();
    }
  });
});
