import jwt from 'jsonwebtoken';
import {
  LOGIN,
  ME,
  errorCode,
  SIGNUP,
  signupAdmin,
  signupUser,
  signWithServerKey,
  startTestServer,
  uniqueEmail,
  type TestServer,
} from '../kit';

let server: TestServer;
let admin: Awaited<ReturnType<typeof signupUser>>;
const adminEmail = uniqueEmail('admin');

beforeAll(async () => {
  server = await startTestServer({ env: { ADMIN_EMAILS: `  ${adminEmail.toUpperCase()} ` } });
  admin = await signupAdmin(server, adminEmail, 'Ada Admin');
});
afterAll(() => server.close());

describe('signup', () => {
  it('creates a user with an avatar and a greeting, and returns working tokens', async () => {
    const email = uniqueEmail();
    const res = await server.gql(SIGNUP, { input: { email, password: 'long enough pw', name: '  Grace  ' } });
    expect(res.body.errors).toBeUndefined();
    const payload = res.body.data!.signup;
    expect(payload.user).toMatchObject({ email, name: 'Grace', role: 'USER', emailVerified: false, bio: "Hi, I'm Grace!" });
    expect(payload.user.avatarUrl).toMatch(/^https:\/\//);
    expect(payload.refreshToken).toMatch(/^[A-Za-z0-9_-]{60}$/);
    expect(new Date(payload.refreshTokenExpiresAt).getTime()).toBeGreaterThan(Date.now());
    const me = await server.gql(ME, {}, { token: payload.accessToken });
    expect(me.body.data!.me).toMatchObject({ id: payload.user.id, email });
  });

  it('trims, NFKC-normalises and lower-cases the email before any use', async () => {
    const local = `ｍｉｘｅｄ-${Date.now()}`; // full-width letters fold to ASCII under NFKC
    const res = await server.gql(SIGNUP, { input: { email: `  ${local}@Example.TEST `, password: 'long enough pw', name: 'N' } });
    expect(res.body.data!.signup.user.email).toBe(`mixed-${local.slice(6)}@example.test`);
    const again = await server.gql(SIGNUP, {
      input: { email: `mixed-${local.slice(6)}@EXAMPLE.test`, password: 'long enough pw', name: 'N' },
    });
    expect(errorCode(again)).toBe('EMAIL_TAKEN');
  });

  it('answers EMAIL_TAKEN for a registered email, also under parallel signups', async () => {
    const email = uniqueEmail();
    const results = await Promise.all(
      Array.from({ length: 4 }, () => server.gql(SIGNUP, { input: { email, password: 'long enough pw', name: 'Twin' } })),
    );
    const ok = results.filter((r) => r.body.data?.signup);
    const taken = results.filter((r) => errorCode(r) === 'EMAIL_TAKEN');
    expect(ok).toHaveLength(1);
    expect(taken).toHaveLength(3);
  });

  it('reports each bad field by name with BAD_USER_INPUT', async () => {
    const res = await server.gql(SIGNUP, { input: { email: 'not-an-email', password: 'short', name: '' } });
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    const fields = res.body.errors![0].extensions!.fields as Record<string, string>;
    expect(Object.keys(fields).sort()).toEqual(['email', 'name', 'password']);
    expect(typeof fields.password).toBe('string');
  });

  it('accepts a 72-byte password and refuses a 73-byte one instead of truncating it', async () => {
    const pw72 = 'é'.repeat(36); // 72 bytes of UTF-8
    const ok = await server.gql(SIGNUP, { input: { email: uniqueEmail(), password: pw72, name: 'A' } });
    expect(ok.body.errors).toBeUndefined();
    const res = await server.gql(SIGNUP, { input: { email: uniqueEmail(), password: pw72 + 'x', name: 'A' } });
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.body.errors![0].extensions!.fields).toHaveProperty('password');
  });

  it('refuses an email over 254 characters', async () => {
    const res = await server.gql(SIGNUP, { input: { email: `${'a'.repeat(250)}@x.io`, password: 'long enough pw', name: 'A' } });
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
  });

  it('gives ADMIN to addresses listed in ADMIN_EMAILS once verified', async () => {
    expect((await server.gql('{ me { role } }', {}, { token: admin.accessToken })).body.data!.me.role).toBe('ADMIN');
  });
});

