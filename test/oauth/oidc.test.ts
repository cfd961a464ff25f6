/**
 * OpenID Connect sign-in against a real provider (oidc-provider over HTTPS on loopback), the
 * browser side driven over HTTP: its login and consent forms, its redirects, its cookies.
 * Nothing of openid-client is mocked.
 *
 * Runs only in the PostgreSQL + Redis CI pass (DATABASE_URL set): it starts an extra server and
 * walks real HTTP flows, so it runs once rather than twice.
 */
import { randomInt } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { MailMessage } from '../../src/infra/mailer';
import { ManualClock } from '../../src/lib/clock';
import { CLIENT_ID, CLIENT_SECRET, IdpBrowser, REDIRECT_URI, startIdp, type TestIdp } from './idp';
import { describeInServicesPass, errorCode, signupUser, startTestServer, uniqueEmail, type GqlResponse, type TestServer } from '../kit';

// Slow (a real OpenID provider per suite): CI's PostgreSQL + Redis pass only.
const suite = describeInServicesPass;

// oidc-provider warns, rightly, that its development interactions and memory adapter are in use.
beforeAll(() => {
  jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  jest.spyOn(console, 'info').mockImplementation(() => undefined);
});

const START = /* GraphQL */ `
  mutation Start($provider: String!, $redirectUri: String!) {
    startOAuthLogin(provider: $provider, redirectUri: $redirectUri) {
      authorizationUrl
      state
    }
  }
`;
const FINISH = /* GraphQL */ `
  mutation Finish($provider: String!, $code: String!, $state: String!) {
    finishOAuthLogin(provider: $provider, code: $code, state: $state) {
      accessToken
      refreshToken
      user {
        id
        email
        emailVerified
        name
      }
    }
  }
`;
const START_LINK = /* GraphQL */ `
  mutation StartLink($provider: String!, $redirectUri: String!) {
    startOAuthLink(provider: $provider, redirectUri: $redirectUri) {
      authorizationUrl
      state
    }
  }
`;
const FINISH_LINK = /* GraphQL */ `
  mutation FinishLink($provider: String!, $code: String!, $state: String!) {
    finishOAuthLink(provider: $provider, code: $code, state: $state) {
      provider
      subject
      email
      createdAt
    }
  }
`;
const UNLINK = /* GraphQL */ `
  mutation Unlink($provider: String!) {
    unlinkOAuthIdentity(provider: $provider)
  }
`;
const IDENTITIES = /* GraphQL */ `
  query {
    myIdentities {
      provider
      subject
      email
    }
  }
`;
const PROVIDERS = /* GraphQL */ `
  query {
    oauthProviders {
      id
      name
    }
  }
`;
const LOGIN = /* GraphQL */ `
  mutation Login($input: LoginInput!) {
    login(input: $input) {
      accessToken
    }
  }
`;

function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

function oauthEnv(idp: TestIdp): Record<string, string> {
  return {
    OAUTH_PROVIDERS: 'test',
    OAUTH_TEST_ISSUER: idp.issuer,
    OAUTH_TEST_CLIENT_ID: CLIENT_ID,
    OAUTH_TEST_CLIENT_SECRET: CLIENT_SECRET,
    OAUTH_TEST_NAME: 'Test IdP',
    OAUTH_REDIRECT_URIS: `${REDIRECT_URI},https://app.example.test/other`,
  };
}

/** The Warden side of one browser: the OAuth binding cookie it was given, sent back on every call. */
class AppBrowser {
  cookie: string | undefined;
  constructor(private server: TestServer) {}
  use(server: TestServer) {
    this.server = server;
    return this;
  }
  async gql(query: string, variables: Record<string, unknown>, token?: string): Promise<GqlResponse<any>> {
    const response = await this.server.gql(query, variables, { token, headers: this.cookie ? { cookie: this.cookie } : {} });
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';')[0];
      if (pair.startsWith('warden_oauth=')) this.cookie = pair;
    }
    return response;
  }
}

