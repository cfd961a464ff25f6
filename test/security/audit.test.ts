/**
 * The audit trail of admin and account-ending writes (docs/api.md §6): setUserRole records
 * `role_changed` (the role before and after, and who changed it), deleteUser and deleteMe record
 * `user_deleted` (the deleted id, who deleted it). Read straight from the AuthEvent table; a
 * refused call (wrong password, unknown id) records nothing.
 */
import { ErrorCode } from '../../src/errors/error-code';
import { errorCode, signupAdmin, signupUser, startTestServer, uniqueEmail, type TestServer } from '../kit';

const SET_ROLE = 'mutation($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { role } }';
const DELETE_USER = 'mutation($id: ID!) { deleteUser(userId: $id) }';
const DELETE_ME = 'mutation($p: String!) { deleteMe(password: $p) }';

describe('audit rows', () => {
  const adminEmail = uniqueEmail('audit-admin');
  let server: TestServer;
  let admin: Awaited<ReturnType<typeof signupAdmin>>;
  let adminSession: string;
  beforeAll(async () => {
    server = await startTestServer({ env: { ADMIN_EMAILS: adminEmail } });
    admin = await signupAdmin(server, adminEmail);
    adminSession = JSON.parse(Buffer.from(admin.accessToken.split('.')[1], 'base64url').toString()).sid;
  });
  afterAll(() => server?.close());

  const events = (userId: string, type: string) =>
    server.app.infra.database.prisma.authEvent.findMany({ where: { userId, type }, orderBy: { createdAt: 'asc' } });

  it('setUserRole records role_changed with the role before and after and the admin who set it', async () => {
    const user = await signupUser(server);
    const agent = { 'user-agent': 'audit-test/1' };
    expect(
      (await server.gql(SET_ROLE, { id: user.user.id, role: 'ADMIN' }, { token: admin.accessToken, headers: agent })).body.data!.setUserRole
        .role,
    ).toBe('ADMIN');
    expect((await server.gql(SET_ROLE, { id: user.user.id, role: 'USER' }, { token: admin.accessToken })).body.data!.setUserRole.role).toBe(
      'USER',
    );
    const rows = await events(user.user.id, 'role_changed');
    expect(rows.map((row) => row.detail)).toEqual([
      { from: 'USER', to: 'ADMIN', by: admin.user.id },
      { from: 'ADMIN', to: 'USER', by: admin.user.id },
    ]);
    expect(rows[0].sessionId).toBe(adminSession);
    expect(rows[0].userAgent).toBe('audit-test/1');
    expect(rows[0].ip).toBe('127.0.0.1');
  });

  it('setUserRole on an unknown id records nothing', async () => {
    const ghost = '00000000-0000-4000-8000-000000000000';
    expect(errorCode(await server.gql(SET_ROLE, { id: ghost, role: 'ADMIN' }, { token: admin.accessToken }))).toBe(ErrorCode.NOT_FOUND);
    expect(await events(ghost, 'role_changed')).toHaveLength(0);
  });

  it('deleteUser records user_deleted by the admin', async () => {
    const user = await signupUser(server);
    expect((await server.gql(DELETE_USER, { id: user.user.id }, { token: admin.accessToken })).body.data!.deleteUser).toBe(true);
    const rows = await events(user.user.id, 'user_deleted');
    expect(rows.map((row) => row.detail)).toEqual([{ by: admin.user.id, self: false }]);
    expect(rows[0].sessionId).toBe(adminSession);
  });

  it('deleteMe records user_deleted by the user themself, and a wrong password records nothing', async () => {
    const user = await signupUser(server);
    expect(errorCode(await server.gql(DELETE_ME, { p: 'not the password' }, { token: user.accessToken }))).toBe(
      ErrorCode.INVALID_CREDENTIALS,
    );
    expect(await events(user.user.id, 'user_deleted')).toHaveLength(0);
    expect((await server.gql(DELETE_ME, { p: user.password }, { token: user.accessToken })).body.data!.deleteMe).toBe(true);
    const rows = await events(user.user.id, 'user_deleted');
    expect(rows.map((row) => row.detail)).toEqual([{ by: user.user.id, self: true }]);
  });
});
