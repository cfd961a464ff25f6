/**
 * The per-IP limit counts a client network, not a literal address (docs/api.md §6, rate-limit.service.ts):
 * every address of one IPv6 /64 shares one count, so walking the interface half of a prefix
 * (2^64 addresses, all routed to one subscriber) does not reset it; an IPv4-mapped IPv6 address
 * counts as the IPv4 address it carries. Spoken through a trusted proxy (TRUST_PROXY with
 * X-Forwarded-For), as the rate-limit tests do, from random prefixes so a shared Redis starts fresh.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { ErrorCode } from '../../src/errors/error-code';
import { ipLimitKey } from '../../src/modules/security/rate-limit.service';
import { LOGIN, errorCode, startTestServer, uniqueEmail, type TestServer } from '../kit';

const LIMIT = 3;

/** Four random hextets: a /64 prefix of the documentation range 2001:db8::/32 and below. */
const randomPrefix = () => `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;
const randomInterface = () => Array.from({ length: 4 }, () => randomBytes(2).toString('hex')).join(':');
const randomIpv4 = () => `198.51.${randomInt(0, 256)}.${randomInt(1, 255)}`;

describe('ipLimitKey', () => {
  it('keys IPv6 by its /64 and IPv4-mapped addresses by their IPv4 address', () => {
    expect(ipLimitKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(ipLimitKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(ipLimitKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(ipLimitKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(ipLimitKey('::ffff:c000:207')).toBe('192.0.2.7');
    expect(ipLimitKey('192.0.2.7')).toBe('192.0.2.7');
    expect(ipLimitKey('192.0.2.8')).toBe('192.0.2.8');
    expect(ipLimitKey('fe80::1%eth0')).toBe('fe80::/64');
    expect(ipLimitKey('::1')).toBe('::/64');
  });
});

describe('per-IP limit over HTTP behind a trusted proxy', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { IP_RATE_LIMIT: String(LIMIT), TRUST_PROXY: 'true', LOGIN_MAX_FAILURES: '1000' } });
  });
  afterAll(() => server.close());

  const loginFrom = async (ip: string) =>
    errorCode(
      await server.gql(
        LOGIN,
        { input: { email: uniqueEmail('ipg'), password: 'wrong password 123' } },
        { headers: { 'x-forwarded-for': ip } },
      ),
    );

  it('limits a client that walks the addresses of one /64', async () => {
    const prefix = randomPrefix();
    for (let i = 0; i < LIMIT; i++) expect(await loginFrom(`${prefix}:${randomInterface()}`)).toBe(ErrorCode.INVALID_CREDENTIALS);
    // A new address every time, the same prefix: still the same client.
    for (let i = 0; i < 3; i++) expect(await loginFrom(`${prefix}:${randomInterface()}`)).toBe(ErrorCode.RATE_LIMITED);
    // The neighbouring /64 is another client.
    const [a, b, c, d] = prefix.split(':');
    const neighbour = `${a}:${b}:${c}:${(parseInt(d, 16) ^ 1).toString(16)}`;
    expect(await loginFrom(`${neighbour}:${randomInterface()}`)).toBe(ErrorCode.INVALID_CREDENTIALS);
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address, in either spelling', async () => {
    const ip = randomIpv4();
    const [w, x, y, z] = ip.split('.').map(Number);
    const hex = `::ffff:${((w << 8) | x).toString(16)}:${((y << 8) | z).toString(16)}`;
    expect(await loginFrom(`::ffff:${ip}`)).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(await loginFrom(hex)).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(await loginFrom(ip)).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(await loginFrom(`::ffff:${ip}`)).toBe(ErrorCode.RATE_LIMITED);
    expect(await loginFrom(ip)).toBe(ErrorCode.RATE_LIMITED);
  });

  it('still counts IPv4 addresses one by one', async () => {
    const ip = randomIpv4();
    for (let i = 0; i < LIMIT; i++) expect(await loginFrom(ip)).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(await loginFrom(ip)).toBe(ErrorCode.RATE_LIMITED);
    const [w, x, y, z] = ip.split('.').map(Number);
    expect(await loginFrom(`${w}.${x}.${y}.${z === 254 ? 1 : z + 1}`)).toBe(ErrorCode.INVALID_CREDENTIALS);
  });
});
