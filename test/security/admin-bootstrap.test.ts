/**
 * ADMIN by proof (docs/api.md §6): an ADMIN_EMAILS address is a USER after signup — whoever signs up
 * first with a listed address gets nothing from it — and becomes ADMIN only when verifyEmail
 * succeeds for it. Its live session sees the new role at once, on every instance (the session
 * cache is invalidated), and the promotion is audited as role_changed.
 */
import { ErrorCode } from '../../src/errors/error-code';
import { VERIFY_EMAIL, outboxCode } from '../support/admin';
import { ME, errorCode, signupUser, startTestServer, uniqueEmail, type TestServer } from '../kit';

const SET_ROLE = 'mutation($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { id role } }';

describe('ADMIN_EMAILS', () => {
  const listed = uniqueEmail('boot-admin');
  const alsoListed = uniqueEmail('boot-admin2');
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    // The list as an operator might write it: spaces and capitals are normalised like any email.
    const env = { ADMIN_EMAILS: ` ${listed.toUpperCase()} , ${alsoListed}` };
    a = await startTestServer({ env });
    b = await startTestServer({ env, shareWith: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const roleOn = async (server: TestServer, token: string) => (await server.gql(ME, {}, { token })).body.data!.me.role;

  it('a listed address is USER at signup and cannot use ADMIN fields until it verifies', async () => {
    const squatter = await signupUser(a, { email: listed });
    expect(squatter.user.role).toBe('USER');
    const victim = await signupUser(a);
    // Warm the session cache on both instances with the USER row.
    for (const server of [a, b]) expect(await roleOn(server, squatter.accessToken)).toBe('USER');

    const promote = await a.gql(SET_ROLE, { id: victim.user.id, role: 'ADMIN' }, { token: squatter.accessToken });
    expect(errorCode(promote)).toBe(ErrorCode.FORBIDDEN);
    const self = await a.gql(SET_ROLE, { id: squatter.user.id, role: 'ADMIN' }, { token: squatter.accessToken });
    expect(errorCode(self)).toBe(ErrorCode.FORBIDDEN);
    expect(errorCode(await b.gql('{ users(first: 1) { edges { node { id } } } }', {}, { token: squatter.accessToken }))).toBe(
      ErrorCode.FORBIDDEN,
    );

    // A wrong code proves nothing.
    const code = await outboxCode(a, listed);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expect(errorCode(await a.gql(VERIFY_EMAIL, { code: wrong }, { token: squatter.accessToken }))).toBe(ErrorCode.INVALID_CODE);
    expect(await roleOn(a, squatter.accessToken)).toBe('USER');
    expect(await roleOn(b, squatter.accessToken)).toBe('USER');

    // The mailed code proves the mailbox: now ADMIN, seen by the live session on both instances.
    const verified = await a.gql(VERIFY_EMAIL, { code }, { token: squatter.accessToken });
    expect(errorCode(verified)).toBeUndefined();
    expect(verified.body.data!.verifyEmail).toEqual({ id: squatter.user.id, role: 'ADMIN', emailVerified: true });
    expect(await roleOn(a, squatter.accessToken)).toBe('ADMIN');
    expect(await roleOn(b, squatter.accessToken)).toBe('ADMIN');
    const promoted = await b.gql(SET_ROLE, { id: victim.user.id, role: 'ADMIN' }, { token: squatter.accessToken });
    expect(promoted.body.data!.setUserRole).toEqual({ id: victim.user.id, role: 'ADMIN' });

    const rows = await a.app.infra.database.prisma.authEvent.findMany({ where: { userId: squatter.user.id, type: 'role_changed' } });
    expect(rows.map((row) => row.detail)).toEqual([{ from: 'USER', to: 'ADMIN', by: 'ADMIN_EMAILS' }]);
  });

  it('an unlisted address stays USER when it verifies', async () => {
    const user = await signupUser(a);
    const verified = await a.gql(VERIFY_EMAIL, { code: await outboxCode(a, user.email) }, { token: user.accessToken });
    expect(verified.body.data!.verifyEmail).toEqual({ id: user.user.id, role: 'USER', emailVerified: true });
    expect(await roleOn(b, user.accessToken)).toBe('USER');
  });

  it('logging in does not promote a listed address that is not verified', async () => {
    const user = await signupUser(a, { email: alsoListed });
    expect(user.user.role).toBe('USER');
    const login = await a.gql('mutation($i: LoginInput!) { login(input: $i) { user { role } } }', {
      i: { email: alsoListed, password: user.password },
    });
    expect(login.body.data!.login.user.role).toBe('USER');
  });
});
