/**
 * The typed MFA_REQUIRED reaching Apollo Client and urql through warden/client: `onMfaRequired`
 * is called for an operation refused for its assurance and for a sign-in that says
 * `mfaRequired`, and the AAL2 tokens `verifyMfa` returns are kept, so the retry succeeds.
 */
import { parse } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { TOTP } from 'otpauth';
import { ErrorCode } from '../../src/errors/error-code';
import { ManualClock } from '../../src/lib/clock';
import { DRIVERS } from '../clients/support';
import { signupUser, startTestServer, type TestServer } from '../kit';

const doc = (source: string) => parse(source) as unknown as TypedDocumentNode<any, Record<string, unknown>>;
const SESSIONS = doc('query MySessions { mySessions { id assurance } }');
const LOGIN = doc('mutation Login($input: LoginInput!) { login(input: $input) { accessToken refreshToken assurance mfaRequired } }');
const VERIFY = doc('mutation Verify($code: String!) { verifyMfa(code: $code) { accessToken refreshToken assurance } }');

describe.each(Object.keys(DRIVERS) as Array<keyof typeof DRIVERS>)('onMfaRequired with %s', (name) => {
  let server: TestServer;
  const clock = new ManualClock(Math.floor(Date.now() / 30_000) * 30_000 + 1_000);
  beforeAll(async () => {
    server = await startTestServer({ clock });
  });
  afterAll(() => server.close());

  it('reports the sign-in and the refused operation, keeps the verifyMfa tokens, and the retry succeeds', async () => {
    const user = await signupUser(server);
    const { factorId, secret } = (await server.gql('mutation { enrollTotp { factorId secret } }', undefined, { token: user.accessToken }))
      .body.data!.enrollTotp;
    const totp = new TOTP({ secret });
    await server.gql(
      'mutation ($f: ID!, $c: String!) { activateTotp(factorId: $f, code: $c) { recoveryCodes } }',
      { f: factorId, c: totp.generate({ timestamp: clock.now() }) },
      { token: user.accessToken },
    );

    const client = DRIVERS[name]({ server, fetch: globalThis.fetch });
    const signedIn = await client.mutate(LOGIN, { input: { email: user.email, password: user.password } });
    expect(signedIn.data.login).toMatchObject({ assurance: 'AAL1', mfaRequired: true });
    expect(client.mfaRequired).toEqual([{ reason: 'SIGN_IN' }]);

    const refused = await client.query(SESSIONS);
    expect(refused.code).toBe(ErrorCode.MFA_REQUIRED);
    expect(client.mfaRequired).toHaveLength(2);
    expect(client.mfaRequired[1]).toMatchObject({
      reason: 'MFA_REQUIRED',
      operationName: 'MySessions',
      error: { extensions: { code: 'MFA_REQUIRED' } },
    });
    expect(client.signedOut).toEqual([]);

    clock.advance(30_000);
    const verified = await client.mutate(VERIFY, { code: totp.generate({ timestamp: clock.now() }) });
    expect(verified.data.verifyMfa.assurance).toBe('AAL2');
    expect(client.auth.accessToken).toBe(verified.data.verifyMfa.accessToken);
    const retried = await client.query(SESSIONS);
    expect(retried.code).toBeUndefined();
    expect(retried.data.mySessions.length).toBeGreaterThan(0);
    expect(client.mfaRequired).toHaveLength(2);
  });
});
