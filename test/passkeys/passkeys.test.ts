/**
 * Passkeys over real HTTP (docs/api.md §3): registration and sign-in with a software authenticator
 * that builds real attestation objects, authenticator data and ES256 assertions
 * (test/support/webauthn-authenticator.ts). Covers the AAL2 session and its amr, discoverable
 * sign-in, enumeration parity of startPasskeyLogin, every refusal (replay, origin, RP ID,
 * challenge, signature, counter, flags, deleted user), the deletion rules, and that no input
 * shape gets a 500. Runs on both passes (the store is the in-process one or Redis).
 */
import jwt from 'jsonwebtoken';
import { ErrorCode } from '../../src/errors/error-code';
import { ManualClock } from '../../src/lib/clock';
import { PASSKEY_CHALLENGE_TTL_MS } from '../../src/modules/passkey/passkey.service';
import { SoftwareAuthenticator, type Credential, type CredentialOptions } from '../support/webauthn-authenticator';
import { LOGIN, errorCode, signupUser, startTestServer, uniqueEmail, type GqlResponse, type SignedUp, type TestServer } from '../kit';

const ORIGIN = 'http://localhost:4000';

const START_REGISTRATION = 'mutation { startPasskeyRegistration }';
const FINISH_REGISTRATION =
  'mutation ($response: JSONObject!, $name: String) { finishPasskeyRegistration(response: $response, name: $name) { id name backedUp createdAt lastUsedAt } }';
const START_LOGIN = 'mutation ($email: String) { startPasskeyLogin(email: $email) }';
const FINISH_LOGIN = `mutation ($response: JSONObject!) {
  finishPasskeyLogin(response: $response) { accessToken refreshToken assurance mfaRequired user { id email } }
}`;
const MY_PASSKEYS = 'query { myPasskeys { id name backedUp createdAt lastUsedAt } }';
const DELETE = 'mutation ($id: ID!) { deletePasskey(id: $id) }';
const SESSIONS = 'query { mySessions { current assurance methods } }';
const REFRESH = 'mutation ($t: String) { refreshToken(refreshToken: $t) { accessToken assurance } }';

const claims = (token: string) => jwt.decode(token) as { sub: string; sid: string; aal: string; amr: string[] };

