/**
 * The assurance matrix, generated from the built schema: every `@auth` root field is called by
 * (a) an AAL1 session of a user with a verified factor and (b) an AAL2 session of that user. (a)
 * must answer MFA_REQUIRED exactly for the fields without `assurance: AAL1`, before any resolver
 * runs; (b) must never answer MFA_REQUIRED. Arguments are filled with placeholder values, so
 * whatever the resolver answers past the directive (NOT_FOUND, BAD_USER_INPUT…) does not matter.
 * A third pass checks the order of the checks: a USER at AAL1 on an ADMIN field gets FORBIDDEN,
 * not MFA_REQUIRED.
 */
import { TOTP } from 'otpauth';
import { isNonNullType, isObjectType } from 'graphql';
import { getDirective } from '@graphql-tools/utils';
import { ErrorCode } from '../../src/errors/error-code';
import { ManualClock } from '../../src/lib/clock';
import { getSchema } from '../../src/schema/build-schema';
import { placeholder, errorCode, selection, signupUser, startTestServer, type TestServer } from '../kit';

describe('the assurance matrix of every @auth root field', () => {
  let server: TestServer;
  const clock = new ManualClock(Math.floor(Date.now() / 30_000) * 30_000 + 1_000);
  beforeAll(async () => {
    server = await startTestServer({ clock });
  });
  afterAll(() => server.close());

  it('answers MFA_REQUIRED at AAL1 for a user with a factor exactly where the field does not allow AAL1, never at AAL2', async () => {
    const schema = await getSchema();
    const user = await signupUser(server);
    const enrolled = await server.gql('mutation { enrollTotp { factorId secret } }', undefined, { token: user.accessToken });
    const { factorId, secret } = enrolled.body.data!.enrollTotp;
    const activated = await server.gql(
      'mutation ($f: ID!, $c: String!) { activateTotp(factorId: $f, code: $c) { auth { accessToken } } }',
      { f: factorId, c: new TOTP({ secret }).generate({ timestamp: clock.now() }) },
      { token: user.accessToken },
    );
    const aal2 = activated.body.data!.activateTotp.auth.accessToken;
    const login = async () =>
      (
        await server.gql('mutation ($i: LoginInput!) { login(input: $i) { accessToken } }', {
          i: { email: user.email, password: user.password },
        })
      ).body.data!.login.accessToken as string;

    let checked = 0;
    for (const root of [schema.getQueryType()!, schema.getMutationType()!]) {
      const kind = root === schema.getQueryType() ? 'query' : 'mutation';
      for (const field of Object.values(root.getFields())) {
        const auth = getDirective(schema, field, 'auth')?.[0] as { requires?: string; assurance?: string } | undefined;
        if (!auth || auth.requires === 'ADMIN') continue;
        const args = field.args.filter((a) => isNonNullType(a.type));
        const decl = args.map((a, i) => `$a${i}: ${a.type.toString()}`).join(', ');
        const use = args.map((a, i) => `${a.name}: $a${i}`).join(', ');
        const operation = `${kind}${decl ? `(${decl})` : ''} { ${field.name}${use ? `(${use})` : ''}${selection(field)} }`;
        const variables = Object.fromEntries(args.map((a, i) => [`a${i}`, placeholder(a.type)]));
        // Fresh tokens per field: a field that ends sessions (removeMfaFactor…) cannot spoil the next.
        const atAal1 = await server.gql(operation, variables, { token: await login() });
        const wantsAal1 = auth.assurance === 'AAL1';
        expect([field.name, errorCode(atAal1) === ErrorCode.MFA_REQUIRED]).toEqual([field.name, !wantsAal1]);
        if (field.name !== 'deleteMe' && field.name !== 'removeMfaFactor' && field.name !== 'logout') {
          const atAal2 = await server.gql(operation, variables, { token: aal2 });
          expect([field.name, errorCode(atAal2)]).not.toEqual([field.name, ErrorCode.MFA_REQUIRED]);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('checks the role before the assurance: a USER at AAL1 with a factor gets FORBIDDEN on ADMIN fields', async () => {
    const schema = await getSchema();
    const user = await signupUser(server);
    const { factorId, secret } = (await server.gql('mutation { enrollTotp { factorId secret } }', undefined, { token: user.accessToken }))
      .body.data!.enrollTotp;
    clock.advance(30_000);
    await server.gql(
      'mutation ($f: ID!, $c: String!) { activateTotp(factorId: $f, code: $c) { recoveryCodes } }',
      { f: factorId, c: new TOTP({ secret }).generate({ timestamp: clock.now() }) },
      { token: user.accessToken },
    );
    const token = (
      await server.gql('mutation ($i: LoginInput!) { login(input: $i) { accessToken } }', {
        i: { email: user.email, password: user.password },
      })
    ).body.data!.login.accessToken;
    const admin = Object.values(schema.getMutationType()!.getFields()).filter(
      (f) => (getDirective(schema, f, 'auth')?.[0] as { requires?: string } | undefined)?.requires === 'ADMIN',
    );
    expect(admin.map((f) => f.name)).toContain('resetUserMfa');
    for (const field of admin) {
      const response = await server.gql(
        `mutation { ${field.name}(userId: "${String(placeholder(field.args[0].type))}"${field.args.length > 1 ? ', role: USER' : ''})${selection(field)} }`,
        undefined,
        { token },
      );
      expect([field.name, errorCode(response)]).toEqual([field.name, ErrorCode.FORBIDDEN]);
    }
    // Anonymous: UNAUTHENTICATED first.
    expect(errorCode(await server.gql('query { mySessions { id } }'))).toBe(ErrorCode.UNAUTHENTICATED);
    expect(isObjectType(schema.getQueryType())).toBe(true);
  });
});
