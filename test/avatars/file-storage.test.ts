/**
 * Avatars with the embedded storage (STORAGE_URL unset): Warden takes the signed uploads and
 * serves the avatars itself. Runs in both CI passes (it needs no outside server).
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { request as httpRequest } from 'node:http';
import sharp from 'sharp';
import { ManualClock } from '../../src/lib/clock';
import {
  EXIF_MARKER,
  FINISH_UPLOAD,
  HTML_PAYLOAD,
  START_UPLOAD,
  UPDATE_AVATAR,
  jpegWithExif,
  png,
  refusedFiles,
  sendUpload,
  startUpload,
  uploadAvatar,
  webp,
} from './support';
import { errorCode, signupUser, startTestServer, type TestServer } from '../kit';

const PUBLIC = 'http://warden.test';
/** Why each of refusedFiles() is refused (extensions.fields.key). */
const REFUSAL_REASONS: Record<string, RegExp> = {
  text: /not a PNG, JPEG or WebP/,
  html: /not a PNG, JPEG or WebP/,
  svg: /not a PNG, JPEG or WebP/,
  gif: /not a PNG, JPEG or WebP/,
  htmlPngPolyglot: /not a PNG, JPEG or WebP/,
  pngHtmlPolyglot: /data after the end/,
  truncatedPng: /not a readable PNG/,
  decompressionBomb: /too many pixels/,
};
const clock = new ManualClock();
let server: TestServer;

beforeAll(async () => {
  // MAX_BODY_BYTES far below an image: the upload route has its own limit (AVATAR_MAX_BYTES).
  server = await startTestServer({
    clock,
    env: { STORAGE_PUBLIC_URL: PUBLIC, MAX_BODY_BYTES: '2048', AVATAR_MAX_BYTES: '300000', AVATAR_UPLOADS_PER_HOUR: '50' },
  });
});
afterAll(async () => {
  await server?.close();
});

const local = (url: string) => `${server.url}${new URL(url).pathname}${new URL(url).search}`;
const uploadsDir = () => path.join(server.config.dataDir, 'uploads');
const fileOf = (url: string) => path.join(uploadsDir(), ...new URL(url).pathname.slice(1).split('/'));

