/**
 * Refresh-token rotation (docs/api.md §4) with counter tokens (src/lib/refresh-token.ts): a token names
 * its session and a generation; the session row holds the current generation. So a session costs
 * one row whatever the number of rotations, and every earlier generation is known to be spent for
 * as long as the session lives.
 *
 * A rotation of generation n is one indexed read of the session row (salt, generation, state and
 * the user) and one conditional UPDATE, no transaction — or, when this process minted the token and
 * still knows the salt it used, the UPDATE alone (returning the row), with the read only when that
 * changes nothing:
 *
 *   UPDATE "Session" SET generation = n + 1, … WHERE id = $sid AND generation = n AND "tokenSalt" = $salt
 *                                           AND "revokedAt" IS NULL AND "absoluteExpiresAt" > now
 *
 * Under READ COMMITTED a second writer of the row waits for the first to commit and re-checks the
 * WHERE clause, so of N parallel rotations of one token exactly one moves the generation; the
 * others change nothing, read the row again and are answered as what they now are: the immediately
 * previous generation (the grace replay, or reuse outside it). Every write that ends or re-keys a
 * session (logout, revocation, reuse, changePassword, resetPassword) changes `revokedAt` or
 * `tokenSalt` in one statement, so a rotation racing it either committed first — and its successor
 * dies with the session or the old salt — or fails its WHERE clause.
 *
 * Grace: within REFRESH_REUSE_GRACE of the last rotation the previous generation's holder gets the
 * same successor (recomputed from the key, nothing stored) and a fresh access token of the session.
 *
 * Tokens of the format before counter tokens (hashes in a table dropped since, docs/refresh-tokens.md)
 * are just malformed now: REFRESH_TOKEN_INVALID, with no database access.
 */