describe('passkeys', () => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    server = await startTestServer({ clock, env: { WEBAUTHN_RP_ID: 'localhost', WEBAUTHN_ORIGINS: `${ORIGIN},https://app.localhost` } });
  });
  afterAll(() => server?.close());

  const prisma = () => server.app.infra.database.prisma;

  async function startRegistration(token: string): Promise<Record<string, any>> {
    const started = await server.gql(START_REGISTRATION, undefined, { token });
    expect(started.body.errors).toBeUndefined();
    return started.body.data!.startPasskeyRegistration;
  }

  /** Signs a user up and registers one passkey through the API. */
  async function withPasskey(
    options: CredentialOptions = {},
    name = 'laptop',
  ): Promise<{ user: SignedUp; authenticator: SoftwareAuthenticator; credential: Credential; passkeyId: string }> {
    const user = await signupUser(server);
    const authenticator = new SoftwareAuthenticator(ORIGIN);
    const { response, credential } = authenticator.register(await startRegistration(user.accessToken), options);
    const finished = await server.gql(FINISH_REGISTRATION, { response, name }, { token: user.accessToken });
    expect(finished.body.errors).toBeUndefined();
    return { user, authenticator, credential, passkeyId: finished.body.data!.finishPasskeyRegistration.id };
  }

  async function startLogin(email?: string | null): Promise<Record<string, any>> {
    const started = await server.gql(START_LOGIN, email === undefined ? {} : { email });
    expect(started.body.errors).toBeUndefined();
    return started.body.data!.startPasskeyLogin;
  }

  const finishLogin = (response: unknown) => server.gql(FINISH_LOGIN, { response });

  function expectRefused(result: GqlResponse) {
    expect(result.status).toBeLessThan(500);
    expect(errorCode(result)).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(result.body.data?.finishPasskeyLogin ?? null).toBeNull();
  }

  describe('registration', () => {
    it('returns creation options as @simplewebauthn/browser takes them: user verification and a discoverable credential required, no attestation', async () => {
      const user = await signupUser(server, { name: 'Ada' });
      const options = await startRegistration(user.accessToken);
      expect(options).toMatchObject({
        rp: { id: 'localhost', name: 'Warden' },
        user: { name: user.email, displayName: 'Ada' },
        attestation: 'none',
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        timeout: PASSKEY_CHALLENGE_TTL_MS,
        excludeCredentials: [],
      });
      expect(options.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // The user handle is the user id's 16 bytes: nothing personal.
      expect(Buffer.from(options.user.id, 'base64url').toString('hex')).toBe(user.user.id.replace(/-/g, ''));
      expect(options.pubKeyCredParams).toEqual(expect.arrayContaining([{ alg: -7, type: 'public-key' }]));
    });

    it('stores the credential with its counter and backup flags, lists it, and excludes it from the next registration', async () => {
      const { user, credential, passkeyId } = await withPasskey({ backupEligible: true, counter: 7 }, '  phone  ');
      const listed = await server.gql(MY_PASSKEYS, undefined, { token: user.accessToken });
      expect(listed.body.data!.myPasskeys).toEqual([
        { id: passkeyId, name: 'phone', backedUp: true, createdAt: expect.any(String), lastUsedAt: null },
      ]);
      const row = await prisma().passkey.findUniqueOrThrow({ where: { id: passkeyId } });
      expect(row).toMatchObject({
        credentialId: credential.id,
        counter: 7n,
        backupEligible: true,
        backedUp: true,
        transports: ['internal'],
        userId: user.user.id,
      });
      const next = await startRegistration(user.accessToken);
      expect(next.excludeCredentials).toEqual([{ id: credential.id, type: 'public-key', transports: ['internal'] }]);
    });

    it('refuses a response that does not verify with INVALID_CREDENTIALS, and stores nothing', async () => {
      const user = await signupUser(server);
      const other = await signupUser(server);
      const authenticator = new SoftwareAuthenticator(ORIGIN);
      const attempts: Array<[string, (options: Record<string, any>) => unknown]> = [
        ['wrong origin', (o) => authenticator.register(o, {}, { origin: 'https://evil.example' }).response],
        ['wrong RP ID', (o) => authenticator.register(o, {}, { rpId: 'evil.example' }).response],
        ['no user verification', (o) => authenticator.register(o, {}, { noUserVerification: true }).response],
        ['an assertion type', (o) => authenticator.register(o, {}, { type: 'webauthn.get' }).response],
        [
          'a challenge never issued',
          (o) => authenticator.register(o, {}, { challenge: Buffer.alloc(32, 1).toString('base64url') }).response,
        ],
        ['cross-origin', (o) => authenticator.register(o, {}, { crossOrigin: true }).response],
      ];
      for (const [label, make] of attempts) {
        const result = await server.gql(
          FINISH_REGISTRATION,
          { response: make(await startRegistration(user.accessToken)) },
          { token: user.accessToken },
        );
        expect([label, errorCode(result)]).toEqual([label, ErrorCode.INVALID_CREDENTIALS]);
      }
      // Another user's challenge, and a sign-in challenge, are no registration challenge of this user.
      const foreign = authenticator.register(await startRegistration(other.accessToken)).response;
      expect(errorCode(await server.gql(FINISH_REGISTRATION, { response: foreign }, { token: user.accessToken }))).toBe(
        ErrorCode.INVALID_CREDENTIALS,
      );
      const loginOptions = await startLogin();
      const fromLogin = authenticator.register({ ...loginOptions, rp: { id: 'localhost' }, user: { id: 'AA' } }).response;
      expect(errorCode(await server.gql(FINISH_REGISTRATION, { response: fromLogin }, { token: user.accessToken }))).toBe(
        ErrorCode.INVALID_CREDENTIALS,
      );
      expect(await prisma().passkey.count({ where: { userId: user.user.id } })).toBe(0);
    });

    it('spends the challenge: the same registration response twice is refused', async () => {
      const user = await signupUser(server);
      const { response } = new SoftwareAuthenticator(ORIGIN).register(await startRegistration(user.accessToken));
      expect((await server.gql(FINISH_REGISTRATION, { response }, { token: user.accessToken })).body.errors).toBeUndefined();
      expect(errorCode(await server.gql(FINISH_REGISTRATION, { response }, { token: user.accessToken }))).toBe(
        ErrorCode.INVALID_CREDENTIALS,
      );
      expect(await prisma().passkey.count({ where: { userId: user.user.id } })).toBe(1);
    });

    it('refuses a challenge older than 5 minutes', async () => {
      const user = await signupUser(server);
      const options = await startRegistration(user.accessToken);
      clock.advance(PASSKEY_CHALLENGE_TTL_MS + 1_000);
      const { response } = new SoftwareAuthenticator(ORIGIN).register(options);
      const fresh = (await server.gql(LOGIN, { input: { email: user.email, password: user.password } })).body.data!.login.accessToken;
      expect(errorCode(await server.gql(FINISH_REGISTRATION, { response }, { token: fresh }))).toBe(ErrorCode.INVALID_CREDENTIALS);
    });

    it('refuses a credential that is already registered, and a bad name, with BAD_USER_INPUT', async () => {
      const { user, authenticator, credential } = await withPasskey();
      const other = await signupUser(server);
      // The same credential id again (to another user): refused, the first registration untouched.
      const { response } = authenticator.register(await startRegistration(other.accessToken), {}, { credentialId: credential.id });
      const again = await server.gql(FINISH_REGISTRATION, { response }, { token: other.accessToken });
      expect(errorCode(again)).toBe(ErrorCode.BAD_USER_INPUT);
      expect(await prisma().passkey.findMany({ where: { credentialId: credential.id }, select: { userId: true } })).toEqual([
        { userId: user.user.id },
      ]);
      // An outer id that is not the attested credential's: the response does not hold together.
      const swapped = authenticator.register(await startRegistration(other.accessToken)).response;
      swapped.id = swapped.rawId = Buffer.alloc(32, 5).toString('base64url');
      expect(errorCode(await server.gql(FINISH_REGISTRATION, { response: swapped }, { token: other.accessToken }))).toBe(
        ErrorCode.INVALID_CREDENTIALS,
      );
      expect(await prisma().passkey.count({ where: { userId: other.user.id } })).toBe(0);

      const named = await server.gql(
        FINISH_REGISTRATION,
        { response: authenticator.register(await startRegistration(user.accessToken)).response, name: 'x'.repeat(65) },
        { token: user.accessToken },
      );
      expect(errorCode(named)).toBe(ErrorCode.BAD_USER_INPUT);
      expect(named.body.errors![0].extensions!.fields).toEqual({ name: expect.any(String) });
    });

    it('needs a session: anonymous calls answer UNAUTHENTICATED', async () => {
      for (const [query, variables] of [
        [START_REGISTRATION, undefined],
        [FINISH_REGISTRATION, { response: {} }],
        [MY_PASSKEYS, undefined],
        [DELETE, { id: '00000000-0000-4000-8000-000000000000' }],
      ] as const) {
        expect(errorCode(await server.gql(query, variables))).toBe(ErrorCode.UNAUTHENTICATED);
      }
    });

    it('needs AAL2 once the user has MFA: an AAL1 session gets MFA_REQUIRED, a passkey (AAL2) session may register', async () => {
      const { user, authenticator } = await withPasskey();
      await prisma().user.update({ where: { id: user.user.id }, data: { mfaEnabled: true } });
      const aal1 = (await server.gql(LOGIN, { input: { email: user.email, password: user.password } })).body.data!.login.accessToken;
      expect(errorCode(await server.gql(START_REGISTRATION, undefined, { token: aal1 }))).toBe(ErrorCode.MFA_REQUIRED);
      expect(errorCode(await server.gql(MY_PASSKEYS, undefined, { token: aal1 }))).toBe(ErrorCode.MFA_REQUIRED);
      const signedIn = await finishLogin(authenticator.assert(await startLogin(user.email)));
      const aal2 = signedIn.body.data!.finishPasskeyLogin.accessToken;
      expect(signedIn.body.data!.finishPasskeyLogin).toMatchObject({ assurance: 'AAL2', mfaRequired: false });
      expect((await server.gql(START_REGISTRATION, undefined, { token: aal2 })).body.errors).toBeUndefined();
    });
  });

  describe('sign-in', () => {
    it('signs a device-bound passkey in at AAL2 with amr ["hwk"], an ordinary session that refreshes at AAL2, with the refresh cookie', async () => {
      const { user, authenticator, passkeyId } = await withPasskey({ counter: 1 });
      const options = await startLogin(user.email);
      expect(options).toMatchObject({ rpId: 'localhost', userVerification: 'required', timeout: PASSKEY_CHALLENGE_TTL_MS });
      const signedIn = await finishLogin(authenticator.assert(options));
      expect(signedIn.body.errors).toBeUndefined();
      const payload = signedIn.body.data!.finishPasskeyLogin;
      expect(payload).toMatchObject({ assurance: 'AAL2', mfaRequired: false, user: { id: user.user.id, email: user.email } });
      expect(claims(payload.accessToken)).toMatchObject({ sub: user.user.id, aal: 'aal2', amr: ['hwk'] });
      expect(signedIn.headers.get('set-cookie')).toMatch(/refresh_token=[^;]+;.*HttpOnly/i);

      const sessions = await server.gql(SESSIONS, undefined, { token: payload.accessToken });
      expect(sessions.body.data!.mySessions.find((s: { current: boolean }) => s.current)).toMatchObject({
        assurance: 'AAL2',
        methods: ['hwk'],
      });
      const refreshed = await server.gql(REFRESH, { t: payload.refreshToken });
      expect(refreshed.body.data!.refreshToken.assurance).toBe('AAL2');
      expect(claims(refreshed.body.data!.refreshToken.accessToken)).toMatchObject({ aal: 'aal2', amr: ['hwk'] });

      const row = await prisma().passkey.findUniqueOrThrow({ where: { id: passkeyId } });
      expect(row.counter).toBe(2n);
      expect(row.lastUsedAt).not.toBeNull();
    });

    it('signs a synced (backup-eligible) passkey in with amr ["swk"], discoverably, without an email', async () => {
      const { user, authenticator } = await withPasskey({ backupEligible: true });
      const options = await startLogin();
      expect(options.allowCredentials ?? []).toEqual([]);
      const signedIn = await finishLogin(authenticator.assert(options));
      expect(signedIn.body.errors).toBeUndefined();
      expect(signedIn.body.data!.finishPasskeyLogin.user.id).toBe(user.user.id);
      expect(claims(signedIn.body.data!.finishPasskeyLogin.accessToken)).toMatchObject({ aal: 'aal2', amr: ['swk'] });
      // A blank email is no email.
      expect((await startLogin('  ')).allowCredentials ?? []).toEqual([]);
    });

    it('answers an unknown email exactly as a known one: same shape, stable plausible credential ids', async () => {
      const { user, credential } = await withPasskey();
      const withoutPasskey = await signupUser(server);
      const unknown = uniqueEmail('nobody');
      const known = await startLogin(user.email);
      const answers = [known, await startLogin(withoutPasskey.email), await startLogin(unknown), await startLogin(unknown.toUpperCase())];
      const shape = (options: Record<string, any>) => ({
        keys: Object.keys(options).sort(),
        allow: options.allowCredentials.map((c: Record<string, unknown>) => Object.keys(c).sort()),
        rest: { ...options, challenge: undefined, allowCredentials: undefined },
      });
      for (const answer of answers) {
        expect(shape(answer)).toEqual(shape(known));
        expect(answer.allowCredentials).toHaveLength(1);
        expect(answer.allowCredentials[0]).toEqual({
          id: expect.stringMatching(/^[A-Za-z0-9_-]{22,86}$/),
          type: 'public-key',
          transports: expect.any(Array),
        });
      }
      expect(known.allowCredentials[0].id).toBe(credential.id);
      // Decoys are stable per address (normalised), so asking twice tells nothing; they differ between addresses.
      expect(answers[3].allowCredentials).toEqual(answers[2].allowCredentials);
      expect(answers[2].allowCredentials[0].id).not.toBe(answers[1].allowCredentials[0].id);
      expect((await startLogin(unknown)).allowCredentials).toEqual(answers[2].allowCredentials);
      // Every answer carries a fresh challenge.
      expect(new Set(answers.map((a) => a.challenge)).size).toBe(answers.length);
      // A malformed address is refused whoever asks.
      expect(errorCode(await server.gql(START_LOGIN, { email: 'not an email' }))).toBe(ErrorCode.BAD_USER_INPUT);
    });

    it('refuses every assertion that does not verify with INVALID_CREDENTIALS, and opens no session', async () => {
      const { user, authenticator, credential } = await withPasskey({ counter: 5 });
      const sessionsBefore = await prisma().session.count({ where: { userId: user.user.id } });
      const cases: Array<[string, (options: Record<string, any>) => unknown]> = [
        ['wrong origin', (o) => authenticator.assert(o, credential, { origin: 'https://evil.example' })],
        ['origin on another port', (o) => authenticator.assert(o, credential, { origin: 'http://localhost:4001' })],
        ['wrong RP ID', (o) => authenticator.assert(o, credential, { rpId: 'evil.example' })],
        ['a challenge never issued', (o) => authenticator.assert(o, credential, { challenge: Buffer.alloc(32, 7).toString('base64url') })],
        ['tampered signature', (o) => authenticator.assert(o, credential, { tamperSignature: true })],
        ['counter not moved forward', (o) => authenticator.assert(o, credential, { counter: 5 })],
        ['counter moved back', (o) => authenticator.assert(o, credential, { counter: 1 })],
        ['no user verification', (o) => authenticator.assert(o, credential, { noUserVerification: true })],
        ['no user presence', (o) => authenticator.assert(o, credential, { flags: 0x04 })],
        ['a creation type', (o) => authenticator.assert(o, credential, { type: 'webauthn.create' })],
        ['cross-origin', (o) => authenticator.assert(o, credential, { crossOrigin: true })],
        ['backup eligibility changed', (o) => authenticator.assert(o, credential, { backupEligible: true })],
        ["another user's handle", (o) => authenticator.assert(o, credential, { userHandle: Buffer.alloc(16, 9).toString('base64url') })],
        [
          'an unknown credential',
          (o) => ({
            ...(authenticator.assert(o, credential) as object),
            id: Buffer.alloc(32, 3).toString('base64url'),
            rawId: Buffer.alloc(32, 3).toString('base64url'),
          }),
        ],
      ];
      for (const [label, make] of cases) {
        const result = await finishLogin(make(await startLogin(user.email)));
        expect([label, errorCode(result)]).toEqual([label, ErrorCode.INVALID_CREDENTIALS]);
        expect(result.status).toBeLessThan(500);
      }
      expect(await prisma().session.count({ where: { userId: user.user.id } })).toBe(sessionsBefore);
      // The credential still works afterwards (the counter was never moved by a refused attempt… past what the authenticator holds).
      const ok = await finishLogin(authenticator.assert(await startLogin(user.email), credential));
      expect(ok.body.errors).toBeUndefined();
    });

    it('accepts an assertion once: a replay, and a second assertion on the same challenge, are refused', async () => {
      const { authenticator, credential } = await withPasskey({ backupEligible: true });
      const options = await startLogin();
      const first = authenticator.assert(options, credential);
      const second = authenticator.assert(options, credential);
      expect((await finishLogin(first)).body.errors).toBeUndefined();
      expectRefused(await finishLogin(first));
      expectRefused(await finishLogin(second));
    });

    it('spends a challenge on a failed attempt too, refuses one older than 5 minutes, and a registration challenge', async () => {
      const { user, authenticator, credential } = await withPasskey();
      const options = await startLogin(user.email);
      expectRefused(await finishLogin(authenticator.assert(options, credential, { tamperSignature: true })));
      expectRefused(await finishLogin(authenticator.assert(options, credential)));

      const old = await startLogin(user.email);
      clock.advance(PASSKEY_CHALLENGE_TTL_MS + 1_000);
      expectRefused(await finishLogin(authenticator.assert(old, credential)));

      const registration = await startRegistration(
        (await server.gql(LOGIN, { input: { email: user.email, password: user.password } })).body.data!.login.accessToken,
      );
      expectRefused(await finishLogin(authenticator.assert({ challenge: registration.challenge, rpId: 'localhost' }, credential)));
    });

    it('of parallel sign-ins with one counter value, one wins', async () => {
      const { user, authenticator, credential } = await withPasskey({ counter: 10 });
      const a = await startLogin(user.email);
      const b = await startLogin(user.email);
      const assertA = authenticator.assert(a, credential, { counter: 11 });
      const assertB = authenticator.assert(b, credential, { counter: 11 });
      const results = await Promise.all([finishLogin(assertA), finishLogin(assertB)]);
      expect(results.map((r) => errorCode(r) ?? 'ok').sort()).toEqual([ErrorCode.INVALID_CREDENTIALS, 'ok'].sort());
    });

    it('a passkey whose user was deleted is refused, and deleting a user removes their passkeys', async () => {
      const { user, authenticator, credential } = await withPasskey();
      const deleted = await server.gql(
        'mutation ($p: String!) { deleteMe(password: $p) }',
        { p: user.password },
        { token: user.accessToken },
      );
      expect(deleted.body.errors).toBeUndefined();
      expect(await prisma().passkey.count({ where: { userId: user.user.id } })).toBe(0);
      expectRefused(await finishLogin(authenticator.assert(await startLogin(), credential)));
    });
  });

  describe('deletion', () => {
    it("deletes a passkey of the viewer; another user's, an unknown or a malformed id is NOT_FOUND and nothing changes", async () => {
      const { user, passkeyId } = await withPasskey();
      const other = await withPasskey();
      for (const id of [other.passkeyId, '00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
        expect(errorCode(await server.gql(DELETE, { id }, { token: user.accessToken }))).toBe(ErrorCode.NOT_FOUND);
      }
      expect(await prisma().passkey.count({ where: { id: other.passkeyId } })).toBe(1);
      // This user has a password: the last passkey may go.
      expect((await server.gql(DELETE, { id: passkeyId }, { token: user.accessToken })).body.data!.deletePasskey).toBe(true);
      expect((await server.gql(MY_PASSKEYS, undefined, { token: user.accessToken })).body.data!.myPasskeys).toEqual([]);
    });

    it('refuses to delete the last passkey of a user with no password and no identity (BAD_USER_INPUT); another passkey or an identity lets it go', async () => {
      const { user, authenticator, passkeyId } = await withPasskey();
      const second = authenticator.register(await startRegistration(user.accessToken)).response;
      const secondId = (await server.gql(FINISH_REGISTRATION, { response: second }, { token: user.accessToken })).body.data!
        .finishPasskeyRegistration.id;
      await prisma().user.update({ where: { id: user.user.id }, data: { passwordHash: null } });

      expect((await server.gql(DELETE, { id: secondId }, { token: user.accessToken })).body.data!.deletePasskey).toBe(true);
      const last = await server.gql(DELETE, { id: passkeyId }, { token: user.accessToken });
      expect(errorCode(last)).toBe(ErrorCode.BAD_USER_INPUT);
      expect(last.body.errors![0].extensions!.fields).toEqual({ id: expect.any(String) });
      expect(await prisma().passkey.count({ where: { id: passkeyId } })).toBe(1);

      await prisma().oAuthIdentity.create({ data: { userId: user.user.id, provider: 'example', subject: `sub-${user.user.id}` } });
      expect((await server.gql(DELETE, { id: passkeyId }, { token: user.accessToken })).body.data!.deletePasskey).toBe(true);
    });

    it('unlinkOAuthIdentity counts a passkey as a way to sign in', async () => {
      const UNLINK = 'mutation { unlinkOAuthIdentity(provider: "example") }';
      const { user } = await withPasskey();
      await prisma().user.update({ where: { id: user.user.id }, data: { passwordHash: null } });
      await prisma().oAuthIdentity.create({ data: { userId: user.user.id, provider: 'example', subject: `sub-${user.user.id}` } });
      expect((await server.gql(UNLINK, undefined, { token: user.accessToken })).body.data!.unlinkOAuthIdentity).toBe(true);

      // Without a passkey the identity is the last way in.
      const plain = await signupUser(server);
      await prisma().user.update({ where: { id: plain.user.id }, data: { passwordHash: null } });
      await prisma().oAuthIdentity.create({ data: { userId: plain.user.id, provider: 'example', subject: `sub-${plain.user.id}` } });
      expect(errorCode(await server.gql(UNLINK, undefined, { token: plain.accessToken }))).toBe(ErrorCode.BAD_USER_INPUT);
    });
  });

  describe('input shapes', () => {
    it('answers every malformed response with BAD_USER_INPUT or INVALID_CREDENTIALS, never a 500', async () => {
      const { user, authenticator, credential } = await withPasskey();
      const goodLogin = authenticator.assert(await startLogin(user.email), credential);
      const goodRegistration = authenticator.register(await startRegistration(user.accessToken)).response;
      const junk = 'not base64url!';
      const shapes: unknown[] = [
        'a string',
        42,
        [],
        null,
        {},
        { id: 1 },
        { id: 'x', rawId: 'x', type: 'public-key' },
        { ...goodLogin, type: 'password' },
        { ...goodLogin, id: junk, rawId: junk },
        { ...goodLogin, rawId: 'AAAA' },
        { ...goodLogin, response: 'x' },
        { ...goodLogin, response: { ...goodLogin.response, clientDataJSON: 5 } },
        { ...goodLogin, response: { ...goodLogin.response, clientDataJSON: junk } },
        { ...goodLogin, response: { ...goodLogin.response, clientDataJSON: Buffer.from('not json').toString('base64url') } },
        { ...goodLogin, response: { ...goodLogin.response, clientDataJSON: Buffer.from('{"challenge":7}').toString('base64url') } },
        { ...goodLogin, response: { ...goodLogin.response, clientDataJSON: Buffer.from('[]').toString('base64url') } },
        { ...goodLogin, response: { ...goodLogin.response, authenticatorData: '' } },
        { ...goodLogin, response: { ...goodLogin.response, authenticatorData: 'AAAA' } },
        { ...goodLogin, response: { ...goodLogin.response, signature: 'AAAA' } },
        { ...goodLogin, response: { ...goodLogin.response, signature: undefined } },
        { ...goodLogin, response: { ...goodLogin.response, userHandle: 12 } },
        { ...goodLogin, response: { ...goodLogin.response, userHandle: 'x'.repeat(200) } },
        { ...goodLogin, clientExtensionResults: 'x' },
        { ...goodLogin, id: 'A'.repeat(5000), rawId: 'A'.repeat(5000) },
        { ...goodLogin, response: { ...goodLogin.response, clientDataJSON: 'A'.repeat(100_000) } },
        { ...goodLogin, response: { ...goodLogin.response, nested: { deep: [1, { 'a\u0000': 'b' }] } } },
        { ...goodLogin, response: { ...goodLogin.response, authenticatorData: 'a\u0000' } },
      ];
      for (const shape of shapes) {
        for (const [query, variables, token] of [
          [FINISH_LOGIN, { response: shape }, undefined],
          [FINISH_REGISTRATION, { response: shape }, user.accessToken],
        ] as const) {
          const result = await server.gql(query, variables, { token });
          const code = errorCode(result);
          expect([
            JSON.stringify(shape).slice(0, 80),
            result.status < 500,
            [ErrorCode.BAD_USER_INPUT, ErrorCode.INVALID_CREDENTIALS].includes(code as ErrorCode),
          ]).toEqual([JSON.stringify(shape).slice(0, 80), true, true]);
        }
      }
      // Registration-specific parts.
      const registrationShapes: unknown[] = [
        { ...goodRegistration, response: { ...goodRegistration.response, attestationObject: 'AAAA' } },
        {
          ...goodRegistration,
          response: { ...goodRegistration.response, attestationObject: Buffer.from([0xa1, 0x63]).toString('base64url') },
        },
        { ...goodRegistration, response: { ...goodRegistration.response, attestationObject: 7 } },
        { ...goodRegistration, response: { ...goodRegistration.response, transports: 'usb' } },
        { ...goodRegistration, response: { ...goodRegistration.response, transports: [1, 2] } },
        { ...goodRegistration, response: { ...goodRegistration.response, publicKeyAlgorithm: 'x' } },
      ];
      for (const shape of registrationShapes) {
        const result = await server.gql(FINISH_REGISTRATION, { response: shape }, { token: user.accessToken });
        expect([
          result.status < 500,
          [ErrorCode.BAD_USER_INPUT, ErrorCode.INVALID_CREDENTIALS].includes(errorCode(result) as ErrorCode),
        ]).toEqual([true, true]);
      }
      // An object literal in the document (GraphQL makes it without a prototype) is checked like a variable.
      for (const [query, token] of [
        ['mutation { finishPasskeyLogin(response: {id: "x", nested: {a: [1, null]}}) { accessToken } }', undefined],
        ['mutation { finishPasskeyRegistration(response: {id: "x"}, name: "n") { id } }', user.accessToken],
      ] as const) {
        const result = await server.gql(query, undefined, { token });
        expect([result.status, errorCode(result)]).toEqual([200, ErrorCode.BAD_USER_INPUT]);
      }
      // A literal of the wrong type in the document is refused by validation, before any resolver.
      const literal = await server.gql('mutation { finishPasskeyLogin(response: "x") { accessToken } }');
      expect(literal.status).toBeLessThan(500);
      expect(literal.body.errors?.length).toBeGreaterThan(0);
      // Nothing above was stored, and the real credential still signs in.
      expect(await prisma().passkey.count({ where: { userId: user.user.id } })).toBe(1);
      expect((await finishLogin(authenticator.assert(await startLogin(user.email), credential))).body.errors).toBeUndefined();
    });

    it('shape errors name the field: BAD_USER_INPUT with extensions.fields.response', async () => {
      const result = await finishLogin({ id: 'x' });
      expect(errorCode(result)).toBe(ErrorCode.BAD_USER_INPUT);
      expect(result.body.errors![0].extensions!.fields).toEqual({ response: expect.any(String) });
    });
  });
});
