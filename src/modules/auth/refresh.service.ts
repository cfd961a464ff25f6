/**
 * Refresh-token rotation (docs/api.md §4). Each use spends the presented token and issues a successor
 * in the same session.
 *
 * The plain case — the token unspent, its session live — costs two statements and no
 * transaction: one read (token, session and user), then one write whose first step spends the
 * token only if it is still unspent, and whose other steps (the successor, the session's renewal,
 * the audit row) run only if it did. A statement is atomic, so a failure leaves the token unspent;
 * and under READ COMMITTED a second writer of the same row waits for the first to commit and then
 * re-checks `"spentAt" IS NULL`, so exactly one spends it.
 *
 * Everything else runs in one transaction that holds the presented token's row lock: a token
 * already spent at the read, or spent between the read and the write (the write changed nothing):
 *
 * - N parallel refreshes with one token queue on that lock; the first spends it and inserts the
 *   successor, the others then see it spent and either replay that successor (within
 *   REFRESH_REUSE_GRACE, for the immediately previous token only) or end the session (reuse).
 * - The successor pair is kept for the replay only sealed under a key derived from the spent
 *   token (src/lib/seal.ts), which only the token's holder has.
 * - Any failure inside rolls the transaction back: the presented token stays unspent.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Prisma, type PrismaClient } from '../../generated/prisma/client';
import { AppError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import type { Metrics } from '../../infra/metrics';
import type { Clock } from '../../lib/clock';
import type { AccessTokens } from '../../lib/jwt';
import { openWithToken, sealWithToken } from '../../lib/seal';
import { looksLikeOpaqueToken, newOpaqueToken, sha256 } from '../../lib/tokens';
import type { RequestMeta } from '../../domain/types';
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

const SEAL_PURPOSE = 'refresh-successor';
/** As AuditService keeps it. */
const MAX_AUDIT_USER_AGENT = 512;

/** The presented token's row with its session and user (one round trip); locked in the slow path. */
interface TokenRow {
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

/** What a token's row alone decides, before anything is written. */
type Verdict =
  | { kind: 'rotate' }
  | { kind: 'spent' }
  | { kind: 'refused'; code: Extract<Outcome, { kind: 'refused' }>['code'] };

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
    const token = request.refreshToken;
    // The store check (a round trip to Redis) runs beside the read; nothing is written, let alone
    // issued, until it has answered, and when it fails that failure is what the caller sees.
    const storeReady = this.deps.storeGuard?.requireStore();
    // Shape first: garbage never reaches the database.
    if (token === undefined || !looksLikeOpaqueToken(token)) {
      await storeReady;
      return this.refuse(ErrorCode.REFRESH_TOKEN_INVALID);
    }
    const [store, read] = await Promise.allSettled([storeReady, this.read(this.deps.prisma, token, false)]);
    if (store.status === 'rejected') throw store.reason;
    if (read.status === 'rejected') throw read.reason;

