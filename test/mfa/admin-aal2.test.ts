/**
 * MFA_REQUIRED_FOR_ADMIN (docs/mfa.md): off by default, so an upgrade does not lock out admins who
 * have no factor; on, every `@auth(requires: ADMIN)` field needs AAL2, while the admin's own
 * AAL1 fields (`me`, enrolling a first factor) stay open so they can get there.
 */
import { TOTP } from 'otpauth';
import { ErrorCode } from '../../src/errors/error-code';
import { ManualClock } from '../../src/lib/clock';
import { errorCode, signupAdmin, signupUser, startTestServer, uniqueEmail, type TestServer } from '../kit';

const USERS = 'query { users(first: 5) { edges { node { id } } } }';
const ENROLL = 'mutation { enrollTotp(name: "phone") { factorId secret } }';
const ACTIVATE =
  'mutation ($factorId: ID!, $code: String!) { activateTotp(factorId: $factorId, code: $code) { auth { accessToken assurance } } }';
const SET_ROLE = 'mutation ($userId: ID!) { setUserRole(userId: $userId, role: USER) { id role } }';

describe('MFA_REQUIRED_FOR_ADMIN', () => {
  const clock = new ManualClock(Math.floor(Date.UTC(2026, 11, 1, 12) / 30_000) * 30_000 + 1_000);
  const adminEmail = uniqueEmail('aal2-admin');
  const plainAdminEmail = uniqueEmail('aal1-admin');
  let strict: TestServer;
  let lenient: TestServer;

  beforeAll(async () => {
    [strict, lenient] = await Promise.all([
      startTestServer({ clock, env: { ADMIN_EMAILS: adminEmail, MFA_REQUIRED_FOR_ADMIN: 'true' } }),
      startTestServer({ env: { ADMIN_EMAILS: plainAdminEmail } }),
    ]);
  });
  afterAll(() => Promise.all([strict?.close(), lenient?.close()]));

  it('is off by default: an admin without a factor uses ADMIN fields at AAL1', async () => {
    const admin = await signupAdmin(lenient, plainAdminEmail);
    const users = await lenient.gql(USERS, undefined, { token: admin.accessToken });
    expect(users.body.errors).toBeUndefined();
    expect(users.body.data!.users.edges.length).toBeGreaterThan(0);
  });

  it('when on, refuses ADMIN fields below AAL2 with MFA_REQUIRED, after the role check, and lets the admin step up', async () => {
    const admin = await signupAdmin(strict, adminEmail);
    const victim = await signupUser(strict);
    expect(errorCode(await strict.gql(USERS, undefined, { token: admin.accessToken }))).toBe(ErrorCode.MFA_REQUIRED);
    const demote = await strict.gql(SET_ROLE, { userId: victim.user.id }, { token: admin.accessToken });
    expect(errorCode(demote)).toBe(ErrorCode.MFA_REQUIRED);
    // A USER still gets FORBIDDEN first, whatever the assurance rule says.
    expect(errorCode(await strict.gql(USERS, undefined, { token: victim.accessToken }))).toBe(ErrorCode.FORBIDDEN);
    // The admin's own fields stay open at AAL1, so a first factor can be enrolled.
    const me = await strict.gql('{ me { id role } }', undefined, { token: admin.accessToken });
    expect(me.body.data!.me).toEqual({ id: admin.user.id, role: 'ADMIN' });

    const enrolled = await strict.gql(ENROLL, undefined, { token: admin.accessToken });
    expect(enrolled.body.errors).toBeUndefined();
    const { factorId, secret } = enrolled.body.data!.enrollTotp;
    clock.advance(30_000);
    const activated = await strict.gql(
      ACTIVATE,
      { factorId, code: new TOTP({ secret }).generate({ timestamp: clock.now() }) },
      { token: admin.accessToken },
    );
    expect(activated.body.errors).toBeUndefined();
    const aal2 = activated.body.data!.activateTotp.auth;
    expect(aal2.assurance).toBe('AAL2');
    const users = await strict.gql(USERS, undefined, { token: aal2.accessToken });
    expect(users.body.errors).toBeUndefined();
    expect(users.body.data!.users.edges.length).toBeGreaterThan(0);
  });
});