import type { Logger } from 'pino';
import { Prisma, type PrismaClient } from '../../generated/prisma/client';
import { AppError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import type { SqlRunner } from '../../infra/database';
import type { Metrics } from '../../infra/metrics';
import type { Clock } from '../../lib/clock';
import type { AccessTokens } from '../../lib/jwt';
import { MAX_GENERATION, REFRESH_TOKEN_LENGTH, type ParsedRefreshToken, type RefreshTokenCodec } from '../../lib/refresh-token';
import type { RequestMeta } from '../../domain/types';
import type { Role, UserRow } from '../user';
import type { AuditService } from '../security';
import type { IssuedTokens } from './issue-tokens';
import type { SessionService } from './session.service';

export interface RefreshServiceDeps {
  prisma: PrismaClient;
  /** The rotation's own statements, without Prisma's client in between (its hottest path). */
  sql: SqlRunner;
  clock: Clock;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokenCodec;
  sessions: SessionService;
  audit: AuditService;
  metrics: Metrics;
  logger: Logger;
  refreshTokenTtlMs: number;
  reuseGraceMs: number;
  /** AUDIT_REFRESH: an audit row for every plain rotation and grace replay too. */
  auditRefresh?: boolean;
  /**
   * Fails closed while the shared store is down (docs/api.md §6): no token is issued then.
   * @throws StoreUnavailableError
   */
  storeGuard?: { requireStore(): Promise<void> };
}

export interface RefreshRequest {
  /** The refresh token from the argument or the cookie; anything, as the client sent it. */
  refreshToken: string | undefined;
  /** {sub, sid} of a correctly signed, unexpired access token sent with the request, if any. */
  accessClaims: { sub: string; sid: string } | null;
  meta: RequestMeta;
}

/** The session row with its user, as one read returns it. */
interface SessionRow {
  id: string;
  userId: string;
  tokenSalt: Uint8Array;
  generation: number;
  rotatedAt: Date | null;
  expiresAt: Date;
  absoluteExpiresAt: Date;
  revokedAt: Date | null;
  revokedReason: string | null;
  /** The session's assurance and methods: a refresh keeps them. */
  aal: string;
  amr: string[] | null;
  mfaEnabled: boolean;
  name: string;
  email: string;
  emailVerified: boolean;
  role: string;
  avatarUrl: string;
  bio: string;
  userCreatedAt: Date;
}

type RefusalCode =
  ErrorCode.REFRESH_TOKEN_INVALID | ErrorCode.REFRESH_TOKEN_EXPIRED | ErrorCode.SESSION_REVOKED | ErrorCode.REFRESH_TOKEN_REUSED;

/** A row changed by a rotation that lost its race is read again; more rounds than this mean a bug. */
const MAX_ROUNDS = 3;

export class RefreshService {
  constructor(private readonly deps: RefreshServiceDeps) {}

  /**
   * Spends the presented refresh token and returns the session's next token pair.
   * @throws AppError REFRESH_TOKEN_INVALID (missing, malformed, forged, unknown), REFRESH_TOKEN_EXPIRED
   * (past the idle or absolute lifetime), REFRESH_TOKEN_REUSED (an earlier generation outside the
   * grace window: its session is now ended), SESSION_REVOKED (the session had ended).
   */
  async rotate(request: RefreshRequest): Promise<IssuedTokens> {
    const token = request.refreshToken;
    // The store check (a round trip to Redis) runs beside the read; nothing is written, let alone
    // issued, until it has answered (every write below awaits `storeReady` first), and when it
    // fails that failure is what the caller sees, with the token unspent (docs/api.md §6).
    const storeReady: Promise<void> = this.deps.storeGuard?.requireStore() ?? Promise.resolve();
    // Observed below and by each write; this only keeps a rejection that comes while the read is
    // still in flight from counting as unhandled.
    storeReady.catch(() => undefined);
    // The grace window is judged by when the request came in, not by when its read got through a
    // busy pool: a duplicate sent together with the winning rotation is a parallel duplicate.
    const receivedAt = this.deps.clock.now();
    // Checked without the database: length, alphabet, version and the secret-keyed check.
    const parsed = token !== undefined && token.length === REFRESH_TOKEN_LENGTH ? this.deps.refreshTokens.parse(token) : null;
    if (!parsed) {
      await storeReady;
      return this.refuse(ErrorCode.REFRESH_TOKEN_INVALID);
    }
    const work = this.rotateCounter(parsed, request, receivedAt, storeReady);
    const [store, result] = await Promise.allSettled([storeReady, work]);
    if (store.status === 'rejected') throw store.reason;
    if (result.status === 'rejected') throw result.reason;
    return result.value;
  }

  /** Awaits `storeReady` before anything is written or issued: a store that is down leaves the token unspent. */
  private async rotateCounter(
    parsed: ParsedRefreshToken,
    request: RefreshRequest,
    receivedAt: number,
    storeReady: Promise<void>,
  ): Promise<IssuedTokens> {
    // The common case in one statement: the salt this process last minted the session's token
    // under, if the tag verifies under it, stands in for the read. The statement requires the row
    // to be exactly as a plain rotation of generation n needs (that salt, generation n, live, not
    // idle-expired); anything else changes nothing and takes the read below, which answers it.
    const knownSalt = this.deps.refreshTokens.knownSalt(parsed.sessionId);
    if (knownSalt && parsed.generation < MAX_GENERATION && this.deps.refreshTokens.verifyTag(parsed, knownSalt)) {
      await storeReady;
      const issued = await this.advanceKnown(parsed, knownSalt, request.meta);
      if (issued) return issued;
    }
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      const row = await this.readSession(parsed.sessionId);
      // An unknown session and a tag that does not verify under its salt answer alike.
      if (!row || !this.deps.refreshTokens.verifyTag(parsed, row.tokenSalt)) return this.refuse(ErrorCode.REFRESH_TOKEN_INVALID);
      const now = this.deps.clock.now();
      const n = parsed.generation;
      if (row.revokedAt) {
        // Earlier tokens of a session that reuse ended keep answering REUSED (with grace 0 every
        // parallel duplicate of a token is reuse, not just the first to lose the race).
        return this.refuse(
          n < row.generation && row.revokedReason === 'reuse' ? ErrorCode.REFRESH_TOKEN_REUSED : ErrorCode.SESSION_REVOKED,
        );
      }
      if (row.absoluteExpiresAt.getTime() <= now) return this.refuse(ErrorCode.REFRESH_TOKEN_EXPIRED);
      if (n > row.generation) return this.refuse(ErrorCode.REFRESH_TOKEN_INVALID); // never issued under this salt
      if (n < row.generation) {
        await storeReady;
        if (n === row.generation - 1 && this.withinGrace(row, receivedAt)) return this.replay(row, request.meta);
        return this.reused(row, request.meta);
      }
      if (row.expiresAt.getTime() <= now && !this.ownAccessToken(row, request)) return this.refuse(ErrorCode.REFRESH_TOKEN_EXPIRED);
      if (n >= MAX_GENERATION) return this.refuse(ErrorCode.REFRESH_TOKEN_EXPIRED);
      await storeReady;
      const issued = await this.advance(row, now, request.meta);
      if (issued) return issued;
      // Another write changed the row since the read: answer as what the token now is.
    }
    throw new Error(`refresh rotation did not settle after ${MAX_ROUNDS} rounds`);
  }

  /** The one conditional write of a rotation; null when the row changed since it was read. */
  private async advance(row: SessionRow, now: number, meta: RequestMeta): Promise<IssuedTokens | null> {
    const at = new Date(now);
    const expiresAt = this.renewedExpiry(row, now);
    const next = row.generation + 1;
    const changed = await this.deps.sql.query(Prisma.sql`
      UPDATE "Session"
         SET generation = ${next}, "rotatedAt" = ${at}, "lastUsedAt" = ${at}, "expiresAt" = ${expiresAt}, ip = ${meta.ip}
       WHERE id = ${row.id}::uuid AND generation = ${row.generation} AND "tokenSalt" = ${row.tokenSalt}
         AND "revokedAt" IS NULL AND "absoluteExpiresAt" > ${at}
      RETURNING id`);
    if (changed.length !== 1) return null;
    this.deps.metrics.refreshes.inc({ result: 'ok' });
    if (this.deps.auditRefresh) await this.deps.audit.record('refresh', { userId: row.userId, sessionId: row.id, meta });
    return this.issue(row, next, expiresAt);
  }

  /**
   * A rotation of generation n of a session whose salt is known, as one conditional statement
   * that also returns the row and its user; null when the row is not in that state (or another
   * rotation won), so the caller reads it and answers as what the token now is.
   */
  private async advanceKnown(parsed: ParsedRefreshToken, salt: Uint8Array, meta: RequestMeta): Promise<IssuedTokens | null> {
    const now = this.deps.clock.now();
    const at = new Date(now);
    const [row] = await this.deps.sql.query<SessionRow>(Prisma.sql`
      UPDATE "Session" s
         SET generation = ${parsed.generation + 1}, "rotatedAt" = ${at}, "lastUsedAt" = ${at}, ip = ${meta.ip},
             "expiresAt" = LEAST(${new Date(now + this.deps.refreshTokenTtlMs)}::timestamptz, s."absoluteExpiresAt")
        FROM "User" u
       WHERE s.id = ${parsed.sessionId}::uuid AND u.id = s."userId" AND s.generation = ${parsed.generation} AND s."tokenSalt" = ${salt}
         AND s."revokedAt" IS NULL AND s."absoluteExpiresAt" > ${at} AND s."expiresAt" > ${at}
      RETURNING ${SESSION_COLUMNS}`);
    if (!row) return null;
    this.deps.metrics.refreshes.inc({ result: 'ok' });
    if (this.deps.auditRefresh) await this.deps.audit.record('refresh', { userId: row.userId, sessionId: row.id, meta });
    return this.issue(row, row.generation, row.expiresAt);
  }

  /** The previous generation within the grace window: the successor again, and a fresh access token. */
  private async replay(row: SessionRow, meta: RequestMeta): Promise<IssuedTokens> {
    this.deps.metrics.refreshes.inc({ result: 'grace' });
    if (this.deps.auditRefresh)
      await this.deps.audit.record('refresh', { userId: row.userId, sessionId: row.id, meta, detail: { grace: true } });
    return this.issue(row, row.generation, row.expiresAt);
  }

  /** A spent token outside the grace rule: ends its session (that one only) and answers REUSED. */
  private async reused(row: SessionRow, meta: RequestMeta): Promise<never> {
    const ended = await this.deps.sessions.revoke(this.deps.prisma, { id: row.id }, 'reuse');
    this.deps.metrics.refreshes.inc({ result: 'reused' });
    await this.deps.sessions.ended(row.userId, 'reuse', ended);
    this.deps.logger.warn({ sessionId: row.id, userId: row.userId }, 'refresh token reuse: session ended');
    await this.deps.audit.record('refresh_reuse_detected', { userId: row.userId, sessionId: row.id, meta });
    throw new AppError(ErrorCode.REFRESH_TOKEN_REUSED);
  }

  private async readSession(sessionId: string): Promise<SessionRow | undefined> {
    const [row] = await this.deps.sql.query<SessionRow>(Prisma.sql`
      SELECT ${SESSION_COLUMNS}
        FROM "Session" s JOIN "User" u ON u.id = s."userId"
       WHERE s.id = ${sessionId}::uuid`);
    return row;
  }

  /** Did the request come in within REFRESH_REUSE_GRACE after the last rotation (or before it)? */
  private withinGrace(row: SessionRow, receivedAt: number): boolean {
    // Grace 0: every repeat is reuse, a parallel duplicate that came in before the rotation included.
    if (this.deps.reuseGraceMs <= 0) return false;
    return row.rotatedAt !== null && receivedAt - row.rotatedAt.getTime() < this.deps.reuseGraceMs;
  }

  /** Idle-expired, but a valid access token of this very session renews it (docs/api.md §4, third case). */
  private ownAccessToken(row: SessionRow, request: RefreshRequest): boolean {
    const claims = request.accessClaims;
    return claims !== null && claims.sid === row.id && claims.sub === row.userId;
  }

  private renewedExpiry(row: SessionRow, now: number): Date {
    return new Date(Math.min(now + this.deps.refreshTokenTtlMs, row.absoluteExpiresAt.getTime()));
  }

  private issue(row: SessionRow, generation: number, refreshTokenExpiresAt: Date): IssuedTokens {
    const user = userOf(row);
    const aal = row.aal === 'aal2' ? 'aal2' : 'aal1';
    const access = this.deps.accessTokens.sign({ userId: row.userId, sessionId: row.id, role: user.role, aal, amr: row.amr ?? ['pwd'] });
    return {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken: this.deps.refreshTokens.mint(row.id, row.tokenSalt, generation),
      refreshTokenExpiresAt,
      sessionId: row.id,
      user,
      aal,
      mfaRequired: row.mfaEnabled && aal !== 'aal2',
    };
  }

  private refuse(code: RefusalCode): never {
    const result = {
      [ErrorCode.REFRESH_TOKEN_EXPIRED]: 'expired',
      [ErrorCode.SESSION_REVOKED]: 'revoked',
      [ErrorCode.REFRESH_TOKEN_REUSED]: 'reused',
      [ErrorCode.REFRESH_TOKEN_INVALID]: 'invalid',
    }[code];
    this.deps.metrics.refreshes.inc({ result });
    throw new AppError(code);
  }
}

const SESSION_COLUMNS = Prisma.sql`s.id, s."userId", s."tokenSalt", s.generation, s."rotatedAt", s."expiresAt", s."absoluteExpiresAt",
       s."revokedAt", s."revokedReason", s.aal, s.amr, u."mfaEnabled",
       u.name, u.email, u."emailVerified", u.role::text AS role, u."avatarUrl", u.bio, u."createdAt" AS "userCreatedAt"`;

function userOf(row: SessionRow): UserRow {
  return {
    id: row.userId,
    name: row.name,
    email: row.email,
    emailVerified: row.emailVerified,
    role: row.role as Role,
    avatarUrl: row.avatarUrl,
    bio: row.bio,
    createdAt: row.userCreatedAt,
  };
}
