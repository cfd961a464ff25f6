/**
 * docs/api.md §6: verifyEmail, requestEmailVerification and requestPasswordReset need a counter, so
 * while Redis is down they fail closed with INTERNAL_SERVER_ERROR within 5 seconds: no guess is
 * checked, nothing is verified, no mail goes out. Against a private redis-server this test stops.
 */
import { ErrorCode } from '../../src/errors/error-code';
import { RedisServer } from '../support/redis-server';
import { codeIn, tokenIn } from '../support/smtp';
import { REQUEST_RESET, REQUEST_VERIFICATION, RESET, VERIFY, startWithSmtp, type MailSetup } from './support';
import { describeNeeding, timed, LOGIN, ME, errorCode, signupUser } from '../kit';

const FAIL_CLOSED_MS = 5_000;

// A private redis-server that the test stops: CI's PostgreSQL + Redis pass only.
describeNeeding({ redis: true, onePass: true }, 'mail operations when Redis is unavailable', () => {
  let redis: RedisServer;
  let setup: MailSetup;
  beforeAll(async () => {
    redis = await RedisServer.start();
    setup = await startWithSmtp({ env: { REDIS_URL: redis.url, IP_RATE_LIMIT: '0' } });
  });
  afterAll(async () => {
    await setup?.close();
    await redis?.stop();
  });

  it('fails closed, sends nothing and verifies nothing, and works again once Redis is back', async () => {
    const { server, smtp } = setup;
    const user = await signupUser(server);
    const code = codeIn(await smtp.nextMail(user.email));
    await server.gql(REQUEST_RESET, { email: user.email });
    await server.app.services.background.idle();
    const token = tokenIn(smtp.mailsTo(user.email).find((mail) => mail.subject === 'Reset your Warden password')!);
    const mailsBefore = smtp.received.length;

    await redis.stop();
    const answers = [
      await timed(() => server.gql(VERIFY, { code }, { token: user.accessToken })),
      await timed(() => server.gql(REQUEST_VERIFICATION, {}, { token: user.accessToken })),
      await timed(() => server.gql(REQUEST_RESET, { email: user.email })),
    ];
    for (const answer of answers) {
      expect(answer.ms).toBeLessThan(FAIL_CLOSED_MS);
      expect(errorCode(answer.value)).toBe(ErrorCode.INTERNAL_SERVER_ERROR);
      expect(answer.value.body.data ?? null).toBeNull();
      expect(JSON.stringify(answer.value.body)).not.toMatch(/redis|store|ECONNREFUSED/i);
    }
    await server.app.services.background.idle();
    expect(smtp.received).toHaveLength(mailsBefore);
    expect((await server.gql(ME, {}, { token: user.accessToken })).body.data!.me.emailVerified).toBe(false);

    // resetPassword needs no counter (its token has 256 bits): it works, and only clearing the
    // address's lockout, a courtesy, is skipped.
    expect((await server.gql(RESET, { token, newPassword: 'a new password here' })).body.data).toEqual({ resetPassword: true });

    await redis.start();
    const deadline = Date.now() + 15_000;
    let signin = await server.gql(LOGIN, { input: { email: user.email, password: 'a new password here' } });
    while (signin.body.errors && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      signin = await server.gql(LOGIN, { input: { email: user.email, password: 'a new password here' } });
    }
    expect(signin.body.errors).toBeUndefined();
    const accessToken = signin.body.data!.login.accessToken as string;
    // The code presented during the outage was never checked, so it still works.
    expect((await server.gql(VERIFY, { code }, { token: accessToken })).body.data!.verifyEmail.emailVerified).toBe(true);
  });
});
