/**
 * STORAGE_URL, STORAGE_PUBLIC_URL, AVATAR_MAX_BYTES and AVATAR_UPLOADS_PER_HOUR: parsed once,
 * and a bad value stops the start with a message naming the variable. Plus the CORS preflight a
 * browser sends before a PUT to Warden's own upload route.
 */
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { startTestServer } from '../kit';

const base = { NODE_ENV: 'test', JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long!!', DATA_DIR: '/tmp/warden-avatar-config' };
const load = (env: Record<string, string>) => loadConfig({ ...base, ...env });

describe('avatar storage configuration', () => {
  it('defaults to files under DATA_DIR/uploads, served at http://localhost:PORT, 5 MB, 5 uploads an hour', () => {
    const config = load({ PORT: '4100' });
    expect(config.storage).toEqual({ kind: 'file', dir: path.join('/tmp/warden-avatar-config', 'uploads') });
    expect(config.storagePublicUrl).toBe('http://localhost:4100');
    expect(config.storagePublicUrlSet).toBe(false);
    expect(config.avatarMaxBytes).toBe(5_242_880);
    expect(config.avatarUploadsPerHour).toBe(5);
  });

  it('reads an s3:// URL: bucket, endpoint, region, path style and credentials', () => {
    const config = load({ STORAGE_URL: 's3://key%2Fid:se%2Bcret@my-bucket?endpoint=http://127.0.0.1:9000/&region=eu-west-1' });
    expect(config.storage).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'key/id', secretAccessKey: 'se+cret' },
    });
    expect(config.storagePublicUrl).toBe('http://127.0.0.1:9000/my-bucket');
    const aws = load({ STORAGE_URL: 's3://avatars.example?region=us-west-2' });
    expect(aws.storage).toMatchObject({ kind: 's3', endpoint: undefined, forcePathStyle: false, credentials: undefined });
    expect(aws.storagePublicUrl).toBe('https://avatars.example.s3.us-west-2.amazonaws.com');
    const virtualHost = load({ STORAGE_URL: 's3://b1b?endpoint=https://s3.example.com&pathStyle=false' });
    expect(virtualHost.storagePublicUrl).toBe('https://b1b.s3.example.com');
    expect(load({ STORAGE_URL: 's3://b1b', STORAGE_PUBLIC_URL: 'https://cdn.example.com/media/' }).storagePublicUrl).toBe(
      'https://cdn.example.com/media',
    );
  });

  it.each([
    ['STORAGE_URL', 'https://bucket.example'],
    ['STORAGE_URL', 's3://UPPER'],
    ['STORAGE_URL', 's3://bucket/some/path'],
    ['STORAGE_URL', 's3://bucket?endpoint=ftp://x'],
    ['STORAGE_URL', 's3://bucket?endpont=http://x'],
    ['STORAGE_URL', 's3://bucket?pathStyle=maybe'],
    ['STORAGE_URL', 's3://onlykey@bucket'],
    ['STORAGE_URL', 'not a url'],
    ['STORAGE_PUBLIC_URL', 'ftp://cdn.example'],
    ['STORAGE_PUBLIC_URL', 'https://cdn.example/?sig=1'],
    ['AVATAR_MAX_BYTES', '10'],
    ['AVATAR_MAX_BYTES', '5MB'],
    ['AVATAR_UPLOADS_PER_HOUR', '0'],
  ])('%s=%s stops the start with a message naming it', (name, value) => {
    expect(() => load({ [name]: value })).toThrow(ConfigError);
    expect(() => load({ [name]: value })).toThrow(new RegExp(name));
  });

  it('lets a browser on an allowed origin PUT to the upload route (CORS preflight)', async () => {
    const server = await startTestServer({ env: { CORS_ORIGINS: 'https://app.example' } });
    try {
      const preflight = await fetch(`${server.url}/avatar-uploads/00000000-0000-4000-8000-000000000000/AAAAAAAAAAAAAAAAAAAAAA`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example',
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'content-type',
        },
      });
      expect(preflight.status).toBeLessThan(300);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(preflight.headers.get('access-control-allow-methods')).toContain('PUT');
      const foreign = await fetch(`${server.url}/avatar-uploads/00000000-0000-4000-8000-000000000000/AAAAAAAAAAAAAAAAAAAAAA`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
      });
      expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await server.close();
    }
  });
});
