/**
 * Storage in a bucket of any S3-compatible store (STORAGE_URL=s3://bucket?endpoint=…&region=…),
 * through the AWS SDK. Uploads are presigned PUTs whose signature covers the Content-Type and
 * Content-Length, so the store itself refuses another type or size; Warden still checks both
 * when it reads the object back, since not every S3-compatible store enforces them.
 *
 * The SDK is loaded on first use: a server that never touches the bucket does not pay for it.
 */
import type { Readable } from 'node:stream';
import type { ListObjectsV2CommandOutput, S3Client } from '@aws-sdk/client-s3';
import {
  ObjectTooLargeError,
  StorageError,
  assertSafeKey,
  assertSafePrefix,
  type ObjectStorage,
  type PresignOptions,
  type PresignedUpload,
  type ReadOptions,
  type WriteOptions,
} from './storage';

type S3Sdk = typeof import('@aws-sdk/client-s3');
type Presigner = typeof import('@aws-sdk/s3-request-presigner');

export interface S3StorageOptions {
  bucket: string;
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Base of public URLs: `${publicUrl}/${key}`. */
  publicUrl: string;
}

/** Every call to the store is abandoned after this long. */
const OPERATION_TIMEOUT_MS = 15_000;

export class S3Storage implements ObjectStorage {
  readonly kind = 's3' as const;
  private sdk: S3Sdk | undefined;
  private clientInstance: S3Client | undefined;

  constructor(private readonly options: S3StorageOptions) {}

  publicUrl(key: string): string {
    assertSafeKey(key);
    return `${this.options.publicUrl}/${key}`;
  }

  async presignUpload({ key, contentType, byteSize, expiresAt }: PresignOptions): Promise<PresignedUpload> {
    assertSafeKey(key);
    const { PutObjectCommand } = this.load();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { getSignedUrl } = require('@aws-sdk/s3-request-presigner') as Presigner;
    const expiresIn = Math.max(1, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
    const url = await getSignedUrl(
      this.client,
      new PutObjectCommand({ Bucket: this.options.bucket, Key: key, ContentType: contentType, ContentLength: byteSize }),
      // The presigner leaves Content-Type unsigned unless told: sign both, so the store refuses
      // any other type or size.
      { expiresIn, signableHeaders: new Set(['content-type', 'content-length']) },
    );
    return { url, method: 'PUT', headers: { 'Content-Type': contentType }, fields: null };
  }

  async read(key: string, { maxBytes, timeoutMs }: ReadOptions): Promise<Buffer | null> {
    assertSafeKey(key);
    const { GetObjectCommand } = this.load();
    const signal = AbortSignal.timeout(timeoutMs);
    let body: Readable;
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }), { abortSignal: signal });
      body = response.Body as Readable;
      if (response.ContentLength !== undefined && response.ContentLength > maxBytes) {
        body.destroy();
        throw new ObjectTooLargeError(`object is ${response.ContentLength} bytes, more than ${maxBytes}`);
      }
    } catch (error) {
      if (isNotFound(error)) return null;
      throw wrap(error);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of body) {
        total += (chunk as Buffer).length;
        if (total > maxBytes) {
          body.destroy();
          throw new ObjectTooLargeError(`object is more than ${maxBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      throw wrap(error);
    }
    return Buffer.concat(chunks, total);
  }

  async write(key: string, body: Buffer, { contentType, cacheControl }: WriteOptions): Promise<void> {
    assertSafeKey(key);
    const { PutObjectCommand } = this.load();
    await this.send(
      new PutObjectCommand({
        Bucket: this.options.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        CacheControl: cacheControl,
        ContentLength: body.length,
      }),
    );
  }

  async exists(key: string): Promise<boolean> {
    assertSafeKey(key);
    const { HeadObjectCommand } = this.load();
    try {
      await this.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return true;
    } catch (error) {
      if (isNotFound(error) || isNotFound((error as { cause?: unknown }).cause)) return false;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    assertSafePrefix(prefix);
    const { ListObjectsV2Command } = this.load();
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.send<ListObjectsV2CommandOutput>(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    const { DeleteObjectCommand } = this.load();
    await this.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
  }

  async close(): Promise<void> {
    this.clientInstance?.destroy();
    this.clientInstance = undefined;
  }

  private load(): S3Sdk {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.sdk ??= require('@aws-sdk/client-s3') as S3Sdk;
    return this.sdk;
  }

  private get client(): S3Client {
    if (!this.clientInstance) {
      const { S3Client: Client } = this.load();
      this.clientInstance = new Client({
        region: this.options.region,
        endpoint: this.options.endpoint,
        forcePathStyle: this.options.forcePathStyle,
        credentials: this.options.credentials,
        // Checksums only where the API demands them: a presigned PUT must not require a
        // checksum of a body the SDK never saw, and not every S3-compatible store knows them.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 2,
        requestHandler: { connectionTimeout: 5_000, requestTimeout: OPERATION_TIMEOUT_MS },
      });
    }
    return this.clientInstance;
  }

  /** Sends a command, bounded in time; failures become StorageError. */
  private async send<T = void>(command: object): Promise<T> {
    try {
      return (await this.client.send(command as never, { abortSignal: AbortSignal.timeout(OPERATION_TIMEOUT_MS) })) as T;
    } catch (error) {
      throw wrap(error);
    }
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** Too-large stays itself; anything else the store did becomes a StorageError (with the original as cause). */
function wrap(error: unknown): Error {
  if (error instanceof ObjectTooLargeError || error instanceof StorageError) return error;
  const wrapped = new StorageError(`object storage: ${(error as Error)?.message ?? String(error)}`);
  (wrapped as { cause?: unknown }).cause = error;
  return wrapped;
}
