/**
 * The plain types the domain services take and return about who is asking and from where. They
 * know nothing of GraphQL or HTTP: context.ts builds them from the request, and tests or another
 * transport can build them as well.
 */
import type { Role } from '../generated/prisma/enums';

export type { Role };

/** A user as any response may show them (never the password hash; USER_SELECT reads exactly this). */
export interface UserRow {
  id: string;
  name: string;
  email: string;
  emailVerified: boolean;
  role: Role;
  avatarUrl: string;
  bio: string;
  createdAt: Date;
}

/** The viewer's row: what any response may show, plus whether they have a verified MFA factor. */
export type ViewerUser = UserRow & { mfaEnabled: boolean };

/** A session's assurance level (the access token's `aal`). */
export type Assurance = 'aal1' | 'aal2';

/** The signed-in user of a request, from a verified access token of a live session. */
export interface Viewer {
  userId: string;
  sessionId: string;
  role: Role;
  /** The user's row, read together with the session check, so `me` costs no extra query. */
  user: ViewerUser;
  /** The session's assurance level, from the verified access token (signed from the session row). */
  aal: Assurance;
  /** The token's `amr`. */
  amr: string[];
}

/** Why a request has no viewer: no token, a bad one, an expired one, an ended session, a deleted user. */
export type NoViewerReason = 'missing' | 'invalid' | 'expired' | 'revoked' | 'gone';

/** Where a request came from, for audit records and limits. */
export interface RequestMeta {
  id: string;
  ip: string;
  userAgent: string | null;
}

export interface CookieOptions {
  maxAgeSeconds?: number;
  expires?: Date;
  /** Default `strict`; `lax` for a cookie that must survive the provider's redirect back (OAuth). */
  sameSite?: 'strict' | 'lax';
}

/** Cookies of this request and response, without tying services to Fastify. */
export interface CookieJar {
  get(name: string): string | undefined;
  set(name: string, value: string, options: CookieOptions): void;
  clear(name: string): void;
}

/**
 * What a write that changes a user's row calls once it has committed, so that no instance keeps
 * answering from the old row (the session module's ViewerCache; docs/session-cache.md).
 */
export interface ViewerInvalidation {
  invalidateUser(userId: string): Promise<void>;
}
