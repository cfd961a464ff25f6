/**
 * Multi-factor authentication (docs/api.md §3): TOTP factors, recovery codes and step-up of a session
 * to AAL2. Knows nothing of HTTP or GraphQL.
 *
 * - TOTP secrets are sealed (AES-256-GCM, src/lib/seal.ts) under a key derived from JWT_SECRET
 *   and bound to the factor's id; JWT_SECRET_PREVIOUS still opens them, and a factor opened with
 *   it is re-sealed under JWT_SECRET on use.
 * - A TOTP code is accepted for the current step or one either side, and only for a step later
 *   than the factor's `lastUsedStep`, which a conditional update moves: of two parallel requests
 *   with one code, one wins.
 * - Recovery codes: 10 codes of 60 random bits, kept as HMACs under a key derived from JWT_SECRET,
 *   spent by a conditional update (single use even in parallel).
 * - Every check of a code goes through the secret gate (kinds 'totp' / 'recovery_code'), so wrong
 *   codes share the account's lockout with passwords; only a right code clears second-factor
 *   failures.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { PrismaClient } from '../../generated/prisma/client';
import { AppError, ValidationError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import type { Metrics } from '../../infra/metrics';
import type { Clock } from '../../lib/clock';
import type { AccessTokens } from '../../lib/jwt';
import { openWithToken, sealWithToken } from '../../lib/seal';
import { deriveKey, isUuid, keyedHash } from '../../lib/tokens';
import type { RequestMeta, Viewer } from '../../domain/types';
import { secretFingerprint } from '../keys';
import { USER_SELECT, type UserRow } from '../user';
import type { AuditService, SecretGate } from '../security';
import { issueTokens, type IssuedTokens, type SessionService } from '../session';
import { matchTotp, newTotpSecret, totpUri } from './totp';

export const RECOVERY_CODE_COUNT = 10;
const SEAL_PURPOSE = 'totp secret';
const MAX_NAME_LENGTH = 64;
const MAX_CODE_LENGTH = 64;
/** Base32 without padding; 12 characters = 60 bits. */
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export interface MfaServiceDeps {
  prisma: PrismaClient;
  clock: Clock;
  accessTokens: AccessTokens;
  sessions: SessionService;
  audit: AuditService;
  gate: SecretGate;
  metrics: Pick<Metrics, 'mfa'>;
  /** JWT_SECRET and, while it is still accepted, JWT_SECRET_PREVIOUS. */
  secret: string;
  previousSecret?: string;
  /** MFA_REQUIRED_FOR_ADMIN: the @auth transformer reads it from here. */
  adminRequiresAal2: boolean;
}

export interface FactorInfo {
  id: string;
  type: 'TOTP';
  name: string | null;
  verified: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

type MfaViewer = Pick<Viewer, 'userId' | 'sessionId' | 'aal' | 'amr' | 'user'>;

/** Recovery codes as shown: `XXXX-XXXX-XXXX`; accepted in any case, with or without dashes and spaces. */
function newRecoveryCode(): string {
  const bytes = randomBytes(12);
  let code = '';
  for (const byte of bytes) code += BASE32[byte & 31];
  return `${code.slice(0, 4)}-${code.slice(4, 8)}-${code.slice(8, 12)}`;
}

function normalizeRecoveryCode(code: string): string {
  return code.replace(/[\s-]/g, '').toUpperCase();
}

export class MfaService {
  private readonly codeKeys: Uint8Array[];

  constructor(private readonly deps: MfaServiceDeps) {
    this.codeKeys = [deps.secret, deps.previousSecret]
      .filter((secret): secret is string => Boolean(secret))
      .map((secret) => deriveKey(secret, 'recovery code'));
  }

  get adminRequiresAal2(): boolean {
    return this.deps.adminRequiresAal2;
  }

  async list(userId: string): Promise<FactorInfo[]> {
    const rows = await this.deps.prisma.mfaFactor.findMany({
      where: { userId },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      select: { id: true, name: true, verifiedAt: true, createdAt: true, lastUsedAt: true },
    });
    return rows.map((row) => ({
      id: row.id,
      type: 'TOTP',
      name: row.name,
      verified: row.verifiedAt !== null,
      createdAt: row.createdAt,
      lastUsedAt: row.lastUsedAt,
    }));
  }

