/**
 * Access tokens follow the server's injected clock: `iat`/`exp` are stamped from it and a token
 * expires when that clock passes `exp` (plus CLOCK_SKEW), in both algorithms, so expiry tests
 * move a clock instead of sleeping. Production passes the system clock (real time).
 */
import jwt from 'jsonwebtoken';
import { ErrorCode } from '../../src/errors/error-code';
import { ManualClock } from '../../src/lib/clock';
import { AccessTokens } from '../../src/lib/jwt';
import { ME, errorCode, signupUser, startTestServer } from '../kit';

// Far from real time, so a token stamped from Date.now() would be told apart at once.
const START = Date.UTC(2031, 0, 15, 12, 0, 0);

describe.each(['ES256', 'HS256'])('%s access tokens on an injected clock', (algorithm) => {
  it('stamps iat/exp from the clock and expires the token when the clock passes exp + skew', async () => {
    const clock = new ManualClock(START);
    const server = await startTestServer({ clock, env: { JWT_ALGORITHM: algorithm, ACCESS_TOKEN_TTL: '10m', CLOCK_SKEW: '5s' } });
    try {
      const user = await signupUser(server);
      const claims = jwt.decode(user.accessToken) as { iat: number; exp: number };
      expect(claims.iat).toBe(START / 1000);
      expect(claims.exp).toBe(START / 1000 + 600);
      expect((await server.gql(ME, {}, { token: user.accessToken })).body.data?.me.id).toBe(user.user.id);

      // Just inside the skew it still verifies; one second past it, it is expired.
      clock.advance(600_000 + 4_000);
      expect((await server.gql(ME, {}, { token: user.accessToken })).body.errors).toBeUndefined();
      clock.advance(2_000);
      const late = await server.gql(ME, {}, { token: user.accessToken });
      expect(errorCode(late)).toBe(ErrorCode.ACCESS_TOKEN_EXPIRED);
      expect(late.body.data ?? null).toBeNull();
    } finally {
      await server.close();
    }
  });
});

describe('AccessTokens without a clock', () => {
  it('keeps real time', () => {
    const tokens = new AccessTokens({ secret: 'x'.repeat(40), issuer: 'i', audience: 'a', ttlMs: 60_000, clockSkewMs: 0 });
    const before = Math.floor(Date.now() / 1000);
    const { token } = tokens.sign({
      userId: '00000000-0000-4000-8000-000000000001',
      sessionId: '00000000-0000-4000-8000-000000000002',
      role: 'USER',
    });
    const claims = jwt.decode(token) as { iat: number; exp: number };
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.iat).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(claims.exp).toBe(claims.iat + 60);
    expect(tokens.verify(token)).toMatchObject({ ok: true });
    expect(tokens.verify(token, (claims.exp + 1) * 1000)).toEqual({ ok: false, reason: 'expired' });
  });
});
