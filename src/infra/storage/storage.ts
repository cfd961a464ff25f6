/**
 * Object storage for uploaded avatars behind one small interface: files under DATA_DIR/uploads
 * (FileStorage, served by Warden itself) or a bucket of any S3-compatible store (S3Storage);
 * openStorage() (open-storage.ts) opens the one STORAGE_URL names.
 * Keys are relative paths of plain segments (`avatars/<user id>/<id>.webp`); every backend
 * refuses any other key, so no caller can reach outside its prefix.
 */

/** How the client sends the file: a PUT of the body, or a POST of a form with `fields` and the file. */
export interface PresignedUpload {
  url: string;
  method: 'PUT' | 'POST';
  /** Headers the client sends with the upload (its Content-Length is the body's own). */
  headers: Record<string, string>;
  /** Form fields for a POST upload, else null. */
  fields: Record<string, string> | null;
}

export interface PresignOptions {
  key: string;
  /** The exact Content-Type the upload must carry. */
  contentType: string;
  /** The exact Content-Length the upload must carry. */
  byteSize: number;
  expiresAt: Date;
}

export interface ReadOptions {
  /** Larger objects are not read: ObjectTooLargeError. */
  maxBytes: number;
  /** The whole read is abandoned after this long: StorageError. */
  timeoutMs: number;
}

export interface WriteOptions {
  contentType: string;
  cacheControl: string;
}

export interface ObjectStorage {
  readonly kind: 'file' | 's3';
  /** Where anyone can fetch the object at `key`. */
  publicUrl(key: string): string;
  /** A signed upload to `key` that accepts exactly this Content-Type and size until `expiresAt`. */
  presignUpload(options: PresignOptions): Promise<PresignedUpload>;
  /**
   * The object's bytes, or null when there is none.
   * @throws ObjectTooLargeError when it is larger than `maxBytes` (nothing more is read).
   */
  read(key: string, options: ReadOptions): Promise<Buffer | null>;
  write(key: string, body: Buffer, options: WriteOptions): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Keys under `prefix` (which ends with "/"). */
  list(prefix: string): Promise<string[]>;
  /** Deletes the object; a missing one is not an error. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export class ObjectTooLargeError extends Error {
  override name = 'ObjectTooLargeError';
}

/** A storage operation that failed for reasons of the store (unreachable, timed out, refused). */
export class StorageError extends Error {
  override name = 'StorageError';
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** True for `a/b/c` of plain segments: no empty, `.` or `..` segment, no backslash, no leading "/". */
export function isSafeKey(key: string): boolean {
  if (key.length === 0 || key.length > 512) return false;
  return key.split('/').every((segment) => SEGMENT.test(segment) && segment !== '.' && segment !== '..');
}

/** @throws StorageError for a key isSafeKey refuses. */
export function assertSafeKey(key: string): void {
  if (!isSafeKey(key)) throw new StorageError('invalid storage key');
}

/** Same, for a list prefix (`a/b/`). */
export function assertSafePrefix(prefix: string): void {
  if (!prefix.endsWith('/') || !isSafeKey(prefix.slice(0, -1))) throw new StorageError('invalid storage prefix');
}
