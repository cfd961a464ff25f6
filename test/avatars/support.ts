/**
 * Avatar tests: fixture images made with sharp in the test (no binary fixtures), an in-process
 * S3 server (s3rver) on loopback, and uploads sent as a browser sends them: plain HTTP to the
 * presigned URL with the returned method and headers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { type TestServer } from '../kit';

export const START_UPLOAD = /* GraphQL */ `
  mutation Start($contentType: String!, $byteSize: Int!) {
    startAvatarUpload(contentType: $contentType, byteSize: $byteSize) {
      uploadUrl
      method
      headers
      fields
      key
      maxBytes
      expiresAt
    }
  }
`;
export const FINISH_UPLOAD = /* GraphQL */ `
  mutation Finish($key: String!) {
    finishAvatarUpload(key: $key) {
      id
      avatarUrl
    }
  }
`;
export const UPDATE_AVATAR = /* GraphQL */ `
  mutation UpdateAvatar($avatarUrl: String) {
    updateMe(input: { avatarUrl: $avatarUrl }) {
      id
      avatarUrl
      name
    }
  }
`;

export interface Upload {
  uploadUrl: string;
  method: string;
  headers: Record<string, string>;
  fields: Record<string, string> | null;
  key: string;
  maxBytes: number;
  expiresAt: string;
}

export async function startUpload(server: TestServer, token: string, contentType: string, byteSize: number): Promise<Upload> {
  const response = await server.gql(START_UPLOAD, { contentType, byteSize }, { token });
  if (response.body.errors) throw new Error(`startAvatarUpload failed: ${JSON.stringify(response.body.errors)}`);
  return response.body.data!.startAvatarUpload;
}

/**
 * Sends `body` to the presigned upload the way a browser's fetch() does. `origin` replaces the
 * URL's origin (Warden's own upload route answers on the test server's ephemeral port, while the
 * URL names STORAGE_PUBLIC_URL).
 */
export async function sendUpload(
  upload: Upload,
  body: Buffer,
  options: { origin?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  let url = upload.uploadUrl;
  if (options.origin) {
    const parsed = new URL(url);
    url = `${options.origin}${parsed.pathname}${parsed.search}`;
  }
  return fetch(url, { method: upload.method, headers: { ...upload.headers, ...options.headers }, body });
}

/** Starts an upload for `body`, sends it, and finishes it; returns the finish response. */
export async function uploadAvatar(server: TestServer, token: string, body: Buffer, contentType = 'image/png', origin?: string) {
  const upload = await startUpload(server, token, contentType, body.length);
  const sent = await sendUpload(upload, body, { origin });
  if (!sent.ok) throw new Error(`upload failed: ${sent.status} ${await sent.text()}`);
  return { upload, finished: await server.gql(FINISH_UPLOAD, { key: upload.key }, { token }) };
}

// ---- fixture images ----

export function png(width = 64, height = 64, background = '#3366aa'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background } })
    .png()
    .toBuffer();
}

export function webp(width = 64, height = 64): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#aa6633' } })
    .webp()
    .toBuffer();
}

export const EXIF_MARKER = 'MARKER-SECRET-42';

/** A 1200×800 JPEG whose EXIF carries a copyright marker and a GPS position. */
export function jpegWithExif(width = 1200, height = 800): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#22aa44' } })
    .jpeg()
    .withExif({
      IFD0: { Copyright: EXIF_MARKER },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
    })
    .toBuffer();
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([length, body, crc]);
}

/**
 * A decompression bomb: a well-formed PNG of a few hundred bytes that declares 100000×100000
 * pixels (ten billion), with a valid header and CRCs, so only the pixel bound refuses it.
 */
export function pngBomb(width = 100_000, height = 100_000): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const rows = deflateSync(Buffer.alloc(width + 1), { level: 9 }); // one row of zeros: the rest would follow
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', rows),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

export const HTML_PAYLOAD = '<html><body><script>alert(document.cookie)</script></body></html>';

/** Files that are not PNG, JPEG or WebP images, by name. */
export async function refusedFiles(): Promise<Record<string, { body: Buffer; contentType: string }>> {
  const image = await png(16, 16);
  return {
    text: { body: Buffer.from('just some text, not an image\n'), contentType: 'image/png' },
    html: { body: Buffer.from(`<!DOCTYPE html>${HTML_PAYLOAD}`), contentType: 'image/png' },
    svg: {
      body: Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>',
      ),
      contentType: 'image/webp',
    },
    // A real PNG with an HTML document glued after its IEND chunk: decodes as a PNG, renders as HTML.
    pngHtmlPolyglot: { body: Buffer.concat([image, Buffer.from(HTML_PAYLOAD)]), contentType: 'image/png' },
    // HTML first, the PNG after it: a browser sniffing the start sees HTML.
    htmlPngPolyglot: { body: Buffer.concat([Buffer.from(HTML_PAYLOAD), image]), contentType: 'image/png' },
    gif: {
      body: await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
        .gif()
        .toBuffer(),
      contentType: 'image/png',
    },
    truncatedPng: { body: image.subarray(0, image.length - 30), contentType: 'image/png' },
    decompressionBomb: { body: pngBomb(), contentType: 'image/png' },
  };
}

// ---- an S3 server ----

export interface S3Server {
  endpoint: string;
  bucket: string;
  /** STORAGE_URL for Warden: this bucket, with s3rver's fixed credentials. */
  storageUrl: string;
  close(): Promise<void>;
}

/** s3rver in this process on a loopback port, with one empty bucket, its files in a temporary directory. */
export async function startS3Server(bucket = 'avatars'): Promise<S3Server> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver');
  const directory = mkdtempSync(path.join(tmpdir(), 'warden-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] });
  const { port } = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    storageUrl: `s3://S3RVER:S3RVER@${bucket}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1`,
    close: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
