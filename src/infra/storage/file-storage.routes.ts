/**
 * The HTTP side of FileStorage (STORAGE_URL unset): Warden takes the signed avatar uploads and
 * serves the processed avatars itself.
 *
 * - `PUT /avatar-uploads/<user id>/<id>?expires=…&signature=…`: the body of a presigned upload,
 *   with exactly the signed Content-Type and Content-Length; bodies up to AVATAR_MAX_BYTES,
 *   whatever MAX_BODY_BYTES is. Raw uploads are never served.
 * - `GET /avatars/<user id>/<id>.webp`: a processed avatar, `image/webp`, cacheable for a year
 *   (every avatar has its own key), `nosniff`, a CSP that lets the response run nothing. The
 *   route names exactly two segments of fixed shapes, so there is no listing and no path that
 *   leads anywhere else.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Clock } from '../../lib/clock';
import type { FileStorage } from './file-storage';

export interface FileStorageRoutesOptions {
  storage: FileStorage;
  clock: Clock;
  /** AVATAR_MAX_BYTES: the upload route's own body limit. */
  maxUploadBytes: number;
  cacheControl: string;
}

const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UPLOAD_ID = /^[A-Za-z0-9_-]{22}$/;
const AVATAR_FILE = /^[A-Za-z0-9_-]{22}\.webp$/;

const notFound = { error: 'NOT_FOUND', message: 'Not found.' };

export const fileStorageRoutes: FastifyPluginAsync<FileStorageRoutesOptions> = async (fastify: FastifyInstance, options) => {
  const { storage, clock, maxUploadBytes, cacheControl } = options;

  // This plugin's own scope: any body is taken as raw bytes (the route checks the type against
  // the signature), up to AVATAR_MAX_BYTES. The GraphQL route keeps its JSON parser and limit.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxUploadBytes }, (_request, body, done) => done(null, body));

  fastify.put<{ Params: { userId: string; id: string }; Querystring: Record<string, string | undefined> }>(
    '/avatar-uploads/:userId/:id',
    { bodyLimit: maxUploadBytes },
    async (request, reply) => {
      const { userId, id } = request.params;
      if (!USER_ID.test(userId) || !UPLOAD_ID.test(id)) return reply.status(404).send(notFound);
      const checked = storage.checkUpload(
        {
          key: `avatar-uploads/${userId}/${id}`,
          expires: single(request.query.expires),
          signature: single(request.query.signature),
          contentType: request.headers['content-type'],
          contentLength: request.headers['content-length'],
        },
        clock.now(),
      );
      if (checked === 'content-length') {
        return reply.status(411).send({ error: 'LENGTH_REQUIRED', message: 'Send the file with its Content-Length.' });
      }
      if (checked === 'signature') {
        return reply
          .status(403)
          .send({ error: 'SIGNATURE_DOES_NOT_MATCH', message: 'The upload URL, its Content-Type or its size does not match.' });
      }
      if (checked === 'expired') return reply.status(403).send({ error: 'EXPIRED', message: 'The upload URL has expired.' });
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length !== checked.byteSize) {
        return reply.status(400).send({ error: 'BAD_REQUEST', message: 'The body is not the size signed.' });
      }
      await storage.write(checked.key, body);
      return reply.status(200).send();
    },
  );

  fastify.get<{ Params: { userId: string; file: string } }>('/avatars/:userId/:file', async (request, reply) => {
    const { userId, file } = request.params;
    if (!USER_ID.test(userId) || !AVATAR_FILE.test(file)) return reply.status(404).send(notFound);
    const body = await storage.read(`avatars/${userId}/${file}`, { maxBytes: 16 * 1_048_576, timeoutMs: 10_000 });
    if (!body) return reply.status(404).send(notFound);
    return reply
      .header('content-type', 'image/webp')
      .header('cache-control', cacheControl)
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cross-origin-resource-policy', 'cross-origin')
      .send(body);
  });
};

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}