suite('OpenID Connect sign-in', () => {
  let idp: TestIdp;
  let server: TestServer;
  const mails: MailMessage[] = [];

  beforeAll(async () => {
    idp = await startIdp();
    server = await startTestServer({
      env: oauthEnv(idp),
      oauth: { fetch: idp.fetch, timeoutMs: 3_000 },
      mailer: { send: async (mail) => void mails.push(mail), close: async () => undefined },
    });
  });
  afterAll(async () => {
    await server?.close();
    await idp?.close();
  });

  /** start → the provider's forms as `sub` → the code and state it sends back. */
  async function authorize(app: AppBrowser, sub: string, options: { token?: string; link?: boolean; tamper?: (url: URL) => void } = {}) {
    const started = await app.gql(options.link ? START_LINK : START, { provider: 'test', redirectUri: REDIRECT_URI }, options.token);
    expect(started.body.errors).toBeUndefined();
    const { authorizationUrl, state } = started.body.data![options.link ? 'startOAuthLink' : 'startOAuthLogin'];
    const url = new URL(authorizationUrl);
    options.tamper?.(url);
    const back = await new IdpBrowser(idp).authorize(url.href, sub);
    expect(back.state).toBe(state);
    return back;
  }

  async function signIn(sub: string, account: { email: string; emailVerified: boolean; name?: string }) {
    idp.accounts.set(sub, account);
    const app = new AppBrowser(server);
    const { code, state } = await authorize(app, sub);
    return { app, code, state, result: await app.gql(FINISH, { provider: 'test', code, state }) };
  }

  test('lists the configured provider; the start answer is a PKCE S256 authorization URL with state and nonce, and an HttpOnly Lax cookie', async () => {
    const providers = await server.gql(PROVIDERS);
    expect(providers.body.data!.oauthProviders).toEqual([{ id: 'test', name: 'Test IdP' }]);
    const response = await server.gql(START, { provider: 'test', redirectUri: REDIRECT_URI });
    const url = new URL(response.body.data!.startOAuthLogin.authorizationUrl);
    expect(url.origin).toBe(idp.issuer);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('nonce')!.length).toBeGreaterThanOrEqual(43);
    expect(url.searchParams.get('state')).toBe(response.body.data!.startOAuthLogin.state);
    expect(url.searchParams.get('redirect_uri')).toBe(REDIRECT_URI);
    const cookie = response.headers.getSetCookie().find((line) => line.startsWith('warden_oauth='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\/graphql/);
  });

  test('a new user: signed in with amr ["oauth"], no password, email verified as the provider says, audited', async () => {
    const email = uniqueEmail('new');
    const { result } = await signIn(`sub-new-${email}`, { email, emailVerified: true, name: 'Ada OAuth' });
    expect(result.body.errors).toBeUndefined();
    const payload = result.body.data!.finishOAuthLogin;
    expect(payload.user).toMatchObject({ email, emailVerified: true, name: 'Ada OAuth' });
    expect(payloadOf(payload.accessToken)).toMatchObject({ amr: ['oauth'], aal: 'aal1', sub: payload.user.id });
    const me = await server.gql('{ me { id } }', {}, { token: payload.accessToken });
    expect(me.body.data!.me.id).toBe(payload.user.id);
    // A refresh keeps how the session was opened: the session row carries its amr.
    const refreshed = await server.gql('mutation($t: String) { refreshToken(refreshToken: $t) { accessToken } }', {
      t: payload.refreshToken,
    });
    expect(refreshed.body.errors).toBeUndefined();
    expect(payloadOf(refreshed.body.data!.refreshToken.accessToken)).toMatchObject({ amr: ['oauth'], aal: 'aal1', sub: payload.user.id });
    // No password: any password answers like a wrong one.
    const login = await server.gql(LOGIN, { input: { email, password: 'correct horse battery' } });
    expect(errorCode(login)).toBe('INVALID_CREDENTIALS');
    // Nor does any password confirm a change or a deletion: the account stays as it is.
    const change = await server.gql(
      'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }',
      { c: '', n: 'a brand new password' },
      { token: payload.accessToken },
    );
    expect(errorCode(change)).toBe('INVALID_CREDENTIALS');
    const del = await server.gql(
      'mutation($p: String!) { deleteMe(password: $p) }',
      { p: 'anything at all' },
      { token: payload.accessToken },
    );
    expect(errorCode(del)).toBe('INVALID_CREDENTIALS');
    expect(
      await server.app.infra.database.prisma.user.findUnique({ where: { id: payload.user.id }, select: { passwordHash: true } }),
    ).toEqual({ passwordHash: null });
    const ids = await server.gql(IDENTITIES, {}, { token: payload.accessToken });
    expect(ids.body.data!.myIdentities).toEqual([{ provider: 'test', subject: `sub-new-${email}`, email }]);
    const events = await server.app.infra.database.prisma.authEvent.findMany({
      where: { userId: payload.user.id },
      select: { type: true },
    });
    expect(events.map((event) => event.type)).toContain('oauth_signup');
  });

  test('an unverified provider email makes an unverified user', async () => {
    const email = uniqueEmail('unverified');
    const { result } = await signIn(`sub-unv-${email}`, { email, emailVerified: false });
    expect(result.body.data!.finishOAuthLogin.user).toMatchObject({ email, emailVerified: false });
  });

  test('a returning user gets the same account, by (provider, sub), even after the provider email changed', async () => {
    const email = uniqueEmail('back');
    const sub = `sub-back-${email}`;
    const first = await signIn(sub, { email, emailVerified: true });
    const second = await signIn(sub, { email: uniqueEmail('changed'), emailVerified: true });
    expect(second.result.body.errors).toBeUndefined();
    expect(second.result.body.data!.finishOAuthLogin.user.id).toBe(first.result.body.data!.finishOAuthLogin.user.id);
  });

  test('a verified provider email links to the verified local account with that email', async () => {
    const local = await signupUser(server);
    await server.app.infra.database.prisma.user.update({ where: { id: local.user.id }, data: { emailVerified: true } });
    const { result } = await signIn(`sub-link-${local.email}`, { email: local.email, emailVerified: true });
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data!.finishOAuthLogin.user.id).toBe(local.user.id);
    const linked = await server.app.infra.database.prisma.oAuthIdentity.findMany({ where: { userId: local.user.id } });
    expect(linked).toHaveLength(1);
  });

  test('an unverified local account, or an unverified provider email, is ACCOUNT_EXISTS and nothing is linked', async () => {
    const local = await signupUser(server); // emailVerified false
    const first = await signIn(`sub-exists-${local.email}`, { email: local.email, emailVerified: true });
    expect(errorCode(first.result)).toBe('ACCOUNT_EXISTS');
    expect(first.result.body.data ?? null).toBeNull();
    const verifiedLocal = await signupUser(server);
    await server.app.infra.database.prisma.user.update({ where: { id: verifiedLocal.user.id }, data: { emailVerified: true } });
    const second = await signIn(`sub-exists2-${verifiedLocal.email}`, { email: verifiedLocal.email, emailVerified: false });
    expect(errorCode(second.result)).toBe('ACCOUNT_EXISTS');
    const linked = await server.app.infra.database.prisma.oAuthIdentity.count({
      where: { userId: { in: [local.user.id, verifiedLocal.user.id] } },
    });
    expect(linked).toBe(0);
  });

  test('a replayed code or state is OAUTH_FAILED', async () => {
    const email = uniqueEmail('replay');
    const { app, code, state, result } = await signIn(`sub-replay-${email}`, { email, emailVerified: true });
    expect(result.body.errors).toBeUndefined();
    const again = await app.gql(FINISH, { provider: 'test', code, state });
    expect(errorCode(again)).toBe('OAUTH_FAILED');
    // The same code under a fresh state: the provider refuses a spent code.
    const fresh = await app.gql(START, { provider: 'test', redirectUri: REDIRECT_URI });
    const replayedCode = await app.gql(FINISH, { provider: 'test', code, state: fresh.body.data!.startOAuthLogin.state });
    expect(errorCode(replayedCode)).toBe('OAUTH_FAILED');
  });

  test('a state Warden never issued, or one for another provider, is OAUTH_FAILED; an unknown provider is BAD_USER_INPUT', async () => {
    const app = new AppBrowser(server);
    idp.accounts.set('sub-foreign', { email: uniqueEmail('foreign'), emailVerified: true });
    const { code } = await authorize(app, 'sub-foreign');
    const forged = await app.gql(FINISH, { provider: 'test', code, state: 'a'.repeat(43) });
    expect(errorCode(forged)).toBe('OAUTH_FAILED');
    const unknown = await app.gql(FINISH, { provider: 'nope', code, state: 'x' });
    expect(errorCode(unknown)).toBe('BAD_USER_INPUT');
  });

  test('finishing in a browser without the binding cookie (login CSRF) is OAUTH_FAILED, and spends the state', async () => {
    const email = uniqueEmail('csrf');
    idp.accounts.set(`sub-csrf-${email}`, { email, emailVerified: true });
    const attacker = new AppBrowser(server);
    const { code, state } = await authorize(attacker, `sub-csrf-${email}`);
    const victim = new AppBrowser(server);
    expect(errorCode(await victim.gql(FINISH, { provider: 'test', code, state }))).toBe('OAUTH_FAILED');
    victim.cookie = 'warden_oauth=' + 'A'.repeat(43);
    expect(errorCode(await victim.gql(FINISH, { provider: 'test', code, state }))).toBe('OAUTH_FAILED');
    // Spent by the failed attempt: not even the right browser can finish it now.
    expect(errorCode(await attacker.gql(FINISH, { provider: 'test', code, state }))).toBe('OAUTH_FAILED');
  });

  test('an ID token whose nonce is not the one Warden issued is OAUTH_FAILED', async () => {
    const email = uniqueEmail('nonce');
    idp.accounts.set(`sub-nonce-${email}`, { email, emailVerified: true });
    const app = new AppBrowser(server);
    // The authorization request reaches the provider with another nonce, which it signs into the ID token.
    const { code, state } = await authorize(app, `sub-nonce-${email}`, { tamper: (url) => url.searchParams.set('nonce', 'n'.repeat(43)) });
    const result = await app.gql(FINISH, { provider: 'test', code, state });
    expect(errorCode(result)).toBe('OAUTH_FAILED');
    expect(await server.app.infra.database.prisma.user.count({ where: { email } })).toBe(0);
  });

  test('a redirect URI not listed exactly is BAD_USER_INPUT', async () => {
    for (const redirectUri of [
      `${REDIRECT_URI}/x`,
      `${REDIRECT_URI}?next=https://evil.test`,
      'https://app.example.test/oauth/callbac',
      'https://evil.test/oauth/callback',
    ]) {
      const response = await server.gql(START, { provider: 'test', redirectUri });
      expect(errorCode(response)).toBe('BAD_USER_INPUT');
    }
  });

  test("link and unlink: a second provider account is refused, another user's identity is ACCOUNT_EXISTS, the last sign-in method is kept", async () => {
    const prisma = server.app.infra.database.prisma;
    const local = await signupUser(server);
    const app = new AppBrowser(server);
    const sub = `sub-linkme-${local.email}`;
    idp.accounts.set(sub, { email: uniqueEmail('other-address'), emailVerified: false });
    const back = await authorize(app, sub, { token: local.accessToken, link: true });
    const linked = await app.gql(FINISH_LINK, { provider: 'test', code: back.code, state: back.state }, local.accessToken);
    expect(linked.body.errors).toBeUndefined();
    expect(linked.body.data!.finishOAuthLink).toMatchObject({ provider: 'test', subject: sub });
    expect((await prisma.authEvent.findMany({ where: { userId: local.user.id, type: 'oauth_linked' } })).length).toBe(1);

    // A state started by one user cannot be finished by another.
    const other = await signupUser(server);
    const started = await authorize(app, sub, { token: local.accessToken, link: true });
    expect(errorCode(await app.gql(FINISH_LINK, { provider: 'test', code: started.code, state: started.state }, other.accessToken))).toBe(
      'OAUTH_FAILED',
    );
    // The identity belongs to `local`: linking it to `other` is ACCOUNT_EXISTS.
    const stolen = await authorize(app, sub, { token: other.accessToken, link: true });
    expect(errorCode(await app.gql(FINISH_LINK, { provider: 'test', code: stolen.code, state: stolen.state }, other.accessToken))).toBe(
      'ACCOUNT_EXISTS',
    );

    // With a password left, unlinking is allowed.
    expect((await server.gql(UNLINK, { provider: 'test' }, { token: local.accessToken })).body.data!.unlinkOAuthIdentity).toBe(true);
    expect((await server.gql(IDENTITIES, {}, { token: local.accessToken })).body.data!.myIdentities).toEqual([]);
    expect((await prisma.authEvent.findMany({ where: { userId: local.user.id, type: 'oauth_unlinked' } })).length).toBe(1);

    // An OAuth-only user cannot remove their only way in.
    const email = uniqueEmail('only');
    const only = await signIn(`sub-only-${email}`, { email, emailVerified: true });
    const token = only.result.body.data!.finishOAuthLogin.accessToken;
    expect(errorCode(await server.gql(UNLINK, { provider: 'test' }, { token }))).toBe('BAD_USER_INPUT');
    expect((await server.gql(IDENTITIES, {}, { token })).body.data!.myIdentities).toHaveLength(1);
  });

  test('two instances: a sign-in started on one finishes on the other (the state lives in the shared store)', async () => {
    const second = await startTestServer({ env: oauthEnv(idp), oauth: { fetch: idp.fetch }, shareWith: server });
    try {
      const email = uniqueEmail('two');
      idp.accounts.set(`sub-two-${email}`, { email, emailVerified: true });
      const app = new AppBrowser(server);
      const { code, state } = await authorize(app, `sub-two-${email}`);
      const finished = await app.use(second).gql(FINISH, { provider: 'test', code, state });
      expect(finished.body.errors).toBeUndefined();
      expect(finished.body.data!.finishOAuthLogin.user.email).toBe(email);
      // Single-use across instances too.
      expect(errorCode(await app.use(server).gql(FINISH, { provider: 'test', code, state }))).toBe('OAUTH_FAILED');
    } finally {
      await second.close();
    }
  });

  test('a password reset gives a provider-only user a password: password login works, and unlinking is then allowed', async () => {
    const email = uniqueEmail('reset');
    const { result } = await signIn(`sub-reset-${email}`, { email, emailVerified: true });
    const token = result.body.data!.finishOAuthLogin.accessToken;
    expect((await server.gql('mutation($e: String!) { requestPasswordReset(email: $e) }', { e: email })).body.data).toEqual({
      requestPasswordReset: true,
    });
    let mail: MailMessage | undefined;
    for (let i = 0; i < 100 && !mail; i++) {
      mail = mails.find((m) => m.to === email && /password/i.test(m.subject));
      if (!mail) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const resetToken = /^\s+([A-Za-z0-9_-]{43})\s*$/m.exec(mail!.text)![1];
    const reset = await server.gql('mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }', {
      t: resetToken,
      p: 'a brand new password',
    });
    expect(reset.body.data).toEqual({ resetPassword: true });
    const login = await server.gql(LOGIN, { input: { email, password: 'a brand new password' } });
    expect(login.body.errors).toBeUndefined();
    const fresh = login.body.data!.login.accessToken;
    expect(token).not.toBe(fresh);
    expect((await server.gql(UNLINK, { provider: 'test' }, { token: fresh })).body.data).toEqual({ unlinkOAuthIdentity: true });
  });

  test('start and finish count toward the per-IP limit', async () => {
    // A client address of its own (through a trusted proxy), so counts left in a shared Redis by other runs do not matter.
    const limited = await startTestServer({
      env: { ...oauthEnv(idp), IP_RATE_LIMIT: '2', TRUST_PROXY: 'true' },
      oauth: { fetch: idp.fetch },
      shareWith: server,
    });
    const headers = { 'x-forwarded-for': `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}` };
    try {
      const codes = [];
      for (let i = 0; i < 3; i++)
        codes.push(errorCode(await limited.gql(START, { provider: 'test', redirectUri: REDIRECT_URI }, { headers })));
      expect(codes).toEqual([undefined, undefined, 'RATE_LIMITED']);
      const finishes = [];
      for (let i = 0; i < 3; i++)
        finishes.push(errorCode(await limited.gql(FINISH, { provider: 'test', code: 'c', state: `s${i}-${Date.now()}` }, { headers })));
      expect(finishes).toEqual(['OAUTH_FAILED', 'OAUTH_FAILED', 'RATE_LIMITED']);
    } finally {
      await limited.close();
    }
  });
});

