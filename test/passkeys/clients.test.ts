/**
 * A passkey sign-in through warden/client with Apollo Client and urql, using the SDK's typed
 * documents: the client keeps the AAL2 tokens finishPasskeyLogin returns (as it keeps login's),
 * so the next operation is signed in without the app calling signIn.
 */
import {
  FinishPasskeyLoginDocument,
  MyPasskeysDocument,
  StartPasskeyLoginDocument,
  StartPasskeyRegistrationDocument,
  FinishPasskeyRegistrationDocument,
} from '@warden/client';
import { DRIVERS } from '../clients/support';
import { SoftwareAuthenticator } from '../support/webauthn-authenticator';
import { signupUser, startTestServer, type TestServer } from '../kit';

describe.each(Object.keys(DRIVERS) as Array<keyof typeof DRIVERS>)('passkey sign-in with %s', (name) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('registers with the typed documents, signs in without an email, and keeps the AAL2 tokens', async () => {
    const user = await signupUser(server);
    const authenticator = new SoftwareAuthenticator('http://localhost:4000');
    const client = DRIVERS[name]({ server, fetch: globalThis.fetch });
    await client.auth.signIn({ accessToken: user.accessToken, refreshToken: user.refreshToken });
    const options = await client.mutate(StartPasskeyRegistrationDocument);
    const { response } = authenticator.register(options.data!.startPasskeyRegistration);
    const registered = await client.mutate(FinishPasskeyRegistrationDocument, { response: response as never, name: 'laptop' });
    expect(registered.data!.finishPasskeyRegistration).toMatchObject({ name: 'laptop', backedUp: false });
    await client.auth.clear();

    const started = await client.mutate(StartPasskeyLoginDocument, {});
    const signedIn = await client.mutate(FinishPasskeyLoginDocument, {
      response: authenticator.assert(started.data!.startPasskeyLogin) as never,
    });
    expect(signedIn.data!.finishPasskeyLogin).toMatchObject({ assurance: 'AAL2', mfaRequired: false, user: { id: user.user.id } });
    expect(client.auth.accessToken).toBe(signedIn.data!.finishPasskeyLogin.accessToken);
    const listed = await client.query(MyPasskeysDocument);
    expect(listed.code).toBeUndefined();
    expect(listed.data!.myPasskeys).toHaveLength(1);
  });
});
