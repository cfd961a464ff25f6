/**
 * Avatar uploads (docs/api.md §3, "Avatars"). `start` records the upload and returns a presigned
 * upload for exactly one key, content type and size, valid for 10 minutes; the client sends the
 * file straight to the storage. `finish` takes an upload this user started (once), reads what
 * was uploaded (bounded in size and time), checks it itself — the store may not have enforced
 * the signed type and size — turns it into a WebP avatar (avatar-image.ts), stores that under a
 * new key, points the user's avatarUrl at it, and deletes the raw upload and the avatar it
 * replaced. The cleanup deletes uploads that were started but never finished.
 */
import type { Logger } from 'pino';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { PrismaClient } from '../../generated/prisma/client';
import { RetryLaterError, ValidationError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import { runLimiter, type Store } from '../../infra/store';
import { ObjectTooLargeError, type PresignedUpload } from '../../infra/storage/storage';
import type { Clock } from '../../lib/clock';
import type { UserRow, UserService } from '../user';
import { ImageRejectedError, toAvatar } from './avatar-image';
import type { AvatarLibrary } from './avatar-library';

export const AVATAR_CONTENT_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/webp'];
/** How long a presigned upload, and the record of it, stays valid. */
export const UPLOAD_TTL_MS = 10 * 60_000;
/**
 * How long after its expiry a never-finished upload is deleted: an upload that began just before
 * the expiry may still be arriving.
 */
export const UPLOAD_CLEANUP_GRACE_MS = 5 * 60_000;
/** Reading an upload back from the storage is abandoned after this long. */
const READ_TIMEOUT_MS = 20_000;
/** Avatars are immutable (every one has its own key), so caches may keep them for a year. */
export const AVATAR_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** Images decoded at once by this process; more wait their turn, so memory stays bounded. */
const DECODE_CONCURRENCY = 2;

export interface AvatarUploadResult extends Omit<PresignedUpload, 'url'> {
  uploadUrl: string;
  key: string;
  maxBytes: number;
  expiresAt: Date;
}

export interface AvatarServiceDeps {
  prisma: PrismaClient;
  library: AvatarLibrary;
  users: Pick<UserService, 'replaceAvatarUrl'>;
  store: Store;
  clock: Clock;
  logger: Logger;
  /** AVATAR_MAX_BYTES */
  maxBytes: number;
  /** AVATAR_UPLOADS_PER_HOUR: startAvatarUpload calls per user per hour. */
  uploadsPerHour: number;
}

export class AvatarService {
  private readonly limiter: RateLimiterAbstract;
  private readonly decodeSlots = new Slots(DECODE_CONCURRENCY);

  constructor(private readonly deps: AvatarServiceDeps) {
    this.limiter = deps.store.limiter({ keyPrefix: 'warden:avatar-upload', points: deps.uploadsPerHour, durationMs: 3_600_000 });
  }

  /**
   * @throws ValidationError for a content type other than PNG, JPEG or WebP, or a size outside 1..AVATAR_MAX_BYTES.
   * @throws RetryLaterError RATE_LIMITED past AVATAR_UPLOADS_PER_HOUR.
   * @throws StoreUnavailableError when the store does not answer (nothing is started).
   */
  async start(userId: string, contentType: string, byteSize: number): Promise<AvatarUploadResult> {
    const fields: Record<string, string> = {};
    const type = contentType.trim().toLowerCase();
    if (!AVATAR_CONTENT_TYPES.includes(type)) fields.contentType = `must be one of ${AVATAR_CONTENT_TYPES.join(', ')}`;
    if (!Number.isSafeInteger(byteSize) || byteSize < 1 || byteSize > this.deps.maxBytes) {
      fields.byteSize = `must be from 1 to ${this.deps.maxBytes} bytes`;
    }
    if (Object.keys(fields).length > 0) throw new ValidationError(fields);

    const outcome = await runLimiter('avatar upload limit', () => this.limiter.consume(userId, 1));
    if (!outcome.allowed) throw new RetryLaterError(ErrorCode.RATE_LIMITED, outcome.res.msBeforeNext);

    const key = this.deps.library.newUploadKey(userId);
    const expiresAt = new Date(this.deps.clock.now() + UPLOAD_TTL_MS);
    await this.deps.prisma.avatarUpload.create({ data: { key, userId, contentType: type, byteSize, expiresAt } });
    const {
      url,
      method,
      headers,
      fields: formFields,
    } = await this.deps.library.storage.presignUpload({ key, contentType: type, byteSize, expiresAt });
    return { uploadUrl: url, method, headers, fields: formFields, key, maxBytes: byteSize, expiresAt };
  }

  /**
   * @throws ValidationError (BAD_USER_INPUT on `key`) for a key this user did not start, one that
   * expired or was already finished, nothing uploaded, another size than declared, or a file
   * that is not a PNG, JPEG or WebP image. The user's avatar is unchanged then, and the upload
   * is spent: start again.
   */
  async finish(userId: string, key: string): Promise<UserRow> {
    const refuse = (message: string) => new ValidationError({ key: message });
    if (!this.deps.library.isUploadKeyOf(userId, key)) throw refuse('is not an upload you started');
    const record = await this.deps.prisma.avatarUpload.findUnique({ where: { key } });
    const now = new Date(this.deps.clock.now());
    if (!record || record.userId !== userId) throw refuse('is not an upload you started');
    // Take it: of parallel finishes of one key, exactly one goes on.
    const { count } = await this.deps.prisma.avatarUpload.updateMany({
      where: { key, userId, claimedAt: null, expiresAt: { gt: now } },
      data: { claimedAt: now },
    });
    if (count === 0) throw refuse('has expired or was already finished; start a new upload');

    const storage = this.deps.library.storage;
    try {
      let raw: Buffer | null;
      try {
        raw = await storage.read(key, { maxBytes: Math.min(record.byteSize, this.deps.maxBytes), timeoutMs: READ_TIMEOUT_MS });
      } catch (error) {
        if (error instanceof ObjectTooLargeError) throw refuse(`is larger than the ${record.byteSize} bytes declared`);
        throw error;
      }
      if (!raw) throw refuse('has nothing uploaded yet');
      if (raw.length !== record.byteSize) throw refuse(`is ${raw.length} bytes, not the ${record.byteSize} declared`);

      let avatar;
      try {
        avatar = await this.decodeSlots.run(() => toAvatar(raw));
      } catch (error) {
        if (error instanceof ImageRejectedError) throw refuse(error.message);
        throw error;
      }
      const avatarKey = this.deps.library.newAvatarKey(userId);
      await storage.write(avatarKey, avatar.body, { contentType: 'image/webp', cacheControl: AVATAR_CACHE_CONTROL });
      try {
        return await this.deps.users.replaceAvatarUrl(userId, storage.publicUrl(avatarKey));
      } catch (error) {
        await storage.delete(avatarKey).catch(() => undefined);
        throw error;
      }
    } finally {
      // Spent either way: the raw upload is never kept or served.
      await storage
        .delete(key)
        .catch((error: unknown) => this.deps.logger.warn({ err: error, key }, 'could not delete a processed upload'));
      await this.deps.prisma.avatarUpload.deleteMany({ where: { key } });
    }
  }

  /**
   * Deletes uploads that were started and never finished (with whatever reached their key), once
   * they are UPLOAD_CLEANUP_GRACE_MS past their expiry. The cleanup job runs it.
   */
  async deleteAbandonedUploads(now: number): Promise<number> {
    const lapsed = await this.deps.prisma.avatarUpload.findMany({
      where: { expiresAt: { lt: new Date(now - UPLOAD_CLEANUP_GRACE_MS) } },
      select: { key: true },
      take: 1000,
    });
    let deleted = 0;
    for (const { key } of lapsed) {
      await this.deps.library.storage.delete(key);
      await this.deps.prisma.avatarUpload.deleteMany({ where: { key } });
      deleted++;
    }
    return deleted;
  }
}

/** At most `size` tasks at once; the rest wait in order. */
class Slots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter, so `active` never exceeds `size`.
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
