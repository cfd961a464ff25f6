import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { parseDuration } from '../../src/lib/duration';

const dataDir = () => mkdtempSync(path.join(tmpdir(), 'warden-config-'));
const secret = 's'.repeat(32);

describe('durations', () => {
  it.each([
    ['900', 900_000],
    ['900s', 900_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['14d', 1_209_600_000],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'soon', '15 minutes', '-5s', '1.5h', '10w'])('%j is not a duration', (text) => expect(parseDuration(text)).toBeNull());
});

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ DATA_DIR: dataDir() });
    expect(config).toMatchObject({
      port: 4000,
      host: '0.0.0.0',
      accessTokenTtlMs: 15 * 60_000,
      refreshTokenTtlMs: 14 * 86_400_000,
      sessionMaxAgeMs: 30 * 86_400_000,
      refreshReuseGraceMs: 10_000,
      clockSkewMs: 5_000,
      loginMaxFailures: 5,
      loginFailureWindowMs: 5 * 60_000,
      lockoutDurationMs: 10 * 60_000,
      bcryptCost: 12,
      ipRateLimit: 30,
      refreshTokenTransport: 'both',
      cookieSecure: false,
      trustProxy: false,
      maxBodyBytes: 1_048_576,
      shutdownTimeoutMs: 10_000,
      jwtIssuer: 'warden',
      jwtAudience: 'warden',
      jwtAlgorithm: 'ES256',
      jwtKeyRotationMs: 30 * 86_400_000,
      jwksMaxAgeMs: 10 * 60_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('generates a development JWT secret once and keeps it in DATA_DIR', () => {
    const dir = dataDir();
    const first = loadConfig({ DATA_DIR: dir });
    const second = loadConfig({ DATA_DIR: dir });
    expect(first.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(second.jwtSecret).toBe(first.jwtSecret);
    expect(readFileSync(path.join(dir, 'jwt-secret'), 'utf8').trim()).toBe(first.jwtSecret);
  });

  it.each([
    ['ACCESS_TOKEN_TTL', 'soon'],
    ['PORT', 'eighty'],
    ['BCRYPT_COST', '3'],
    ['BCRYPT_COST', '16'],
    ['REFRESH_TOKEN_TRANSPORT', 'carrier-pigeon'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'not a url'],
    ['TRUST_PROXY', 'maybe'],
    ['CLOCK_SKEW', '2m'],
    ['JWT_SECRET', 'short'],
    ['JWT_ALGORITHM', 'RS256'],
    ['JWT_ALGORITHM', 'none'],
    ['JWKS_MAX_AGE', '0'],
    ['JWKS_MAX_AGE', 'often'],
    ['JWT_KEY_ROTATION', '15m'],
  ])('stops the start on %s=%j, naming the variable', (name, value) => {
    expect(() => loadConfig({ DATA_DIR: dataDir(), [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ DATA_DIR: dataDir(), [name]: value })).toThrow(name);
  });

  it('in production requires JWT_SECRET, REDIS_URL and BCRYPT_COST >= 10', () => {
    const base = { NODE_ENV: 'production', DATA_DIR: dataDir() };
    expect(() => loadConfig(base)).toThrow(/JWT_SECRET[\s\S]*REDIS_URL/);
    expect(() => loadConfig({ ...base, JWT_SECRET: secret, REDIS_URL: 'redis://127.0.0.1:6379', BCRYPT_COST: '9' })).toThrow('BCRYPT_COST');
    const ok = loadConfig({ ...base, JWT_SECRET: secret, REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(ok.cookieSecure).toBe(true);
    expect(ok.jwtSecret).toBe(secret);
  });

  it('normalises ADMIN_EMAILS like every other email', () => {
    expect(loadConfig({ DATA_DIR: dataDir(), ADMIN_EMAILS: ' Root@Example.COM , ops@x.io ' }).adminEmails).toEqual([
      'root@example.com',
      'ops@x.io',
    ]);
  });
});
