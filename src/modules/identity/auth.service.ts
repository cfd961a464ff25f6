/**
 * Sign-up, login and the viewer behind an access token. Knows nothing of HTTP or GraphQL.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Prisma, type PrismaClient } from '../../generated/prisma/client';
import { AppError, ValidationError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import type { AccessTokens } from '../../lib/jwt';
import { passwordProblem, type PasswordHasher } from '../../lib/password';
import { normalizeEmail } from '../../lib/tokens';
import { MAX_EMAIL_LENGTH, emailProblem } from '../../lib/validation';
import type { Metrics } from '../../infra/metrics';
import type { Assurance, NoViewerReason, RequestMeta, Viewer } from '../../domain/types';
import { Role, USER_SELECT, type UserRow, defaultAvatarUrl } from '../user';
import { type AuditService, AccountLockedError, type SecretGate, type RateLimitService } from '../security';
import { type SessionService, issueTokens, type IssuedTokens } from '../session';

export interface AuthServiceDeps {
  prisma: PrismaClient;
  hasher: PasswordHasher;
  accessTokens: AccessTokens;
  sessions: SessionService;
  audit: AuditService;
  gate: SecretGate;
  rateLimits: RateLimitService;
  metrics: Metrics;
  logger: Logger;
  /** Runs after a user signs up (the email-verification code is sent from here). */
  onSignup?: (user: UserRow) => Promise<void> | void;
}

export type ViewerResolution =
  | { viewer: Viewer; reason: null; claims: { sub: string; sid: string } }
  | { viewer: null; reason: NoViewerReason; claims: { sub: string; sid: string } | null };

export class AuthService {
  constructor(private readonly deps: AuthServiceDeps) {}

