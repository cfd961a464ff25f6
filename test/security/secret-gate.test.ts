/**
 * One gate for every secret check (docs/api.md §6), over real HTTP: the password in login,
 * changePassword and deleteMe, and email-verification codes all count toward one lock per email,
 * and all are refused while it holds. Only failures lock: parallel right answers all pass, while
 * of parallel wrong ones at most LOGIN_MAX_FAILURES are checked (counted by
 * warden_secret_checks_total). Two instances over one Redis share the count.
 *
 * Runs in both CI passes; the two-instance part starts a private redis-server (skipped, with
 * the reason printed, where there is none).
 */
import { ErrorCode } from '../../src/errors/error-code';
import type { MailMessage, Mailer } from '../../src/infra/mailer';
import { ManualClock } from '../../src/lib/clock';
import { randomPrivateIp } from '../support/raw-http';
import { RedisServer } from '../support/redis-server';
import { login, outcome } from './helpers';
import {
  ME,
  REDIS_SKIP_REASON,
  redisServerAvailable,
  errorCode,
  signupUser,
  startTestServer,
  uniqueEmail,
  type GqlResponse,
  type SignedUp,
  type TestServer,
  metric,
} from '../kit';

const MAX = 3;
const LOCKOUT_MS = 10 * 60_000;
const WRONG = 'wrong password 123';
const NEW_PASSWORD = 'a brand new password';

const CHANGE_PASSWORD = 'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }';
const DELETE_ME = 'mutation($p: String!) { deleteMe(password: $p) }';
const VERIFY = 'mutation($code: String!) { verifyEmail(code: $code) { emailVerified } }';