describe('embedded avatar storage', () => {
  it('takes an upload larger than MAX_BODY_BYTES, turns a JPEG into a 512px WebP without EXIF or GPS, and serves it', async () => {
    const user = await signupUser(server);
    const jpeg = await jpegWithExif();
    expect(jpeg.length).toBeGreaterThan(2048);
    expect(jpeg.includes(EXIF_MARKER)).toBe(true);

    const upload = await startUpload(server, user.accessToken, 'image/jpeg', jpeg.length);
    expect(upload.method).toBe('PUT');
    expect(upload.headers).toEqual({ 'Content-Type': 'image/jpeg' });
    expect(upload.fields).toBeNull();
    expect(upload.maxBytes).toBe(jpeg.length);
    expect(upload.key).toMatch(new RegExp(`^avatar-uploads/${user.user.id}/[A-Za-z0-9_-]{22}$`));
    expect(upload.uploadUrl.startsWith(`${PUBLIC}/avatar-uploads/${user.user.id}/`)).toBe(true);
    const expiresIn = Date.parse(upload.expiresAt) - clock.now();
    expect(expiresIn).toBeGreaterThan(9.9 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(10 * 60_000);

    const sent = await sendUpload(upload, jpeg, { origin: server.url });
    expect(sent.status).toBe(200);
    // The GraphQL route keeps its own limit.
    const big = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ __typename }`, pad: 'x'.repeat(4000) }),
    });
    expect(big.status).toBe(413);

    const finished = await server.gql(FINISH_UPLOAD, { key: upload.key }, { token: user.accessToken });
    expect(finished.body.errors).toBeUndefined();
    const avatarUrl: string = finished.body.data!.finishAvatarUpload.avatarUrl;
    expect(avatarUrl).toMatch(new RegExp(`^${PUBLIC}/avatars/${user.user.id}/[A-Za-z0-9_-]{22}\\.webp$`));

    const served = await fetch(local(avatarUrl));
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/webp');
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    expect(served.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(served.headers.get('content-security-policy')).toContain("default-src 'none'");
    const bytes = Buffer.from(await served.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('webp');
    expect([meta.width, meta.height]).toEqual([512, 341]);
    expect(meta.exif).toBeUndefined();
    expect(bytes.includes(EXIF_MARKER)).toBe(false);
    expect(bytes.includes('GPS')).toBe(false);

    // The raw upload is gone, and never was public.
    expect(existsSync(path.join(uploadsDir(), ...upload.key.split('/')))).toBe(false);
    expect((await fetch(`${server.url}/${upload.key}`)).status).toBe(404);
  });

  it('keeps small images small, and takes PNG and WebP', async () => {
    const user = await signupUser(server);
    for (const [type, body] of [
      ['image/png', await png(40, 30)],
      ['image/webp', await webp(100, 200)],
    ] as const) {
      const { finished } = await uploadAvatar(server, user.accessToken, body, type, server.url);
      expect(finished.body.errors).toBeUndefined();
      const served = Buffer.from(await (await fetch(local(finished.body.data!.finishAvatarUpload.avatarUrl))).arrayBuffer());
      const meta = await sharp(served).metadata();
      expect(meta.format).toBe('webp');
      expect(meta.width * meta.height).toBe(type === 'image/png' ? 40 * 30 : 100 * 200);
    }
  });

  it('replaces the previous uploaded avatar and deletes its file; null goes back to the generated one and deletes the last', async () => {
    const user = await signupUser(server);
    const first = (await uploadAvatar(server, user.accessToken, await png(), 'image/png', server.url)).finished.body.data!
      .finishAvatarUpload.avatarUrl;
    expect(existsSync(fileOf(first))).toBe(true);
    const second = (await uploadAvatar(server, user.accessToken, await png(70, 70), 'image/png', server.url)).finished.body.data!
      .finishAvatarUpload.avatarUrl;
    expect(second).not.toBe(first);
    expect(existsSync(fileOf(first))).toBe(false);
    expect((await fetch(local(first))).status).toBe(404);
    expect(existsSync(fileOf(second))).toBe(true);

    // Setting the current one again is accepted and keeps it.
    const same = await server.gql(UPDATE_AVATAR, { avatarUrl: second }, { token: user.accessToken });
    expect(same.body.data!.updateMe.avatarUrl).toBe(second);
    expect(existsSync(fileOf(second))).toBe(true);

    const cleared = await server.gql(UPDATE_AVATAR, { avatarUrl: null }, { token: user.accessToken });
    expect(cleared.body.data!.updateMe.avatarUrl).toBe(`https://api.dicebear.com/9.x/identicon/svg?seed=${user.user.id}`);
    expect(existsSync(fileOf(second))).toBe(false);
  });

  it('refuses text, HTML, SVG, polyglots, GIF, a broken image and a decompression bomb with BAD_USER_INPUT, changing nothing', async () => {
    const user = await signupUser(server);
    const before = (await server.gql(`{ me { avatarUrl } }`, {}, { token: user.accessToken })).body.data!.me.avatarUrl;
    for (const [name, file] of Object.entries(await refusedFiles())) {
      const upload = await startUpload(server, user.accessToken, file.contentType, file.body.length);
      expect((await sendUpload(upload, file.body, { origin: server.url })).status).toBe(200);
      const started = Date.now();
      const finished = await server.gql(FINISH_UPLOAD, { key: upload.key }, { token: user.accessToken });
      expect([name, errorCode(finished)]).toEqual([name, 'BAD_USER_INPUT']);
      expect([name, (finished.body.errors![0].extensions!.fields as { key: string }).key]).toEqual([
        name,
        expect.stringMatching(REFUSAL_REASONS[name]),
      ]);
      expect(Date.now() - started).toBeLessThan(5_000);
      // The refused upload is deleted and spent.
      expect(existsSync(path.join(uploadsDir(), ...upload.key.split('/')))).toBe(false);
      expect(errorCode(await server.gql(FINISH_UPLOAD, { key: upload.key }, { token: user.accessToken }))).toBe('BAD_USER_INPUT');
    }
    const after = (await server.gql(`{ me { avatarUrl } }`, {}, { token: user.accessToken })).body.data!.me.avatarUrl;
    expect(after).toBe(before);
    expect(readdirDeep(path.join(uploadsDir(), 'avatars', user.user.id))).toEqual([]);
  });

  it('keeps nothing of a payload hidden inside a valid image (a JPEG comment carrying HTML)', async () => {
    const user = await signupUser(server);
    const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#123456' } })
      .jpeg()
      .toBuffer();
    const comment = Buffer.from(HTML_PAYLOAD);
    const segment = Buffer.concat([Buffer.from([0xff, 0xfe, (comment.length + 2) >> 8, (comment.length + 2) & 0xff]), comment]);
    const polyglot = Buffer.concat([jpeg.subarray(0, 2), segment, jpeg.subarray(2)]);
    const { finished } = await uploadAvatar(server, user.accessToken, polyglot, 'image/jpeg', server.url);
    expect(finished.body.errors).toBeUndefined();
    const served = Buffer.from(await (await fetch(local(finished.body.data!.finishAvatarUpload.avatarUrl))).arrayBuffer());
    expect(served.includes('<script>')).toBe(false);
    expect((await sharp(served).metadata()).format).toBe('webp');
  });

  it('checks the size itself: an upload shorter than declared is refused at finish', async () => {
    const user = await signupUser(server);
    const image = await png();
    const upload = await startUpload(server, user.accessToken, 'image/png', image.length + 10);
    // Warden's own route refuses a body of another size; write the short file the way a lax store would keep it.
    await server.app.infra.storage.write(upload.key, image, { contentType: 'image/png', cacheControl: 'no-store' });
    const finished = await server.gql(FINISH_UPLOAD, { key: upload.key }, { token: user.accessToken });
    expect(errorCode(finished)).toBe('BAD_USER_INPUT');
    expect(finished.body.errors![0].extensions!.fields).toEqual({ key: expect.stringMatching(/declared/) });
  });

  it('validates startAvatarUpload: only PNG, JPEG and WebP, 1 byte to AVATAR_MAX_BYTES', async () => {
    const user = await signupUser(server);
    for (const [contentType, byteSize, field] of [
      ['image/svg+xml', 100, 'contentType'],
      ['text/html', 100, 'contentType'],
      ['image/gif', 100, 'contentType'],
      ['image/png', 0, 'byteSize'],
      ['image/png', -5, 'byteSize'],
      ['image/png', 300_001, 'byteSize'],
    ] as const) {
      const response = await server.gql(START_UPLOAD, { contentType, byteSize }, { token: user.accessToken });
      expect([contentType, byteSize, errorCode(response)]).toEqual([contentType, byteSize, 'BAD_USER_INPUT']);
      expect(Object.keys(response.body.errors![0].extensions!.fields as object)).toEqual([field]);
    }
    const anonymous = await server.gql(START_UPLOAD, { contentType: 'image/png', byteSize: 10 });
    expect(errorCode(anonymous)).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(FINISH_UPLOAD, { key: 'avatar-uploads/x/y' }))).toBe('UNAUTHENTICATED');
  });

  it('finishes only an upload this user started, once, before it expires', async () => {
    const alice = await signupUser(server);
    const mallory = await signupUser(server);
    const image = await png();
    const upload = await startUpload(server, alice.accessToken, 'image/png', image.length);
    expect((await sendUpload(upload, image, { origin: server.url })).status).toBe(200);

    for (const key of [
      upload.key,
      upload.key.replace(alice.user.id, mallory.user.id),
      `avatar-uploads/${mallory.user.id}/AAAAAAAAAAAAAAAAAAAAAA`,
      '../../jwt-secret',
      'avatars/x',
      '',
    ]) {
      const stolen = await server.gql(FINISH_UPLOAD, { key }, { token: mallory.accessToken });
      expect([key, errorCode(stolen)]).toEqual([key, 'BAD_USER_INPUT']);
    }
    const ok = await server.gql(FINISH_UPLOAD, { key: upload.key }, { token: alice.accessToken });
    expect(ok.body.errors).toBeUndefined();
    expect(errorCode(await server.gql(FINISH_UPLOAD, { key: upload.key }, { token: alice.accessToken }))).toBe('BAD_USER_INPUT');

    // Nothing uploaded yet.
    const empty = await startUpload(server, alice.accessToken, 'image/png', image.length);
    expect(errorCode(await server.gql(FINISH_UPLOAD, { key: empty.key }, { token: alice.accessToken }))).toBe('BAD_USER_INPUT');

    // Expired: the upload URL and the finish both refuse after 10 minutes.
    const late = await startUpload(server, alice.accessToken, 'image/png', image.length);
    clock.advance(10 * 60_000 + 1_000);
    expect((await sendUpload(late, image, { origin: server.url })).status).toBe(403);
    expect(errorCode(await server.gql(FINISH_UPLOAD, { key: late.key }, { token: alice.accessToken }))).toBe('BAD_USER_INPUT');
  });

  it('runs parallel finishes of one key exactly once', async () => {
    const user = await signupUser(server);
    const image = await png();
    const upload = await startUpload(server, user.accessToken, 'image/png', image.length);
    await sendUpload(upload, image, { origin: server.url });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => server.gql(FINISH_UPLOAD, { key: upload.key }, { token: user.accessToken })),
    );
    expect(results.filter((r) => !r.body.errors).length).toBe(1);
    expect(results.filter((r) => errorCode(r) === 'BAD_USER_INPUT').length).toBe(4);
    expect(readdirDeep(path.join(uploadsDir(), 'avatars', user.user.id)).length).toBe(1);
  });

  it('the upload route accepts only the signed type, size and key, within its expiry', async () => {
    const user = await signupUser(server);
    const image = await png();
    const upload = await startUpload(server, user.accessToken, 'image/png', image.length);
    const url = new URL(upload.uploadUrl);
    const signature = url.searchParams.get('signature')!;
    const tampered = (change: (u: URL) => void) => {
      const copy = new URL(local(upload.uploadUrl));
      change(copy);
      return copy.toString();
    };
    const put = (target: string, body: Buffer, headers: Record<string, string>) => fetch(target, { method: 'PUT', headers, body });

    expect((await put(local(upload.uploadUrl), image, { 'content-type': 'text/html' })).status).toBe(403);
    expect((await put(local(upload.uploadUrl), image, { 'content-type': 'image/svg+xml' })).status).toBe(403);
    expect((await put(local(upload.uploadUrl), Buffer.concat([image, Buffer.from('x')]), { 'content-type': 'image/png' })).status).toBe(
      403,
    );
    expect((await put(local(upload.uploadUrl), image.subarray(1), { 'content-type': 'image/png' })).status).toBe(403);
    expect(
      (
        await put(
          tampered((u) => u.searchParams.set('signature', signature.replace(/^./, signature[0] === 'A' ? 'B' : 'A'))),
          image,
          { 'content-type': 'image/png' },
        )
      ).status,
    ).toBe(403);
    expect(
      (
        await put(
          tampered((u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600))),
          image,
          { 'content-type': 'image/png' },
        )
      ).status,
    ).toBe(403);
    expect(
      (
        await put(
          tampered((u) => u.searchParams.delete('signature')),
          image,
          { 'content-type': 'image/png' },
        )
      ).status,
    ).toBe(403);
    // Another user's key with this signature.
    const other = await signupUser(server);
    expect(
      (
        await put(
          tampered((u) => (u.pathname = u.pathname.replace(user.user.id, other.user.id))),
          image,
          { 'content-type': 'image/png' },
        )
      ).status,
    ).toBe(403);
    // Over AVATAR_MAX_BYTES: refused from its Content-Length, before the body is read.
    expect((await put(local(upload.uploadUrl), Buffer.alloc(300_001), { 'content-type': 'image/png' })).status).toBe(413);
    // No Content-Length (chunked).
    expect(await chunkedPut(local(upload.uploadUrl), image)).toBe(411);
    // Nothing of that reached the key.
    expect(existsSync(path.join(uploadsDir(), ...upload.key.split('/')))).toBe(false);
    expect((await sendUpload(upload, image, { origin: server.url })).status).toBe(200);
  });

  it('serves no directory listing, no raw upload, nothing outside the avatars, whatever the path', async () => {
    const user = await signupUser(server);
    const { upload, finished } = await uploadAvatar(server, user.accessToken, await png(), 'image/png', server.url);
    const avatarPath = new URL(finished.body.data!.finishAvatarUpload.avatarUrl).pathname;
    // Something secret beside the uploads directory, and in it.
    const secret = 'TOP-SECRET-NEXT-TO-THE-UPLOADS';
    writeFileSync(path.join(server.config.dataDir, 'jwt-secret'), secret);
    writeFileSync(path.join(uploadsDir(), 'jwt-secret'), secret);
    writeFileSync(path.join(uploadsDir(), 'avatars', user.user.id, 'jwt-secret'), secret);
    const paths = [
      '/avatars',
      '/avatars/',
      `/avatars/${user.user.id}`,
      `/avatars/${user.user.id}/`,
      '/avatar-uploads/',
      `/${upload.key}`,
      '/avatars/../jwt-secret',
      '/avatars/..%2f..%2fjwt-secret',
      `/avatars/${user.user.id}/..%2f..%2f..%2fjwt-secret`,
      `/avatars/${user.user.id}/%2e%2e%2f%2e%2e%2f%2e%2e%2fjwt-secret`,
      `/avatars/%2e%2e/%2e%2e`,
      `/avatars/..%5c..%5cjwt-secret`,
      `${avatarPath}/..`,
      `${avatarPath}%00.png`,
      `/avatars/${user.user.id}/jwt-secret`,
      `/avatars/${user.user.id}/..%2fjwt-secret`,
      `/avatars/${user.user.id}%2f..%2f..%2fjwt-secret`,
      '/uploads/jwt-secret',
      '/jwt-secret',
    ];
    for (const target of paths) {
      const response = await rawGet(target);
      expect([target, response.status]).toEqual([target, 404]);
      expect(response.body).not.toContain(secret);
    }
    const put = await rawRequest('PUT', '/avatar-uploads/..%2f..%2fjwt-secret?expires=1&signature=x', 'x', { 'content-type': 'image/png' });
    expect(put.status).toBe(404);
    expect((await rawGet(avatarPath)).status).toBe(200);
    const head = await fetch(`${server.url}${avatarPath}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('limits uploads per user per hour with RATE_LIMITED', async () => {
    const limited = await startTestServer({ env: { AVATAR_UPLOADS_PER_HOUR: '3' }, shareWith: server });
    try {
      const user = await signupUser(limited);
      for (let i = 0; i < 3; i++) await startUpload(limited, user.accessToken, 'image/png', 100);
      const refused = await limited.gql(START_UPLOAD, { contentType: 'image/png', byteSize: 100 }, { token: user.accessToken });
      expect(errorCode(refused)).toBe('RATE_LIMITED');
      expect(refused.body.errors![0].extensions!.retryAfter).toBeGreaterThan(0);
      // Another user has their own quota.
      const other = await signupUser(limited);
      await startUpload(limited, other.accessToken, 'image/png', 100);
    } finally {
      await limited.close();
    }
  });

  it('updateMe accepts only avatar URLs Warden issued to this user, or null', async () => {
    const alice = await signupUser(server);
    const bob = await signupUser(server);
    const bobs = (await uploadAvatar(server, bob.accessToken, await png(), 'image/png', server.url)).finished.body.data!.finishAvatarUpload
      .avatarUrl;
    const alices = (await uploadAvatar(server, alice.accessToken, await png(), 'image/png', server.url)).finished.body.data!
      .finishAvatarUpload.avatarUrl;
    const aliceId = alice.user.id;
    const file = new URL(alices).pathname.split('/').pop()!;
    for (const foreign of [
      bobs,
      bobs.replace(bob.user.id, aliceId), // Bob's file name under Alice's id: no such avatar
      'https://evil.example/avatar.png',
      `https://evil.example/avatars/${aliceId}/${file}`,
      `${PUBLIC}/avatars/${aliceId}/AAAAAAAAAAAAAAAAAAAAAA.webp`, // the right shape, never issued
      `${alices}?x=1`,
      `${alices}#x`,
      alices.replace('http://', 'HTTP://'),
      `${PUBLIC}/avatars/${aliceId}/../${bob.user.id}/${new URL(bobs).pathname.split('/').pop()}`,
      `${PUBLIC}/avatar-uploads/${aliceId}/AAAAAAAAAAAAAAAAAAAAAA`,
      `https://api.dicebear.com/9.x/identicon/svg?seed=${bob.user.id}`,
      'javascript:alert(1)',
      '',
    ]) {
      const response = await server.gql(UPDATE_AVATAR, { avatarUrl: foreign }, { token: alice.accessToken });
      expect([foreign, errorCode(response)]).toEqual([foreign, 'BAD_USER_INPUT']);
    }
    const me = await server.gql(`{ me { avatarUrl } }`, {}, { token: alice.accessToken });
    expect(me.body.data!.me.avatarUrl).toBe(alices);
    // A refused avatar URL refuses the whole change: the name is not changed either.
    const mixed = await server.gql(
      `mutation { updateMe(input: { name: "Changed", avatarUrl: "${bobs}" }) { name } }`,
      {},
      { token: alice.accessToken },
    );
    expect(errorCode(mixed)).toBe('BAD_USER_INPUT');
    expect((await server.gql(`{ me { name } }`, {}, { token: alice.accessToken })).body.data!.me.name).not.toBe('Changed');
    // The generated one is Warden's too.
    const generated = `https://api.dicebear.com/9.x/identicon/svg?seed=${aliceId}`;
    expect((await server.gql(UPDATE_AVATAR, { avatarUrl: generated }, { token: alice.accessToken })).body.data!.updateMe.avatarUrl).toBe(
      generated,
    );
    expect(existsSync(fileOf(alices))).toBe(false);
    // Bob's is untouched by all of it.
    expect(existsSync(fileOf(bobs))).toBe(true);
  });

  it('the cleanup deletes uploads started and never finished', async () => {
    const user = await signupUser(server);
    const image = await png();
    const abandoned = await startUpload(server, user.accessToken, 'image/png', image.length);
    await sendUpload(abandoned, image, { origin: server.url });
    const rawFile = path.join(uploadsDir(), ...abandoned.key.split('/'));
    expect(existsSync(rawFile)).toBe(true);
    expect((await server.app.sessionCleanup.runOnce()).tasks.avatarUploads).toBe(0);
    expect(existsSync(rawFile)).toBe(true);
    clock.advance(16 * 60_000);
    const result = await server.app.sessionCleanup.runOnce();
    expect(result.tasks.avatarUploads).toBeGreaterThanOrEqual(1);
    expect(existsSync(rawFile)).toBe(false);
  });

  it('deleting a user deletes their stored avatars and uploads', async () => {
    const user = await signupUser(server);
    const { finished } = await uploadAvatar(server, user.accessToken, await png(), 'image/png', server.url);
    const pending = await startUpload(server, user.accessToken, 'image/png', 10);
    await sendUpload(pending, Buffer.alloc(10), { origin: server.url });
    expect(existsSync(fileOf(finished.body.data!.finishAvatarUpload.avatarUrl))).toBe(true);
    const deleted = await server.gql(`mutation($p: String!) { deleteMe(password: $p) }`, { p: user.password }, { token: user.accessToken });
    expect(deleted.body.data).toEqual({ deleteMe: true });
    expect(readdirDeep(path.join(uploadsDir(), 'avatars', user.user.id))).toEqual([]);
    expect(readdirDeep(path.join(uploadsDir(), 'avatar-uploads', user.user.id))).toEqual([]);
  });
});

function readdirDeep(dir: string): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readdirSync } = require('node:fs') as typeof import('node:fs');
  try {
    return readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return [];
  }
}

/** A request with the path sent exactly as written (fetch would normalise `..` away). */
function rawRequest(
  method: string,
  target: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path: target,
        headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const rawGet = (target: string) => rawRequest('GET', target);

function chunkedPut(target: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(target);
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: 'PUT',
        path: `${url.pathname}${url.search}`,
        headers: { 'content-type': 'image/png', 'transfer-encoding': 'chunked' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