  /**
   * A new, unverified TOTP factor; an earlier unverified one of the user is replaced.
   * @throws ValidationError for a bad name; AppError MFA_REQUIRED when the user already has a
   * verified factor and this session is AAL1 (the directive refuses that first).
   */
  async enrollTotp(
    viewer: MfaViewer,
    name: string | null | undefined,
    meta: RequestMeta,
  ): Promise<{ factorId: string; secret: string; otpauthUri: string }> {
    const cleanName = name === null || name === undefined ? null : name.trim();
    if (cleanName !== null && (cleanName.length > MAX_NAME_LENGTH || cleanName.includes('\u0000'))) {
      throw new ValidationError({ name: `must be at most ${MAX_NAME_LENGTH} characters, without NUL` });
    }
    if (viewer.user.mfaEnabled && viewer.aal !== 'aal2') throw new AppError(ErrorCode.MFA_REQUIRED);
    const factorId = randomUUID();
    const secret = newTotpSecret();
    await this.deps.prisma.$transaction([
      this.deps.prisma.mfaFactor.deleteMany({ where: { userId: viewer.userId, verifiedAt: null } }),
      this.deps.prisma.mfaFactor.create({
        data: {
          id: factorId,
          userId: viewer.userId,
          type: 'TOTP',
          name: cleanName || null,
          secretSealed: this.seal(factorId, secret),
          sealedWith: secretFingerprint(this.deps.secret),
          createdAt: new Date(this.deps.clock.now()),
        },
      }),
    ]);
    this.deps.metrics.mfa.inc({ event: 'enrolled' });
    await this.deps.audit.record('mfa_enrolled', { userId: viewer.userId, sessionId: viewer.sessionId, meta, detail: { factorId } });
    return { factorId, secret, otpauthUri: totpUri(secret, viewer.user.email) };
  }

  /**
   * Verifies an enrolled factor with a current code: the factor counts from now on, the user gets
   * 10 new recovery codes (any earlier ones are spent), and this session is raised to AAL2.
   * @throws AppError NOT_FOUND (not an unverified factor of this user), INVALID_CODE,
   * SESSION_REVOKED; the gate's ACCOUNT_LOCKED / RATE_LIMITED / StoreUnavailableError.
   */
  async activateTotp(
    viewer: MfaViewer,
    factorId: string,
    code: string,
    meta: RequestMeta,
  ): Promise<{ recoveryCodes: string[]; issued: IssuedTokens }> {
    this.checkCodeShape(code);
    if (!isUuid(factorId)) throw new AppError(ErrorCode.NOT_FOUND);
    const factor = await this.deps.prisma.mfaFactor.findFirst({
      where: { id: factorId, userId: viewer.userId, verifiedAt: null },
      select: { id: true, secretSealed: true, sealedWith: true },
    });
    if (!factor) throw new AppError(ErrorCode.NOT_FOUND);
    if (viewer.user.mfaEnabled && viewer.aal !== 'aal2') throw new AppError(ErrorCode.MFA_REQUIRED);
    const secret = this.open(factor.id, factor.secretSealed);
    let step: number | null = null;
    const ok = await this.deps.gate.check(viewer.user.email, 'totp', async () => {
      step = secret === null ? null : matchTotp(secret, code.trim(), this.deps.clock.now(), null);
      return step !== null;
    });
    if (!ok || step === null) {
      this.deps.metrics.mfa.inc({ event: 'verify_failed' });
      await this.deps.audit.record('mfa_verify_failed', {
        userId: viewer.userId,
        sessionId: viewer.sessionId,
        meta,
        detail: { factorId, during: 'activate' },
      });
      throw new AppError(ErrorCode.INVALID_CODE);
    }
    const now = new Date(this.deps.clock.now());
    const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const acceptedStep: number = step;
    const issued = await this.stepUp(viewer, ['otp', 'mfa'], meta, async (tx) => {
      const activated = await tx.mfaFactor.updateMany({
        where: { id: factor.id, userId: viewer.userId, verifiedAt: null },
        data: { verifiedAt: now, lastUsedStep: acceptedStep, lastUsedAt: now },
      });
      if (activated.count !== 1) return false;
      await tx.user.update({ where: { id: viewer.userId }, data: { mfaEnabled: true } });
      await this.replaceRecoveryCodes(tx, viewer.userId, recoveryCodes, now);
      return true;
    });
    if (!issued) throw new AppError(ErrorCode.NOT_FOUND);
    this.deps.metrics.mfa.inc({ event: 'activated' });
    await this.deps.audit.record('mfa_activated', { userId: viewer.userId, sessionId: viewer.sessionId, meta, detail: { factorId } });
    return { recoveryCodes, issued };
  }

