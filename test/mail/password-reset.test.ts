/**
 * Password reset (docs/api.md §3, §6) over real HTTP and real SMTP: the token is read from the
 * delivered mail only. requestPasswordReset always answers true, and neither its answer nor its
 * timing tells a registered address from another; the token is ≥ 128 bits, single-use, valid 30
 * minutes; resetPassword validates like signup, ends every session and is audited.
 */
import { ErrorCode } from '../../src/errors/error-code';
import { ManualClock } from '../../src/lib/clock';
import { randomPrivateIp } from '../support/raw-http';
import { tokenIn, type SmtpTestServer } from '../support/smtp';
import { median } from '../security/helpers';
import { REQUEST_RESET, RESET, startTimingClient, startWithSmtp, type MailSetup, type TimingClient } from './support';
import { LOGIN, ME, metric, errorCode, SIGNUP, signupUser, sleep, uniqueEmail, type SignedUp, type TestServer } from '../kit';

const REFRESH = 'mutation Refresh($refreshToken: String) { refreshToken(refreshToken: $refreshToken) { accessToken } }';
const NEW_PASSWORD = 'a brand new password';

describe('password reset', () => {
  let setup: MailSetup;
  let server: TestServer;
  let smtp: SmtpTestServer;
  beforeAll(async () => {
    setup = await startWithSmtp({ env: { LOGIN_MAX_FAILURES: '3' } });
    ({ server, smtp } = setup);
  });
  afterAll(() => setup.close());

  const requestReset = (email: string) => server.gql(REQUEST_RESET, { email });
  const reset = (token: string, newPassword = NEW_PASSWORD) => server.gql(RESET, { token, newPassword });
  const login = (email: string, password: string) => server.gql(LOGIN, { input: { email, password } });
  /** Signs up, asks for a reset, and returns the user with the token from the mail. */
  const userWithToken = async (): Promise<{ user: SignedUp; token: string }> => {
    const user = await signupUser(server);
    expect((await requestReset(user.email)).body.data).toEqual({ requestPasswordReset: true });
    return { user, token: tokenIn(await nextResetMail(user.email)) };
  };
  const nextResetMail = async (email: string) => {
    for (;;) {
      const mail = await smtp.nextMail(email);
      if (mail.subject === 'Reset your Warden password') return mail;
    }
  };

  it('mails a reset token to a registered address, in a text and an HTML body', async () => {
    const user = await signupUser(server);
    expect((await requestReset(user.email)).body).toEqual({ data: { requestPasswordReset: true } });
    const mail = await nextResetMail(user.email);
    const token = tokenIn(mail);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32); // 256 bits
    expect(mail.html).toContain(token);
    expect(mail.text).toMatch(/valid for 30 minutes/);
  });

  it('finds the address in any spelling (trimmed, NFKC, lower-cased)', async () => {
    const user = await signupUser(server);
    await requestReset(`  ${user.email.toUpperCase().replace('@', '\uFF20')} `);
    expect(tokenIn(await nextResetMail(user.email))).toHaveLength(43);
  });

  it('sets the new password, ends every session, verifies the address and records an audit event', async () => {
    const user = await signupUser(server);
    const second = (await login(user.email, user.password)).body.data!.login;
    const revokedBefore = await metric(server, 'warden_sessions_revoked_total{reason="password_reset"}');
    await requestReset(user.email);
    const token = tokenIn(await nextResetMail(user.email));

    expect((await reset(token)).body).toEqual({ data: { resetPassword: true } });

    expect(errorCode(await login(user.email, user.password))).toBe(ErrorCode.INVALID_CREDENTIALS);
    const fresh = await login(user.email, NEW_PASSWORD);
    expect(fresh.body.errors).toBeUndefined();
    // Both earlier sessions are over: their access and refresh tokens answer SESSION_REVOKED.
    for (const accessToken of [user.accessToken, second.accessToken]) {
      expect(errorCode(await server.gql(ME, {}, { token: accessToken }))).toBe(ErrorCode.SESSION_REVOKED);
    }
    for (const refreshToken of [user.refreshToken, second.refreshToken]) {
      expect(errorCode(await server.gql(REFRESH, { refreshToken }))).toBe(ErrorCode.SESSION_REVOKED);
    }
    expect((await server.gql(ME, {}, { token: fresh.body.data!.login.accessToken })).body.data!.me.emailVerified).toBe(true);
    expect(await metric(server, 'warden_sessions_revoked_total{reason="password_reset"}')).toBe(revokedBefore + 2);
    const events = await server.app.infra.database.prisma.authEvent.findMany({
      where: { userId: user.user.id, type: { startsWith: 'password_reset' } },
    });
    expect(events.map((event) => event.type).sort()).toEqual(['password_reset', 'password_reset_requested']);
    expect(events.find((event) => event.type === 'password_reset')!.detail).toEqual({ sessionsEnded: 2 });
  });

  it('answers true for an unregistered address and sends nothing', async () => {
    const email = uniqueEmail('nobody');
    expect((await requestReset(email)).body).toEqual({ data: { requestPasswordReset: true } });
    expect((await requestReset('not an email at all')).body).toEqual({ data: { requestPasswordReset: true } });
    await server.app.services.background.idle();
    expect(smtp.mailsTo(email)).toEqual([]);
  });

  it('does not wait for the mail: the answer comes while the SMTP server holds the message', async () => {
    const user = await signupUser(server);
    await smtp.nextMail(user.email); // the signup code
    smtp.hold();
    try {
      const answer = await Promise.race([
        requestReset(user.email),
        new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), 10_000)),
      ]);
      expect(answer).not.toBe('waited');
      await smtp.waitForHeld(1);
      expect(smtp.mailsTo(user.email)).toHaveLength(1);
    } finally {
      smtp.release();
    }
    expect(tokenIn(await nextResetMail(user.email))).toHaveLength(43);
  });

  it('accepts a token once', async () => {
    const { token } = await userWithToken();
    expect((await reset(token)).body.data).toEqual({ resetPassword: true });
    expect(errorCode(await reset(token, 'yet another password'))).toBe(ErrorCode.INVALID_CODE);
  });

  it('lets exactly one of parallel resets with one token through', async () => {
    const { token } = await userWithToken();
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => reset(token, `parallel password ${i}`)));
    expect(answers.filter((answer) => answer.body.data?.resetPassword === true)).toHaveLength(1);
    expect(answers.filter((answer) => errorCode(answer) === ErrorCode.INVALID_CODE)).toHaveLength(4);
  });

  it('answers INVALID_CODE for unknown and malformed tokens', async () => {
    const madeUp = Buffer.alloc(32, 7).toString('base64url');
    for (const token of [madeUp, 'short', '', `${madeUp}x`]) expect(errorCode(await reset(token))).toBe(ErrorCode.INVALID_CODE);
  });

  it('replaces an earlier token with a newer one', async () => {
    const { user, token: first } = await userWithToken();
    await requestReset(user.email);
    const second = tokenIn(await nextResetMail(user.email));
    expect(errorCode(await reset(first))).toBe(ErrorCode.INVALID_CODE);
    expect((await reset(second)).body.data).toEqual({ resetPassword: true });
  });

  it('validates the new password like signup, without spending the token', async () => {
    const { user, token } = await userWithToken();
    const short = await reset(token, 'short');
    expect(errorCode(short)).toBe(ErrorCode.BAD_USER_INPUT);
    expect(Object.keys(short.body.errors![0].extensions!.fields as object)).toEqual(['newPassword']);
    const long = await reset(token, 'é'.repeat(37)); // 74 bytes
    expect(errorCode(long)).toBe(ErrorCode.BAD_USER_INPUT);
    expect(long.body.errors![0].extensions!.fields).toEqual({ newPassword: expect.stringMatching(/72 bytes/) });
    expect((await reset(token, 'x'.repeat(72))).body.data).toEqual({ resetPassword: true });
    expect((await login(user.email, 'x'.repeat(72))).body.errors).toBeUndefined();
  });

  it('clears a lock on the address, since its owner just proved it', async () => {
    const { user, token } = await userWithToken();
    for (let i = 0; i < 3; i++) await login(user.email, 'wrong password');
    expect(errorCode(await login(user.email, user.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
    await reset(token);
    expect((await login(user.email, NEW_PASSWORD)).body.errors).toBeUndefined();
  });

  it('sends at most 5 reset mails an hour to one address, answering true all the same', async () => {
    const user = await signupUser(server);
    for (let i = 0; i < 7; i++) expect((await requestReset(user.email)).body.data).toEqual({ requestPasswordReset: true });
    await server.app.services.background.idle();
    expect(smtp.mailsTo(user.email).filter((mail) => mail.subject === 'Reset your Warden password')).toHaveLength(5);
  });
});

describe('password reset: response time', () => {
  let setup: MailSetup;
  let client: TimingClient;
  beforeAll(async () => {
    setup = await startWithSmtp();
    client = startTimingClient();
  });
  afterAll(async () => {
    client?.close();
    await setup?.close();
  });

  // Samples alternate a registered address with an unregistered one, timed from another process
  // (as a remote client sees them); the server's background work is let finish after each. The
  // SMTP server answers each message only after 300 ms: a reset that waited for its mail, or
  // looked the address up and stored a token before answering, takes longer for a registered one.
  it('takes as long for an unregistered address as for a registered one', async () => {
    const { server, smtp } = setup;
    const SAMPLES = 21;
    const users: SignedUp[] = [];
    for (let i = 0; i < SAMPLES + 1; i++) users.push(await signupUser(server));
    await server.app.services.background.idle();
    smtp.delay(300);
    const time = async (email: string) => {
      const ms = await client.time(server.graphqlUrl, REQUEST_RESET, { email });
      // Let the work after the answer finish, and the SMTP connection close, before the next one.
      await server.app.services.background.idle();
      await sleep(50);
      return ms;
    };
    await time(users[SAMPLES].email); // warm-up
    await time(uniqueEmail('warm'));
    const ratios: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      // Alternate which goes first, so whatever follows a sent mail is not always the same kind.
      let registered: number;
      let unknown: number;
      if (i % 2 === 0) {
        registered = await time(users[i].email);
        unknown = await time(uniqueEmail('ghost'));
      } else {
        unknown = await time(uniqueEmail('ghost'));
        registered = await time(users[i].email);
      }
      ratios.push(unknown / registered);
    }
    expect(smtp.received.filter((mail) => mail.subject === 'Reset your Warden password')).toHaveLength(SAMPLES + 1);
    const ratio = median(ratios);
    console.log(`requestPasswordReset response time, unregistered / registered: median ratio ${ratio.toFixed(2)}`);
    expect(ratio).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1.6);
  });
});

