/**
 * Which stored objects belong to whom, and which avatar URLs Warden issued. Keys name their user:
 *
 * - `avatar-uploads/<user id>/<random id>`: a raw upload, never served, deleted once processed;
 * - `avatars/<user id>/<random id>.webp`: a processed avatar, public at `storage.publicUrl(key)`.
 *
 * The random ids are 128 bits from the CSPRNG, so nobody can name another user's upload.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ValidationError } from '../../errors/app-error';
import type { ObjectStorage } from '../../infra/storage/storage';
import { isUuid } from '../../lib/tokens';
import { defaultAvatarUrl } from '../user';

export const UPLOAD_PREFIX = 'avatar-uploads';
export const AVATAR_PREFIX = 'avatars';
const RANDOM_ID = /^[A-Za-z0-9_-]{22}$/;

export interface AvatarLibraryDeps {
  storage: ObjectStorage;
  logger: Logger;
}

export class AvatarLibrary {
  constructor(private readonly deps: AvatarLibraryDeps) {}

  get storage(): ObjectStorage {
    return this.deps.storage;
  }

  newUploadKey(userId: string): string {
    return `${UPLOAD_PREFIX}/${userId}/${randomId()}`;
  }

  newAvatarKey(userId: string): string {
    return `${AVATAR_PREFIX}/${userId}/${randomId()}.webp`;
  }

  /** True when `key` has the shape of an upload key of this user (whether or not it was issued). */
  isUploadKeyOf(userId: string, key: string): boolean {
    const [prefix, owner, id, ...rest] = key.split('/');
    return prefix === UPLOAD_PREFIX && owner === userId && isUuid(owner) && id !== undefined && RANDOM_ID.test(id) && rest.length === 0;
  }

  /** The key of an avatar Warden issued to this user at `url`, or null for any other URL. */
  avatarKeyOf(userId: string, url: string): string | null {
    if (!isUuid(userId)) return null;
    const base = this.deps.storage.publicUrl(`${AVATAR_PREFIX}/${userId}/x`).slice(0, -1);
    if (!url.startsWith(base)) return null;
    const file = url.slice(base.length);
    if (!/^[A-Za-z0-9_-]{22}\.webp$/.test(file)) return null;
    const key = `${AVATAR_PREFIX}/${userId}/${file}`;
    // Compare the exact string Warden would issue: no other spelling of the URL passes.
    return this.deps.storage.publicUrl(key) === url ? key : null;
  }

  /**
   * What `updateMe(input: { avatarUrl })` may store: null means the generated default; otherwise
   * only the generated default itself, or an avatar Warden issued to this user that still exists.
   * @throws ValidationError (BAD_USER_INPUT on `avatarUrl`) for anything else.
   */
  async acceptRequestedUrl(userId: string, url: string | null): Promise<string> {
    if (url === null) return defaultAvatarUrl(userId);
    if (url === defaultAvatarUrl(userId)) return url;
    const key = this.avatarKeyOf(userId, url);
    if (key && (await this.deps.storage.exists(key))) return url;
    throw new ValidationError({ avatarUrl: 'must be an avatar uploaded with finishAvatarUpload, or null for the generated one' });
  }

  /** Deletes the stored avatar behind `url` if it is one of this user's; failures are logged, not thrown. */
  async discard(userId: string, url: string): Promise<void> {
    const key = this.avatarKeyOf(userId, url);
    if (!key) return;
    try {
      await this.deps.storage.delete(key);
    } catch (error) {
      this.deps.logger.warn({ err: error, key }, 'could not delete a replaced avatar');
    }
  }

  /** Deletes every stored avatar and upload of the user (after the user is deleted); failures are logged. */
  async deleteAllOf(userId: string): Promise<number> {
    if (!isUuid(userId)) return 0;
    let deleted = 0;
    for (const prefix of [`${AVATAR_PREFIX}/${userId}/`, `${UPLOAD_PREFIX}/${userId}/`]) {
      try {
        for (const key of await this.deps.storage.list(prefix)) {
          await this.deps.storage.delete(key);
          deleted++;
        }
      } catch (error) {
        this.deps.logger.error({ err: error, userId, prefix }, 'could not delete the stored avatars of a deleted user');
      }
    }
    return deleted;
  }
}

function randomId(): string {
  return randomBytes(16).toString('base64url');
}
