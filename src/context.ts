/**
 * The per-request context: who the viewer is — or the precise reason there is none — read from
 * the bearer token once per request, plus the request's IP, user agent and cookies, and the
 * services resolvers call.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Services } from './services';
import type { Role } from './schema/auth.directive';
import type { ViewerUser } from './modules/user/user.service';
import type { Loaders } from './loaders';

export interface Viewer {
  userId: string;
  sessionId: string;
  role: Role;
  /** The user's row, read together with the session check, so `me` costs no extra query. */
  user: ViewerUser;
}

/** Why a request has no viewer: no token, a bad one, an expired one, an ended session, a deleted user. */
export type NoViewerReason = 'missing' | 'invalid' | 'expired' | 'revoked' | 'gone';

export interface CookieOptions {
  maxAgeSeconds?: number;
  expires?: Date;
}

/** Cookies of this request and response, without tying services to Fastify. */
export interface CookieJar {
  get(name: string): string | undefined;
  set(name: string, value: string, options: CookieOptions): void;
  clear(name: string): void;
}

export interface RequestMeta {
  id: string;
  ip: string;
  userAgent: string | null;
}

export interface Context {
  viewer: Viewer | null;
  noViewerReason: NoViewerReason | null;
  /** The raw access token, when one was sent and verified (logout and refresh use it). */
  accessTokenClaims: { sub: string; sid: string } | null;
  request: RequestMeta;
  cookies: CookieJar;
  services: Services;
  /** Per-request DataLoaders (src/loaders.ts), so list fields read in batches. */
  loaders: Loaders;
  logger: FastifyBaseLogger;
}