  /** @throws ValidationError for a bad email, password or name; AppError EMAIL_TAKEN. */
  async signup(input: { email: string; password: string; name: string }, meta: RequestMeta): Promise<IssuedTokens> {
    await this.deps.rateLimits.consumeIp('signup', meta.ip);
    const email = normalizeEmail(input.email);
    const name = input.name.trim();
    const fields: Record<string, string> = {};
    const badEmail = emailProblem(email);
    if (badEmail) fields.email = badEmail;
    const pwProblem = passwordProblem(input.password);
    if (pwProblem) fields.password = pwProblem;
    if (!name) fields.name = 'must not be blank';
    if (Object.keys(fields).length > 0) throw new ValidationError(fields);

    const id = randomUUID();
    const passwordHash = await this.deps.hasher.hash(input.password);
    let user: UserRow;
    try {
      user = (await this.deps.prisma.user.create({
        data: {
          id,
          email,
          name,
          passwordHash,
          // Always USER: an ADMIN_EMAILS address becomes ADMIN only once verified (verifyEmail).
          role: Role.USER,
          avatarUrl: defaultAvatarUrl(id),
          bio: `Hi, I'm ${name}!`,
        },
        select: USER_SELECT,
      })) as UserRow;
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new AppError(ErrorCode.EMAIL_TAKEN);
      }
      throw error;
    }
    const tokens = await this.startSession(user, meta, ['pwd'], { mfaEnabled: false });
    await this.deps.audit.record('signup', { userId: user.id, sessionId: tokens.sessionId, meta });
    await this.deps.onSignup?.(user);
    return tokens;
  }

  /**
   * @throws AppError INVALID_CREDENTIALS — the same answer, after the same bcrypt work, whether
   * the email is unknown or the password wrong.
   * @throws RetryLaterError RATE_LIMITED (per IP) or ACCOUNT_LOCKED (per email, before any bcrypt work).
   * @throws StoreUnavailableError when counters are unavailable: no token is issued.
   */
  async login(input: { email: string; password: string }, meta: RequestMeta): Promise<IssuedTokens> {
    await this.deps.rateLimits.consumeIp('login', meta.ip);
    const email = normalizeEmail(input.email);
    // A password over 72 bytes can never match (signup refuses them); it still costs a dummy
    // compare so the answer takes the usual time.
    const tooLong = Buffer.byteLength(input.password, 'utf8') > 72;
    type Found = UserRow & { passwordHash: string | null; mfaEnabled: boolean };
    let found: Found | null = null;
    // The gate holds the check while the email is locked or its budget is in flight (docs/api.md §6).
    const ok = await this.deps.gate
      .check(email, 'password', async () => {
        found =
          email.length <= MAX_EMAIL_LENGTH && !tooLong
            ? ((await this.deps.prisma.user.findUnique({
                where: { email },
                select: { ...USER_SELECT, passwordHash: true, mfaEnabled: true },
              })) as Found | null)
            : null;
        // A user without a password (OAuth sign-up) fails like an unknown email, after the same work.
        if (found && found.passwordHash !== null) return this.deps.hasher.verify(input.password, found.passwordHash);
        return this.deps.hasher.verifyDummy(input.password).then(() => false);
      })
      .catch(async (error: unknown) => {
        if (error instanceof AccountLockedError) await this.recordLocked(email, meta);
        throw error;
      });
    if (!found || !ok) {
      this.deps.metrics.logins.inc({ result: 'failed' });
      await this.deps.audit.record('login_failed', { userId: (found as Found | null)?.id ?? null, meta });
      throw new AppError(ErrorCode.INVALID_CREDENTIALS);
    }
    const { passwordHash: _hash, mfaEnabled, ...user } = found as Found;
    const tokens = await this.startSession(user, meta, ['pwd'], { mfaEnabled });
    this.deps.metrics.logins.inc({ result: 'ok' });
    await this.deps.audit.record('login_ok', { userId: user.id, sessionId: tokens.sessionId, meta });
    return tokens;
  }

  private async recordLocked(email: string, meta: RequestMeta): Promise<void> {
    this.deps.metrics.logins.inc({ result: 'locked' });
    const user =
      email.length <= MAX_EMAIL_LENGTH ? await this.deps.prisma.user.findUnique({ where: { email }, select: { id: true } }) : null;
    await this.deps.audit.record('login_locked', { userId: user?.id ?? null, meta });
  }

  /**
   * Opens a session and signs its first token pair. `amr` says how the user signed in (RFC 8176
   * values; `["oauth"]` for a provider sign-in); a password by default. `mfaEnabled`: the user has
   * a verified factor, so this AAL1 session is told to call verifyMfa. `aal`: AAL1 unless the
   * sign-in itself was multi-factor (a passkey: possession plus user verification).
   */
  async startSession(
    user: UserRow,
    meta: RequestMeta,
    amr: string[] = ['pwd'],
    options: { mfaEnabled?: boolean; aal?: Assurance } = {},
  ): Promise<IssuedTokens> {
    const aal = options.aal ?? 'aal1';
    const session = await this.deps.sessions.create(user.id, meta, amr, aal);
    const mfaRequired = aal === 'aal1' && (options.mfaEnabled ?? (await this.hasVerifiedFactor(user.id)));
    return issueTokens(this.deps.accessTokens, { ...session, user, aal, amr }, mfaRequired);
  }

  private async hasVerifiedFactor(userId: string): Promise<boolean> {
    const row = await this.deps.prisma.user.findUnique({ where: { id: userId }, select: { mfaEnabled: true } });
    return row?.mfaEnabled === true;
  }

  /**
   * Reads an Authorization header value once: the viewer, or the precise reason there is none.
   * Only a correctly signed token reaches the database.
   */
  async resolveViewer(authorization: string | undefined): Promise<ViewerResolution> {
    if (authorization === undefined) return { viewer: null, reason: 'missing', claims: null };
    const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(authorization);
    if (!match) return { viewer: null, reason: 'invalid', claims: null };
    const verified = this.deps.accessTokens.verify(match[1]);
    if (!verified.ok) return { viewer: null, reason: verified.reason, claims: null };
    const { sub, sid } = verified.claims;
    const claims = { sub, sid };
    const check = await this.deps.sessions.check(sid, sub);
    if (!check.ok) return { viewer: null, reason: check.reason, claims };
    const viewer = {
      userId: sub,
      sessionId: sid,
      role: check.user.role,
      user: check.user,
      aal: verified.claims.aal,
      amr: verified.claims.amr,
    };
    return { viewer, reason: null, claims };
  }
}