    const row = read.value;
    if (!row) return this.refuse(ErrorCode.REFRESH_TOKEN_INVALID);
    const now = this.deps.clock.now();
    const verdict = judge(row, now, request);
    if (verdict.kind === 'refused') return this.refuse(verdict.code);
    if (verdict.kind === 'rotate') {
      const issued = await this.spendIfUnspent(token, row, now, request.meta);
      if (issued) {
        this.deps.metrics.refreshes.inc({ result: 'ok' });
        return issued;
      }
      // Spent (or its session ended) since the read: the locked path sees which, and answers it.
    }
    return this.rotateLocked(token, request);
  }

  /**
   * The presented token's row with its session and user: unlocked and outside any transaction on
   * the fast path, or under the row's lock inside the slow path's transaction.
   */
  private async read(db: PrismaClient | TransactionClient, token: string, lock: boolean): Promise<TokenRow | undefined> {
    const rows = await db.$queryRaw<TokenRow[]>`
      SELECT t.id, t."sessionId", t."expiresAt", t."spentAt", t."successorId", t."successorSealed",
             s."userId", s."revokedAt", s."revokedReason", s."absoluteExpiresAt",
             u.name, u.email, u."emailVerified", u.role::text AS role, u."avatarUrl", u.bio, u."createdAt" AS "userCreatedAt"
        FROM "RefreshToken" t
        JOIN "Session" s ON s.id = t."sessionId"
        JOIN "User" u ON u.id = s."userId"
       WHERE t."tokenHash" = ${sha256(token)}
       ${lock ? Prisma.sql`FOR UPDATE OF t` : Prisma.empty}`;
    return rows[0];
  }

  /**
   * The plain rotation in one statement: spends the token if it is still unspent and its session
   * was not ended, and only then inserts the successor, renews the session and records the audit
   * event (the columns AuditService writes; `detail` stays NULL as for any plain rotation). Every
   * value is made here first: the successor's id, so the spent row can name it and the sealed pair
   * can be bound to the spent row's id. The audit row is part of the statement, so unlike
   * AuditService.record() its failure fails the rotation — which leaves the token unspent.
   * @returns the new pair, or null when the write changed nothing (spent or ended since the read).
   */
  private async spendIfUnspent(token: string, row: TokenRow, now: number, meta: RequestMeta): Promise<IssuedTokens | null> {
    const next = this.nextPair(token, row, now);
    const at = new Date(now);
    const spent = await this.deps.prisma.$queryRaw<Array<{ sessionId: string }>>`
      WITH spent AS (
        UPDATE "RefreshToken" t
           SET "spentAt" = ${at}::timestamptz, "successorId" = ${next.successorId}::uuid, "successorSealed" = ${next.sealed}::bytea
         WHERE t.id = ${row.id}::uuid
           AND t."spentAt" IS NULL
           AND NOT EXISTS (SELECT 1 FROM "Session" s WHERE s.id = t."sessionId" AND s."revokedAt" IS NOT NULL)
        RETURNING t."sessionId"
      ), successor AS (
        INSERT INTO "RefreshToken" (id, "sessionId", "tokenHash", "createdAt", "expiresAt")
        SELECT ${next.successorId}::uuid, spent."sessionId", ${sha256(next.issued.refreshToken)}, ${at}::timestamptz, ${next.issued.refreshTokenExpiresAt}::timestamptz
          FROM spent
      ), session AS (
        UPDATE "Session"
           SET "lastUsedAt" = ${at}::timestamptz, "expiresAt" = ${next.issued.refreshTokenExpiresAt}::timestamptz, ip = ${meta.ip}
         WHERE id = ${row.sessionId}::uuid AND "revokedAt" IS NULL AND EXISTS (SELECT 1 FROM spent)
      ), audit AS (
        INSERT INTO "AuthEvent" (id, type, "userId", "sessionId", ip, "userAgent")
        SELECT ${randomUUID()}::uuid, 'refresh', ${row.userId}::uuid, spent."sessionId", ${meta.ip}, ${meta.userAgent?.slice(0, MAX_AUDIT_USER_AGENT) ?? null}
          FROM spent
      )
      SELECT "sessionId" FROM spent`;
    return spent.length === 1 ? next.issued : null;
  }

  /** The locked path: every case but the plain rotation, and the plain rotation that lost a race. */
  private async rotateLocked(token: string, request: RefreshRequest): Promise<IssuedTokens> {
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
    const row = await this.read(tx, token, true);
    if (!row) return { kind: 'refused', code: ErrorCode.REFRESH_TOKEN_INVALID };
    const now = this.deps.clock.now();
    const verdict = judge(row, now, request);
    if (verdict.kind === 'refused') return verdict;
    if (verdict.kind === 'spent') {
      const replay = await this.replayWithinGrace(tx, token, row, now);
      if (replay) return { kind: 'grace', issued: { ...replay, sessionId: row.sessionId, user: userOf(row) } };
      const ended = await this.deps.sessions.revoke(tx, { id: row.sessionId }, 'reuse');
      return { kind: 'reused', sessionId: row.sessionId, userId: row.userId, ended };
    }
    return { kind: 'rotated', issued: await this.spend(tx, token, row, now, request.meta) };
  }

  /**
   * The successor pair a spent token already produced, when that token is the immediately
   * previous one (its successor is still the current token) and it was spent within the grace
   * window. Anything else — an older ancestor, a window passed, a pair already erased — is reuse.
   */
  private async replayWithinGrace(
    tx: TransactionClient,
    token: string,
    row: TokenRow,
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
  private async spend(tx: TransactionClient, token: string, row: TokenRow, now: number, meta: RequestMeta): Promise<IssuedTokens> {
    const next = this.nextPair(token, row, now);
    await tx.refreshToken.create({
      data: {
        id: next.successorId,
        sessionId: row.sessionId,
        tokenHash: sha256(next.issued.refreshToken),
        createdAt: new Date(now),
        expiresAt: next.issued.refreshTokenExpiresAt,
      },
      select: { id: true },
    });
    await tx.refreshToken.update({
      where: { id: row.id },
      data: { spentAt: new Date(now), successorId: next.successorId, successorSealed: next.sealed },
    });
    await tx.session.update({
      where: { id: row.sessionId },
      data: { lastUsedAt: new Date(now), expiresAt: next.issued.refreshTokenExpiresAt, ip: meta.ip },
    });
    return next.issued;
  }

  /**
   * The successor of `row`'s token, made before anything is written: its id, the new pair, and the
   * pair sealed for the grace replay under the spent token, bound to the spent row's id.
   */
  private nextPair(token: string, row: TokenRow, now: number): { successorId: string; issued: IssuedTokens; sealed: Uint8Array<ArrayBuffer> | null } {
    const refreshTokenExpiresAt = new Date(Math.min(now + this.deps.refreshTokenTtlMs, new Date(row.absoluteExpiresAt).getTime()));
    const refreshToken = newOpaqueToken();
    const user = userOf(row);
    const access = this.deps.accessTokens.sign({ userId: row.userId, sessionId: row.sessionId, role: user.role });
    const pair: SealedPair = {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt.getTime(),
      refreshToken,
      refreshTokenExpiresAt: refreshTokenExpiresAt.getTime(),
    };
    return {
      successorId: randomUUID(),
      issued: {
        accessToken: access.token,
        accessTokenExpiresAt: access.expiresAt,
        refreshToken,
        refreshTokenExpiresAt,
        sessionId: row.sessionId,
        user,
      },
      sealed: this.deps.reuseGraceMs > 0 ? sealWithToken(token, SEAL_PURPOSE, row.id, Buffer.from(JSON.stringify(pair), 'utf8')) : null,
    };
  }
}