/** Keeps every mail, so a test can read the verification code it was sent. */
class CapturingMailer implements Mailer {
  readonly sent: MailMessage[] = [];
  async send(message: MailMessage): Promise<void> {
    this.sent.push(message);
  }
  async close(): Promise<void> {}
  async codeFor(email: string): Promise<string> {
    // The code is made and mailed in the background after signup.
    for (let i = 0; i < 1_000; i++) {
      const mail = this.sent.find((message) => message.to === email);
      const code = mail && /\b(\d{6})\b/.exec(mail.text)?.[1];
      if (code) return code;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no verification mail for ${email}`);
  }
}

/** The current value of warden_secret_checks_total{kind, result}. */
function secretChecks(server: TestServer, result: 'ok' | 'failed' | 'locked' | 'busy', kind = 'password'): Promise<number> {
  return metric(server, 'warden_secret_checks_total', { kind, result });
}

const changePassword = (server: TestServer, user: SignedUp, current: string, options: { ip?: string } = {}) =>
  server.gql(
    CHANGE_PASSWORD,
    { c: current, n: NEW_PASSWORD },
    { token: user.accessToken, headers: { 'x-forwarded-for': options.ip ?? randomPrivateIp() } },
  );
const deleteMe = (server: TestServer, user: SignedUp, password: string) =>
  server.gql(DELETE_ME, { p: password }, { token: user.accessToken });
const verifyEmail = (server: TestServer, user: SignedUp, code: string) => server.gql(VERIFY, { code }, { token: user.accessToken });
const codes = (answers: GqlResponse[]) => answers.map((answer) => errorCode(answer));
const count = (list: unknown[], code: string) => list.filter((item) => item === code).length;
/** A six-digit code that is not `code`. */
const otherCode = (code: string, n: number) => String((Number(code) + n) % 1_000_000).padStart(6, '0');

describe('the secret gate: one lock for every secret check', () => {
  let server: TestServer;
  const clock = new ManualClock();
  const mailer = new CapturingMailer();
  beforeAll(async () => {
    server = await startTestServer({
      env: { LOGIN_MAX_FAILURES: String(MAX), LOGIN_FAILURE_WINDOW: '5m', LOCKOUT_DURATION: '10m', TRUST_PROXY: 'true' },
      clock,
      mailer,
    });
  });
  afterAll(() => server.close());

  it('locks changePassword after LOGIN_MAX_FAILURES of 40 wrong current passwords, then refuses the right one', async () => {
    const user = await signupUser(server);
    const checkedBefore = await secretChecks(server, 'failed');
    const answers: unknown[] = [];
    for (let i = 0; i < 40; i++) answers.push(errorCode(await changePassword(server, user, `${WRONG} ${i}`)));
    expect(answers).toEqual([...Array(MAX).fill(ErrorCode.INVALID_CREDENTIALS), ...Array(40 - MAX).fill(ErrorCode.ACCOUNT_LOCKED)]);
    expect((await secretChecks(server, 'failed')) - checkedBefore).toBe(MAX);

    const right = await changePassword(server, user, user.password);
    expect(right.body.data).toBeNull();
    const { code, retryAfter } = outcome(right);
    expect(code).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect(retryAfter).toBe(LOCKOUT_MS / 1000);
    // Nothing changed: the session still works, and after the lock the old password is still the one.
    expect((await server.gql(ME, {}, { token: user.accessToken })).body.data?.me.id).toBe(user.user.id);
    clock.advance(LOCKOUT_MS);
    expect(errorCode(await login(server, user.email, NEW_PASSWORD))).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect((await login(server, user.email, user.password)).body.data?.login.accessToken).toEqual(expect.any(String));
  });

  it('locks deleteMe after LOGIN_MAX_FAILURES wrong passwords, then refuses the right one and deletes nothing', async () => {
    const user = await signupUser(server);
    const answers: unknown[] = [];
    for (let i = 0; i < 40; i++) answers.push(errorCode(await deleteMe(server, user, `${WRONG} ${i}`)));
    expect(answers).toEqual([...Array(MAX).fill(ErrorCode.INVALID_CREDENTIALS), ...Array(40 - MAX).fill(ErrorCode.ACCOUNT_LOCKED)]);
    expect(outcome(await deleteMe(server, user, user.password))).toEqual({ code: ErrorCode.ACCOUNT_LOCKED, retryAfter: LOCKOUT_MS / 1000 });
    expect((await server.gql(ME, {}, { token: user.accessToken })).body.data?.me.id).toBe(user.user.id);
    clock.advance(LOCKOUT_MS);
    const deleted = await deleteMe(server, user, user.password);
    expect(deleted.body.data?.deleteMe).toBe(true);
  });

  it('shares one lock between login, changePassword and deleteMe, in both directions', async () => {
    // changePassword failures lock login.
    const a = await signupUser(server);
    for (let i = 0; i < MAX; i++) expect(errorCode(await changePassword(server, a, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(errorCode(await login(server, a.email, a.password))).toBe(ErrorCode.ACCOUNT_LOCKED);

    // login failures lock changePassword and deleteMe (the right passwords are refused).
    const b = await signupUser(server);
    for (let i = 0; i < MAX; i++) expect(errorCode(await login(server, b.email, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(errorCode(await changePassword(server, b, b.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect(errorCode(await deleteMe(server, b, b.password))).toBe(ErrorCode.ACCOUNT_LOCKED);

    // One failure of each kind adds up, whatever the spelling of the address at login.
    const c = await signupUser(server);
    expect(errorCode(await login(server, c.email.toUpperCase(), WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(errorCode(await changePassword(server, c, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(errorCode(await deleteMe(server, c, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(errorCode(await login(server, c.email, c.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
  });

  it('counts wrong verification codes toward the lock on passwords, and refuses the right code while locked', async () => {
    const user = await signupUser(server);
    const code = await mailer.codeFor(user.email);
    for (let i = 1; i <= MAX; i++) expect(errorCode(await verifyEmail(server, user, otherCode(code, i)))).toBe(ErrorCode.INVALID_CODE);
    expect(errorCode(await changePassword(server, user, user.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect(errorCode(await deleteMe(server, user, user.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect(errorCode(await verifyEmail(server, user, code))).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect((await server.gql(ME, {}, { token: user.accessToken })).body.data?.me.emailVerified).toBe(false);
  });

  it('does not let a right password clear failed verification codes', async () => {
    const user = await signupUser(server);
    const code = await mailer.codeFor(user.email);
    for (let i = 1; i < MAX; i++) expect(errorCode(await verifyEmail(server, user, otherCode(code, i)))).toBe(ErrorCode.INVALID_CODE);
    // A right password clears password failures only: the code failures still count.
    expect((await login(server, user.email, user.password)).body.errors).toBeUndefined();
    expect(errorCode(await verifyEmail(server, user, otherCode(code, 100)))).toBe(ErrorCode.INVALID_CODE);
    expect(errorCode(await verifyEmail(server, user, code))).toBe(ErrorCode.ACCOUNT_LOCKED);
  });

  it('lets 10 parallel logins with the right password all succeed, also with LOGIN_MAX_FAILURES - 1 failures counted', async () => {
    for (const failuresFirst of [0, MAX - 1]) {
      const user = await signupUser(server);
      for (let i = 0; i < failuresFirst; i++) expect(errorCode(await login(server, user.email, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => login(server, user.email, user.password, { headers: { 'x-forwarded-for': randomPrivateIp() } })),
      );
      expect(answers.map((answer) => answer.body.errors?.[0]?.extensions?.code ?? 'ok')).toEqual(Array(10).fill('ok'));
    }
  });

  it.each([
    ['login', (user: SignedUp) => login(server, user.email, WRONG, { headers: { 'x-forwarded-for': randomPrivateIp() } })],
    ['changePassword', (user: SignedUp) => changePassword(server, user, WRONG)],
    ['deleteMe', (user: SignedUp) => deleteMe(server, user, WRONG)],
  ] as const)(
    'checks at most LOGIN_MAX_FAILURES of 30 parallel wrong %s guesses (bcrypt checks counted in /metrics)',
    async (_name, guess) => {
      const user = await signupUser(server);
      const failedBefore = await secretChecks(server, 'failed');
      const lockedBefore = await secretChecks(server, 'locked');
      const answers = codes(await Promise.all(Array.from({ length: 30 }, () => guess(user))));
      const checked = (await secretChecks(server, 'failed')) - failedBefore;
      expect(count(answers, ErrorCode.INVALID_CREDENTIALS)).toBe(checked);
      expect(checked).toBeGreaterThan(0);
      expect(checked).toBeLessThanOrEqual(MAX);
      expect(count(answers, ErrorCode.ACCOUNT_LOCKED)).toBe(30 - checked);
      expect((await secretChecks(server, 'locked')) - lockedBefore).toBe(30 - checked);
      expect(errorCode(await login(server, user.email, user.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
    },
  );

  it('gives aliased changePassword and deleteMe fields in one request no extra guesses', async () => {
    const user = await signupUser(server);
    const failedBefore = await secretChecks(server, 'failed');
    const fields = (field: 'changePassword' | 'deleteMe', password: string) =>
      Array.from({ length: 10 }, (_, i) =>
        field === 'changePassword'
          ? `a${i}: changePassword(currentPassword: "${password}", newPassword: "${NEW_PASSWORD}") { accessToken }`
          : `a${i}: deleteMe(password: "${password}")`,
      ).join('\n');
    for (let request = 0; request < MAX; request++) {
      const field = request % 2 === 0 ? 'changePassword' : 'deleteMe';
      const answer = await server.gql(`mutation { ${fields(field, WRONG)} }`, {}, { token: user.accessToken });
      // Root mutation fields run one after another; the first failed non-null field ends the operation.
      expect(answer.body.errors?.map((error) => error.extensions?.code)).toEqual([ErrorCode.INVALID_CREDENTIALS]);
    }
    expect((await secretChecks(server, 'failed')) - failedBefore).toBe(MAX);
    const locked = await server.gql(`mutation { ${fields('changePassword', user.password)} }`, {}, { token: user.accessToken });
    expect(locked.body.errors?.map((error) => error.extensions?.code)).toEqual([ErrorCode.ACCOUNT_LOCKED]);
  });

  it('locks an unregistered email at login exactly as a registered one', async () => {
    const email = uniqueEmail('ghost');
    const answers = codes(await Promise.all(Array.from({ length: 10 }, () => login(server, email, WRONG))));
    expect(count(answers, ErrorCode.INVALID_CREDENTIALS)).toBeLessThanOrEqual(MAX);
    expect(count(answers, ErrorCode.ACCOUNT_LOCKED)).toBeGreaterThanOrEqual(10 - MAX);
  });
});

const describeWithRedis = redisServerAvailable ? describe : describe.skip;
if (!redisServerAvailable) console.warn(`secret gate across two instances ${REDIS_SKIP_REASON}`);

describeWithRedis('the secret gate across two instances sharing one Redis', () => {
  let redis: RedisServer;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
    const env = {
      LOGIN_MAX_FAILURES: String(MAX),
      LOGIN_FAILURE_WINDOW: '5m',
      LOCKOUT_DURATION: '10m',
      TRUST_PROXY: 'true',
      REDIS_URL: redis.url,
    };
    a = await startTestServer({ env });
    // Same database, its own Redis connection: as a second process would be.
    b = await startTestServer({ env, shareWith: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis?.stop();
  });

  it('counts failures on either instance toward one lock that both enforce', async () => {
    const user = await signupUser(a);
    expect(errorCode(await login(a, user.email, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(errorCode(await changePassword(b, user, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(errorCode(await deleteMe(a, user, WRONG))).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(errorCode(await login(a, user.email, user.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect(errorCode(await login(b, user.email, user.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect(errorCode(await changePassword(b, user, user.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
  });

  it('checks at most LOGIN_MAX_FAILURES of 30 parallel wrong guesses spread over both instances', async () => {
    const user = await signupUser(a);
    const before = (await secretChecks(a, 'failed')) + (await secretChecks(b, 'failed'));
    const answers = codes(
      await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? login(a, user.email, WRONG) : changePassword(b, user, WRONG)))),
    );
    const checked = (await secretChecks(a, 'failed')) + (await secretChecks(b, 'failed')) - before;
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThanOrEqual(MAX);
    expect(count(answers, ErrorCode.INVALID_CREDENTIALS)).toBe(checked);
    expect(count(answers, ErrorCode.ACCOUNT_LOCKED)).toBe(30 - checked);
  });

  it('lets 10 parallel right logins spread over both instances all succeed', async () => {
    const user = await signupUser(a);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => login(i % 2 === 0 ? a : b, user.email, user.password)));
    expect(answers.map((answer) => answer.body.errors?.[0]?.extensions?.code ?? 'ok')).toEqual(Array(10).fill('ok'));
  });
});
