/**
 * Avatars in an S3-compatible bucket: s3rver, started here in-process on loopback. Runs only in
 * the PostgreSQL + Redis pass (DATABASE_URL set), to keep the embedded pass short; the embedded
 * storage has its own tests in both passes.
 *
 * s3rver checks no signature and no signed header, so everything that a lax store lets through
 * (another size, another type) must be refused by finishAvatarUpload itself: the tests send
 * exactly that through the presigned URL.
 */
import sharp from 'sharp';
import {
  FINISH_UPLOAD,
  HTML_PAYLOAD,
  UPDATE_AVATAR,
  jpegWithExif,
  png,
  refusedFiles,
  sendUpload,
  startS3Server,
  startUpload,
  uploadAvatar,
  type S3Server,
} from './support';
import { describeInServicesPass, errorCode, signupUser, startTestServer, type TestServer } from '../kit';

// An S3 server in process: CI's PostgreSQL + Redis pass only.
const describeS3 = describeInServicesPass;

describeS3('avatars in an S3-compatible store', () => {
  let s3: S3Server;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    s3 = await startS3Server();
    a = await startTestServer({ env: { STORAGE_URL: s3.storageUrl, AVATAR_UPLOADS_PER_HOUR: '50' } });
    // A second instance on the same database, store and bucket.
    b = await startTestServer({ env: { STORAGE_URL: s3.storageUrl, AVATAR_UPLOADS_PER_HOUR: '50' }, shareWith: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await s3?.close();
  });

  const bucketKeys = async (prefix: string) => a.app.infra.storage.list(prefix);

  it('uploads straight to the bucket with a presigned PUT that signs the type and size, and serves the avatar from it', async () => {
    const user = await signupUser(a);
    const jpeg = await jpegWithExif();
    const upload = await startUpload(a, user.accessToken, 'image/jpeg', jpeg.length);
    expect(upload.method).toBe('PUT');
    const url = new URL(upload.uploadUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${s3.endpoint}/${s3.bucket}/${upload.key}`);
    expect(url.searchParams.get('X-Amz-SignedHeaders')!.split(';')).toEqual(
      expect.arrayContaining(['content-length', 'content-type', 'host']),
    );
    expect(url.searchParams.get('X-Amz-Expires')).toMatch(/^(599|600)$/);

    const sent = await sendUpload(upload, jpeg);
    expect(sent.status).toBe(200);
    const finished = await a.gql(FINISH_UPLOAD, { key: upload.key }, { token: user.accessToken });
    expect(finished.body.errors).toBeUndefined();
    const avatarUrl: string = finished.body.data!.finishAvatarUpload.avatarUrl;
    // STORAGE_PUBLIC_URL unset: the bucket's own URL.
    expect(avatarUrl).toMatch(new RegExp(`^${s3.endpoint}/${s3.bucket}/avatars/${user.user.id}/[A-Za-z0-9_-]{22}\\.webp$`));

    const served = await fetch(avatarUrl);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/webp');
    expect(served.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const meta = await sharp(Buffer.from(await served.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height, meta.exif]).toEqual(['webp', 512, 341, undefined]);
    expect(await bucketKeys(`avatar-uploads/${user.user.id}/`)).toEqual([]);
  });

  it('refuses what the store let through: another size or type through the presigned URL, and every non-image', async () => {
    const user = await signupUser(a);
    const image = await png();

    // Declared 200 bytes of PNG; the store takes a larger body anyway.
    const short = await startUpload(a, user.accessToken, 'image/png', 200);
    expect((await sendUpload(short, Buffer.concat([image, Buffer.alloc(5000)]))).status).toBe(200);
    const tooBig = await a.gql(FINISH_UPLOAD, { key: short.key }, { token: user.accessToken });
    expect(errorCode(tooBig)).toBe('BAD_USER_INPUT');
    expect(tooBig.body.errors![0].extensions!.fields).toEqual({ key: expect.stringMatching(/larger than the 200 bytes/) });

    // Declared PNG; HTML sent with Content-Type text/html.
    const html = Buffer.from(`<!DOCTYPE html>${HTML_PAYLOAD}`);
    const typed = await startUpload(a, user.accessToken, 'image/png', html.length);
    expect((await sendUpload(typed, html, { headers: { 'Content-Type': 'text/html' } })).status).toBe(200);
    expect(errorCode(await a.gql(FINISH_UPLOAD, { key: typed.key }, { token: user.accessToken }))).toBe('BAD_USER_INPUT');

    for (const [name, file] of Object.entries(await refusedFiles())) {
      const upload = await startUpload(a, user.accessToken, file.contentType, file.body.length);
      expect((await sendUpload(upload, file.body)).status).toBe(200);
      const finished = await a.gql(FINISH_UPLOAD, { key: upload.key }, { token: user.accessToken });
      expect([name, errorCode(finished)]).toEqual([name, 'BAD_USER_INPUT']);
    }
    // Every refused upload is deleted from the bucket; no avatar was made.
    expect(await bucketKeys(`avatar-uploads/${user.user.id}/`)).toEqual([]);
    expect(await bucketKeys(`avatars/${user.user.id}/`)).toEqual([]);
  });

  it('two instances share the bucket: started on one, finished on the other, accepted and replaced by either', async () => {
    const user = await signupUser(a);
    const image = await png(80, 80);
    const upload = await startUpload(a, user.accessToken, 'image/png', image.length);
    expect((await sendUpload(upload, image)).status).toBe(200);
    const onB = await b.gql(FINISH_UPLOAD, { key: upload.key }, { token: user.accessToken });
    expect(onB.body.errors).toBeUndefined();
    const first: string = onB.body.data!.finishAvatarUpload.avatarUrl;
    // B finished it; A accepts it as issued.
    expect((await a.gql(UPDATE_AVATAR, { avatarUrl: first }, { token: user.accessToken })).body.data!.updateMe.avatarUrl).toBe(first);

    // Replaced through A: B's object is deleted from the shared bucket.
    const second = (await uploadAvatar(a, user.accessToken, await png(90, 90))).finished.body.data!.finishAvatarUpload.avatarUrl;
    const keys = await bucketKeys(`avatars/${user.user.id}/`);
    expect(keys).toEqual([new URL(second).pathname.replace(`/${s3.bucket}/`, '')]);
    expect((await fetch(first)).status).toBe(404);
  });

  it('updateMe refuses avatar URLs of other users or of other places', async () => {
    const alice = await signupUser(a);
    const bob = await signupUser(a);
    const bobs = (await uploadAvatar(a, bob.accessToken, await png())).finished.body.data!.finishAvatarUpload.avatarUrl;
    for (const foreign of [
      bobs,
      bobs.replace(bob.user.id, alice.user.id),
      `${s3.endpoint}/other-bucket/avatars/${alice.user.id}/AAAAAAAAAAAAAAAAAAAAAA.webp`,
      'https://example.com/a.png',
    ]) {
      const response = await b.gql(UPDATE_AVATAR, { avatarUrl: foreign }, { token: alice.accessToken });
      expect([foreign, errorCode(response)]).toEqual([foreign, 'BAD_USER_INPUT']);
    }
  });

  it('deleting a user deletes their objects from the bucket', async () => {
    const user = await signupUser(a);
    await uploadAvatar(a, user.accessToken, await png());
    const pending = await startUpload(a, user.accessToken, 'image/png', 10);
    await sendUpload(pending, Buffer.alloc(10));
    expect((await bucketKeys(`avatars/${user.user.id}/`)).length).toBe(1);
    expect((await bucketKeys(`avatar-uploads/${user.user.id}/`)).length).toBe(1);

    const admin = await signupUser(a);
    await a.app.infra.database.prisma.user.update({ where: { id: admin.user.id }, data: { role: 'ADMIN' } });
    const deleted = await b.gql(`mutation($id: ID!) { deleteUser(userId: $id) }`, { id: user.user.id }, { token: admin.accessToken });
    expect(deleted.body.data).toEqual({ deleteUser: true });
    expect(await bucketKeys(`avatars/${user.user.id}/`)).toEqual([]);
    expect(await bucketKeys(`avatar-uploads/${user.user.id}/`)).toEqual([]);
  });

  it('the cleanup deletes abandoned uploads from the bucket', async () => {
    const user = await signupUser(a);
    const abandoned = await startUpload(a, user.accessToken, 'image/png', 10);
    await sendUpload(abandoned, Buffer.alloc(10));
    // Lapse it as if 16 minutes had passed.
    await a.app.infra.database.prisma.avatarUpload.update({
      where: { key: abandoned.key },
      data: { expiresAt: new Date(Date.now() - 16 * 60_000) },
    });
    const result = await b.app.sessionCleanup.runOnce();
    expect(result.tasks.avatarUploads).toBeGreaterThanOrEqual(1);
    expect(await bucketKeys(`avatar-uploads/${user.user.id}/`)).toEqual([]);
  });
});