describe('password reset: expiry and per-IP limit', () => {
  const clock = new ManualClock();
  let setup: MailSetup;
  beforeAll(async () => {
    setup = await startWithSmtp({ clock, env: { IP_RATE_LIMIT: '2', TRUST_PROXY: 'true' } });
  });
  afterAll(() => setup.close());

  const signupFromAnywhere = async (server: TestServer) => {
    const email = uniqueEmail('exp');
    const answer = await server.gql(
      SIGNUP,
      { input: { email, password: 'correct horse battery', name: 'E' } },
      { headers: { 'x-forwarded-for': randomPrivateIp() } },
    );
    expect(answer.body.errors).toBeUndefined();
    return email;
  };

  it('refuses a token after 30 minutes', async () => {
    const { server, smtp } = setup;
    const email = await signupFromAnywhere(server);
    await server.gql(REQUEST_RESET, { email }, { headers: { 'x-forwarded-for': randomPrivateIp() } });
    await server.app.services.background.idle();
    const [mail] = smtp.mailsTo(email).filter((sent) => sent.subject === 'Reset your Warden password');
    clock.advance(30 * 60_000 + 1_000);
    expect(errorCode(await server.gql(RESET, { token: tokenIn(mail), newPassword: NEW_PASSWORD }))).toBe(ErrorCode.INVALID_CODE);
  });

  it('answers RATE_LIMITED once an IP has used its requestPasswordReset calls, aliased fields counted', async () => {
    const { server } = setup;
    const headers = { 'x-forwarded-for': randomPrivateIp() };
    const answer = await server.gql(
      'mutation { a: requestPasswordReset(email: "a@example.test") b: requestPasswordReset(email: "b@example.test") c: requestPasswordReset(email: "c@example.test") }',
      {},
      { headers },
    );
    expect(answer.body.data).toBeNull();
    expect(answer.body.errors!.map((error) => [error.path?.[0], error.extensions?.code])).toEqual([['c', ErrorCode.RATE_LIMITED]]);
    expect(answer.body.errors![0].extensions!.retryAfter).toBeGreaterThan(0);
    const other = await server.gql(REQUEST_RESET, { email: 'd@example.test' }, { headers: { 'x-forwarded-for': randomPrivateIp() } });
    expect(other.body.data).toEqual({ requestPasswordReset: true });
  });
});
