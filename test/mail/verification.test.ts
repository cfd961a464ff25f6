/**
 * Email verification (docs/api.md §3, §6) over real HTTP and real SMTP: the code is read from the
 * delivered mail only. Codes are 6 digits, single-use, valid 10 minutes, bound to their user, and
 * replaced by a newer one; wrong codes count toward the account lockout shared with login.
 */
import { createHash } from 'node:crypto';
import { ErrorCode } from '../../src/errors/error-code';
import { ManualClock } from '../../src/lib/clock';
import { randomPrivateIp } from '../support/raw-http';
import { createTestDatabase } from '../support/db-template';
import { codeIn, type SmtpTestServer } from '../support/smtp';
import { REQUEST_VERIFICATION, VERIFY, startWithSmtp, type MailSetup } from './support';
import { LOGIN, ME, errorCode, SIGNUP, signupUser, startTestServer, uniqueEmail, type SignedUp, type TestServer } from '../kit';

const MAX = 3;
const MAIL_FROM = 'Warden Test <no-reply@warden.test>';

/** A code of six digits that is not `code`. */
const otherCode = (code: string, n = 1) => String((Number(code) + n) % 1_000_000).padStart(6, '0');

describe('email verification', () => {
  let setup: MailSetup;
  let server: TestServer;
  let smtp: SmtpTestServer;
  beforeAll(async () => {
    setup = await startWithSmtp({ env: { LOGIN_MAX_FAILURES: String(MAX), LOCKOUT_DURATION: '10m', MAIL_FROM, TRUST_PROXY: 'true' } });
    ({ server, smtp } = setup);
  });
  afterAll(() => setup.close());

  const verify = (user: SignedUp, code: string) => server.gql(VERIFY, { code }, { token: user.accessToken });
  const requestCode = (user: SignedUp) =>
    server.gql(REQUEST_VERIFICATION, {}, { token: user.accessToken, headers: { 'x-forwarded-for': randomPrivateIp() } });
  const verified = async (user: SignedUp) => (await server.gql(ME, {}, { token: user.accessToken })).body.data!.me.emailVerified;
  /** Signs up and returns the user with the code from their signup mail. */
  const signupWithCode = async () => {
    const user = await signupUser(server);
    return { user, code: codeIn(await smtp.nextMail(user.email)) };
  };

  it('mails a 6-digit code at signup, in a text and an HTML body, from MAIL_FROM', async () => {
    const user = await signupUser(server);
    const mail = await smtp.nextMail(user.email);
    expect(mail.to).toEqual([user.email]);
    expect(mail.parsed.from?.value).toEqual([{ name: 'Warden Test', address: 'no-reply@warden.test' }]);
    expect(mail.subject).toBe('Verify your email for Warden');
    const code = codeIn(mail);
    expect(code).toMatch(/^\d{6}$/);
    expect(mail.html).toContain(code);
    expect(mail.html).toMatch(/^<!doctype html>/i);
    expect(mail.text).toMatch(/valid for 10 minutes/);
    // The mail carries nothing the user typed (see mail-templates.ts).
    expect(mail.text + mail.html).not.toContain('Test User');
  });

  it('verifies the email with the mailed code, once', async () => {
    const { user, code } = await signupWithCode();
    expect(await verified(user)).toBe(false);
    const ok = await verify(user, code);
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data!.verifyEmail).toEqual({ id: user.user.id, email: user.email, emailVerified: true });
    expect(await verified(user)).toBe(true);
    const events = await server.app.infra.database.prisma.authEvent.findMany({ where: { userId: user.user.id, type: 'email_verified' } });
    expect(events).toHaveLength(1);
    // A spent code.
    expect(errorCode(await verify(user, code))).toBe(ErrorCode.INVALID_CODE);
  });

  it('keeps only a keyed hash of the code, never the code or its plain SHA-256', async () => {
    const { user, code } = await signupWithCode();
    const rows = await server.app.infra.database.prisma.oneTimeToken.findMany({ where: { userId: user.user.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ purpose: 'EMAIL_VERIFICATION', usedAt: null });
    const stored = Buffer.from(rows[0].tokenHash);
    expect(stored).toHaveLength(32);
    expect(stored.equals(createHash('sha256').update(code).digest())).toBe(false);
    expect(stored.equals(createHash('sha256').update(`${user.user.id}:${code}`).digest())).toBe(false);
    expect(stored.toString('latin1')).not.toContain(code);
    const ttl = rows[0].expiresAt.getTime() - rows[0].createdAt.getTime();
    expect(ttl).toBe(10 * 60_000);
  });

  it('answers INVALID_CODE for a wrong or malformed code, and leaves the email unverified', async () => {
    const { user, code } = await signupWithCode();
    for (const wrong of [otherCode(code), '12345', 'abc def']) {
      expect(errorCode(await verify(user, wrong))).toBe(ErrorCode.INVALID_CODE);
    }
    expect(await verified(user)).toBe(false);
  });

  it("binds a code to its user: another user's code does not verify", async () => {
    const alice = await signupWithCode();
    const bob = await signupWithCode();
    expect(errorCode(await verify(bob.user, alice.code))).toBe(ErrorCode.INVALID_CODE);
    expect(await verified(bob.user)).toBe(false);
    expect((await verify(alice.user, alice.code)).body.data!.verifyEmail.emailVerified).toBe(true);
  });

  it('replaces the earlier code when a new one is requested', async () => {
    const { user, code: first } = await signupWithCode();
    let second = first;
    // One chance in a million that the new code equals the old: ask again then.
    while (second === first) {
      expect((await requestCode(user)).body.data).toEqual({ requestEmailVerification: true });
      second = codeIn(await smtp.nextMail(user.email));
    }
    expect(errorCode(await verify(user, first))).toBe(ErrorCode.INVALID_CODE);
    expect((await verify(user, second)).body.data!.verifyEmail.emailVerified).toBe(true);
  });

  it('keeps one live code when requests race', async () => {
    const { user } = await signupWithCode();
    const answers = await Promise.all([requestCode(user), requestCode(user), requestCode(user)]);
    for (const answer of answers) expect(answer.body.data).toEqual({ requestEmailVerification: true });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push(codeIn(await smtp.nextMail(user.email)));
    await server.app.services.background.idle();
    const live = await server.app.infra.database.prisma.oneTimeToken.count({ where: { userId: user.user.id, usedAt: null } });
    expect(live).toBe(1);
  });

  it('sends no code to an address that is already verified', async () => {
    const { user, code } = await signupWithCode();
    await verify(user, code);
    const before = smtp.mailsTo(user.email).length;
    expect((await requestCode(user)).body.data).toEqual({ requestEmailVerification: true });
    await server.app.services.background.idle();
    expect(smtp.mailsTo(user.email)).toHaveLength(before);
  });

  it('limits codes per user, whatever the IP: RATE_LIMITED with retryAfter after 5 in 15 minutes', async () => {
    const { user } = await signupWithCode();
    for (let i = 0; i < 5; i++) expect((await requestCode(user)).body.data).toEqual({ requestEmailVerification: true });
    const limited = await requestCode(user);
    expect(errorCode(limited)).toBe(ErrorCode.RATE_LIMITED);
    expect(limited.body.errors![0].extensions!.retryAfter).toBeGreaterThan(800);
    await server.app.services.background.idle();
    expect(smtp.mailsTo(user.email)).toHaveLength(6); // the signup code and 5 requested
  });

  it('requires a signed-in user for requestEmailVerification and verifyEmail', async () => {
    expect(errorCode(await server.gql(REQUEST_VERIFICATION))).toBe(ErrorCode.UNAUTHENTICATED);
    expect(errorCode(await server.gql(VERIFY, { code: '123456' }))).toBe(ErrorCode.UNAUTHENTICATED);
  });

  describe('lockout', () => {
    it('counts wrong codes toward the lock login uses: the right code and the right password are then refused', async () => {
      const { user, code } = await signupWithCode();
      for (let i = 1; i <= MAX; i++) expect(errorCode(await verify(user, otherCode(code, i)))).toBe(ErrorCode.INVALID_CODE);
      const locked = await verify(user, code);
      expect(errorCode(locked)).toBe(ErrorCode.ACCOUNT_LOCKED);
      expect(locked.body.errors![0].extensions!.retryAfter).toBeGreaterThan(500);
      expect(errorCode(await server.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toBe(ErrorCode.ACCOUNT_LOCKED);
      expect(await verified(user)).toBe(false);
    });

    it('counts failed logins toward the same lock', async () => {
      const { user, code } = await signupWithCode();
      for (let i = 0; i < MAX; i++) {
        expect(errorCode(await server.gql(LOGIN, { input: { email: user.email, password: 'wrong password' } }))).toBe(
          ErrorCode.INVALID_CREDENTIALS,
        );
      }
      expect(errorCode(await verify(user, code))).toBe(ErrorCode.ACCOUNT_LOCKED);
    });

    it('gives a right code back its attempt, so verifying does not bring a lock closer', async () => {
      const { user, code } = await signupWithCode();
      for (let i = 1; i < MAX; i++) expect(errorCode(await verify(user, otherCode(code, i)))).toBe(ErrorCode.INVALID_CODE);
      expect((await verify(user, code)).body.data!.verifyEmail.emailVerified).toBe(true);
      // MAX - 1 failures so far: one more guess is still checked, the next is locked.
      expect(errorCode(await verify(user, code))).toBe(ErrorCode.INVALID_CODE);
      expect(errorCode(await verify(user, code))).toBe(ErrorCode.ACCOUNT_LOCKED);
    });

    it('checks one of 15 aliased guesses in a request: the first wrong one stops the operation', async () => {
      const { user, code } = await signupWithCode();
      const fields = Array.from({ length: 15 }, (_, i) => `g${i}: verifyEmail(code: "${otherCode(code, i + 1)}") { id }`).join('\n');
      const answer = await server.gql(`mutation { ${fields} }`, {}, { token: user.accessToken });
      // verifyEmail returns User!, so its error nulls the whole result and the later fields of
      // this serial mutation never run.
      expect(answer.body.data).toBeNull();
      expect(answer.body.errors!.map((error) => [error.path?.[0], error.extensions?.code])).toEqual([['g0', ErrorCode.INVALID_CODE]]);
      // That one guess counted: MAX - 1 more are checked, then the lock holds.
      for (let i = 1; i < MAX; i++) expect(errorCode(await verify(user, otherCode(code, 100 + i)))).toBe(ErrorCode.INVALID_CODE);
      expect(errorCode(await verify(user, code))).toBe(ErrorCode.ACCOUNT_LOCKED);
    });

    it('lets 100 aliased guesses, the right code among them, get nowhere', async () => {
      const { user, code } = await signupWithCode();
      // The right code opens the last request of 15, when the lock is already in force.
      const guesses = Array.from({ length: 100 }, (_, i) => (i === 90 ? code : otherCode(code, i + 1)));
      const aliases = (list: string[], offset: number) =>
        list.map((guess, i) => `g${offset + i}: verifyEmail(code: "${guess}") { emailVerified }`).join('\n');

      // All 100 in one request: refused before anything runs (the alias limit is 15).
      const whole = await server.gql(`mutation { ${aliases(guesses, 0)} }`, {}, { token: user.accessToken });
      expect(whole.status).toBe(400);
      expect(errorCode(whole)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(whole.body.data ?? null).toBeNull();

      // The same 100 in aliased requests of at most 15: each request stops at its first wrong
      // guess, and the lock stops every request after MAX of them, the right code's included.
      const firstErrors: unknown[] = [];
      for (let offset = 0; offset < guesses.length; offset += 15) {
        const answer = await server.gql(
          `mutation { ${aliases(guesses.slice(offset, offset + 15), offset)} }`,
          {},
          { token: user.accessToken },
        );
        expect(answer.body.data).toBeNull();
        expect(answer.body.errors).toHaveLength(1);
        expect(answer.body.errors![0].path).toEqual([`g${offset}`]);
        firstErrors.push(errorCode(answer));
      }
      expect(firstErrors).toEqual([...Array(MAX).fill(ErrorCode.INVALID_CODE), ...Array(7 - MAX).fill(ErrorCode.ACCOUNT_LOCKED)]);
      expect(await verified(user)).toBe(false);
    });

    it('checks at most LOGIN_MAX_FAILURES of 20 parallel guesses', async () => {
      const { user, code } = await signupWithCode();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => verify(user, otherCode(code, i + 1))));
      const codes = answers.map((answer) => errorCode(answer));
      expect(codes.filter((c) => c === ErrorCode.INVALID_CODE).length).toBeLessThanOrEqual(MAX);
      expect(codes.filter((c) => c === ErrorCode.ACCOUNT_LOCKED).length).toBeGreaterThanOrEqual(20 - MAX);
    });
  });
});

describe('email verification: per-IP limit', () => {
  let setup: MailSetup;
  beforeAll(async () => {
    setup = await startWithSmtp({ env: { IP_RATE_LIMIT: '2', TRUST_PROXY: 'true' } });
  });
  afterAll(() => setup.close());

  it('answers RATE_LIMITED once an IP has used its requestEmailVerification calls, aliased fields counted', async () => {
    const { server } = setup;
    const ip = randomPrivateIp();
    // Signed up from another address, so signup spends no quota of `ip` (nor of 127.0.0.1).
    const email = uniqueEmail('ip');
    const signup = await server.gql(
      SIGNUP,
      { input: { email, password: 'correct horse battery', name: 'I' } },
      { headers: { 'x-forwarded-for': randomPrivateIp() } },
    );
    const user = { accessToken: signup.body.data!.signup.accessToken as string };
    const headers = { 'x-forwarded-for': ip };
    const answer = await server.gql(
      'mutation { a: requestEmailVerification b: requestEmailVerification c: requestEmailVerification }',
      {},
      { token: user.accessToken, headers },
    );
    expect(answer.body.data).toBeNull();
    expect(answer.body.errors!.map((error) => [error.path?.[0], error.extensions?.code])).toEqual([['c', ErrorCode.RATE_LIMITED]]);
    // Another IP still has its own budget.
    const other = await server.gql(
      REQUEST_VERIFICATION,
      {},
      { token: user.accessToken, headers: { 'x-forwarded-for': randomPrivateIp() } },
    );
    expect(other.body.data).toEqual({ requestEmailVerification: true });
  });
});

describe('email verification: expiry', () => {
  const clock = new ManualClock();
  let setup: MailSetup;
  beforeAll(async () => {
    setup = await startWithSmtp({ clock, env: { ACCESS_TOKEN_TTL: '1h' } });
  });
  afterAll(() => setup.close());

  it('refuses a code after 10 minutes', async () => {
    const { server, smtp } = setup;
    const user = await signupUser(server);
    const code = codeIn(await smtp.nextMail(user.email));
    clock.advance(10 * 60_000 + 1_000);
    expect(errorCode(await server.gql(VERIFY, { code }, { token: user.accessToken }))).toBe(ErrorCode.INVALID_CODE);
    // A new code, made at the new time, works for its own 10 minutes.
    await server.gql(REQUEST_VERIFICATION, {}, { token: user.accessToken });
    const fresh = codeIn(await smtp.nextMail(user.email));
    clock.advance(9 * 60_000);
    expect((await server.gql(VERIFY, { code: fresh }, { token: user.accessToken })).body.data!.verifyEmail.emailVerified).toBe(true);
  });
});

describe('cleanup of expired codes', () => {
  const clock = new ManualClock();
  let server: TestServer;
  // The cleanup deletes whatever has expired: on a shared PostgreSQL it gets a database of its own.
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    let url = '';
    if (process.env.DATABASE_URL) {
      const database = await createTestDatabase();
      url = database.url;
      drop = () => database.drop();
    }
    server = await startTestServer({ clock, env: { DATABASE_URL: url } });
  });
  afterAll(async () => {
    await server?.close();
    await drop?.();
  });

  it('deletes codes once they have expired, and only then', async () => {
    const user = await signupUser(server);
    await server.app.services.background.idle();
    const rows = () => server.app.infra.database.prisma.oneTimeToken.count({ where: { userId: user.user.id } });
    expect(await rows()).toBe(1);
    clock.advance(9 * 60_000);
    expect((await server.app.sessionCleanup.runOnce()).oneTimeTokens).toBe(0);
    expect(await rows()).toBe(1);
    clock.advance(2 * 60_000);
    expect((await server.app.sessionCleanup.runOnce()).oneTimeTokens).toBe(1);
    expect(await rows()).toBe(0);
  });
});
