/**
 * Starts a real Warden on an ephemeral port for a test file: embedded PGlite (a fresh, migrated
 * copy per server) and the in-process store by default; the real PostgreSQL and Redis when
 * DATABASE_URL / REDIS_URL are set (CI runs the suite both ways).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { DestinationStream } from 'pino';
import { loadConfig, type Config } from '../../src/config';
import type { OpenDatabaseOptions } from '../../src/infra/database';
import type { Mailer } from '../../src/infra/mailer';
import type { Clock } from '../../src/lib/clock';
import type { App } from '../../src/app';
import { createWarden, type WardenOptions } from '../../src/bootstrap';
import { freshPGlite } from './db-template';
import { gqlAt, type Gql, type GqlOptions, type GqlResponse } from '../kit/gql';

export type { Gql, GqlOptions, GqlResponse };

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long!!';

export interface TestServer {
  url: string;
  graphqlUrl: string;
  app: App;
  config: Config;
  gql: Gql;
  close(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  clock?: Clock;
  logDestination?: DestinationStream;
  mailer?: Mailer;
  /** Reuse another server's database and store (a second instance in a two-instance test). */
  shareWith?: TestServer;
  /** Called after each SQL statement of this server's own database client (see openDatabase). */
  onQuery?: OpenDatabaseOptions['onQuery'];
  /** An application's own resolvers, as createWarden() takes them. */
  resolvers?: WardenOptions['resolvers'];
  /** How OAuth providers are called (a fetch trusting a test CA), as createWarden() takes it. */
  oauth?: WardenOptions['oauth'];
}

/** Servers started here and not yet closed (signWithServerKey looks the signing key up among them). */
const liveServers = new Set<TestServer>();

/**
 * Signs `payload` as a running test server would with the key `header.kid` names: HS256 with
 * TEST_JWT_SECRET, ES256 with that server's current private key. Tests use it for correctly
 * signed tokens with claims Warden would not issue (expired ones, mostly).
 */
export function signWithServerKey(payload: Record<string, unknown>, header: Record<string, unknown>): string {
  if (header.alg === 'HS256') return jwt.sign(payload, TEST_JWT_SECRET, { algorithm: 'HS256', header: header as unknown as jwt.JwtHeader });
  for (const server of liveServers) {
    const signing = server.app.services.signingKeys?.signingKey();
    if (signing && signing.kid === header.kid)
      return jwt.sign(payload, signing.key, { algorithm: 'ES256', header: header as unknown as jwt.JwtHeader });
  }
  throw new Error(`no running test server signs with kid ${String(header.kid)}`);
}

export const usingRealServices = () => ({ postgres: Boolean(process.env.DATABASE_URL), redis: Boolean(process.env.REDIS_URL) });

export async function startTestServer(options: StartOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'warden-test-'));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    BCRYPT_COST: '4',
    LOG_LEVEL: options.logDestination ? 'info' : 'silent',
    DATA_DIR: dataDir,
    IP_RATE_LIMIT: '0',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  // A second instance shares the first one's database (never closing it) and, without Redis, its
  // in-process store; with Redis it opens a connection of its own, as a real second instance does.
  const shared = options.shareWith?.app.infra;
  const warden = await createWarden(config, {
    logDestination: options.logDestination,
    clock: options.clock,
    mailer: options.mailer,
    resolvers: options.resolvers,
    oauth: options.oauth,
    ...(shared
      ? { database: { ...shared.database, close: async () => undefined }, store: config.redis ? undefined : shared.store }
      : {
          databaseOptions: config.databaseUrl
            ? { migrate: false, onQuery: options.onQuery }
            : { pglite: await freshPGlite(), ownsPGlite: true, migrate: false, onQuery: options.onQuery },
        }),
  });
  const app = warden.app;
  const { port } = await warden.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${port}`;
  const graphqlUrl = `${url}/graphql`;

  const server: TestServer = {
    url,
    graphqlUrl,
    app,
    config,
    gql: gqlAt(graphqlUrl),
    close: async () => {
      liveServers.delete(server);
      await app.close();
      if (!options.mailer) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  liveServers.add(server);
  return server;
}

export const uniqueEmail = (label = 'user') => `${label}-${randomUUID().slice(0, 12)}@example.test`;

export const SIGNUP = /* GraphQL */ `
  mutation Signup($input: SignupInput!) {
    signup(input: $input) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      refreshTokenExpiresAt
      user {
        id
        name
        email
        role
        emailVerified
        avatarUrl
        bio
        createdAt
      }
    }
  }
`;

export const LOGIN = /* GraphQL */ `
  mutation Login($input: LoginInput!) {
    login(input: $input) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      refreshTokenExpiresAt
      user {
        id
        name
        email
        role
      }
    }
  }
`;

export interface SignedUp {
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  user: { id: string; name: string; email: string; role: string };
}

/** Signs a new user up through the API and returns their tokens. */
export async function signupUser(server: TestServer, input: { email?: string; password?: string; name?: string } = {}): Promise<SignedUp> {
  const email = input.email ?? uniqueEmail();
  const password = input.password ?? 'correct horse battery';
  const result = await server.gql(SIGNUP, { input: { email, password, name: input.name ?? 'Test User' } });
  if (result.body.errors) throw new Error(`signup failed: ${JSON.stringify(result.body.errors)}`);
  const payload = result.body.data!.signup;
  return { email, password, accessToken: payload.accessToken, refreshToken: payload.refreshToken, user: payload.user };
}

export function errorCode(response: GqlResponse): unknown {
  return response.body.errors?.[0]?.extensions?.code;
}
