/**
 * Multi-factor authentication over real HTTP (docs/api.md §3, §4, §6): TOTP enrolment and activation,
 * login → mfaRequired, MFA_REQUIRED on a default @auth field, step-up keeping the session,
 * replayed and spent codes refused, lockout shared with login, refresh keeping AAL2, removal and
 * admin reset ending sessions. Codes are computed by the TOTP library at the server's injected clock.
 */
import jwt from 'jsonwebtoken';
import { TOTP } from 'otpauth';
import { ErrorCode } from '../../src/errors/error-code';
import { ManualClock } from '../../src/lib/clock';
import { LOGIN, errorCode, signupAdmin, signupUser, startTestServer, uniqueEmail, type SignedUp, type TestServer } from '../kit';

const ENROLL = 'mutation ($name: String) { enrollTotp(name: $name) { factorId secret otpauthUri } }';
const ACTIVATE = `mutation ($factorId: ID!, $code: String!) {
  activateTotp(factorId: $factorId, code: $code) { recoveryCodes auth { accessToken refreshToken assurance mfaRequired } }
}`;
const VERIFY = 'mutation ($code: String!) { verifyMfa(code: $code) { accessToken refreshToken assurance mfaRequired user { id } } }';
const FACTORS = 'query { myMfaFactors { id type name verified lastUsedAt } }';
const SESSIONS = 'query { mySessions { id current assurance methods } }';
const REMOVE = 'mutation ($id: ID!) { removeMfaFactor(id: $id) }';
const REGENERATE = 'mutation { regenerateRecoveryCodes }';
const RESET = 'mutation ($userId: ID!) { resetUserMfa(userId: $userId) }';
const REFRESH = 'mutation ($t: String) { refreshToken(refreshToken: $t) { accessToken refreshToken assurance mfaRequired } }';
const LOGIN_MFA = 'mutation ($input: LoginInput!) { login(input: $input) { accessToken refreshToken assurance mfaRequired } }';

const code = (secret: string, clock: ManualClock, offsetSteps = 0) =>
  new TOTP({ secret }).generate({ timestamp: clock.now() + offsetSteps * 30_000 });
// Unique per run: the PostgreSQL pass may reuse a database.
const ADMIN_EMAIL = uniqueEmail('mfa-admin');
const claims = (token: string) => jwt.decode(token) as { aal: string; amr: string[]; sid: string };

