/**
 * The @auth matrix, generated from the built schema (so a new field is tested the day it is
 * added): every `@auth` root field called anonymously answers UNAUTHENTICATED, and every
 * `@auth(requires: ADMIN)` field called by a USER answers FORBIDDEN — before any resolver runs,
 * with no data. The controls show the checks can fail: a USER gets past the directive on the
 * USER fields (whatever the resolver then says to the placeholder arguments), an ADMIN on the
 * ADMIN fields.
 */
import { ErrorCode } from '../../src/errors/error-code';
import { getSchema } from '../../src/schema/build-schema';
import {
  LOGIN,
  rootFieldOperations,
  errorCode,
  signupAdmin,
  signupUser,
  startTestServer,
  uniqueEmail,
  type RootFieldOperation,
  type TestServer,
} from '../kit';

let server: TestServer;
let fields: RootFieldOperation[];
const adminEmail = uniqueEmail('matrix-admin');

beforeAll(async () => {
  server = await startTestServer({ env: { ADMIN_EMAILS: adminEmail, LOGIN_MAX_FAILURES: '1000' } });
  fields = rootFieldOperations(await getSchema());
});
afterAll(() => server.close());

const guarded = () => fields.filter((f) => f.auth);
const adminOnly = () => fields.filter((f) => f.auth?.requires === 'ADMIN');

/** A fresh access token per call: a field that ends sessions (logout, deleteMe …) cannot spoil the next. */
async function tokenOf(user: { email: string; password: string }): Promise<string> {
  const login = await server.gql(LOGIN, { input: { email: user.email, password: user.password } });
  if (login.body.errors) throw new Error(`login failed: ${JSON.stringify(login.body.errors)}`);
  return login.body.data!.login.accessToken as string;
}

it('finds the guarded fields in the schema', () => {
  const names = guarded().map((f) => f.field.name);
  expect(names).toEqual(
    expect.arrayContaining(['me', 'users', 'mySessions', 'updateMe', 'deleteMe', 'changePassword', 'setUserRole', 'resetUserMfa']),
  );
  expect(names.length).toBeGreaterThan(25);
  expect(adminOnly().map((f) => f.field.name)).toEqual(expect.arrayContaining(['users', 'setUserRole', 'deleteUser', 'resetUserMfa']));
  // login, signup and refreshToken stay open: the matrix does not mistake @public for @auth.
  expect(fields.filter((f) => !f.auth).map((f) => f.field.name)).toEqual(expect.arrayContaining(['login', 'signup', 'refreshToken']));
});

it('answers UNAUTHENTICATED, with no data, to every @auth field called anonymously', async () => {
  const answers: Array<[string, unknown, unknown]> = [];
  for (const { field, operation, variables } of guarded()) {
    const response = await server.gql(operation, variables);
    answers.push([field.name, errorCode(response), response.body.data?.[field.name] ?? null]);
  }
  expect(answers).toEqual(guarded().map(({ field }) => [field.name, ErrorCode.UNAUTHENTICATED, null]));
});

it('answers FORBIDDEN, with no data, to every @auth(requires: ADMIN) field called by a USER', async () => {
  const user = await signupUser(server);
  const answers: Array<[string, unknown, unknown]> = [];
  for (const { field, operation, variables } of adminOnly()) {
    const response = await server.gql(operation, variables, { token: await tokenOf(user) });
    answers.push([field.name, errorCode(response), response.body.data?.[field.name] ?? null]);
  }
  expect(answers).toEqual(adminOnly().map(({ field }) => [field.name, ErrorCode.FORBIDDEN, null]));
});

it('lets a USER past the directive on the USER fields, and an ADMIN on the ADMIN fields (the checks above can fail)', async () => {
  const user = await signupUser(server);
  const admin = await signupAdmin(server, adminEmail);
  const refused = new Set<unknown>([ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN]);
  for (const { field, operation, variables, auth } of guarded()) {
    const who = auth!.requires === 'ADMIN' ? admin : user;
    const response = await server.gql(operation, variables, { token: await tokenOf(who) });
    expect([field.name, refused.has(errorCode(response))]).toEqual([field.name, false]);
  }
});
