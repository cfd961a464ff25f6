/**
 * Bad refresh tokens (docs/api.md §4): garbage, truncated, oversized, wrong version, another session's
 * id, an edited counter, any single bit flipped → REFRESH_TOKEN_INVALID, with no database access at
 * all (so nothing written, and nothing to time), and a token that passes the secret-keyed check
 * but not its session's tag (someone with JWT_SECRET but not the database) → REFRESH_TOKEN_INVALID
 * with a read and no write. A median-timing comparison shows a real session id is not told apart.
 */
import { createHmac, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { AppError } from '../../src/errors/app-error';
import { RefreshTokenCodec, REFRESH_TOKEN_LENGTH } from '../../src/lib/refresh-token';
import { createTestDatabase, type TestDatabase } from '../support/db-template';
import { decodeRefreshToken, refresh, rowCounts, tokenState } from './support';
import { pairOf, errorCode, sessionIdOf, signupUser, startTestServer, TEST_JWT_SECRET, type SignedUp, type TestServer } from '../kit';

let own: TestDatabase | undefined;
let server: TestServer;
let statements: string[] = [];
let user: SignedUp;
let current: string;
let otherSessionId: string;

beforeAll(async () => {
  own = process.env.DATABASE_URL ? await createTestDatabase() : undefined;
  // The signing-key store's own periodic reload is no statement of a refresh.
  server = await startTestServer({
    env: { DATABASE_URL: own?.url ?? '' },
    onQuery: (event) => void (/"SigningKey"/.test(event.query) || statements.push(event.query)),
  });
  user = await signupUser(server);
  current = pairOf(await refresh(server, user.refreshToken)).refreshToken;
  otherSessionId = sessionIdOf((await signupUser(server)).accessToken);
  await server.app.services.background.idle();
});
afterAll(async () => {
  await server?.close();
  await own?.drop();
});

/** The secret-keyed check over `body` (the first 37 bytes), as the server computes it. */
function checkOf(body: Buffer, secret = TEST_JWT_SECRET): Buffer {
  const key = Buffer.from(
    hkdfSync('sha256', Buffer.from(secret), Buffer.from('warden refresh check'), Buffer.from('refresh-token check v1'), 32),
  );
  return createHmac('sha256', key).update(body).digest().subarray(0, 8);
}

function edited(token: string, edit: (bytes: Buffer) => void, recheck = false): string {
  const bytes = Buffer.from(token, 'base64url');
  edit(bytes);
  if (recheck) checkOf(bytes.subarray(0, 37)).copy(bytes, 37);
  return bytes.toString('base64url');
}

const uuidBytes = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex');

describe('refused before any database access', () => {
  const cases: Array<[string, () => string]> = [
    ['garbage', () => 'garbage'],
    ['random bytes of the right length', () => randomBytes(45).toString('base64url')],
    ['truncated by one character', () => current.slice(0, -1)],
    ['truncated to half', () => current.slice(0, 30)],
    ['one character too many', () => `${current}A`],
    ['oversized (100 KB)', () => current.repeat(1700)],
    ['a standard-base64 character (+) in it', () => `+${current.slice(1)}`],
    ['padding (=) in place of the last character', () => `${current.slice(0, -1)}=`],
    ['wrong version byte', () => edited(current, (b) => (b[0] = 2))],
    ['wrong version byte with a valid check', () => edited(current, (b) => (b[0] = 2), true)],
    ['another user’s real session id', () => edited(current, (b) => uuidBytes(otherSessionId).copy(b, 1))],
    ['an unknown session id', () => edited(current, (b) => uuidBytes(randomUUID()).copy(b, 1))],
    ['a forged counter', () => edited(current, (b) => b.writeUInt32BE(b.readUInt32BE(17) + 1, 17))],
    ['a forged counter, far ahead', () => edited(current, (b) => b.writeUInt32BE(0x7fffffff, 17))],
    ['the legacy length with non-base64url characters', () => '*'.repeat(43)],
  ];

  it.each(cases)('%s → REFRESH_TOKEN_INVALID, no statement sent', async (_what, make) => {
    const token = make();
    const before = await rowCounts(server);
    statements = [];
    const res = await refresh(server, token);
    expect(res.status).toBe(200);
    expect(errorCode(res)).toBe('REFRESH_TOKEN_INVALID');
    expect(statements).toEqual([]);
    expect(await rowCounts(server)).toEqual(before);
  });

  it(`every single bit flipped (${REFRESH_TOKEN_LENGTH * 6} of them) → REFRESH_TOKEN_INVALID, no statement sent`, async () => {
    const bytes = Buffer.from(current, 'base64url');
    const tokens = new Set<string>();
    for (let bit = 0; bit < bytes.length * 8; bit += 1) {
      const flipped = Buffer.from(bytes);
      flipped[bit >> 3] ^= 1 << (bit & 7);
      tokens.add(flipped.toString('base64url'));
    }
    // Also every character replaced by another of the alphabet (base64url's last character has
    // spare bits: changing only those must not yield a second valid spelling).
    for (let i = 0; i < current.length; i += 1) {
      const other = current[i] === 'A' ? 'B' : 'A';
      tokens.add(current.slice(0, i) + other + current.slice(i + 1));
    }
    tokens.delete(current);
    statements = [];
    const codes = new Set<string | undefined>();
    const service = server.app.services.refresh;
    for (const token of tokens) {
      try {
        await service.rotate({ refreshToken: token, accessClaims: null, meta: { id: 'bits', ip: '127.0.0.1', userAgent: null } });
        codes.add('ROTATED');
      } catch (error) {
        codes.add(error instanceof AppError ? error.code : String(error));
      }
    }
    expect([...codes]).toEqual(['REFRESH_TOKEN_INVALID']);
    expect(statements).toEqual([]);
    // And the real token is untouched by all that.
    expect((await tokenState(server, sessionIdOf(user.accessToken)))!.generation).toBe(1);
  });
});

describe('with JWT_SECRET but not the session’s salt', () => {
  it('a token made for a real session under a guessed salt → REFRESH_TOKEN_INVALID; one read, no write', async () => {
    const sid = sessionIdOf(user.accessToken);
    const forged = new RefreshTokenCodec([TEST_JWT_SECRET]).mint(sid, randomBytes(16), 1);
    expect(decodeRefreshToken(forged).sessionId).toBe(sid);
    const before = await rowCounts(server);
    statements = [];
    expect(errorCode(await refresh(server, forged))).toBe('REFRESH_TOKEN_INVALID');
    expect(statements.filter((sql) => !/^\s*SELECT/i.test(sql))).toEqual([]);
    expect(statements.length).toBeLessThanOrEqual(1);
    expect(await rowCounts(server)).toEqual(before);
    // Nor did it end or move the session: the real token still rotates.
    current = pairOf(await refresh(server, current)).refreshToken;
  });
});

describe('timing', () => {
  it('the medians for a real session id and a random one are alike (neither reaches the database)', async () => {
    const sid = sessionIdOf(user.accessToken);
    const real = edited(current, (b) => (b[40] ^= 1)); // the real session id, a wrong check
    const random = edited(current, (b) => uuidBytes(randomUUID()).copy(b, 1));
    expect(decodeRefreshToken(real).sessionId).toBe(sid);
    const service = server.app.services.refresh;
    const meta = { id: 'timing', ip: '127.0.0.1', userAgent: null };
    const time = async (token: string) => {
      const started = process.hrtime.bigint();
      await service.rotate({ refreshToken: token, accessClaims: null, meta }).catch(() => undefined);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    for (let i = 0; i < 50; i += 1) await time(i % 2 ? real : random); // warm up
    const samples: Record<'real' | 'random', number[]> = { real: [], random: [] };
    for (let i = 0; i < 400; i += 1) {
      // Interleaved, so a slower moment of the shared machine hits both alike.
      if (i % 2) samples.real.push(await time(real));
      else samples.random.push(await time(random));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
    const [a, b] = [median(samples.real), median(samples.random)];
    // A database round trip costs far more than this bound; the two paths are the same code.
    expect(Math.abs(a - b)).toBeLessThan(Math.max(0.25, 0.5 * Math.min(a, b)));
  });
});
