/** Shared pieces of the session tests: operations, token helpers, and reads of the session rows. */
import jwt from 'jsonwebtoken';
import type { Prisma } from '../../src/generated/prisma/client';
import { REFRESH, signWithServerKey, type GqlResponse, type TestServer } from '../kit';

/** Calls refreshToken; `bearer` goes in the Authorization header, `cookie` in a Cookie header. */
export function refresh(
  server: TestServer,
  refreshToken: string | null,
  options: { bearer?: string; cookie?: string } = {},
): Promise<GqlResponse<Record<string, any>>> {
  return server.gql(REFRESH, refreshToken === null ? {} : { refreshToken }, {
    token: options.bearer,
    headers: options.cookie ? { cookie: `refresh_token=${options.cookie}` } : undefined,
  });
}

/** A correctly signed copy of an access token, expired ten minutes ago. */
export function expiredCopy(accessToken: string): string {
  const { header, payload } = jwt.decode(accessToken, { complete: true }) as { header: jwt.JwtHeader; payload: jwt.JwtPayload };
  const now = Math.floor(Date.now() / 1000);
  return signWithServerKey({ ...payload, iat: now - 3600, exp: now - 600 }, header as unknown as Record<string, unknown>);
}

export const prismaOf = (server: TestServer) => server.app.infra.database.prisma;

/**
 * Makes the server forget the salts it minted refresh tokens under, so its next rotation of each
 * session reads the row first (the read-then-write path) instead of writing at once.
 */
export function forgetKnownSalts(server: TestServer): void {
  (server.app.services.refresh as unknown as { deps: { refreshTokens: { forgetSalts(): void } } }).deps.refreshTokens.forgetSalts();
}

/**
 * Runs `hook` just before the first rotation write (`SET generation`, whether sent after a read
 * or as the one statement of a rotation) goes to the database, as a rival request would. The
 * rotation's statements go through the database's SQL runner; Prisma's raw methods are watched
 * too, so a write moved back to Prisma is still caught. Every other statement passes through
 * untouched, a transaction's included (`this` is its client).
 * @returns whether the hook has fired, and a function that removes it
 */
export function beforeRotationWrite(server: TestServer, hook: () => Promise<unknown>): { fired: () => boolean; restore: () => void } {
  const prisma = prismaOf(server);
  const sql = sqlOf(server);
  let fired = false;
  const isRotationWrite = (text: string) => !fired && text.includes('SET generation');
  const spies: jest.SpyInstance[] = (['$executeRaw', '$queryRaw'] as const).map((method) => {
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const original = prisma[method] as (...args: unknown[]) => Promise<unknown>;
    return jest.spyOn(prisma, method).mockImplementation(function (this: unknown, strings: TemplateStringsArray, ...values: unknown[]) {
      if (!isRotationWrite(strings.join('?'))) return original.call(this, strings, ...values);
      fired = true;
      return hook().then(() => original.call(this, strings, ...values));
    } as never);
  });
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const query = sql.query;
  spies.push(
    jest.spyOn(sql, 'query').mockImplementation(((statement: Prisma.Sql) => {
      if (!isRotationWrite(statement.text)) return query.call(sql, statement);
      fired = true;
      return hook().then(() => query.call(sql, statement));
    }) as never),
  );
  return { fired: () => fired, restore: () => spies.forEach((spy) => spy.mockRestore()) };
}

/** The database's SQL runner, which sends the rotation's statements (Prisma's client is not in between). */
export const sqlOf = (server: TestServer) => server.app.infra.database.sql;

/** A session's refresh-token state: its key's salt, the current generation and when it last moved. */
export function tokenState(server: TestServer, sessionId: string) {
  return prismaOf(server).session.findUnique({
    where: { id: sessionId },
    select: { generation: true, rotatedAt: true, tokenSalt: true, expiresAt: true, revokedAt: true, revokedReason: true },
  });
}

/**
 * Row counts of every table in the database (Prisma's own bookkeeping aside), with the session
 * and audit tables' by name: whatever a refresh could add a row to is in `tables`.
 */
export async function rowCounts(server: TestServer): Promise<{ sessions: number; authEvents: number; tables: Record<string, number> }> {
  const prisma = prismaOf(server);
  const names = await prisma.$queryRaw<Array<{ name: string }>>`
    SELECT table_name AS name FROM information_schema.tables
     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations' ORDER BY 1`;
  const tables: Record<string, number> = {};
  for (const { name } of names) {
    const [row] = await prisma.$queryRawUnsafe<Array<{ n: bigint | number }>>(`SELECT count(*) AS n FROM "${name.replace(/"/g, '""')}"`);
    tables[name] = Number(row.n);
  }
  return { sessions: tables.Session, authEvents: tables.AuthEvent, tables };
}

/** The fields of a counter refresh token, read the way a client could (no key needed). */
export function decodeRefreshToken(token: string): { version: number; sessionId: string; generation: number; bytes: Buffer } {
  const bytes = Buffer.from(token, 'base64url');
  const hex = bytes.subarray(1, 17).toString('hex');
  return {
    version: bytes[0],
    sessionId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
    generation: bytes.readUInt32BE(17),
    bytes,
  };
}

export function sessionRow(server: TestServer, sessionId: string) {
  return prismaOf(server).session.findUnique({ where: { id: sessionId } });
}

export function auditEvents(server: TestServer, userId: string) {
  return prismaOf(server).authEvent.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } });
}

/** The Set-Cookie header for the refresh cookie, if the response set one. */
export function refreshCookie(response: GqlResponse): string | undefined {
  return response.headers.getSetCookie().find((c) => c.startsWith('refresh_token='));
}

export const cookieValue = (setCookie: string): string => decodeURIComponent(setCookie.split(';')[0].slice('refresh_token='.length));

/**
 * Runs `fn` while every update of this session's row takes `ms` longer (a trigger in the
 * database), so parallel rotations surely overlap: without the conditional write they would fork.
 */
export async function withSlowRotation<T>(server: TestServer, sessionId: string, ms: number, fn: () => Promise<T>): Promise<T> {
  const prisma = prismaOf(server);
  const name = `warden_test_slow_${sessionId.replace(/-/g, '')}`;
  await prisma.$executeRawUnsafe(
    `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${ms / 1000}); RETURN NEW; END $$`,
  );
  await prisma.$executeRawUnsafe(
    `CREATE TRIGGER ${name} BEFORE UPDATE ON "Session" FOR EACH ROW WHEN (OLD.id = '${sessionId}'::uuid) EXECUTE FUNCTION ${name}()`,
  );
  try {
    return await fn();
  } finally {
    await prisma.$executeRawUnsafe(`DROP TRIGGER IF EXISTS ${name} ON "Session"`);
    await prisma.$executeRawUnsafe(`DROP FUNCTION IF EXISTS ${name}()`);
  }
}
