/**
 * Turns an uploaded file into the avatar Warden serves, or refuses it. Only PNG, JPEG and WebP
 * are decoded, recognised by their own signature bytes (never by a name or a declared type), so
 * SVG, HTML, text and every other format libvips could read are refused before decoding. A file
 * that carries data after the end of its image (an image glued to HTML or a script, or to
 * another file) is refused too. What is accepted is decoded with sharp, bounded in pixels
 * (a small file declaring huge dimensions is refused from its header) and in time, turned
 * upright, scaled to fit 512×512 and re-encoded as WebP without any of the original metadata
 * (EXIF, GPS, XMP, ICC, comments): nothing of the uploaded bytes reaches anyone but its pixels.
 */
import type { Sharp, SharpOptions } from 'sharp';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export const AVATAR_SIZE = 512;
/** Decoding refuses images with more pixels than this (a 48-megapixel photo fits). */
export const MAX_INPUT_PIXELS = 50_000_000;
const PROCESS_TIMEOUT_SECONDS = 10;

export class ImageRejectedError extends Error {
  override name = 'ImageRejectedError';
}

type SharpFactory = (input: Buffer, options?: SharpOptions) => Sharp;
let sharpFactory: SharpFactory | undefined;

/** sharp (and libvips) load on the first avatar, not at start. */
function sharp(): SharpFactory {
  if (!sharpFactory) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require('sharp') as SharpFactory & { cache(enabled: boolean): void; concurrency(threads: number): number };
    loaded.cache(false); // an avatar is decoded once: keep no decoded images in memory
    loaded.concurrency(1); // one libvips thread per image, so an upload cannot take every core
    sharpFactory = loaded;
  }
  return sharpFactory;
}

/** The format the file's own bytes say it is, or null for anything but PNG, JPEG and WebP. */
export function sniffFormat(bytes: Buffer): ImageFormat | null {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return null;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Where the image ends by its own structure, or null when the structure is broken. */
export function imageEnd(bytes: Buffer, format: ImageFormat): number | null {
  switch (format) {
    case 'png': {
      // Chunks: length (4, big-endian), type (4), data, CRC (4); the last one is IEND.
      let offset = 8;
      while (offset + 12 <= bytes.length) {
        const length = bytes.readUInt32BE(offset);
        const type = bytes.toString('latin1', offset + 4, offset + 8);
        const next = offset + 12 + length;
        if (length > 0x7fffffff || next > bytes.length) return null;
        if (type === 'IEND') return next;
        offset = next;
      }
      return null;
    }
    case 'webp': {
      // RIFF: "RIFF", the size of everything after these 8 bytes (little-endian), "WEBP", chunks.
      const size = bytes.readUInt32LE(4);
      const end = 8 + size + (size % 2);
      return end <= bytes.length ? end : null;
    }
    case 'jpeg':
      return jpegEnd(bytes);
  }
}

/** Walks the JPEG's segments and entropy-coded scans to the end-of-image marker. */
function jpegEnd(bytes: Buffer): number | null {
  let offset = 2; // after SOI
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) return null;
    const marker = bytes[offset + 1];
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (marker === 0xd9) return offset + 2; // EOI
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2; // markers without a length
      continue;
    }
    const length = bytes.readUInt16BE(offset + 2);
    if (length < 2) return null;
    offset += 2 + length;
    if (marker === 0xda) {
      // Start of scan: entropy-coded data runs to the next marker that is not a stuffed 0xFF00
      // or a restart marker.
      while (offset + 1 < bytes.length) {
        if (bytes[offset] === 0xff) {
          const following = bytes[offset + 1];
          if (following !== 0x00 && !(following >= 0xd0 && following <= 0xd7) && following !== 0xff) break;
        }
        offset += 1;
      }
    }
  }
  if (offset + 2 === bytes.length && bytes[offset] === 0xff && bytes[offset + 1] === 0xd9) return offset + 2;
  return null;
}

/**
 * The avatar for an uploaded file: WebP, at most 512×512, upright, without metadata.
 * @throws ImageRejectedError when the file is not a PNG, JPEG or WebP image, carries data after
 * its image, is broken, has more than MAX_INPUT_PIXELS pixels, or takes too long to decode.
 */
export async function toAvatar(bytes: Buffer): Promise<{ body: Buffer; format: ImageFormat; width: number; height: number }> {
  const format = sniffFormat(bytes);
  if (!format) throw new ImageRejectedError('is not a PNG, JPEG or WebP image');
  const end = imageEnd(bytes, format);
  if (end === null) throw new ImageRejectedError(`is not a readable ${format.toUpperCase()} image`);
  if (end !== bytes.length) throw new ImageRejectedError('carries data after the end of its image');

  const options: SharpOptions = { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'warning', sequentialRead: true, animated: false };
  let metadata;
  try {
    metadata = await sharp()(bytes, options).metadata();
  } catch (error) {
    throw rejection(error, format);
  }
  if (metadata.format !== format) throw new ImageRejectedError('is not a PNG, JPEG or WebP image');
  if (!metadata.width || !metadata.height || metadata.width * metadata.height > MAX_INPUT_PIXELS) {
    throw new ImageRejectedError('has too many pixels');
  }
  try {
    const { data, info } = await sharp()(bytes, options)
      .timeout({ seconds: PROCESS_TIMEOUT_SECONDS })
      .autoOrient()
      .resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 82 })
      .toBuffer({ resolveWithObject: true });
    return { body: data, format, width: info.width, height: info.height };
  } catch (error) {
    throw rejection(error, format);
  }
}

function rejection(error: unknown, format: ImageFormat): ImageRejectedError {
  const message = (error as Error)?.message ?? '';
  if (/pixel limit/i.test(message)) return new ImageRejectedError('has too many pixels');
  if (/timeout/i.test(message)) return new ImageRejectedError('took too long to decode');
  return new ImageRejectedError(`is not a readable ${format.toUpperCase()} image`);
}