describe('multi-factor authentication', () => {
  let server: TestServer;
  // A fixed time at the start of a 30 s step, moved by hand.
  const clock = new ManualClock(Math.floor(Date.UTC(2026, 11, 1, 12) / 30_000) * 30_000 + 1_000);

  beforeAll(async () => {
    server = await startTestServer({ clock, env: { LOGIN_MAX_FAILURES: '5', ADMIN_EMAILS: ADMIN_EMAIL } });
  });
  afterAll(() => server.close());

  /** A user with an activated TOTP factor; returns the secret, recovery codes and the AAL2 tokens. */
  async function withFactor(): Promise<{
    user: SignedUp;
    secret: string;
    factorId: string;
    recoveryCodes: string[];
    aal2Token: string;
    aal2Refresh: string;
  }> {
    const user = await signupUser(server);
    const enrolled = await server.gql(ENROLL, { name: 'phone' }, { token: user.accessToken });
    expect(enrolled.body.errors).toBeUndefined();
    const { factorId, secret } = enrolled.body.data!.enrollTotp;
    clock.advance(30_000);
    const activated = await server.gql(ACTIVATE, { factorId, code: code(secret, clock) }, { token: user.accessToken });
    expect(activated.body.errors).toBeUndefined();
    const { recoveryCodes, auth } = activated.body.data!.activateTotp;
    return { user, secret, factorId, recoveryCodes, aal2Token: auth.accessToken, aal2Refresh: auth.refreshToken };
  }

  async function login(user: SignedUp) {
    return server.gql(LOGIN_MFA, { input: { email: user.email, password: user.password } });
  }

  it('enrols a TOTP factor with a standard otpauth URI, and activates it with 10 recovery codes and an AAL2 session', async () => {
    const user = await signupUser(server);
    const enrolled = await server.gql(ENROLL, { name: 'phone' }, { token: user.accessToken });
    const { factorId, secret, otpauthUri } = enrolled.body.data!.enrollTotp;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(otpauthUri).toBe(`otpauth://totp/Warden:${encodeURIComponent(user.email)}?secret=${secret}&issuer=Warden`);

    const before = await server.gql(FACTORS, undefined, { token: user.accessToken });
    expect(before.body.data!.myMfaFactors).toEqual([{ id: factorId, type: 'TOTP', name: 'phone', verified: false, lastUsedAt: null }]);
    // Not verified yet: the default rule still lets AAL1 through.
    expect((await server.gql(SESSIONS, undefined, { token: user.accessToken })).body.errors).toBeUndefined();

    const wrong = await server.gql(
      ACTIVATE,
      { factorId, code: '000000' === code(secret, clock) ? '111111' : '000000' },
      { token: user.accessToken },
    );
    expect(errorCode(wrong)).toBe(ErrorCode.INVALID_CODE);

    const activated = await server.gql(ACTIVATE, { factorId, code: code(secret, clock) }, { token: user.accessToken });
    expect(activated.body.errors).toBeUndefined();
    const { recoveryCodes, auth } = activated.body.data!.activateTotp;
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const recovery of recoveryCodes) expect(recovery).toMatch(/^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$/); // 60 bits
    expect(auth).toMatchObject({ assurance: 'AAL2', mfaRequired: false });
    expect(claims(auth.accessToken)).toMatchObject({ aal: 'aal2', amr: ['pwd', 'otp', 'mfa'], sid: claims(user.accessToken).sid });

    // Nothing of the secret or the codes is stored in plaintext.
    const prisma = server.app.infra.database.prisma;
    const factor = await prisma.mfaFactor.findUniqueOrThrow({ where: { id: factorId } });
    expect(Buffer.from(factor.secretSealed).toString('latin1')).not.toContain(secret);
    const stored = await prisma.recoveryCode.findMany({ where: { userId: user.user.id } });
    expect(stored).toHaveLength(10);
    for (const row of stored) {
      for (const recovery of recoveryCodes) expect(Buffer.from(row.codeHash).toString('latin1')).not.toContain(recovery.replace(/-/g, ''));
    }
  });

  it('login of a user with a verified factor says mfaRequired at AAL1; a default @auth field answers MFA_REQUIRED, me and myMfaFactors do not', async () => {
    const { user } = await withFactor();
    const signedIn = await login(user);
    expect(signedIn.body.data!.login).toMatchObject({ assurance: 'AAL1', mfaRequired: true });
    const token = signedIn.body.data!.login.accessToken;
    expect(claims(token)).toMatchObject({ aal: 'aal1', amr: ['pwd'] });

    expect(errorCode(await server.gql(SESSIONS, undefined, { token }))).toBe(ErrorCode.MFA_REQUIRED);
    expect(errorCode(await server.gql('query { feed { edges { cursor } } }', undefined, { token }))).toBe(ErrorCode.MFA_REQUIRED);
    expect(errorCode(await server.gql(ENROLL, {}, { token }))).toBe(ErrorCode.MFA_REQUIRED);
    expect((await server.gql('query { me { id } }', undefined, { token })).body.data!.me.id).toBe(user.user.id);
    expect((await server.gql(FACTORS, undefined, { token })).body.data!.myMfaFactors).toHaveLength(1);
    // A user without a factor is not affected.
    const plain = await signupUser(server);
    const plainLogin = await login(plain);
    expect(plainLogin.body.data!.login).toMatchObject({ assurance: 'AAL1', mfaRequired: false });
    expect((await server.gql(SESSIONS, undefined, { token: plainLogin.body.data!.login.accessToken })).body.errors).toBeUndefined();
  });

  it('verifyMfa raises the same session to AAL2 with fresh tokens; the replayed code is refused', async () => {
    const { user, secret } = await withFactor();
    const signedIn = (await login(user)).body.data!.login;
    clock.advance(30_000);
    const current = code(secret, clock);
    const verified = await server.gql(VERIFY, { code: current }, { token: signedIn.accessToken });
    expect(verified.body.errors).toBeUndefined();
    const payload = verified.body.data!.verifyMfa;
    expect(payload).toMatchObject({ assurance: 'AAL2', mfaRequired: false, user: { id: user.user.id } });
    expect(claims(payload.accessToken).sid).toBe(claims(signedIn.accessToken).sid);
    expect(claims(payload.accessToken)).toMatchObject({ aal: 'aal2', amr: ['pwd', 'otp', 'mfa'] });

    const sessions = await server.gql(SESSIONS, undefined, { token: payload.accessToken });
    expect(sessions.body.errors).toBeUndefined();
    const mine = sessions.body.data!.mySessions.find((s: { current: boolean }) => s.current);
    expect(mine).toMatchObject({ assurance: 'AAL2', methods: ['pwd', 'otp', 'mfa'] });
    // The AAL1 refresh token of before the step-up no longer works.
    expect(errorCode(await server.gql(REFRESH, { t: signedIn.refreshToken }))).toBe(ErrorCode.REFRESH_TOKEN_INVALID);

    // The same code again, from another AAL1 session, within its window: refused (replay).
    const other = (await login(user)).body.data!.login;
    expect(errorCode(await server.gql(VERIFY, { code: current }, { token: other.accessToken }))).toBe(ErrorCode.INVALID_CODE);
    // The previous step's code is older than the one used: refused too.
    expect(errorCode(await server.gql(VERIFY, { code: code(secret, clock, -1) }, { token: other.accessToken }))).toBe(
      ErrorCode.INVALID_CODE,
    );
    // The next step's code (one step ahead is accepted) works once.
    const next = code(secret, clock, 1);
    expect((await server.gql(VERIFY, { code: next }, { token: other.accessToken })).body.errors).toBeUndefined();
    // Two steps away is refused.
    const third = (await login(user)).body.data!.login;
    expect(errorCode(await server.gql(VERIFY, { code: code(secret, clock, 3) }, { token: third.accessToken }))).toBe(
      ErrorCode.INVALID_CODE,
    );
  });

  it('a recovery code works once, in any case and without dashes', async () => {
    const { user, recoveryCodes } = await withFactor();
    const first = (await login(user)).body.data!.login;
    const recovery = recoveryCodes[3].replace(/-/g, '').toLowerCase();
    const verified = await server.gql(VERIFY, { code: recovery }, { token: first.accessToken });
    expect(verified.body.errors).toBeUndefined();
    expect(claims(verified.body.data!.verifyMfa.accessToken)).toMatchObject({ aal: 'aal2', amr: ['pwd', 'mfa'] });
    const second = (await login(user)).body.data!.login;
    expect(errorCode(await server.gql(VERIFY, { code: recoveryCodes[3] }, { token: second.accessToken }))).toBe(ErrorCode.INVALID_CODE);
    expect((await server.gql(VERIFY, { code: recoveryCodes[4] }, { token: second.accessToken })).body.errors).toBeUndefined();
  });

  it('5 wrong verifyMfa codes lock login too; a right password login in between does not clear them', async () => {
    const { user, secret } = await withFactor();
    const wrongCode = () => {
      const right = new Set([-1, 0, 1].map((offset) => code(secret, clock, offset)));
      for (let n = 100000; ; n++) if (!right.has(String(n))) return String(n);
    };
    let session = (await login(user)).body.data!.login;
    for (let i = 0; i < 3; i++)
      expect(errorCode(await server.gql(VERIFY, { code: wrongCode() }, { token: session.accessToken }))).toBe(ErrorCode.INVALID_CODE);
    // Logging in again with the right password does not buy more guesses.
    session = (await login(user)).body.data!.login;
    expect(session.mfaRequired).toBe(true);
    expect(errorCode(await server.gql(VERIFY, { code: 'AAAA-BBBB-CCCC' }, { token: session.accessToken }))).toBe(ErrorCode.INVALID_CODE);
    expect(errorCode(await server.gql(VERIFY, { code: wrongCode() }, { token: session.accessToken }))).toBe(ErrorCode.INVALID_CODE);
    // Locked: the right code and the right password are both refused.
    expect(errorCode(await server.gql(VERIFY, { code: code(secret, clock) }, { token: session.accessToken }))).toBe(
      ErrorCode.ACCOUNT_LOCKED,
    );
    expect(errorCode(await login(user))).toBe(ErrorCode.ACCOUNT_LOCKED);
    expect(errorCode(await server.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toBe(ErrorCode.ACCOUNT_LOCKED);
    clock.advance(11 * 60_000);
  });

  it('refreshing keeps the session at AAL2', async () => {
    const { aal2Refresh } = await withFactor();
    const refreshed = await server.gql(REFRESH, { t: aal2Refresh });
    expect(refreshed.body.errors).toBeUndefined();
    expect(refreshed.body.data!.refreshToken).toMatchObject({ assurance: 'AAL2', mfaRequired: false });
    const token = refreshed.body.data!.refreshToken.accessToken;
    expect(claims(token)).toMatchObject({ aal: 'aal2', amr: ['pwd', 'otp', 'mfa'] });
    expect((await server.gql(SESSIONS, undefined, { token })).body.errors).toBeUndefined();
  });

  it('an AAL1 refresh of a user with a factor stays AAL1 and says mfaRequired', async () => {
    const { user } = await withFactor();
    const aal1 = (await login(user)).body.data!.login;
    const refreshed = await server.gql(REFRESH, { t: aal1.refreshToken });
    expect(refreshed.body.data!.refreshToken).toMatchObject({ assurance: 'AAL1', mfaRequired: true });
    expect(errorCode(await server.gql(SESSIONS, undefined, { token: refreshed.body.data!.refreshToken.accessToken }))).toBe(
      ErrorCode.MFA_REQUIRED,
    );
  });

  it('removing the last factor needs AAL2, ends every other session and returns the user to the AAL1 rule', async () => {
    const { user, factorId, aal2Token, recoveryCodes } = await withFactor();
    const aal1 = (await login(user)).body.data!.login;
    expect(errorCode(await server.gql(REMOVE, { id: factorId }, { token: aal1.accessToken }))).toBe(ErrorCode.MFA_REQUIRED);
    expect(errorCode(await server.gql(REGENERATE, undefined, { token: aal1.accessToken }))).toBe(ErrorCode.MFA_REQUIRED);
    expect(errorCode(await server.gql(REMOVE, { id: '00000000-0000-4000-8000-000000000000' }, { token: aal2Token }))).toBe(
      ErrorCode.NOT_FOUND,
    );
    expect(errorCode(await server.gql(REMOVE, { id: 'not-an-id' }, { token: aal2Token }))).toBe(ErrorCode.NOT_FOUND);

    const regenerated = await server.gql(REGENERATE, undefined, { token: aal2Token });
    expect(regenerated.body.data!.regenerateRecoveryCodes).toHaveLength(10);
    expect(regenerated.body.data!.regenerateRecoveryCodes).not.toContain(recoveryCodes[0]);

    const removed = await server.gql(REMOVE, { id: factorId }, { token: aal2Token });
    expect(removed.body.data).toEqual({ removeMfaFactor: true });
    expect(errorCode(await server.gql('query { me { id } }', undefined, { token: aal1.accessToken }))).toBe(ErrorCode.SESSION_REVOKED);
    expect((await server.gql(FACTORS, undefined, { token: aal2Token })).body.data!.myMfaFactors).toEqual([]);
    const after = (await login(user)).body.data!.login;
    expect(after).toMatchObject({ mfaRequired: false });
    expect((await server.gql(SESSIONS, undefined, { token: after.accessToken })).body.errors).toBeUndefined();
    expect(await server.app.infra.database.prisma.recoveryCode.count({ where: { userId: user.user.id } })).toBe(0);
  });

  it('resetUserMfa is ADMIN only and removes factors, recovery codes and sessions', async () => {
    const { user, aal2Token } = await withFactor();
    const other = await signupUser(server);
    expect(errorCode(await server.gql(RESET, { userId: user.user.id }, { token: other.accessToken }))).toBe(ErrorCode.FORBIDDEN);
    const admin = await signupAdmin(server, ADMIN_EMAIL);
    const adminLogin = (await login(admin)).body.data!.login.accessToken;
    expect(errorCode(await server.gql(RESET, { userId: '00000000-0000-4000-8000-000000000000' }, { token: adminLogin }))).toBe(
      ErrorCode.NOT_FOUND,
    );
    expect((await server.gql(RESET, { userId: user.user.id }, { token: adminLogin })).body.data).toEqual({ resetUserMfa: true });
    expect(errorCode(await server.gql('query { me { id } }', undefined, { token: aal2Token }))).toBe(ErrorCode.SESSION_REVOKED);
    const prisma = server.app.infra.database.prisma;
    expect(await prisma.mfaFactor.count({ where: { userId: user.user.id } })).toBe(0);
    expect(await prisma.recoveryCode.count({ where: { userId: user.user.id } })).toBe(0);
    expect((await login(user)).body.data!.login.mfaRequired).toBe(false);
  });

  it('verifyMfa without a factor, and over-long or NUL input, are typed errors', async () => {
    const plain = await signupUser(server);
    expect(errorCode(await server.gql(VERIFY, { code: '123456' }, { token: plain.accessToken }))).toBe(ErrorCode.BAD_USER_INPUT);
    expect(errorCode(await server.gql(VERIFY, { code: 'x'.repeat(10_000) }, { token: plain.accessToken }))).toBe(ErrorCode.BAD_USER_INPUT);
    expect(errorCode(await server.gql(ENROLL, { name: 'a\u0000b' }, { token: plain.accessToken }))).toBe(ErrorCode.BAD_USER_INPUT);
    expect(errorCode(await server.gql(ACTIVATE, { factorId: 'nope', code: '123456' }, { token: plain.accessToken }))).toBe(
      ErrorCode.NOT_FOUND,
    );
    expect(errorCode(await server.gql(VERIFY, { code: '123456' }))).toBe(ErrorCode.UNAUTHENTICATED);
  });
});
