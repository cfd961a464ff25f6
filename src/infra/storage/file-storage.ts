/**
 * Storage on the local disk (STORAGE_URL unset): objects are files under DATA_DIR/uploads, and
 * Warden itself takes the signed uploads and serves the public files (file-storage.routes.ts).
 * An upload URL carries an HMAC, under a key derived from JWT_SECRET, of the key, the exact
 * Content-Type and size it accepts, and its expiry, so it cannot be reused for anything else.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { deriveKey } from '../../lib/tokens';
import {
  ObjectTooLargeError,
  assertSafeKey,
  assertSafePrefix,
  type ObjectStorage,
  type PresignOptions,
  type PresignedUpload,
  type ReadOptions,
  type WriteOptions,
} from './storage';

export interface FileStorageOptions {
  dir: string;
  /** Base of public and upload URLs: `${publicUrl}/${key}`. */
  publicUrl: string;
  /** JWT_SECRET, then JWT_SECRET_PREVIOUS: uploads signed under either are accepted. */
  signingSecrets: readonly string[];
}

/**
 * Why a signed upload was refused; the route answers each with its own status. As with S3, a
 * Content-Type or size other than the signed ones shows as a signature that does not match.
 */
export type UploadRefusal = 'signature' | 'expired' | 'content-length';

export interface UploadRequest {
  key: string;
  expires: string | undefined;
  signature: string | undefined;
  contentType: string | undefined;
  contentLength: string | undefined;
}

export interface AcceptedUpload {
  key: string;
  byteSize: number;
}

export class FileStorage implements ObjectStorage {
  readonly kind = 'file' as const;
  private readonly keys: Uint8Array[];

  private constructor(private readonly options: FileStorageOptions) {
    this.keys = options.signingSecrets.map((secret) => deriveKey(secret, 'avatar upload url'));
  }

  static async open(options: FileStorageOptions): Promise<FileStorage> {
    await mkdir(options.dir, { recursive: true });
    return new FileStorage(options);
  }

  publicUrl(key: string): string {
    assertSafeKey(key);
    return `${this.options.publicUrl}/${key}`;
  }

  async presignUpload({ key, contentType, byteSize, expiresAt }: PresignOptions): Promise<PresignedUpload> {
    assertSafeKey(key);
    const expires = String(Math.floor(expiresAt.getTime() / 1000));
    const signature = this.sign(this.keys[0], key, contentType, byteSize, expires);
    const query = new URLSearchParams({ expires, signature });
    return { url: `${this.publicUrl(key)}?${query.toString()}`, method: 'PUT', headers: { 'Content-Type': contentType }, fields: null };
  }

  /**
   * Checks a PUT to an upload URL before its body is stored: the signature, the expiry, and that
   * its Content-Type and Content-Length are exactly those signed.
   */
  checkUpload(request: UploadRequest, nowMs: number): AcceptedUpload | UploadRefusal {
    const { key, expires, signature, contentType, contentLength } = request;
    if (!expires || !signature || !/^\d{1,12}$/.test(expires) || !/^[A-Za-z0-9_-]{43}$/.test(signature)) return 'signature';
    const mediaType = (contentType ?? '').trim().toLowerCase();
    const size = contentLength !== undefined && /^\d{1,12}$/.test(contentLength) ? Number(contentLength) : NaN;
    const given = Buffer.from(signature, 'base64url');
    const matches = (type: string, bytes: number) =>
      this.keys.some((keyBytes) => {
        const expected = Buffer.from(this.sign(keyBytes, key, type, bytes, expires), 'base64url');
        return expected.length === given.length && timingSafeEqual(expected, given);
      });
    if (!Number.isSafeInteger(size)) return 'content-length';
    if (!matches(mediaType, size)) return 'signature';
    if (Number(expires) * 1000 <= nowMs) return 'expired';
    return { key, byteSize: size };
  }

  async read(key: string, { maxBytes }: ReadOptions): Promise<Buffer | null> {
    const file = this.file(key);
    let size: number;
    try {
      const info = await stat(file);
      if (!info.isFile()) return null;
      size = info.size;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    if (size > maxBytes) throw new ObjectTooLargeError(`object is ${size} bytes, more than ${maxBytes}`);
    const body = await readFile(file);
    if (body.length > maxBytes) throw new ObjectTooLargeError(`object is more than ${maxBytes} bytes`);
    return body;
  }

  /** Writes through a temporary file and a rename, so no reader ever sees half a file. */
  async write(key: string, body: Buffer, _options?: WriteOptions): Promise<void> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    const partial = `${file}.${randomBytes(6).toString('hex')}.partial`;
    try {
      await writeFile(partial, body, { mode: 0o600 });
      await rename(partial, file);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.file(key))).isFile();
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    assertSafePrefix(prefix);
    const keys: string[] = [];
    const walk = async (relative: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(path.join(this.options.dir, relative), { withFileTypes: true });
      } catch (error) {
        if (isMissing(error)) return;
        throw error;
      }
      for (const entry of entries) {
        const child = relative ? `${relative}/${entry.name}` : entry.name;
        if (entry.isDirectory()) await walk(child);
        else if (entry.isFile() && !entry.name.endsWith('.partial')) keys.push(child);
      }
    };
    await walk(prefix.slice(0, -1));
    return keys;
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  async close(): Promise<void> {}

  private file(key: string): string {
    assertSafeKey(key);
    return path.join(this.options.dir, ...key.split('/'));
  }

  private sign(keyBytes: Uint8Array, key: string, contentType: string, byteSize: number, expires: string): string {
    return createHmac('sha256', keyBytes).update(`PUT\n${key}\n${contentType}\n${byteSize}\n${expires}`, 'utf8').digest('base64url');
  }
}

const isMissing = (error: unknown) =>
  (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR';
