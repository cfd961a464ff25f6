/**
 * The per-request context: who the viewer is — or the precise reason there is none — read from
 * the bearer token once per request, plus the request's IP, user agent and cookies, and the
 * services resolvers call.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Services } from './services';
import type { Loaders } from './loaders';
import type { CookieJar, NoViewerReason, RequestMeta, Viewer } from './domain/types';

// The plain types live with the domain (services take them); they are re-exported here for resolvers.
export type { CookieJar, CookieOptions, NoViewerReason, RequestMeta, Viewer } from './domain/types';

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

/**
 * The context as one resolver class sees it: only the services it names, so what a resolver
 * depends on is written at its top, and using another service is a type error.
 */
export type ResolverContext<S extends keyof Services> = Omit<Context, 'services'> & { services: Pick<Services, S> };