  /**
   * Checks a TOTP code of a verified factor, or a recovery code (spent on use), and raises this
   * session to AAL2 with fresh tokens.
   * @throws AppError INVALID_CODE (wrong, replayed or spent), BAD_USER_INPUT (no verified factor,
   * or input too long), SESSION_REVOKED; the gate's ACCOUNT_LOCKED / RATE_LIMITED / StoreUnavailableError.
   */
  async verify(viewer: MfaViewer, code: string, meta: RequestMeta): Promise<IssuedTokens> {
    this.checkCodeShape(code);
    const trimmed = code.trim();
    const factors = await this.deps.prisma.mfaFactor.findMany({
      where: { userId: viewer.userId, verifiedAt: { not: null } },
      select: { id: true, secretSealed: true, sealedWith: true, lastUsedStep: true },
    });
    if (factors.length === 0) throw new ValidationError({ code: 'no second factor is set up for this account' });
    const isTotp = /^[0-9]{6}$/.test(trimmed);
    const kind = isTotp ? 'totp' : 'recovery_code';
    let used: { factorId: string } | { recoveryCode: true } | null = null;
    const ok = await this.deps.gate.check(viewer.user.email, kind, async () => {
      used = isTotp ? await this.spendTotp(factors, trimmed) : await this.spendRecoveryCode(viewer.userId, trimmed);
      return used !== null;
    });
    if (!ok || used === null) {
      this.deps.metrics.mfa.inc({ event: 'verify_failed' });
      await this.deps.audit.record('mfa_verify_failed', { userId: viewer.userId, sessionId: viewer.sessionId, meta, detail: { kind } });
      throw new AppError(ErrorCode.INVALID_CODE);
    }
    const usedWhat = used as { factorId: string } | { recoveryCode: true };
    const issued = await this.stepUp(viewer, isTotp ? ['otp', 'mfa'] : ['mfa'], meta, async () => true);
    if (!issued) throw new AppError(ErrorCode.SESSION_REVOKED);
    if ('recoveryCode' in usedWhat) {
      this.deps.metrics.mfa.inc({ event: 'recovery_code_used' });
      const left = await this.deps.prisma.recoveryCode.count({ where: { userId: viewer.userId, usedAt: null } });
      await this.deps.audit.record('mfa_recovery_code_used', {
        userId: viewer.userId,
        sessionId: viewer.sessionId,
        meta,
        detail: { recoveryCodesLeft: left },
      });
    } else {
      this.deps.metrics.mfa.inc({ event: 'verify_ok' });
      await this.deps.audit.record('mfa_verified', {
        userId: viewer.userId,
        sessionId: viewer.sessionId,
        meta,
        detail: { factorId: usedWhat.factorId },
      });
    }
    return issued;
  }

