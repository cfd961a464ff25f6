/**
 * Sessions: one per signed-in device. A session row carries the idle and absolute lifetimes;
 * its refresh tokens are kept as SHA-256 hashes only.
 */
import type { PrismaClient } from '../../generated/prisma/client';
import type { Clock } from '../../lib/clock';
import { newOpaqueToken, sha256 } from '../../lib/tokens';
import { USER_SELECT, type UserRow } from '../user/user.service';
import type { RequestMeta } from '../../context';

export interface SessionServiceDeps {
  prisma: PrismaClient;
  clock: Clock;
  refreshTokenTtlMs: number;
  sessionMaxAgeMs: number;
}

export interface NewSession {
  sessionId: string;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
}

export type SessionCheck =
  | { ok: true; user: UserRow }
  | { ok: false; reason: 'revoked' | 'gone' };

const MAX_USER_AGENT = 512;

export class SessionService {
  constructor(private readonly deps: SessionServiceDeps) {}

  /** Opens a session with its first refresh token, in one transaction. */
  async create(userId: string, meta: RequestMeta): Promise<NewSession> {
    const now = this.deps.clock.now();
    const absoluteExpiresAt = new Date(now + this.deps.sessionMaxAgeMs);
    const expiresAt = new Date(Math.min(now + this.deps.refreshTokenTtlMs, absoluteExpiresAt.getTime()));
    const refreshToken = newOpaqueToken();
    const session = await this.deps.prisma.session.create({
      data: {
        userId,
        createdAt: new Date(now),
        lastUsedAt: new Date(now),
        expiresAt,
        absoluteExpiresAt,
        userAgent: meta.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
        ip: meta.ip,
        refreshTokens: { create: { tokenHash: sha256(refreshToken), createdAt: new Date(now), expiresAt } },
      },
      select: { id: true },
    });
    return { sessionId: session.id, refreshToken, refreshTokenExpiresAt: expiresAt };
  }

  /**
   * Is this session still live, and who is its user? One query serves both the revocation check
   * and the viewer's row, so every instance sharing the database sees an ended session at once.
   */
  async check(sessionId: string, userId: string): Promise<SessionCheck> {
    const session = await this.deps.prisma.session.findUnique({
      where: { id: sessionId },
      select: { revokedAt: true, userId: true, user: { select: USER_SELECT } },
    });
    if (!session || session.userId !== userId) return { ok: false, reason: 'gone' };
    if (session.revokedAt) return { ok: false, reason: 'revoked' };
    return { ok: true, user: session.user as UserRow };
  }
}
