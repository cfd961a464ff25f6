import type { Logger } from 'pino';
import type { PrismaClient } from '../../generated/prisma/client';
import type { RequestMeta } from '../../domain/types';

export type AuthEventType =
  | 'signup'
  | 'login_ok'
  | 'login_failed'
  | 'login_locked'
  | 'refresh'
  | 'refresh_reuse_detected'
  | 'logout'
  | 'session_revoked'
  | 'password_changed'
  | 'password_reset'
  | 'password_reset_requested'
  | 'email_verified'
  | 'email_verification_failed'
  | 'user_deleted'
  | 'role_changed'
  | 'oauth_signup'
  | 'oauth_login'
  | 'oauth_linked'
  | 'oauth_unlinked'
  | 'mfa_enrolled'
  | 'mfa_activated'
  | 'mfa_verified'
  | 'mfa_verify_failed'
  | 'mfa_recovery_code_used'
  | 'mfa_recovery_codes_regenerated'
  | 'mfa_factor_removed'
  | 'mfa_reset'
  | 'passkey_added'
  | 'passkey_removed'
  | 'passkey_login'
  | 'passkey_login_failed';

export interface AuthEventInput {
  userId?: string | null;
  sessionId?: string | null;
  meta?: RequestMeta;
  detail?: Record<string, string | number | boolean | null>;
}

/** The audit trail (AuthEvent rows). A failed write is logged, never allowed to fail the request. */
export class AuditService {
  constructor(private readonly deps: { prisma: PrismaClient; logger: Logger }) {}

  async record(type: AuthEventType, event: AuthEventInput): Promise<void> {
    try {
      await this.deps.prisma.authEvent.create({
        data: {
          type,
          userId: event.userId ?? null,
          sessionId: event.sessionId ?? null,
          ip: event.meta?.ip ?? null,
          userAgent: event.meta?.userAgent?.slice(0, 512) ?? null,
          detail: event.detail ?? undefined,
        },
      });
    } catch (error) {
      this.deps.logger.error({ err: error, type }, 'could not record an auth event');
    }
  }
}
