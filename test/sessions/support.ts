/** Shared pieces of the session tests: operations, token helpers, and reads of the chain's rows. */
import jwt from 'jsonwebtoken';
import { sha256 } from '../../src/lib/tokens';
import { signWithServerKey, type GqlResponse, type TestServer } from '../support/harness';

export const REFRESH = /* GraphQL */ `
  mutation Refresh($refreshToken: String) {
    refreshToken(refreshToken: $refreshToken) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      refreshTokenExpiresAt
      user { id email }
    }
  }
`;

export const LOGOUT = /* GraphQL */ `
  mutation Logout($scope: LogoutScope, $refreshToken: String) {
    logout(scope: $scope, refreshToken: $refreshToken)
  }
`;

export const ME = 'query { me { id email } }';

export interface Pair {
  accessToken: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
}

/** Calls refreshToken; `bearer` goes in the Authorization header, `cookie` in a Cookie header. */
export function refresh(server: TestServer, refreshToken: string | null, options: { bearer?: string; cookie?: string } = {}): Promise<GqlResponse<Record<string, any>>> {
  return server.gql(REFRESH, refreshToken === null ? {} : { refreshToken }, {
    token: options.bearer,
    headers: options.cookie ? { cookie: `refresh_token=${options.cookie}` } : undefined,
  });
}

/** The new pair of a successful refresh; fails the test with the errors otherwise. */
export function pairOf(response: GqlResponse): Pair {
  if (response.body.errors) throw new Error(`refresh failed: ${JSON.stringify(response.body.errors)}`);
  return response.body.data!.refreshToken as Pair;
}

export const sessionIdOf = (accessToken: string): string => (jwt.decode(accessToken) as { sid: string }).sid;

/** A correctly signed copy of an access token, expired ten minutes ago. */
export function expiredCopy(accessToken: string): string {
  const { header, payload } = jwt.decode(accessToken, { complete: true }) as { header: jwt.JwtHeader; payload: jwt.JwtPayload };
  const now = Math.floor(Date.now() / 1000);
  return signWithServerKey({ ...payload, iat: now - 3600, exp: now - 600 }, header as unknown as Record<string, unknown>);
}

export const prismaOf = (server: TestServer) => server.app.infra.database.prisma;

/** Every refresh-token row of a session, oldest first. */
/**
 * A session's refresh tokens in chain order (each row's successor after it). Creation time alone
 * cannot order them: tests freeze the clock, so a token and its successor share a timestamp.
 */
export async function tokenRows(server: TestServer, sessionId: string) {
  const rows = await prismaOf(server).refreshToken.findMany({
    where: { sessionId },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true, tokenHash: true, spentAt: true, successorId: true, successorSealed: true, expiresAt: true },
  });
  const successors = new Set(rows.map((row) => row.successorId).filter(Boolean));
  const byId = new Map(rows.map((row) => [row.id, row]));
  const ordered: typeof rows = [];
  for (const head of rows.filter((row) => !successors.has(row.id))) {
    for (let row: (typeof rows)[number] | undefined = head; row && !ordered.includes(row); row = row.successorId ? byId.get(row.successorId) : undefined) {
      ordered.push(row);
    }
  }
  return ordered.length === rows.length ? ordered : rows;
}

export function tokenRow(server: TestServer, token: string) {
  return prismaOf(server).refreshToken.findUnique({
    where: { tokenHash: sha256(token) },
    select: { id: true, sessionId: true, spentAt: true, successorId: true, successorSealed: true },
  });
}

export function sessionRow(server: TestServer, sessionId: string) {
  return prismaOf(server).session.findUnique({ where: { id: sessionId } });
}

export function auditEvents(server: TestServer, userId: string) {
  return prismaOf(server).authEvent.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } });
}

/** A counter's value in the app's /metrics text. */
export async function metricValue(server: TestServer, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The Set-Cookie header for the refresh cookie, if the response set one. */
export function refreshCookie(response: GqlResponse): string | undefined {
  return response.headers.getSetCookie().find((c) => c.startsWith('refresh_token='));
}

export const cookieValue = (setCookie: string): string => decodeURIComponent(setCookie.split(';')[0].slice('refresh_token='.length));

/**
 * Runs `fn` while inserting a refresh token into this session takes `ms` longer (a trigger in
 * the database), so parallel rotations surely overlap: without the row lock they would fork.
 */
export async function withSlowRotation<T>(server: TestServer, sessionId: string, ms: number, fn: () => Promise<T>): Promise<T> {
  const prisma = prismaOf(server);
  const name = `warden_test_slow_${sessionId.replace(/-/g, '')}`;
  await prisma.$executeRawUnsafe(
    `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${ms / 1000}); RETURN NEW; END $$`,
  );
  await prisma.$executeRawUnsafe(
    `CREATE TRIGGER ${name} BEFORE INSERT ON "RefreshToken" FOR EACH ROW WHEN (NEW."sessionId" = '${sessionId}'::uuid) EXECUTE FUNCTION ${name}()`,
  );
  try {
    return await fn();
  } finally {
    await prisma.$executeRawUnsafe(`DROP TRIGGER IF EXISTS ${name} ON "RefreshToken"`);
    await prisma.$executeRawUnsafe(`DROP FUNCTION IF EXISTS ${name}()`);
  }
}
