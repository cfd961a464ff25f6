/**
 * ES256 signing keys that Warden makes, keeps and rotates itself (docs/api.md §4), shared by every
 * instance through the database.
 *
 * A key's state follows only from the times in its row, so every instance that has read the rows
 * agrees on it at any moment:
 *
 * - next      published (in the JWKS) from createdAt, not signing yet (activatesAt is later);
 * - current   the published key that activated last: it signs;
 * - previous  an older key, still published and verifying until every token it signed has
 *             expired: ACCESS_TOKEN_TTL + CLOCK_SKEW after the key after it activated;
 * - retired   gone from the JWKS, its tokens refused; revokedAt set means retired at once.
 *
 * A new key activates `leadMs` (JWKS_MAX_AGE plus two reload intervals) after it was created, so
 * every JWKS a client cached and every instance's memory lists it before any token names it.
 * Instances re-read the rows every `refreshMs`; a key revoked in the database is refused
 * everywhere within that bound.
 *
 * Private keys are sealed with AES-256-GCM under a key derived (HKDF) from JWT_SECRET and bound
 * to their kid; `sealedWith` fingerprints the master secret, so after a JWT_SECRET rotation (the
 * old one in JWT_SECRET_PREVIOUS) open() re-seals them under the new one.
 */
import { createHash, createPublicKey, createPrivateKey, createSecretKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { Prisma, type PrismaClient } from '../../generated/prisma/client';
import type { Config } from '../../config';
import { systemClock, type Clock } from '../../lib/clock';
import { openWithToken, sealWithToken } from '../../lib/seal';
import { deriveKey } from '../../lib/tokens';

export type KeyState = 'next' | 'current' | 'previous' | 'retired';

export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

/** What `npm run keys:*` prints: never any key material. */
export interface KeyInfo {
  kid: string;
  algorithm: string;
  state: KeyState;
  createdAt: Date;
  activatesAt: Date;
  revokedAt: Date | null;
  /** When the key stopped signing (the next key's activation), if it has. */
  stoppedSigningAt: Date | null;
}

export interface SigningKeysOptions {
  prisma: PrismaClient;
  clock: Clock;
  logger: Logger;
  secret: string;
  previousSecret?: string;
  rotationMs: number;
  jwksMaxAgeMs: number;
  accessTokenTtlMs: number;
  clockSkewMs: number;
  /** How often the rows are re-read: by default a quarter of JWKS_MAX_AGE, 250 ms to 10 s. */
  refreshMs?: number;
}

interface Row {
  kid: string;
  algorithm: string;
  generation: number;
  publicJwk: Prisma.JsonValue | null;
  privateSealed: Uint8Array | null;
  sealedWith: string | null;
  createdAt: Date;
  activatesAt: Date;
  revokedAt: Date | null;
}

interface LoadedKey {
  kid: string;
  algorithm: 'ES256' | 'HS256';
  generation: number;
  createdAt: number;
  activatesAt: number;
  revokedAt: number | null;
  /** ES256: the public key and its JWK. */
  publicKey?: KeyObject;
  jwk?: PublicJwk;
  /** ES256: the private key, null when no configured secret opens it. */
  privateKey?: KeyObject | null;
  /** HS256 (the switch from HS256): the configured secret whose kid this is, if any. */
  hmacKey?: KeyObject;
}

export interface VerificationKey {
  algorithm: 'ES256' | 'HS256';
  key: KeyObject;
}

const SEAL_PURPOSE = 'access-token signing key';
const RELOAD_ON_UNKNOWN_KID_MS = 1_000;

/** A fingerprint of a master secret (names which secret sealed a key; reveals nothing of it). */
export function secretFingerprint(secret: string): string {
  return Buffer.from(deriveKey(secret, 'master secret fingerprint')).toString('base64url').slice(0, 16);
}

/** The kid an HS256 token signed with `secret` carries (as src/lib/jwt.ts names it). */
export function hs256KeyId(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url').slice(0, 16);
}

/** RFC 7638 thumbprint of a P-256 public key: its kid. */
function thumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

/** The first ES256 key's generation (HS256 switch markers take 0 and below). */
const FIRST_ES256_GENERATION = 1;

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

/**
 * The key store the configuration asks for: opened (keys made, re-sealed, loaded) with ES256, null
 * with HS256. It keeps real time, not the app's clock: key states must agree with how long
 * other parties cache the JWKS. (Token iat/exp follow the app's clock, which is real time too
 * outside tests.)
 */
export async function openSigningKeys(infra: {
  config: Config;
  database: { prisma: PrismaClient };
  logger: Logger;
}): Promise<SigningKeys | null> {
  const { config } = infra;
  if (config.jwtAlgorithm !== 'ES256') return null;
  return SigningKeys.open({
    prisma: infra.database.prisma,
    clock: systemClock,
    logger: infra.logger,
    secret: config.jwtSecret,
    previousSecret: config.jwtSecretPrevious,
    rotationMs: config.jwtKeyRotationMs,
    jwksMaxAgeMs: config.jwksMaxAgeMs,
    accessTokenTtlMs: config.accessTokenTtlMs,
    clockSkewMs: config.clockSkewMs,
  });
}

export class SigningKeys {
  private keys: LoadedKey[] = [];
  /** Decrypted private keys by kid, so a reload does not decrypt again. */
  private readonly privateKeys = new Map<string, KeyObject | null>();
  private jwksDocument = { body: '{"keys":[]}', etag: '"0"' };
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private lastUnknownKidReload = 0;
  private readonly listeners: Array<() => void> = [];
  readonly refreshMs: number;
  /** How long after creation a new key may sign. */
  readonly leadMs: number;
  private readonly retentionMs: number;

  private constructor(private readonly options: SigningKeysOptions) {
    this.refreshMs = options.refreshMs ?? Math.min(10_000, Math.max(250, Math.floor(options.jwksMaxAgeMs / 4)));
    this.leadMs = options.jwksMaxAgeMs + 2 * this.refreshMs;
    this.retentionMs = options.accessTokenTtlMs + options.clockSkewMs;
  }

  /**
   * Re-seals keys sealed under JWT_SECRET_PREVIOUS, makes the first key when there is none (and,
   * when the database shows an earlier HS256 deployment, marks the switch), and loads the keys.
   * `maintain: false` (the keys:* scripts) makes no key by itself.
   */
  static async open(options: SigningKeysOptions, { maintain = true } = {}): Promise<SigningKeys> {
    const keys = new SigningKeys(options);
    await keys.reseal();
    if (maintain) await keys.bootstrap();
    await keys.reload();
    if (maintain) await keys.maintain();
    return keys;
  }

  /** Re-reads the rows every refreshMs and rotates when a key's time is up. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.reload()
        .then(() => this.maintain())
        .catch((error: unknown) =>
          this.options.logger.error({ err: error }, 'could not reload the signing keys; keeping the ones in memory'),
        );
    }, this.refreshMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.reloading?.catch(() => undefined);
  }

  /** Called whenever the set of usable keys changes (a token cache drops what it holds). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The key that signs now: the ES256 key that activated last and that this instance can open. */
  signingKey(): { kid: string; key: KeyObject } | null {
    const current = this.current(this.options.clock.now());
    return current?.privateKey ? { kid: current.kid, key: current.privateKey } : null;
  }

  /** The key a token naming `kid` is checked with, if that key is published (or an HS256 switch is still in its window). */
  verificationKey(kid: string): VerificationKey | null {
    const now = this.options.clock.now();
    const key = this.keys.find((candidate) => candidate.kid === kid);
    if (!key) {
      // A kid this instance has not seen: re-read soon (at most once a second), in case another
      // instance made a key this one has not loaded yet. The token itself is refused.
      if (now - this.lastUnknownKidReload >= RELOAD_ON_UNKNOWN_KID_MS) {
        this.lastUnknownKidReload = now;
        void this.reload().catch(() => undefined);
      }
      return null;
    }
    if (this.stateOf(key, now) === 'retired') return null;
    if (key.algorithm === 'ES256') return key.publicKey ? { algorithm: 'ES256', key: key.publicKey } : null;
    return key.hmacKey ? { algorithm: 'HS256', key: key.hmacKey } : null;
  }

  /** The JWKS as served: the public parts of every published ES256 key, with an ETag. */
  jwks(): { body: string; etag: string } {
    return this.jwksDocument;
  }

  /** Every key and its state now, for the keys:* scripts. */
  list(): KeyInfo[] {
    const now = this.options.clock.now();
    return this.keys.map((key) => {
      const stopped = this.stoppedSigningAt(key);
      return {
        kid: key.kid,
        algorithm: key.algorithm,
        state: this.stateOf(key, now),
        createdAt: new Date(key.createdAt),
        activatesAt: new Date(key.activatesAt),
        revokedAt: key.revokedAt === null ? null : new Date(key.revokedAt),
        stoppedSigningAt: stopped !== null && stopped <= now ? new Date(stopped) : null,
      };
    });
  }

  /**
   * `npm run keys:rotate`: a new key that signs once it has been published for leadMs. When a
   * next key is already waiting, it is brought forward instead (to leadMs after its creation).
   */
  async rotate(): Promise<KeyInfo> {
    await this.reload();
    const now = this.options.clock.now();
    const waiting = this.es256().find((key) => this.stateOf(key, now) === 'next');
    if (waiting) {
      const activatesAt = Math.max(now, waiting.createdAt + this.leadMs);
      if (activatesAt < waiting.activatesAt) {
        await this.options.prisma.signingKey.update({ where: { kid: waiting.kid }, data: { activatesAt: new Date(activatesAt) } });
      }
      await this.reload();
      return this.info(waiting.kid);
    }
    const kid = await this.create(now + this.leadMs);
    await this.reload();
    return this.info(kid);
  }

  /**
   * `npm run keys:revoke <kid>` (a compromised key): gone from the JWKS and refused at once here,
   * on every instance within refreshMs. When it was signing, a waiting next key signs from now on,
   * or a new key does (gateways that cached the JWKS then refetch it for the unknown kid).
   */
  async revoke(kid: string): Promise<KeyInfo | null> {
    await this.reload();
    const now = this.options.clock.now();
    const key = this.keys.find((candidate) => candidate.kid === kid);
    if (!key) return null;
    // The replacement signs before the key is revoked, so no instance falls back to an older key.
    if (this.current(now)?.kid === kid) {
      const waiting = this.es256().find((candidate) => this.stateOf(candidate, now) === 'next');
      if (waiting) {
        await this.options.prisma.signingKey.update({ where: { kid: waiting.kid }, data: { activatesAt: new Date(now) } });
      } else {
        await this.create(now);
      }
    }
    if (key.revokedAt === null) {
      await this.options.prisma.signingKey.update({ where: { kid }, data: { revokedAt: new Date(now) } });
    }
    await this.reload();
    return this.info(kid);
  }

  /** Re-reads the rows; concurrent callers share one read. */
  reload(): Promise<void> {
    this.reloading ??= this.load().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /**
   * Scheduled rotation: when the current key has signed for JWT_KEY_ROTATION less leadMs and no
   * next key waits, make one that activates when the current key's time is up. Instances racing
   * to do it collide on the generation number; one wins, the others read its key.
   */
  async maintain(): Promise<void> {
    const now = this.options.clock.now();
    const current = this.current(now);
    if (!current) {
      // No key signs (every key revoked, or none made yet): sign with a new one at once.
      if (this.es256().every((key) => this.stateOf(key, now) !== 'next')) await this.create(now);
      await this.reload();
      return;
    }
    const waiting = this.es256().some((key) => this.stateOf(key, now) === 'next');
    const due = current.activatesAt + this.options.rotationMs;
    if (!waiting && now >= due - this.leadMs) {
      await this.create(Math.max(due, now + this.leadMs));
      await this.reload();
    }
  }

  private es256(): LoadedKey[] {
    return this.keys.filter((key) => key.algorithm === 'ES256');
  }

  /** The published ES256 key that activated last (by activation time, then generation). */
  private current(now: number): LoadedKey | undefined {
    let best: LoadedKey | undefined;
    for (const key of this.keys) {
      if (key.algorithm !== 'ES256' || key.revokedAt !== null || key.activatesAt > now) continue;
      if (!best || key.activatesAt > best.activatesAt || (key.activatesAt === best.activatesAt && key.generation > best.generation))
        best = key;
    }
    return best;
  }

  /** When `key` stopped signing: the activation of the first unrevoked key to activate after it. */
  private stoppedSigningAt(key: LoadedKey): number | null {
    let stopped: number | null = null;
    for (const other of this.keys) {
      if (other === key || other.algorithm !== 'ES256' || other.revokedAt !== null) continue;
      const later = other.activatesAt > key.activatesAt || (other.activatesAt === key.activatesAt && other.generation > key.generation);
      if (later && (stopped === null || other.activatesAt < stopped)) stopped = other.activatesAt;
    }
    return stopped;
  }

  private stateOf(key: LoadedKey, now: number): KeyState {
    if (key.revokedAt !== null) return 'retired';
    if (key.activatesAt > now) return key.algorithm === 'ES256' ? 'next' : 'retired';
    const stopped = this.stoppedSigningAt(key);
    if (stopped === null || stopped > now) return key.algorithm === 'ES256' ? 'current' : 'previous';
    return now < stopped + this.retentionMs ? 'previous' : 'retired';
  }

  private info(kid: string): KeyInfo {
    const found = this.list().find((key) => key.kid === kid);
    if (!found) throw new Error(`signing key ${kid} is not in the database`);
    return found;
  }

  private async load(): Promise<void> {
    const rows = (await this.options.prisma.signingKey.findMany({ orderBy: { generation: 'asc' } })) as Row[];
    const before = this.fingerprint();
    const secrets = [this.options.secret, this.options.previousSecret].filter((secret): secret is string => Boolean(secret));
    const keys: LoadedKey[] = [];
    for (const row of rows) {
      const base = {
        kid: row.kid,
        generation: row.generation,
        createdAt: row.createdAt.getTime(),
        activatesAt: row.activatesAt.getTime(),
        revokedAt: row.revokedAt ? row.revokedAt.getTime() : null,
      };
      if (row.algorithm === 'HS256') {
        const secret = secrets.find((candidate) => hs256KeyId(candidate) === row.kid);
        keys.push({ ...base, algorithm: 'HS256', hmacKey: secret ? createSecretKey(Buffer.from(secret, 'utf8')) : undefined });
        continue;
      }
      if (row.algorithm !== 'ES256') continue;
      const jwk = this.publicJwkOf(row);
      if (!jwk) continue;
      let publicKey: KeyObject;
      try {
        publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' });
      } catch {
        // A row altered by hand: one bad key must not stop the start or the others.
        this.options.logger.error({ kid: row.kid }, 'signing key row has an invalid public key; skipped');
        continue;
      }
      keys.push({ ...base, algorithm: 'ES256', jwk, publicKey, privateKey: this.privateKeyOf(row) });
    }
    this.keys = keys;
    const now = this.options.clock.now();
    const published = keys.filter((key) => key.jwk && this.stateOf(key, now) !== 'retired').map((key) => key.jwk!);
    const body = JSON.stringify({ keys: published });
    this.jwksDocument = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    if (this.fingerprint() !== before) for (const listener of this.listeners) listener();
  }

  /** What the usable key set is made of; a change of it tells the listeners. */
  private fingerprint(): string {
    return this.keys.map((key) => `${key.kid}:${key.activatesAt}:${key.revokedAt ?? ''}`).join(',');
  }

  private publicJwkOf(row: Row): PublicJwk | null {
    const value = row.publicJwk as Record<string, unknown> | null;
    if (!value || value.kty !== 'EC' || value.crv !== 'P-256' || typeof value.x !== 'string' || typeof value.y !== 'string') {
      this.options.logger.error({ kid: row.kid }, 'signing key row has no usable public key; skipped');
      return null;
    }
    return { kty: 'EC', crv: 'P-256', x: value.x, y: value.y, kid: row.kid, alg: 'ES256', use: 'sig' };
  }

  private privateKeyOf(row: Row): KeyObject | null {
    if (this.privateKeys.has(row.kid)) return this.privateKeys.get(row.kid)!;
    let key: KeyObject | null = null;
    const secret = [this.options.secret, this.options.previousSecret].find(
      (candidate) => candidate && secretFingerprint(candidate) === row.sealedWith,
    );
    if (secret && row.privateSealed) {
      const opened = openWithToken(secret, SEAL_PURPOSE, row.kid, row.privateSealed);
      try {
        if (opened) key = createPrivateKey({ key: opened, format: 'der', type: 'pkcs8' });
      } catch {
        key = null;
      } finally {
        opened?.fill(0);
      }
    }
    // Only the kid is logged: the sealed bytes and the key never are.
    if (!key)
      this.options.logger.error(
        { kid: row.kid },
        'signing key cannot be opened with JWT_SECRET or JWT_SECRET_PREVIOUS; it verifies but cannot sign',
      );
    this.privateKeys.set(row.kid, key);
    return key;
  }

  /**
   * Makes a key that signs from `activatesAt`; when another instance made that generation first,
   * returns theirs. `generation` pins the new key's number; the first key takes 1, so instances starting together
   * on an empty table collide on it and all sign with the one that won (with max + 1 a late
   * instance would make a second key that the first instance does not know until its next reload,
   * and refuse that instance's tokens meanwhile).
   */
  private async create(activatesAt: number, generation?: number): Promise<string> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const exported = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string; y: string };
    const kid = thumbprint(exported);
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const latest = generation === undefined ? await this.options.prisma.signingKey.aggregate({ _max: { generation: true } }) : null;
    const now = this.options.clock.now();
    try {
      await this.options.prisma.signingKey.create({
        data: {
          kid,
          algorithm: 'ES256',
          generation: generation ?? (latest?._max.generation ?? 0) + 1,
          publicJwk: { kty: 'EC', crv: 'P-256', x: exported.x, y: exported.y },
          privateSealed: sealWithToken(this.options.secret, SEAL_PURPOSE, kid, der),
          sealedWith: secretFingerprint(this.options.secret),
          createdAt: new Date(now),
          activatesAt: new Date(activatesAt),
        },
      });
      der.fill(0);
      this.privateKeys.set(kid, privateKey);
      this.options.logger.info({ kid, activatesAt: new Date(activatesAt).toISOString() }, 'new signing key published');
      return kid;
    } catch (error) {
      der.fill(0);
      if (!isUniqueViolation(error)) throw error;
      // Another instance made the key for this generation at the same moment: use theirs.
      this.options.logger.debug('another instance made the next signing key');
      await this.reload();
      const theirs = this.es256().at(-1);
      if (!theirs) throw error;
      return theirs.kid;
    }
  }

  /**
   * First start with ES256: when the database already holds sessions, the deployment ran with
   * HS256 before (the only algorithm earlier versions had). Marking that switch keeps its tokens
   * verifying until they expire; then HS256 is refused. Then the first ES256 key, signing at once
   * (nobody can have cached a JWKS yet).
   */
  private async bootstrap(): Promise<void> {
    if ((await this.options.prisma.signingKey.count()) > 0) return;
    const now = this.options.clock.now();
    const ranBefore = (await this.options.prisma.session.findFirst({ select: { id: true } })) !== null;
    if (ranBefore) {
      const secrets = [this.options.secret, this.options.previousSecret].filter((secret): secret is string => Boolean(secret));
      try {
        await this.options.prisma.signingKey.createMany({
          data: secrets.map((secret, index) => ({
            kid: hs256KeyId(secret),
            algorithm: 'HS256',
            generation: -index,
            createdAt: new Date(now),
            activatesAt: new Date(0),
          })),
        });
        this.options.logger.info('switching from HS256 to ES256: HS256 tokens issued before now verify until they expire');
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
    }
    await this.create(now, FIRST_ES256_GENERATION);
  }

  /** Keys sealed under JWT_SECRET_PREVIOUS are sealed again under JWT_SECRET; none is lost. */
  private async reseal(): Promise<void> {
    const { previousSecret, secret, prisma, logger } = this.options;
    if (!previousSecret || previousSecret === secret) return;
    const oldPrint = secretFingerprint(previousSecret);
    const rows = await prisma.signingKey.findMany({ where: { sealedWith: oldPrint }, select: { kid: true, privateSealed: true } });
    for (const row of rows) {
      const opened = row.privateSealed ? openWithToken(previousSecret, SEAL_PURPOSE, row.kid, row.privateSealed) : null;
      if (!opened) {
        logger.error({ kid: row.kid }, 'signing key cannot be opened with JWT_SECRET_PREVIOUS; left as it is');
        continue;
      }
      // Conditional on the old seal, so two instances re-sealing at once write it once.
      await prisma.signingKey.updateMany({
        where: { kid: row.kid, sealedWith: oldPrint },
        data: { privateSealed: sealWithToken(secret, SEAL_PURPOSE, row.kid, opened), sealedWith: secretFingerprint(secret) },
      });
      opened.fill(0);
    }
    if (rows.length > 0) logger.info({ keys: rows.length }, 'signing keys re-sealed under the new JWT_SECRET');
  }
}
