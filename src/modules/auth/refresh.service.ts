/**
 * Refresh-token rotation (API.md §4). Each use spends the presented token and issues a successor
 * in the same session, in one transaction that holds the presented token's row lock:
 *
 * - N parallel refreshes with one token queue on that lock; the first spends it and inserts the
 *   successor, the others then see it spent and either replay that successor (within
 *   REFRESH_REUSE_GRACE, for the immediately previous token only) or end the session (reuse).
 * - The successor pair is kept for the replay only sealed under a key derived from the spent
 *   token (src/lib/seal.ts), which only the token's holder has.
 * - Any failure inside rolls the transaction back: the presented token stays unspent.
 */
import type { Logger } from 'pino';
import type { Prisma, PrismaClient } from '../../generated/prisma/client';
import { AppError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import type { Metrics } from '../../infra/metrics';
import type { Clock } from '../../lib/clock';
import type { AccessTokens } from '../../lib/jwt';
import { openWithToken, sealWithToken } from '../../lib/seal';
import { looksLikeOpaqueToken, newOpaqueToken, sha256 } from '../../lib/tokens';
import type { RequestMeta } from '../../context';
import type { Role } from '../user/role';
import type { UserRow } from '../user/user.service';
import type { AuditService } from './audit.service';
import type { IssuedTokens } from './auth.service';
import type { SessionService } from './session.service';

export interface RefreshServiceDeps {
  prisma: PrismaClient;
  clock: Clock;
  accessTokens: AccessTokens;
  sessions: SessionService;
  audit: AuditService;
  metrics: Metrics;
  logger: Logger;
  refreshTokenTtlMs: number;
  reuseGraceMs: number;
  /** Bounds on the rotation transaction; parallel refreshes of one token queue inside it. */
  transactionTimeoutMs?: number;
  /**
   * Fails closed while the shared store is down (API.md §6): no token is issued then.
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

const SEAL_PURPOSE = 'refresh-successor';

/** The presented token's row, locked, with its session and user (one round trip). */
interface LockedRow {
  id: string;
  sessionId: string;
  expiresAt: Date;
  spentAt: Date | null;
  successorId: string | null;
  successorSealed: Uint8Array | null;
  userId: string;
  revokedAt: Date | null;
  revokedReason: string | null;
  absoluteExpiresAt: Date;
  name: string;
  email: string;
  emailVerified: boolean;
  role: string;
  avatarUrl: string;
  bio: string;
  userCreatedAt: Date;
}

/** What the transaction decided; errors are thrown after it commits, so a reuse revocation sticks. */
type Outcome =
  | { kind: 'rotated'; issued: IssuedTokens }
  | { kind: 'grace'; issued: IssuedTokens }
  | { kind: 'reused'; sessionId: string; userId: string; ended: number }
  | {
      kind: 'refused';
      code: ErrorCode.REFRESH_TOKEN_INVALID | ErrorCode.REFRESH_TOKEN_EXPIRED | ErrorCode.SESSION_REVOKED | ErrorCode.REFRESH_TOKEN_REUSED;
    };

interface SealedPair {
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string;
  refreshTokenExpiresAt: number;
}

export class RefreshService {
  constructor(private readonly deps: RefreshServiceDeps) {}

  /**
   * Spends the presented refresh token and returns the session's next token pair.
   * @throws AppError REFRESH_TOKEN_INVALID (missing, malformed, unknown), REFRESH_TOKEN_EXPIRED
   * (past the idle or absolute lifetime), REFRESH_TOKEN_REUSED (a spent token outside the grace
   * window: its session is now ended), SESSION_REVOKED (the session had ended).
   */
  async rotate(request: RefreshRequest): Promise<IssuedTokens> {
    await this.deps.storeGuard?.requireStore();
    const token = request.refreshToken;
    // Shape first: garbage never reaches the database.
    if (token === undefined || !looksLikeOpaqueToken(token)) return this.refuse(ErrorCode.REFRESH_TOKEN_INVALID);

    const timeout = this.deps.transactionTimeoutMs ?? 10_000;
    const outcome = await this.deps.prisma.$transaction((tx) => this.decide(tx, token, request), {
      maxWait: timeout,
      timeout,
    });

    switch (outcome.kind) {
      case 'rotated':
      case 'grace':
        this.deps.metrics.refreshes.inc({ result: outcome.kind === 'rotated' ? 'ok' : 'grace' });
        await this.deps.audit.record('refresh', {
          userId: outcome.issued.user.id,
          sessionId: outcome.issued.sessionId,
          meta: request.meta,
          detail: outcome.kind === 'grace' ? { grace: true } : undefined,
        });
        return outcome.issued;
      case 'reused':
        this.deps.metrics.refreshes.inc({ result: 'reused' });
        await this.deps.sessions.ended(outcome.userId, 'reuse', outcome.ended);
        this.deps.logger.warn({ sessionId: outcome.sessionId, userId: outcome.userId }, 'refresh token reuse: session ended');
        await this.deps.audit.record('refresh_reuse_detected', { userId: outcome.userId, sessionId: outcome.sessionId, meta: request.meta });
        throw new AppError(ErrorCode.REFRESH_TOKEN_REUSED);
      case 'refused':
        return this.refuse(outcome.code);
    }
  }

  private refuse(code: Extract<Outcome, { kind: 'refused' }>['code']): never {
    const result = {
      [ErrorCode.REFRESH_TOKEN_EXPIRED]: 'expired',
      [ErrorCode.SESSION_REVOKED]: 'revoked',
      [ErrorCode.REFRESH_TOKEN_REUSED]: 'reused',
      [ErrorCode.REFRESH_TOKEN_INVALID]: 'invalid',
    }[code];
    this.deps.metrics.refreshes.inc({ result });
    throw new AppError(code);
  }

  /**
   * Everything that reads or writes the chain, under the presented token's row lock. Only `tx` is
   * used in here: on PGlite, which runs one transaction at a time on its single connection, a
   * query through the root client would wait for this very transaction.
   */
  private async decide(tx: TransactionClient, token: string, request: RefreshRequest): Promise<Outcome> {
    const rows = await tx.$queryRaw<LockedRow[]>`
      SELECT t.id, t."sessionId", t."expiresAt", t."spentAt", t."successorId", t."successorSealed",
             s."userId", s."revokedAt", s."revokedReason", s."absoluteExpiresAt",
             u.name, u.email, u."emailVerified", u.role::text AS role, u."avatarUrl", u.bio, u."createdAt" AS "userCreatedAt"
        FROM "RefreshToken" t
        JOIN "Session" s ON s.id = t."sessionId"
        JOIN "User" u ON u.id = s."userId"
       WHERE t."tokenHash" = ${sha256(token)}
         FOR UPDATE OF t`;
    const row = rows[0];
    if (!row) return { kind: 'refused', code: ErrorCode.REFRESH_TOKEN_INVALID };
    const now = this.deps.clock.now();
    const user: UserRow = {
      id: row.userId,
      name: row.name,
      email: row.email,
      emailVerified: row.emailVerified,
      role: row.role as Role,
      avatarUrl: row.avatarUrl,
      bio: row.bio,
      createdAt: new Date(row.userCreatedAt),
    };

    if (row.revokedAt) {
      // Spent tokens of a session that reuse ended keep answering REUSED (with grace 0, every
      // parallel duplicate of a token is reuse, not just the first to take the lock).
      if (row.spentAt && row.revokedReason === 'reuse') return { kind: 'refused', code: ErrorCode.REFRESH_TOKEN_REUSED };
      return { kind: 'refused', code: ErrorCode.SESSION_REVOKED };
    }
    if (new Date(row.absoluteExpiresAt).getTime() <= now) return { kind: 'refused', code: ErrorCode.REFRESH_TOKEN_EXPIRED };

    if (row.spentAt) {
      const replay = await this.replayWithinGrace(tx, token, row, now);
      if (replay) return { kind: 'grace', issued: { ...replay, sessionId: row.sessionId, user } };
      const ended = await this.deps.sessions.revoke(tx, { id: row.sessionId }, 'reuse');
      return { kind: 'reused', sessionId: row.sessionId, userId: row.userId, ended };
    }

    if (new Date(row.expiresAt).getTime() <= now) {
      // Idle-expired. A valid access token of this very session renews it (API.md §4, third case);
      // the absolute lifetime was checked above and caps the renewal below.
      const claims = request.accessClaims;
      const ownAccessToken = claims !== null && claims.sid === row.sessionId && claims.sub === row.userId;
      if (!ownAccessToken) return { kind: 'refused', code: ErrorCode.REFRESH_TOKEN_EXPIRED };
    }

    return { kind: 'rotated', issued: await this.spend(tx, token, row, user, now, request.meta) };
  }

  /**
   * The successor pair a spent token already produced, when that token is the immediately
   * previous one (its successor is still the current token) and it was spent within the grace
   * window. Anything else — an older ancestor, a window passed, a pair already erased — is reuse.
   */
  private async replayWithinGrace(
    tx: TransactionClient,
    token: string,
    row: LockedRow,
    now: number,
  ): Promise<Omit<IssuedTokens, 'sessionId' | 'user'> | null> {
    if (!row.spentAt || now - new Date(row.spentAt).getTime() >= this.deps.reuseGraceMs) return null;
    if (!row.successorId || !row.successorSealed) return null;
    const successor = await tx.refreshToken.findUnique({ where: { id: row.successorId }, select: { spentAt: true } });
    if (!successor || successor.spentAt) return null;
    const opened = openWithToken(token, SEAL_PURPOSE, row.id, row.successorSealed);
    if (!opened) return null;
    const pair = JSON.parse(opened.toString('utf8')) as SealedPair;
    return {
      accessToken: pair.accessToken,
      accessTokenExpiresAt: new Date(pair.accessTokenExpiresAt),
      refreshToken: pair.refreshToken,
      refreshTokenExpiresAt: new Date(pair.refreshTokenExpiresAt),
    };
  }

  /** Spends the locked token: inserts the successor, seals the pair into the spent row, renews the session. */
  private async spend(tx: TransactionClient, token: string, row: LockedRow, user: UserRow, now: number, meta: RequestMeta): Promise<IssuedTokens> {
    const refreshTokenExpiresAt = new Date(Math.min(now + this.deps.refreshTokenTtlMs, new Date(row.absoluteExpiresAt).getTime()));
    const refreshToken = newOpaqueToken();
    const access = this.deps.accessTokens.sign({ userId: row.userId, sessionId: row.sessionId, role: user.role });
    const successor = await tx.refreshToken.create({
      data: { sessionId: row.sessionId, tokenHash: sha256(refreshToken), createdAt: new Date(now), expiresAt: refreshTokenExpiresAt },
      select: { id: true },
    });
    const pair: SealedPair = {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt.getTime(),
      refreshToken,
      refreshTokenExpiresAt: refreshTokenExpiresAt.getTime(),
    };
    await tx.refreshToken.update({
      where: { id: row.id },
      data: {
        spentAt: new Date(now),
        successorId: successor.id,
        successorSealed: this.deps.reuseGraceMs > 0 ? sealWithToken(token, SEAL_PURPOSE, row.id, Buffer.from(JSON.stringify(pair), 'utf8')) : null,
      },
    });
    await tx.session.update({
      where: { id: row.sessionId },
      data: { lastUsedAt: new Date(now), expiresAt: refreshTokenExpiresAt, ip: meta.ip },
    });
    return {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken,
      refreshTokenExpiresAt,
      sessionId: row.sessionId,
      user,
    };
  }
}

type TransactionClient = Prisma.TransactionClient;
