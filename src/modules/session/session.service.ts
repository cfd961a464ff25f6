/**
 * Sessions: one per signed-in device. A session row carries the idle and absolute lifetimes and
 * its refresh-token state (the key's salt and the current generation, src/lib/refresh-token.ts);
 * nothing in it makes a token without JWT_SECRET. Here: opening, checking, listing, re-keying and
 * ending sessions. Rotating their refresh tokens is refresh.service.ts.
 */
import { randomUUID } from 'node:crypto';
import { Prisma, type PrismaClient } from '../../generated/prisma/client';
import type { SqlRunner } from '../../infra/database';
import type { Clock } from '../../lib/clock';
import { isUuid } from '../../lib/tokens';
import { newSessionSalt, REFRESH_TOKEN_LENGTH, type RefreshTokenCodec } from '../../lib/refresh-token';
import { AppError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import type { Metrics } from '../../infra/metrics';
import { USER_COLUMNS } from '../user';
import type { Assurance, RequestMeta, ViewerUser } from '../../domain/types';
import type { AuditService } from '../security';
import type { ViewerCache } from './viewer-cache';

export interface SessionServiceDeps {
  prisma: PrismaClient;
  /** The per-request check's statement, without Prisma's client in between (the hottest read). */
  sql: SqlRunner;
  clock: Clock;
  refreshTokens: RefreshTokenCodec;
  refreshTokenTtlMs: number;
  sessionMaxAgeMs: number;
  /** REFRESH_REUSE_GRACE: within it the immediately previous refresh token still names its session. */
  reuseGraceMs?: number;
  audit?: AuditService;
  metrics?: Metrics;
  /** Live sessions known to this instance; every write that ends one invalidates it (ended()). */
  viewerCache?: ViewerCache;
}

export interface NewSession {
  sessionId: string;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
}

export type SessionCheck = { ok: true; user: ViewerUser } | { ok: false; reason: 'revoked' | 'gone' };

/** Why a session ended (`Session.revokedReason`, and the `reason` label of warden_sessions_revoked_total). */
export type RevokeReason = 'logout' | 'revoked' | 'reuse' | 'password_changed' | (string & {});

export enum LogoutScope {
  LOCAL = 'LOCAL',
  OTHERS = 'OTHERS',
  GLOBAL = 'GLOBAL',
}

export interface SessionInfo {
  id: string;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
  aal: Assurance;
  amr: string[];
}

const MAX_USER_AGENT = 512;

/** A Prisma client or an interactive transaction: revocation runs in either. */
type Db = PrismaClient | Prisma.TransactionClient;

export class SessionService {
  constructor(private readonly deps: SessionServiceDeps) {}

  /** Opens a session with its first refresh token (generation 0 under a new salt): one INSERT. */
  async create(userId: string, meta: RequestMeta, amr: readonly string[] = ['pwd'], aal: Assurance = 'aal1'): Promise<NewSession> {
    const now = new Date(this.deps.clock.now());
    const absoluteExpiresAt = new Date(now.getTime() + this.deps.sessionMaxAgeMs);
    const expiresAt = new Date(Math.min(now.getTime() + this.deps.refreshTokenTtlMs, absoluteExpiresAt.getTime()));
    const sessionId = randomUUID();
    const salt = newSessionSalt();
    await this.deps.prisma.$executeRaw`
      INSERT INTO "Session" (id, "userId", "createdAt", "lastUsedAt", "expiresAt", "absoluteExpiresAt", "tokenSalt", generation, "userAgent", ip, amr, aal)
      VALUES (${sessionId}::uuid, ${userId}::uuid, ${now}, ${now}, ${expiresAt}, ${absoluteExpiresAt}, ${salt}, 0,
              ${meta.userAgent?.slice(0, MAX_USER_AGENT) ?? null}, ${meta.ip}, ${[...amr]}::text[], ${aal})`;
    return { sessionId, refreshToken: this.deps.refreshTokens.mint(sessionId, salt, 0), refreshTokenExpiresAt: expiresAt };
  }

  /**
   * Gives a live session a new key (a new salt and the next generation, no grace replay), in `db`:
   * every refresh token issued before it stops verifying (REFRESH_TOKEN_INVALID), whether it was
   * the current one or a rotation's successor that committed just before — and a rotation that
   * read the row before this commits fails its WHERE clause (generation and salt). Used by
   * changePassword for the session that changed it.
   * @returns the session's new refresh token, or null when it is not a live session of `userId`.
   */
  async rekey(
    db: Db,
    sessionId: string,
    userId: string,
    meta: RequestMeta,
  ): Promise<{ refreshToken: string; refreshTokenExpiresAt: Date } | null> {
    const now = this.deps.clock.now();
    const at = new Date(now);
    const salt = newSessionSalt();
    const rows = await db.$queryRaw<Array<{ generation: number; expiresAt: Date }>>`
      UPDATE "Session"
         SET "tokenSalt" = ${salt}, generation = generation + 1, "rotatedAt" = NULL, "lastUsedAt" = ${at}, ip = ${meta.ip},
             "expiresAt" = LEAST(${new Date(now + this.deps.refreshTokenTtlMs)}::timestamptz, "absoluteExpiresAt")
       WHERE id = ${sessionId}::uuid AND "userId" = ${userId}::uuid AND "revokedAt" IS NULL AND "absoluteExpiresAt" > ${at}
      RETURNING generation, "expiresAt"`;
    const row = rows[0];
    if (!row) return null;
    return { refreshToken: this.deps.refreshTokens.mint(sessionId, salt, row.generation), refreshTokenExpiresAt: new Date(row.expiresAt) };
  }

  /**
   * Is this session still live, and who is its user? Answered from the viewer cache when this
   * instance knows (see viewer-cache.ts for why that stays exact), else by one query that serves
   * both the revocation check and the viewer's row.
   */
  async check(sessionId: string, userId: string): Promise<SessionCheck> {
    const cache = this.deps.viewerCache;
    const cached = cache?.lookup(sessionId, userId);
    // What check() put there: the row with its mfaEnabled flag.
    if (cached) return { ok: true, user: cached as ViewerUser };
    const ticket = cache?.ticket() ?? 0;
    // The hot path is one statement: the user, if this session of theirs is live. Every
    // authenticated request the cache cannot answer sends it, so it goes to the driver directly.
    const [user] = await this.deps.sql.query<ViewerUser>(Prisma.sql`
      SELECT ${USER_COLUMNS}, u."mfaEnabled"
        FROM "Session" s JOIN "User" u ON u.id = s."userId"
       WHERE s.id = ${sessionId}::uuid AND s."userId" = ${userId}::uuid AND s."revokedAt" IS NULL`);
    if (user) {
      // Frozen: the same object serves later requests, so nothing may change it in place.
      const row = Object.freeze(user as ViewerUser);
      cache?.remember(ticket, sessionId, row);
      return { ok: true, user: row };
    }
    // Only a failed check pays for a second read, to tell an ended session from a deleted user.
    const session = await this.deps.prisma.session.findUnique({ where: { id: sessionId }, select: { revokedAt: true, userId: true } });
    if (!session || session.userId !== userId) return { ok: false, reason: 'gone' };
    return { ok: false, reason: 'revoked' };
  }

  /**
   * The user's live sessions, most recently used first. `lastUsedAt` moves at sign-in and at each
   * refresh (not at every request, which would be a write per request).
   */
  async list(userId: string, currentSessionId: string): Promise<SessionInfo[]> {
    const now = new Date(this.deps.clock.now());
    const rows = await this.deps.prisma.session.findMany({
      where: {
        userId,
        revokedAt: null,
        absoluteExpiresAt: { gt: now },
        // The current session is listed even when its refresh token lapsed: its access token
        // still works and can renew it (docs/api.md §4).
        OR: [{ expiresAt: { gt: now } }, { id: currentSessionId }],
      },
      orderBy: [{ lastUsedAt: 'desc' }, { id: 'asc' }],
      select: { id: true, createdAt: true, lastUsedAt: true, expiresAt: true, userAgent: true, ip: true, aal: true, amr: true },
    });
    return rows.map((row) => ({ ...row, aal: row.aal === 'aal2' ? 'aal2' : 'aal1', current: row.id === currentSessionId }));
  }

  /**
   * Ends one of the viewer's own sessions.
   * @throws AppError NOT_FOUND when the id is not one of this user's sessions (another user's,
   * unknown or malformed); nothing changes then. An own session that already ended is fine.
   */
  async revokeOwn(userId: string, sessionId: string, meta: RequestMeta): Promise<void> {
    if (!isUuid(sessionId)) throw new AppError(ErrorCode.NOT_FOUND);
    const session = await this.deps.prisma.session.findUnique({ where: { id: sessionId }, select: { userId: true } });
    if (!session || session.userId !== userId) throw new AppError(ErrorCode.NOT_FOUND);
    const ended = await this.end(userId, { id: sessionId, userId }, 'revoked');
    if (ended > 0) await this.deps.audit?.record('session_revoked', { userId, sessionId, meta });
  }

  /**
   * logout(scope): LOCAL ends the caller's session, OTHERS every other session of the user, GLOBAL
   * all of them. The caller's session comes from a valid access token (`viewer`), else from the
   * refresh token. Idempotent: an unknown, spent or already ended credential changes nothing.
   * OTHERS and GLOBAL need a live credential; a lapsed one can still end its own session.
   */
  async logout(
    scope: LogoutScope,
    caller: { viewer: { userId: string; sessionId: string } | null; refreshToken: string | undefined },
    meta: RequestMeta,
  ): Promise<void> {
    const found = caller.viewer ? { ...caller.viewer, live: true } : await this.findByRefreshToken(caller.refreshToken);
    if (!found) return;
    const { userId, sessionId } = found;
    let ended: number;
    if (scope === LogoutScope.LOCAL || !found.live) {
      if (scope === LogoutScope.OTHERS) return;
      ended = await this.end(userId, { id: sessionId, userId }, 'logout');
    } else {
      const where: Prisma.SessionWhereInput = scope === LogoutScope.OTHERS ? { userId, id: { not: sessionId } } : { userId };
      ended = await this.end(userId, where, 'logout');
    }
    await this.deps.audit?.record('logout', { userId, sessionId, meta, detail: { scope, sessionsEnded: ended } });
  }

  /**
   * Ends the sessions matching `where` that are still live, in `db` (the client or a transaction).
   * `expiresAt` is pulled in to the revocation time as well: the cleanup job then finds ended
   * sessions through the one indexed column (`expiresAt`), without a scan for `revokedAt`.
   * Inside a transaction, call ended() once it has committed.
   * @returns how many sessions this call ended.
   */
  async revoke(db: Db, where: Prisma.SessionWhereInput, reason: RevokeReason): Promise<number> {
    const now = new Date(this.deps.clock.now());
    const { count } = await db.session.updateMany({
      where: { ...where, revokedAt: null },
      data: { revokedAt: now, revokedReason: reason, expiresAt: now },
    });
    return count;
  }

  /**
   * After a write that ended `count` of this user's sessions (or changed their row) has committed:
   * counts them in warden_sessions_revoked_total{reason} and drops the user from every
   * instance's viewer cache, before the caller answers.
   */
  async ended(userId: string, reason: RevokeReason, count: number): Promise<void> {
    if (count > 0) this.deps.metrics?.sessionsRevoked.inc({ reason }, count);
    await this.deps.viewerCache?.invalidateUser(userId);
  }

  /** revoke() outside any transaction, then ended(). `where` must only match `userId`'s sessions. */
  private async end(userId: string, where: Prisma.SessionWhereInput, reason: RevokeReason): Promise<number> {
    const count = await this.revoke(this.deps.prisma, { ...where, userId }, reason);
    await this.ended(userId, reason, count);
    return count;
  }

  /**
   * The session a refresh token names, for logout: its current token, or — within the grace
   * window — the immediately previous one. Checked without the database first
   * (src/lib/refresh-token.ts); anything else, a token of the format before counter tokens
   * included, names none.
   */
  private async findByRefreshToken(token: string | undefined): Promise<{ userId: string; sessionId: string; live: boolean } | null> {
    if (token === undefined) return null;
    const now = this.deps.clock.now();
    if (token.length !== REFRESH_TOKEN_LENGTH) return null;
    const parsed = this.deps.refreshTokens.parse(token);
    if (!parsed) return null;
    const session = await this.deps.prisma.session.findUnique({
      where: { id: parsed.sessionId },
      select: {
        id: true,
        userId: true,
        tokenSalt: true,
        generation: true,
        rotatedAt: true,
        expiresAt: true,
        absoluteExpiresAt: true,
        revokedAt: true,
      },
    });
    if (!session || session.revokedAt || !this.deps.refreshTokens.verifyTag(parsed, session.tokenSalt)) return null;
    const graceMs = this.deps.reuseGraceMs ?? 0;
    const current = parsed.generation === session.generation;
    const previousInGrace =
      parsed.generation === session.generation - 1 && session.rotatedAt !== null && now - session.rotatedAt.getTime() < graceMs;
    if (!current && !previousInGrace) return null;
    const live = session.expiresAt.getTime() > now && session.absoluteExpiresAt.getTime() > now;
    return { userId: session.userId, sessionId: session.id, live };
  }
}
