/**
 * An application's own type-graphql resolvers, added through createWarden({ resolvers }), are
 * guarded exactly like Warden's: @auth fields need a viewer (and the role), @public ones do not,
 * a root field with neither or both fails the build, and the SDL printed carries the directives.
 */
import 'reflect-metadata';
import { Ctx, Field, ObjectType, Query, Resolver, Mutation, Arg } from 'type-graphql';
import {
  Auth,
  Public,
  AuthDirectiveError,
  buildWardenSchema,
  printSchema,
  loadConfig,
  createWarden,
  type WardenContext,
} from '../../src/index';
import { errorCode, signupUser, startTestServer, TEST_JWT_SECRET, type TestServer } from '../kit';

@ObjectType()
class Greeting {
  @Field(() => String)
  text!: string;
}

@Resolver()
class GreetingResolver {
  @Query(() => Greeting)
  @Auth()
  greeting(@Ctx() ctx: WardenContext): Greeting {
    return { text: `Hello, ${ctx.viewer!.user.name}` };
  }

  @Query(() => String)
  @Public()
  appStatus(@Ctx() ctx: WardenContext): string {
    return ctx.viewer ? 'signed in' : 'anonymous';
  }

  @Mutation(() => Boolean)
  @Auth('ADMIN')
  resetGreetings(@Arg('confirm', () => Boolean) confirm: boolean): boolean {
    return confirm;
  }
}

@Resolver()
class UnguardedResolver {
  @Query(() => String)
  forgotten(): string {
    return 'leaked';
  }
}

@Resolver()
class DoublyGuardedResolver {
  @Query(() => String)
  @Auth()
  @Public()
  confused(): string {
    return 'which one?';
  }
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ resolvers: [GreetingResolver] });
});
afterAll(() => server?.close());

describe("an application's resolvers on top of Warden", () => {
  it('answers an @auth field anonymously with UNAUTHENTICATED, and with data for a signed-in viewer', async () => {
    const anonymous = await server.gql('{ greeting { text } }');
    expect(errorCode(anonymous)).toBe('UNAUTHENTICATED');
    expect(anonymous.body.data).toBeNull();

    const user = await signupUser(server, { name: 'Ada' });
    const signedIn = await server.gql('{ greeting { text } }', {}, { token: user.accessToken });
    expect(signedIn.body.errors).toBeUndefined();
    expect(signedIn.body.data).toEqual({ greeting: { text: 'Hello, Ada' } });
  });

  it('answers an @auth(requires: ADMIN) field as a USER with FORBIDDEN', async () => {
    const user = await signupUser(server);
    const response = await server.gql('mutation { resetGreetings(confirm: true) }', {}, { token: user.accessToken });
    expect(errorCode(response)).toBe('FORBIDDEN');
  });

  it('answers an expired or revoked token on an application field with the precise code', async () => {
    const user = await signupUser(server);
    await server.gql('mutation { logout }', {}, { token: user.accessToken });
    const response = await server.gql('{ greeting { text } }', {}, { token: user.accessToken });
    expect(errorCode(response)).toBe('SESSION_REVOKED');
  });

  it('opens a @public field to anyone, still knowing the viewer when a token is sent', async () => {
    expect((await server.gql('{ appStatus }')).body.data).toEqual({ appStatus: 'anonymous' });
    const user = await signupUser(server);
    expect((await server.gql('{ appStatus }', {}, { token: user.accessToken })).body.data).toEqual({ appStatus: 'signed in' });
  });

  it("keeps Warden's own fields beside the application's", async () => {
    const user = await signupUser(server, { name: 'Grace' });
    const response = await server.gql('{ me { name } greeting { text } }', {}, { token: user.accessToken });
    expect(response.body.data).toEqual({ me: { name: 'Grace' }, greeting: { text: 'Hello, Grace' } });
  });

  it('refuses to build when an application root field carries neither @auth nor @public, or both', async () => {
    await expect(buildWardenSchema([UnguardedResolver])).rejects.toThrow(
      new AuthDirectiveError('Query.forgotten must carry exactly one of @auth or @public (it has neither)'),
    );
    await expect(buildWardenSchema([DoublyGuardedResolver])).rejects.toThrow(
      /Query\.confused must carry exactly one of @auth or @public \(it has both\)/,
    );
    // The check runs before any database is opened: this one cannot be reached, and opening it
    // first would fail with DatabaseStartError after its connect timeout instead.
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      JWT_SECRET: TEST_JWT_SECRET,
      DATA_DIR: server.config.dataDir,
      DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/nothing',
    });
    await expect(createWarden(config, { resolvers: [UnguardedResolver] })).rejects.toBeInstanceOf(AuthDirectiveError);
  });

  it("prints the application's fields with their directives in the SDL", async () => {
    const sdl = printSchema(await buildWardenSchema([GreetingResolver]));
    expect(sdl).toMatch(/greeting: Greeting! @auth\n/);
    expect(sdl).toMatch(/appStatus: String! @public\n/);
    expect(sdl).toMatch(/resetGreetings\(confirm: Boolean!\): Boolean! @auth\(requires: ADMIN\)\n/);
    expect(sdl).toMatch(/me: User! @auth\(assurance: AAL1\)\n/);
  });
});