  /**
   * Removes one of the viewer's factors. Removing the last verified one turns MFA off for the
   * user, spends their recovery codes and ends every other session of theirs.
   * @throws AppError NOT_FOUND, MFA_REQUIRED (a verified factor from an AAL1 session).
   */
  async remove(viewer: MfaViewer, factorId: string, meta: RequestMeta): Promise<void> {
    if (!isUuid(factorId)) throw new AppError(ErrorCode.NOT_FOUND);
    const factor = await this.deps.prisma.mfaFactor.findFirst({
      where: { id: factorId, userId: viewer.userId },
      select: { verifiedAt: true },
    });
    if (!factor) throw new AppError(ErrorCode.NOT_FOUND);
    if (factor.verifiedAt && viewer.aal !== 'aal2') throw new AppError(ErrorCode.MFA_REQUIRED);
    const result = await this.deps.prisma.$transaction(async (tx) => {
      const deleted = await tx.mfaFactor.deleteMany({ where: { id: factorId, userId: viewer.userId } });
      if (deleted.count === 0) return null;
      const left = await tx.mfaFactor.count({ where: { userId: viewer.userId, verifiedAt: { not: null } } });
      if (left > 0 || !factor.verifiedAt) return { last: false, ended: 0 };
      await tx.user.update({ where: { id: viewer.userId }, data: { mfaEnabled: false } });
      await tx.recoveryCode.deleteMany({ where: { userId: viewer.userId } });
      const ended = await this.deps.sessions.revoke(tx, { userId: viewer.userId, id: { not: viewer.sessionId } }, 'mfa_removed');
      return { last: true, ended };
    });
    if (!result) throw new AppError(ErrorCode.NOT_FOUND);
    // The user's row changed (mfaEnabled) or sessions ended: every instance drops what it cached.
    await this.deps.sessions.ended(viewer.userId, 'mfa_removed', result.ended);
    this.deps.metrics.mfa.inc({ event: 'removed' });
    await this.deps.audit.record('mfa_factor_removed', {
      userId: viewer.userId,
      sessionId: viewer.sessionId,
      meta,
      detail: { factorId, lastFactor: result.last, sessionsEnded: result.ended },
    });
  }

  /**
   * Ten new recovery codes; the earlier ones stop working.
   * @throws AppError MFA_REQUIRED (an AAL1 session), BAD_USER_INPUT (no verified factor).
   */
  async regenerateRecoveryCodes(viewer: MfaViewer, meta: RequestMeta): Promise<string[]> {
    if (viewer.aal !== 'aal2') throw new AppError(ErrorCode.MFA_REQUIRED);
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const done = await this.deps.prisma.$transaction(async (tx) => {
      const factors = await tx.mfaFactor.count({ where: { userId: viewer.userId, verifiedAt: { not: null } } });
      if (factors === 0) return false;
      await this.replaceRecoveryCodes(tx, viewer.userId, codes, new Date(this.deps.clock.now()));
      return true;
    });
    if (!done) throw new ValidationError({ code: 'no second factor is set up for this account' });
    await this.deps.audit.record('mfa_recovery_codes_regenerated', { userId: viewer.userId, sessionId: viewer.sessionId, meta });
    return codes;
  }

  /**
   * ADMIN: removes every factor and recovery code of a user and ends all their sessions.
   * @throws AppError NOT_FOUND for an unknown or malformed id.
   */
  async resetUser(actor: { userId: string; sessionId: string }, userId: string, meta: RequestMeta): Promise<void> {
    if (!isUuid(userId)) throw new AppError(ErrorCode.NOT_FOUND);
    const result = await this.deps.prisma.$transaction(async (tx) => {
      const user = await tx.user.findUnique({ where: { id: userId }, select: { id: true } });
      if (!user) return null;
      const factors = await tx.mfaFactor.deleteMany({ where: { userId } });
      await tx.recoveryCode.deleteMany({ where: { userId } });
      await tx.user.update({ where: { id: userId }, data: { mfaEnabled: false } });
      const ended = await this.deps.sessions.revoke(tx, { userId }, 'mfa_reset');
      return { factors: factors.count, ended };
    });
    if (!result) throw new AppError(ErrorCode.NOT_FOUND);
    await this.deps.sessions.ended(userId, 'mfa_reset', result.ended);
    this.deps.metrics.mfa.inc({ event: 'reset' });
    await this.deps.audit.record('mfa_reset', {
      userId,
      sessionId: actor.sessionId,
      meta,
      detail: { by: actor.userId, factorsRemoved: result.factors, sessionsEnded: result.ended },
    });
  }

  // -------------------------------------------------------------------------------------------

  private checkCodeShape(code: string): void {
    if (code.length > MAX_CODE_LENGTH || code.includes('\u0000'))
      throw new ValidationError({ code: `must be at most ${MAX_CODE_LENGTH} characters` });
  }