describe('login', () => {
  it('signs in with the right password and opens a new session', async () => {
    const user = await signupUser(server);
    const res = await server.gql(LOGIN, { input: { email: `  ${user.email.toUpperCase()}`, password: user.password } });
    expect(res.body.errors).toBeUndefined();
    const payload = res.body.data!.login;
    expect(payload.user.id).toBe(user.user.id);
    const claims = jwt.decode(payload.accessToken, { complete: true })!;
    expect(claims.header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(claims.header.kid).toEqual(expect.any(String));
    expect(claims.payload).toMatchObject({
      sub: user.user.id,
      role: 'USER',
      scope: 'user',
      aal: 'aal1',
      amr: ['pwd'],
      iss: 'warden',
      aud: 'warden',
    });
    expect(claims.payload).toHaveProperty('sid');
    expect(claims.payload).toHaveProperty('jti');
    expect((claims.payload as jwt.JwtPayload).sid).not.toBe((jwt.decode(user.accessToken) as jwt.JwtPayload).sid);
  });

  it('answers INVALID_CREDENTIALS alike for a wrong password and an unknown email', async () => {
    const user = await signupUser(server);
    const wrong = await server.gql(LOGIN, { input: { email: user.email, password: 'wrong password' } });
    const unknown = await server.gql(LOGIN, { input: { email: uniqueEmail('nobody'), password: 'wrong password' } });
    expect(errorCode(wrong)).toBe('INVALID_CREDENTIALS');
    expect(errorCode(unknown)).toBe('INVALID_CREDENTIALS');
    expect(wrong.body.errors![0].message).toBe(unknown.body.errors![0].message);
  });
});

describe('@auth fields', () => {
  const anonymousCases: Array<[string, string]> = [
    ['me', 'query { me { id } }'],
    ['user', 'query($id: ID!) { user(id: $id) { id } }'],
    ['users', 'query { users { edges { node { id } } } }'],
    ['updateMe', 'mutation { updateMe(input: { name: "x" }) { id } }'],
    ['deleteMe', 'mutation { deleteMe(password: "whatever1") }'],
    ['setUserRole', 'mutation($id: ID!) { setUserRole(userId: $id, role: ADMIN) { id } }'],
    ['deleteUser', 'mutation($id: ID!) { deleteUser(userId: $id) }'],
  ];

  it.each(anonymousCases)('%s answers UNAUTHENTICATED without a token', async (_name, query) => {
    const res = await server.gql(query, { id: admin.user.id });
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    expect(res.status).toBe(200);
  });

  it.each([
    ['users', 'query { users { edges { node { id } } } }'],
    ['setUserRole', 'mutation($id: ID!) { setUserRole(userId: $id, role: ADMIN) { id } }'],
    ['deleteUser', 'mutation($id: ID!) { deleteUser(userId: $id) }'],
  ])('%s answers FORBIDDEN to a USER and changes nothing', async (_name, query) => {
    const user = await signupUser(server);
    const res = await server.gql(query, { id: user.user.id }, { token: user.accessToken });
    expect(errorCode(res)).toBe('FORBIDDEN');
    const me = await server.gql(ME, {}, { token: user.accessToken });
    expect(me.body.data!.me.role).toBe('USER');
  });

  it('answers ACCESS_TOKEN_EXPIRED for a correctly signed token past exp', async () => {
    const user = await signupUser(server);
    const claims = jwt.decode(user.accessToken) as jwt.JwtPayload;
    const now = Math.floor(Date.now() / 1000);
    const expired = signWithServerKey(
      { ...claims, iat: now - 3600, exp: now - 600 },
      jwt.decode(user.accessToken, { complete: true })!.header as unknown as Record<string, unknown>,
    );
    const res = await server.gql(ME, {}, { token: expired });
    expect(errorCode(res)).toBe('ACCESS_TOKEN_EXPIRED');
  });

  it('answers UNAUTHENTICATED for a token signed with another secret', async () => {
    const user = await signupUser(server);
    const { header } = jwt.decode(user.accessToken, { complete: true })!;
    const forged = jwt.sign(jwt.decode(user.accessToken) as object, 'another-secret-of-at-least-32-bytes!!', {
      algorithm: 'HS256',
      header: { ...header, alg: 'HS256' },
    });
    expect(errorCode(await server.gql(ME, {}, { token: forged }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(ME, {}, { token: 'garbage' }))).toBe('UNAUTHENTICATED');
  });

  it('never fails a @public field because of a bad or expired token', async () => {
    const res = await server.gql(
      SIGNUP,
      { input: { email: uniqueEmail(), password: 'long enough pw', name: 'P' } },
      { token: 'not.a.jwt' },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.signup.user.id).toBeTruthy();
  });
});

describe('user and users', () => {
  it('shows email only to the user themself and to ADMINs', async () => {
    const alice = await signupUser(server);
    const bob = await signupUser(server);
    const q = 'query($id: ID!) { user(id: $id) { id email name } }';
    expect((await server.gql(q, { id: alice.user.id }, { token: bob.accessToken })).body.data!.user).toMatchObject({
      id: alice.user.id,
      email: null,
    });
    expect((await server.gql(q, { id: alice.user.id }, { token: alice.accessToken })).body.data!.user.email).toBe(alice.email);
    expect((await server.gql(q, { id: alice.user.id }, { token: admin.accessToken })).body.data!.user.email).toBe(alice.email);
  });

  it('returns null for an unknown or malformed id', async () => {
    const q = 'query($id: ID!) { user(id: $id) { id } }';
    expect((await server.gql(q, { id: '00000000-0000-4000-8000-000000000000' }, { token: admin.accessToken })).body.data!.user).toBeNull();
    const malformed = await server.gql(q, { id: "1' OR 1=1" }, { token: admin.accessToken });
    expect(malformed.body.errors).toBeUndefined();
    expect(malformed.body.data!.user).toBeNull();
  });

  it('lets an ADMIN page through users newest first with opaque cursors and clamps first', async () => {
    for (let i = 0; i < 3; i++) await signupUser(server);
    const q =
      'query($first: Int, $after: String) { users(first: $first, after: $after) { edges { cursor node { id createdAt } } pageInfo { hasNextPage endCursor } } }';
    const page1 = (await server.gql(q, { first: 2 }, { token: admin.accessToken })).body.data!.users;
    expect(page1.edges).toHaveLength(2);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await server.gql(q, { first: 2, after: page1.pageInfo.endCursor }, { token: admin.accessToken })).body.data!.users;
    const ids = [...page1.edges, ...page2.edges].map((e: { node: { id: string } }) => e.node.id);
    expect(new Set(ids).size).toBe(4);
    const times = [...page1.edges, ...page2.edges].map((e: { node: { createdAt: string } }) => Date.parse(e.node.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const zero = (await server.gql(q, { first: 0 }, { token: admin.accessToken })).body.data!.users;
    expect(zero.edges).toHaveLength(1);
    const huge = (await server.gql(q, { first: 100000 }, { token: admin.accessToken })).body.data!.users;
    expect(huge.edges.length).toBeLessThanOrEqual(100);
  });
});

describe('updateMe, deleteMe, setUserRole, deleteUser', () => {
  it('updates the viewer’s own profile and validates it', async () => {
    const user = await signupUser(server);
    const res = await server.gql(
      'mutation($input: UpdateMeInput!) { updateMe(input: $input) { name bio avatarUrl } }',
      { input: { name: 'New', bio: 'b', avatarUrl: null } },
      { token: user.accessToken },
    );
    // avatarUrl null: the generated avatar (an uploaded one comes from finishAvatarUpload; test/avatars).
    expect(res.body.data!.updateMe).toEqual({
      name: 'New',
      bio: 'b',
      avatarUrl: `https://api.dicebear.com/9.x/identicon/svg?seed=${user.user.id}`,
    });
    // Any other URL than one Warden issued to this user is refused.
    const foreign = await server.gql(
      'mutation($input: UpdateMeInput!) { updateMe(input: $input) { name } }',
      { input: { avatarUrl: 'https://img.example/a.png' } },
      { token: user.accessToken },
    );
    expect(errorCode(foreign)).toBe('BAD_USER_INPUT');
    const bad = await server.gql(
      'mutation($input: UpdateMeInput!) { updateMe(input: $input) { name } }',
      { input: { avatarUrl: 'javascript:alert(1)' } },
      { token: user.accessToken },
    );
    expect(errorCode(bad)).toBe('BAD_USER_INPUT');
    expect(bad.body.errors![0].extensions!.fields).toHaveProperty('avatarUrl');
  });

  it('deleteMe needs the password; afterwards the tokens answer UNAUTHENTICATED', async () => {
    const user = await signupUser(server);
    const wrong = await server.gql('mutation { deleteMe(password: "wrong password") }', {}, { token: user.accessToken });
    expect(errorCode(wrong)).toBe('INVALID_CREDENTIALS');
    expect((await server.gql(ME, {}, { token: user.accessToken })).body.data!.me.id).toBe(user.user.id);
    const ok = await server.gql('mutation($pw: String!) { deleteMe(password: $pw) }', { pw: user.password }, { token: user.accessToken });
    expect(ok.body.data!.deleteMe).toBe(true);
    expect(errorCode(await server.gql(ME, {}, { token: user.accessToken }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toBe('INVALID_CREDENTIALS');
  });

  it('an ADMIN sets roles and deletes users; unknown ids are NOT_FOUND', async () => {
    const user = await signupUser(server);
    const promoted = await server.gql(
      'mutation($id: ID!) { setUserRole(userId: $id, role: ADMIN) { id role } }',
      { id: user.user.id },
      { token: admin.accessToken },
    );
    expect(promoted.body.data!.setUserRole.role).toBe('ADMIN');
    // the new role applies at once, not at the next token
    const list = await server.gql('query { users(first: 1) { edges { node { id } } } }', {}, { token: user.accessToken });
    expect(list.body.errors).toBeUndefined();

    const missing = '00000000-0000-4000-8000-000000000000';
    expect(
      errorCode(
        await server.gql(
          'mutation($id: ID!) { setUserRole(userId: $id, role: USER) { id } }',
          { id: missing },
          { token: admin.accessToken },
        ),
      ),
    ).toBe('NOT_FOUND');
    expect(
      errorCode(await server.gql('mutation($id: ID!) { deleteUser(userId: $id) }', { id: 'nope' }, { token: admin.accessToken })),
    ).toBe('NOT_FOUND');

    const deleted = await server.gql('mutation($id: ID!) { deleteUser(userId: $id) }', { id: user.user.id }, { token: admin.accessToken });
    expect(deleted.body.data!.deleteUser).toBe(true);
    expect(errorCode(await server.gql(ME, {}, { token: user.accessToken }))).toBe('UNAUTHENTICATED');
  });
});