/**
 * What the presented token's row decides (docs/api.md §4), the same with or without its lock: ended or
 * past a lifetime → refused; spent → the locked path's grace replay or reuse; else rotate.
 */
function judge(row: TokenRow, now: number, request: RefreshRequest): Verdict {
  if (row.revokedAt) {
    // Spent tokens of a session that reuse ended keep answering REUSED (with grace 0, every
    // parallel duplicate of a token is reuse, not just the first to take the lock).
    if (row.spentAt && row.revokedReason === 'reuse') return { kind: 'refused', code: ErrorCode.REFRESH_TOKEN_REUSED };
    return { kind: 'refused', code: ErrorCode.SESSION_REVOKED };
  }
  if (new Date(row.absoluteExpiresAt).getTime() <= now) return { kind: 'refused', code: ErrorCode.REFRESH_TOKEN_EXPIRED };
  if (row.spentAt) return { kind: 'spent' };
  if (new Date(row.expiresAt).getTime() <= now) {
    // Idle-expired. A valid access token of this very session renews it (docs/api.md §4, third case);
    // the absolute lifetime was checked above and caps the renewal.
    const claims = request.accessClaims;
    const ownAccessToken = claims !== null && claims.sid === row.sessionId && claims.sub === row.userId;
    if (!ownAccessToken) return { kind: 'refused', code: ErrorCode.REFRESH_TOKEN_EXPIRED };
  }
  return { kind: 'rotate' };
}

function userOf(row: TokenRow): UserRow {
  return {
    id: row.userId,
    name: row.name,
    email: row.email,
    emailVerified: row.emailVerified,
    role: row.role as Role,
    avatarUrl: row.avatarUrl,
    bio: row.bio,
    createdAt: new Date(row.userCreatedAt),
  };
}

type TransactionClient = Prisma.TransactionClient;