  /** The first factor whose code this is, with its step moved past it (one winner in parallel). */
  private async spendTotp(
    factors: Array<{ id: string; secretSealed: Uint8Array; sealedWith: string; lastUsedStep: number | null }>,
    code: string,
  ): Promise<{ factorId: string } | null> {
    const now = this.deps.clock.now();
    for (const factor of factors) {
      const secret = this.open(factor.id, factor.secretSealed);
      if (secret === null) continue;
      const step = matchTotp(secret, code, now, factor.lastUsedStep);
      if (step === null) continue;
      const moved = await this.deps.prisma.mfaFactor.updateMany({
        where: { id: factor.id, OR: [{ lastUsedStep: null }, { lastUsedStep: { lt: step } }] },
        data: {
          lastUsedStep: step,
          lastUsedAt: new Date(now),
          // Opened with the previous master secret: re-sealed under the current one.
          ...(factor.sealedWith !== secretFingerprint(this.deps.secret)
            ? { secretSealed: this.seal(factor.id, secret), sealedWith: secretFingerprint(this.deps.secret) }
            : {}),
        },
      });
      if (moved.count === 1) return { factorId: factor.id };
    }
    return null;
  }

  private async spendRecoveryCode(userId: string, code: string): Promise<{ recoveryCode: true } | null> {
    const normalized = normalizeRecoveryCode(code);
    if (!/^[A-Z2-7]{12}$/.test(normalized)) return null;
    const hashes = this.codeKeys.map((key) => Buffer.from(keyedHash(key, `${userId}:${normalized}`)));
    const spent = await this.deps.prisma.recoveryCode.updateMany({
      where: { userId, usedAt: null, codeHash: { in: hashes } },
      data: { usedAt: new Date(this.deps.clock.now()) },
    });
    return spent.count > 0 ? { recoveryCode: true } : null;
  }

  private async replaceRecoveryCodes(tx: Tx, userId: string, codes: string[], now: Date): Promise<void> {
    await tx.recoveryCode.deleteMany({ where: { userId } });
    await tx.recoveryCode.createMany({
      data: codes.map((code) => ({
        userId,
        codeHash: Buffer.from(keyedHash(this.codeKeys[0], `${userId}:${normalizeRecoveryCode(code)}`)),
        createdAt: now,
      })),
    });
  }

  /**
   * Raises the viewer's session to AAL2 (adding `methods` to its amr) and gives it a fresh token
   * pair, in one transaction with `also` (which may veto it by returning false).
   * @returns null when the session ended meanwhile or `also` vetoed.
   */
  private async stepUp(
    viewer: MfaViewer,
    methods: string[],
    meta: RequestMeta,
    also: (tx: Tx) => Promise<boolean>,
  ): Promise<IssuedTokens | null> {
    const session = await this.deps.prisma.session.findUnique({ where: { id: viewer.sessionId }, select: { amr: true } });
    const amr = [...new Set([...(session?.amr ?? viewer.amr), ...methods])];
    const result = await this.deps.prisma.$transaction(async (tx) => {
      if (!(await also(tx))) return null;
      const raised = await tx.session.updateMany({
        where: { id: viewer.sessionId, userId: viewer.userId, revokedAt: null },
        data: { aal: 'aal2', amr },
      });
      if (raised.count !== 1) return null;
      const rekeyed = await this.deps.sessions.rekey(tx, viewer.sessionId, viewer.userId, meta);
      if (!rekeyed) return null;
      const user = (await tx.user.findUnique({ where: { id: viewer.userId }, select: USER_SELECT })) as UserRow | null;
      return user ? { ...rekeyed, user } : null;
    });
    if (!result) return null;
    // The user's row may have changed (mfaEnabled): drop what any instance cached for them.
    await this.deps.sessions.ended(viewer.userId, 'mfa', 0);
    return issueTokens(this.deps.accessTokens, { ...result, sessionId: viewer.sessionId, aal: 'aal2', amr }, false);
  }

  private seal(factorId: string, secret: string): Uint8Array<ArrayBuffer> {
    return sealWithToken(this.deps.secret, SEAL_PURPOSE, factorId, Buffer.from(secret, 'utf8'));
  }

  private open(factorId: string, sealed: Uint8Array): string | null {
    for (const secret of [this.deps.secret, this.deps.previousSecret]) {
      if (!secret) continue;
      const opened = openWithToken(secret, SEAL_PURPOSE, factorId, sealed);
      if (opened) return opened.toString('utf8');
    }
    return null;
  }
}

type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];
