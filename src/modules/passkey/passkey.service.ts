/**
 * Passkeys (WebAuthn, docs/api.md §3) through @simplewebauthn/server. Knows nothing of GraphQL: the
 * resolver hands it the viewer, the request's meta and the browser's response JSON.
 *
 * - start… makes the options for navigator.credentials.create/get with a fresh challenge and
 *   remembers that challenge for 5 minutes in the shared store (SingleUseStore), so any instance
 *   can finish. finish… reads the challenge out of the response's clientDataJSON and takes its
 *   record before anything else is checked: every attempt spends it, so a challenge (and with it
 *   an assertion) is accepted at most once.
 * - User verification is required at registration and at every sign-in.
 * - The credential's signature counter and backup flags are kept. A counter-bearing credential
 *   must move its counter forward at every sign-in (a conditional update: of two parallel
 *   sign-ins with one counter value, one wins); the backup-eligible flag must not change.
 * - A passkey sign-in opens an ordinary session at AAL2, `amr` ["hwk"] for a device-bound
 *   credential and ["swk"] for a backup-eligible (synced) one.
 * - startPasskeyLogin(email) lists the account's credential ids; for an address with no passkey
 *   (unknown or not) it lists ids derived from the address under a key of JWT_SECRET, stable
 *   across calls, so the answer says nothing about whether the account exists.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { Prisma, type PrismaClient } from '../../generated/prisma/client';
import type { WebAuthnConfig } from '../../config';
import { AppError, ValidationError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import type { Metrics } from '../../infra/metrics';
import { SingleUseStore } from '../../infra/single-use-store';
import type { Store } from '../../infra/store';
import type { Clock } from '../../lib/clock';
import { deriveKey, isUuid, normalizeEmail } from '../../lib/tokens';
import { emailProblem, textProblem } from '../../lib/validation';
import type { RequestMeta, Viewer } from '../../domain/types';
import { USER_SELECT } from '../user';
import type { AuditService, RateLimitService } from '../security';
import type { AuthService } from '../identity';
import type { IssuedTokens } from '../session';
import { KNOWN_TRANSPORTS, authenticationResponse, clientDataOf, registrationResponse } from './passkey-response';

/** How long a started ceremony may be finished (docs/api.md §3). */
export const PASSKEY_CHALLENGE_TTL_MS = 5 * 60_000;
/** Passkeys one user may register; each is listed in every registration and sign-in option. */
export const MAX_PASSKEYS_PER_USER = 20;
const MAX_NAME_LENGTH = 64;

/** What start… remembers for finish…, under the challenge's hash. */
interface PendingCeremony {
  purpose: 'register' | 'login';
  /** The user registering; null for a sign-in. */
  userId: string | null;
  /** By the injected clock, so expiry is the same on both stores (Redis also drops it after the TTL). */
  expiresAt: number;
}

export interface PasskeyInfo {
  id: string;
  name: string | null;
  backedUp: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface PasskeyServiceDeps {
  prisma: PrismaClient;
  store: Store;
  clock: Clock;
  auth: AuthService;
  audit: AuditService;
  rateLimits: RateLimitService;
  metrics: Pick<Metrics, 'logins'>;
  logger: Logger;
  webauthn: WebAuthnConfig;
  /** JWT_SECRET: the root of the key that derives decoy credential ids. */
  secret: string;
}

type PasskeyViewer = Pick<Viewer, 'userId' | 'sessionId' | 'aal' | 'user'>;

const INFO_SELECT = { id: true, name: true, backedUp: true, createdAt: true, lastUsedAt: true } as const;

/** The WebAuthn user handle of a user: the 16 bytes of their id, so it carries nothing personal. */
function userHandle(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId.replace(/-/g, ''), 'hex'));
}

/** Decoy credential ids and transports look like what common authenticators produce. */
const DECOY_ID_LENGTHS = [16, 16, 20, 32, 32, 64];
const DECOY_TRANSPORTS: string[][] = [['hybrid', 'internal'], ['hybrid', 'internal'], ['internal'], ['nfc', 'usb']];