suite('OpenID Connect sign-in: a provider down or slow', () => {
  let silent: Server;
  let silentPort: number;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // Accepts connections and never answers.
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  test('a provider that refuses connections, or never answers, is OAUTH_FAILED within the bound; discovery is retried', async () => {
    const idp = await startIdp();
    const { port } = idp;
    await idp.close();
    const clock = new ManualClock();
    const server = await startTestServer({
      env: {
        ...oauthEnv(idp),
        OAUTH_PROVIDERS: 'down,slow',
        OAUTH_DOWN_ISSUER: idp.issuer,
        OAUTH_DOWN_CLIENT_ID: CLIENT_ID,
        OAUTH_SLOW_ISSUER: `https://127.0.0.1:${silentPort}`,
        OAUTH_SLOW_CLIENT_ID: CLIENT_ID,
      },
      oauth: { fetch: idp.fetch, timeoutMs: 500 },
      clock,
    });
    try {
      const down = await server.gql(START, { provider: 'down', redirectUri: REDIRECT_URI });
      expect(errorCode(down)).toBe('OAUTH_FAILED');
      const began = Date.now();
      const slow = await server.gql(START, { provider: 'slow', redirectUri: REDIRECT_URI });
      expect(errorCode(slow)).toBe('OAUTH_FAILED');
      expect(Date.now() - began).toBeLessThan(3_000);
      // The provider comes back on the same port: after the retry pause, discovery succeeds.
      const back = await startIdp({ port });
      try {
        clock.advance(2_100); // past the retry pause, on the server's clock
        const ok = await server.gql(START, { provider: 'down', redirectUri: REDIRECT_URI });
        expect(ok.body.errors).toBeUndefined();
        expect(ok.body.data!.startOAuthLogin.authorizationUrl).toContain(back.issuer);
      } finally {
        await back.close();
      }
    } finally {
      await server.close();
    }
  });
});