export class PasskeyService {
  private readonly challenges: SingleUseStore<PendingCeremony>;
  private readonly decoyKey: Uint8Array;

  constructor(private readonly deps: PasskeyServiceDeps) {
    this.challenges = new SingleUseStore(deps.store, deps.clock, 'warden:passkey:', PASSKEY_CHALLENGE_TTL_MS, 'passkey challenge');
    this.decoyKey = deriveKey(deps.secret, 'passkey decoy credential');
  }

  async list(userId: string): Promise<PasskeyInfo[]> {
    return this.deps.prisma.passkey.findMany({ where: { userId }, select: INFO_SELECT, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  }

  /**
   * startPasskeyRegistration: creation options for the viewer (user verification and a
   * discoverable credential required, no attestation asked), excluding their registered passkeys.
   * @throws AppError MFA_REQUIRED (a user with MFA on an AAL1 session); ValidationError at
   *   MAX_PASSKEYS_PER_USER; RetryLaterError RATE_LIMITED; StoreUnavailableError.
   */
  async startRegistration(viewer: PasskeyViewer, meta: RequestMeta): Promise<PublicKeyCredentialCreationOptionsJSON> {
    await this.deps.rateLimits.consumeIp('startPasskeyRegistration', meta.ip);
    this.requireDefaultAssurance(viewer);
    const existing = await this.deps.prisma.passkey.findMany({
      where: { userId: viewer.userId },
      select: { credentialId: true, transports: true },
    });
    if (existing.length >= MAX_PASSKEYS_PER_USER)
      throw new ValidationError({ passkeys: `at most ${MAX_PASSKEYS_PER_USER} passkeys per account; delete one first` });
    const { rpId, rpName } = this.deps.webauthn;
    const options = await generateRegistrationOptions({
      rpName,
      rpID: rpId,
      userName: viewer.user.email,
      userDisplayName: viewer.user.name,
      userID: userHandle(viewer.userId),
      attestationType: 'none',
      timeout: PASSKEY_CHALLENGE_TTL_MS,
      excludeCredentials: existing.map((row) => ({ id: row.credentialId, transports: row.transports })),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
    });
    await this.challenges.put(options.challenge, {
      purpose: 'register',
      userId: viewer.userId,
      expiresAt: this.deps.clock.now() + PASSKEY_CHALLENGE_TTL_MS,
    });
    return options;
  }

  /**
   * finishPasskeyRegistration: verifies the browser's attestation response against the viewer's
   * pending challenge and stores the credential.
   * @throws ValidationError (a response of the wrong shape, a bad name, a credential already
   *   registered); AppError INVALID_CREDENTIALS (a response that does not verify: unknown,
   *   expired, spent or another user's challenge, wrong origin or RP ID, no user verification),
   *   MFA_REQUIRED; RetryLaterError RATE_LIMITED; StoreUnavailableError.
   */
  async finishRegistration(
    viewer: PasskeyViewer,
    rawResponse: unknown,
    rawName: string | null | undefined,
    meta: RequestMeta,
  ): Promise<PasskeyInfo> {
    await this.deps.rateLimits.consumeIp('finishPasskeyRegistration', meta.ip);
    const name = this.cleanName(rawName);
    const response = registrationResponse(rawResponse);
    this.requireDefaultAssurance(viewer);
    const clientData = clientDataOf(response.response.clientDataJSON);
    if (!clientData) throw this.refused('registration', viewer.userId, meta, 'unreadable clientDataJSON');
    const pending = await this.challenges.take(clientData.challenge);
    if (!pending || pending.purpose !== 'register' || pending.userId !== viewer.userId || pending.expiresAt <= this.deps.clock.now()) {
      throw this.refused('registration', viewer.userId, meta, 'unknown, expired, spent or foreign challenge');
    }
    if (clientData.crossOrigin === true) throw this.refused('registration', viewer.userId, meta, 'cross-origin ceremony');
    let info;
    try {
      const verification = await verifyRegistrationResponse({
        response,
        expectedChallenge: clientData.challenge,
        expectedOrigin: [...this.deps.webauthn.origins],
        expectedRPID: this.deps.webauthn.rpId,
        requireUserPresence: true,
        requireUserVerification: true,
      });
      if (!verification.verified) throw new Error('not verified');
      info = verification.registrationInfo;
    } catch (error) {
      throw this.refused('registration', viewer.userId, meta, 'attestation did not verify', error);
    }
    const { credential } = info;
    // The library stores what the attestation names; the response's own id must be that one.
    if (credential.id !== response.id)
      throw this.refused('registration', viewer.userId, meta, 'response id is not the attested credential id');
    const transports = (response.response.transports ?? []).filter((t): t is (typeof KNOWN_TRANSPORTS)[number] =>
      (KNOWN_TRANSPORTS as readonly string[]).includes(t),
    );
    const id = randomUUID();
    let created: PasskeyInfo;
    try {
      created = await this.deps.prisma.$transaction(async (tx) => {
        // One registration at a time per user, so the cap holds under parallel finishes.
        await tx.$queryRaw`SELECT 1 FROM "User" WHERE "id" = ${viewer.userId}::uuid FOR UPDATE`;
        const count = await tx.passkey.count({ where: { userId: viewer.userId } });
        if (count >= MAX_PASSKEYS_PER_USER)
          throw new ValidationError({ passkeys: `at most ${MAX_PASSKEYS_PER_USER} passkeys per account; delete one first` });
        return tx.passkey.create({
          data: {
            id,
            userId: viewer.userId,
            credentialId: credential.id,
            publicKey: new Uint8Array(credential.publicKey),
            counter: BigInt(credential.counter),
            transports: [...new Set(transports)],
            backupEligible: info.credentialDeviceType === 'multiDevice',
            backedUp: info.credentialBackedUp,
            aaguid: info.aaguid,
            name,
            createdAt: new Date(this.deps.clock.now()),
          },
          select: INFO_SELECT,
        });
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002')
        throw new ValidationError({ response: 'this passkey is already registered' });
      if (isForeignKeyViolation(error)) throw new AppError(ErrorCode.UNAUTHENTICATED);
      throw error;
    }
    await this.deps.audit.record('passkey_added', {
      userId: viewer.userId,
      sessionId: viewer.sessionId,
      meta,
      detail: { passkeyId: id, backupEligible: info.credentialDeviceType === 'multiDevice', aaguid: info.aaguid },
    });
    return created;
  }

  /**
   * startPasskeyLogin: request options. With an email, `allowCredentials` lists that account's
   * credentials, or decoys (see the file comment) when it has none; without one, no list, so the
   * browser offers the discoverable credentials it holds for the RP.
   * @throws ValidationError for a malformed email; RetryLaterError RATE_LIMITED; StoreUnavailableError.
   */
  async startLogin(rawEmail: string | null | undefined, meta: RequestMeta): Promise<PublicKeyCredentialRequestOptionsJSON> {
    await this.deps.rateLimits.consumeIp('startPasskeyLogin', meta.ip);
    let allowCredentials: Array<{ id: string; transports: string[] }> | undefined;
    if (typeof rawEmail === 'string' && rawEmail.trim() !== '') {
      const problem = emailProblem(rawEmail);
      if (problem) throw new ValidationError({ email: problem });
      const email = normalizeEmail(rawEmail);
      const rows = await this.deps.prisma.passkey.findMany({
        where: { user: { email } },
        select: { credentialId: true, transports: true },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
      allowCredentials = rows.length > 0 ? rows.map((row) => ({ id: row.credentialId, transports: row.transports })) : this.decoys(email);
    }
    const options = await generateAuthenticationOptions({
      rpID: this.deps.webauthn.rpId,
      allowCredentials,
      userVerification: 'required',
      timeout: PASSKEY_CHALLENGE_TTL_MS,
    });
    await this.challenges.put(options.challenge, {
      purpose: 'login',
      userId: null,
      expiresAt: this.deps.clock.now() + PASSKEY_CHALLENGE_TTL_MS,
    });
    return options;
  }

  /**
   * finishPasskeyLogin: verifies the assertion and opens an AAL2 session for the credential's user.
   * @throws ValidationError (a response of the wrong shape); AppError INVALID_CREDENTIALS (any
   *   assertion that does not verify: unknown credential, its user deleted, a spent, expired or
   *   unknown challenge, wrong origin or RP ID, no user verification, a bad signature, a counter
   *   that did not move forward, a changed backup-eligible flag, a foreign user handle);
   *   RetryLaterError RATE_LIMITED; StoreUnavailableError.
   */
  async finishLogin(rawResponse: unknown, meta: RequestMeta): Promise<IssuedTokens> {
    await this.deps.rateLimits.consumeIp('finishPasskeyLogin', meta.ip);
    const response = authenticationResponse(rawResponse);
    const clientData = clientDataOf(response.response.clientDataJSON);
    if (!clientData) throw await this.loginFailed(null, meta, 'unreadable clientDataJSON');
    const pending = await this.challenges.take(clientData.challenge);
    if (!pending || pending.purpose !== 'login' || pending.expiresAt <= this.deps.clock.now())
      throw await this.loginFailed(null, meta, 'unknown, expired or spent challenge');
    if (clientData.crossOrigin === true) throw await this.loginFailed(null, meta, 'cross-origin ceremony');
    const row = await this.deps.prisma.passkey.findUnique({
      where: { credentialId: response.id },
      select: {
        id: true,
        userId: true,
        credentialId: true,
        publicKey: true,
        counter: true,
        transports: true,
        backupEligible: true,
        user: { select: { ...USER_SELECT, mfaEnabled: true } },
      },
    });
    if (!row) throw await this.loginFailed(null, meta, 'unknown credential');
    const handle = response.response.userHandle;
    if (handle && handle !== Buffer.from(userHandle(row.userId)).toString('base64url'))
      throw await this.loginFailed(row.userId, meta, 'user handle of another user');
    let info;
    try {
      const verification = await verifyAuthenticationResponse({
        response,
        expectedChallenge: clientData.challenge,
        expectedOrigin: [...this.deps.webauthn.origins],
        expectedRPID: this.deps.webauthn.rpId,
        credential: {
          id: row.credentialId,
          publicKey: new Uint8Array(row.publicKey),
          counter: Number(row.counter),
          transports: row.transports,
        },
        requireUserVerification: true,
      });
      if (!verification.verified) throw new Error('not verified');
      info = verification.authenticationInfo;
    } catch (error) {
      throw await this.loginFailed(row.userId, meta, 'assertion did not verify', error);
    }
    // WebAuthn L3 §7.2: a credential's backup eligibility never changes.
    if ((info.credentialDeviceType === 'multiDevice') !== row.backupEligible)
      throw await this.loginFailed(row.userId, meta, 'backup eligibility changed');
    const moved = await this.deps.prisma.passkey.updateMany({
      where: { id: row.id, counter: row.counter },
      data: { counter: BigInt(info.newCounter), backedUp: info.credentialBackedUp, lastUsedAt: new Date(this.deps.clock.now()) },
    });
    // Another sign-in with this credential moved the counter meanwhile: only one of them had the next value.
    if (moved.count !== 1 && (info.newCounter > 0 || row.counter > 0n)) throw await this.loginFailed(row.userId, meta, 'counter raced');
    const { mfaEnabled: _mfa, ...user } = row.user;
    const amr = [row.backupEligible ? 'swk' : 'hwk'];
    let tokens: IssuedTokens;
    try {
      tokens = await this.deps.auth.startSession(user, meta, amr, { aal: 'aal2' });
    } catch (error) {
      // The user was deleted between the lookup and the session's insert.
      if (isForeignKeyViolation(error)) throw await this.loginFailed(row.userId, meta, 'user deleted');
      throw error;
    }
    this.deps.metrics.logins.inc({ result: 'ok' });
    await this.deps.audit.record('passkey_login', { userId: row.userId, sessionId: tokens.sessionId, meta, detail: { passkeyId: row.id } });
    return tokens;
  }

  /**
   * Deletes one of the viewer's passkeys, unless it is their last way to sign in (no password,
   * no OAuth identity, no other passkey).
   * @throws AppError NOT_FOUND (not a passkey of the viewer), MFA_REQUIRED; ValidationError for the last way to sign in.
   */
  async remove(viewer: PasskeyViewer, passkeyId: string, meta: RequestMeta): Promise<true> {
    if (!isUuid(passkeyId)) throw new AppError(ErrorCode.NOT_FOUND);
    this.requireDefaultAssurance(viewer);
    await this.deps.prisma.$transaction(async (tx) => {
      // The same lock unlinkOAuthIdentity takes: two removals cannot each leave the other as the last.
      await tx.$queryRaw`SELECT 1 FROM "User" WHERE "id" = ${viewer.userId}::uuid FOR UPDATE`;
      const user = await tx.user.findUnique({
        where: { id: viewer.userId },
        select: { passwordHash: true, _count: { select: { identities: true } }, passkeys: { select: { id: true } } },
      });
      if (!user) throw new AppError(ErrorCode.UNAUTHENTICATED);
      if (!user.passkeys.some((passkey) => passkey.id === passkeyId)) throw new AppError(ErrorCode.NOT_FOUND);
      if (user.passwordHash === null && user._count.identities === 0 && user.passkeys.length === 1) {
        throw new ValidationError({ id: 'is your only way to sign in; set a password (password reset) or add another passkey first' });
      }
      await tx.passkey.delete({ where: { id: passkeyId } });
    });
    await this.deps.audit.record('passkey_removed', { userId: viewer.userId, sessionId: viewer.sessionId, meta, detail: { passkeyId } });
    return true;
  }

  // -------------------------------------------------------------------------------------------

  /** The directive's default rule, checked again here: a user with MFA needs AAL2 to change passkeys. */
  private requireDefaultAssurance(viewer: PasskeyViewer): void {
    if (viewer.user.mfaEnabled && viewer.aal !== 'aal2') throw new AppError(ErrorCode.MFA_REQUIRED);
  }

  private cleanName(name: string | null | undefined): string | null {
    if (name === null || name === undefined) return null;
    const trimmed = name.trim();
    const problem = textProblem(trimmed) ?? (trimmed.length > MAX_NAME_LENGTH ? `must be at most ${MAX_NAME_LENGTH} characters` : null);
    if (problem) throw new ValidationError({ name: problem });
    return trimmed || null;
  }

  /** Stable decoy credentials for an address without passkeys: one, of a plausible length and transports. */
  private decoys(email: string): Array<{ id: string; transports: string[] }> {
    const digest = createHmac('sha512', this.decoyKey).update(email, 'utf8').digest();
    const length = DECOY_ID_LENGTHS[digest[0] % DECOY_ID_LENGTHS.length];
    const transports = DECOY_TRANSPORTS[digest[1] % DECOY_TRANSPORTS.length];
    const id = createHmac('sha512', this.decoyKey).update(`id:${email}`, 'utf8').digest().subarray(0, length).toString('base64url');
    return [{ id, transports: [...transports] }];
  }

  private refused(ceremony: 'registration', userId: string, meta: RequestMeta, reason: string, cause?: unknown): AppError {
    this.deps.logger.info(
      { reason, cause: cause instanceof Error ? cause.message : undefined, userId, requestId: meta.id },
      `passkey ${ceremony} refused`,
    );
    return new AppError(ErrorCode.INVALID_CREDENTIALS);
  }

  private async loginFailed(userId: string | null, meta: RequestMeta, reason: string, cause?: unknown): Promise<AppError> {
    this.deps.logger.info(
      { reason, cause: cause instanceof Error ? cause.message : undefined, requestId: meta.id },
      'passkey sign-in refused',
    );
    this.deps.metrics.logins.inc({ result: 'failed' });
    await this.deps.audit.record('passkey_login_failed', { userId, meta, detail: { reason } });
    return new AppError(ErrorCode.INVALID_CREDENTIALS);
  }
}

/** A foreign-key violation (SQLSTATE 23503), from a Prisma call or a raw statement. */
function isForeignKeyViolation(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    if (error.code === 'P2003') return true;
    return error.code === 'P2010' && JSON.stringify(error.meta ?? {}).includes('23503');
  }
  return error instanceof Error && /23503|foreign key/i.test(error.message);
}
