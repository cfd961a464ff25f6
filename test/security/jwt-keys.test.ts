/**
 * The ES256 key lifecycle on instances that share a database (docs/api.md §4): a rotation mid-traffic
 * on two instances loses no request, a new key is published JWKS_MAX_AGE before it signs, the
 * previous key verifies until its tokens have expired and then is refused; scheduled rotation;
 * `keys:revoke` takes a key out of the JWKS and refuses its tokens on the other instance within
 * the reload bound (cached verifications included); rotating JWT_SECRET re-seals the stored keys;
 * an HS256 deployment that upgrades signs nobody out; no key this instance can open → /readyz 503;
 * key material never in logs.
 *
 * Short settings (JWKS_MAX_AGE=1s, ACCESS_TOKEN_TTL=2s, CLOCK_SKEW=0) make it run in seconds.
 * In the PostgreSQL pass each group uses a database of its own, so keys made here stay here.
 */
import { createHash, createPrivateKey, randomUUID, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { Writable } from 'node:stream';
import jwt from 'jsonwebtoken';
import { ErrorCode } from '../../src/errors/error-code';
import { openWithToken } from '../../src/lib/seal';
import { runKeysCommand } from '../../src/modules/keys/keys-command';
import { createLogger } from '../../src/infra/logger';
import { systemClock } from '../../src/lib/clock';
import { createTestDatabase, type TestDatabase } from '../support/db-template';
import { LOGIN, ME, signupUser, sleep, startTestServer, TEST_JWT_SECRET, type TestServer } from '../kit';

const FAST = { JWKS_MAX_AGE: '1s', JWT_KEY_ROTATION: '1h', ACCESS_TOKEN_TTL: '2s', CLOCK_SKEW: '0' };
const SECRET_2 = 'the-second-master-secret-at-least-32-bytes!';
const SECRET_3 = 'a-third-master-secret-nobody-configured-here!';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const kidOf = (token: string) => (jwt.decode(token, { complete: true })!.header as { kid: string }).kid;
const jwksKids = async (server: TestServer) =>
  ((await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);

/** A token as Warden would sign it, with any key and claims. */
function signEs(key: KeyObject, kid: string, payload: Record<string, unknown>): string {
  const input = `${b64url({ alg: 'ES256', typ: 'at+jwt', kid })}.${b64url(payload)}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}
function signHs(secret: string, payload: Record<string, unknown>): string {
  const kid = createHash('sha256').update(secret, 'utf8').digest('base64url').slice(0, 16);
  return jwt.sign(payload, secret, { algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt', kid } });
}

async function codeOf(server: TestServer, token: string): Promise<string | null> {
  const response = await server.gql(ME, {}, { token });
  expect(response.status).toBeLessThan(500);
  return (response.body.errors?.[0]?.extensions?.code as string | undefined) ?? null;
}

/** A log sink the test can read. */
function logSink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => lines.join('') };
}

/** A database of this group's own in the PostgreSQL pass; the servers' own PGlite otherwise. */
function ownDatabase() {
  let database: TestDatabase | undefined;
  return {
    async env(): Promise<Record<string, string>> {
      database ??= process.env.DATABASE_URL ? await createTestDatabase() : undefined;
      return database ? { DATABASE_URL: database.url } : {};
    },
    drop: async () => database?.drop(),
  };
}

const claimsFor = (user: { user: { id: string } }, sid: string) => {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: user.user.id,
    sid,
    role: 'USER',
    scope: 'user',
    aal: 'aal1',
    amr: ['pwd'],
    jti: randomUUID(),
    iat: now,
    exp: now + 600,
    iss: 'warden',
    aud: 'warden',
  };
};

describe('rotation on two instances', () => {
  const db = ownDatabase();
  let a: TestServer;
  let b: TestServer;
  const logs = logSink();

  beforeAll(async () => {
    const env = { ...FAST, ...(await db.env()) };
    a = await startTestServer({ env, logDestination: logs.stream });
    b = await startTestServer({ env, shareWith: a, logDestination: logs.stream });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await db.drop();
  });

  it('mid-traffic: no request fails, the new key is in both JWKS before it signs, then both sign with it', async () => {
    const user = await signupUser(a);
    const oldSigning = a.app.services.signingKeys!.signingKey()!;
    expect(b.app.services.signingKeys!.signingKey()!.kid).toBe(oldSigning.kid);
    const failures: unknown[] = [];
    const firstNewToken: Record<string, number> = {};
    let newKid: string | undefined;
    let newKidInJwksOfB: number | undefined;
    let stop = false;

    const traffic = async (name: string, signer: TestServer, other: TestServer) => {
      while (!stop) {
        const login = await signer.gql(LOGIN, { input: { email: user.email, password: user.password } });
        if (login.body.errors) {
          failures.push(login.body.errors);
          continue;
        }
        const token = login.body.data!.login.accessToken as string;
        const kid = kidOf(token);
        if (newKid && kid === newKid) firstNewToken[name] ??= Date.now();
        for (const verifier of [signer, other]) {
          const code = await codeOf(verifier, token);
          if (code) failures.push({ signedBy: name, kid, code });
        }
      }
    };
    const watchJwks = async () => {
      while (!stop) {
        if (newKid && newKidInJwksOfB === undefined && (await jwksKids(b)).includes(newKid)) newKidInJwksOfB = Date.now();
        await sleep(50);
      }
    };
    // Checked as soon as the new key signs, while the previous one must still verify (until
    // ACCESS_TOKEN_TTL + CLOCK_SKEW after that): later, a slow machine could reach its retirement.
    const sid = (jwt.decode(user.accessToken) as { sid: string }).sid;
    let previousKey: { code: string | null; state: string | undefined; jwks: string[] } | undefined;
    const checkPreviousKey = async () => {
      previousKey = {
        code: await codeOf(b, signEs(oldSigning.key, oldSigning.kid, claimsFor(user, sid))),
        state: a.app.services.signingKeys!.list().find((key) => key.kid === oldSigning.kid)?.state,
        jwks: await jwksKids(a),
      };
    };
    const running = [traffic('a', a, b), traffic('b', b, a), watchJwks()];
    await sleep(300);
    // What `npm run keys:rotate` does, from a third party sharing the database.
    const printed: string[] = [];
    const logger = createLogger({ level: 'silent' });
    expect(
      await runKeysCommand(['rotate'], {
        prisma: a.app.infra.database.prisma,
        config: a.config,
        logger,
        clock: systemClock,
        print: (line) => printed.push(line),
      }),
    ).toBe(0);
    await a.app.services.signingKeys!.reload();
    const next = a.app.services.signingKeys!.list().find((key) => key.state === 'next')!;
    newKid = next.kid;
    expect(printed.join('\n')).toContain(newKid);
    expect(next.activatesAt.getTime() - next.createdAt.getTime()).toBeGreaterThanOrEqual(a.config.jwksMaxAgeMs);
    const deadline = Date.now() + 8_000;
    while (
      (!firstNewToken.a || !firstNewToken.b || Date.now() < Math.max(firstNewToken.a, firstNewToken.b) + 300) &&
      Date.now() < deadline
    ) {
      if (!previousKey && (firstNewToken.a || firstNewToken.b)) await checkPreviousKey();
      await sleep(50);
    }
    stop = true;
    await Promise.all(running);

    expect(failures).toEqual([]);
    expect(firstNewToken.a).toBeDefined();
    expect(firstNewToken.b).toBeDefined();
    // Published (and visible in the other instance's JWKS) before any token named it, and no
    // token named it before JWKS_MAX_AGE had passed since it was published.
    expect(newKidInJwksOfB).toBeDefined();
    expect(newKidInJwksOfB!).toBeLessThan(Math.min(firstNewToken.a, firstNewToken.b));
    expect(Math.min(firstNewToken.a, firstNewToken.b) - next.createdAt.getTime()).toBeGreaterThanOrEqual(a.config.jwksMaxAgeMs);

    // The previous key verified once the new one signed (ACCESS_TOKEN_TTL + CLOCK_SKEW after it stopped signing) …
    expect(previousKey).toEqual({ code: null, state: 'previous', jwks: expect.arrayContaining([oldSigning.kid, newKid]) });
    // … then it is retired: gone from the JWKS, and even an unexpired token it signed is refused.
    const retiresAt = next.activatesAt.getTime() + a.config.accessTokenTtlMs + a.config.clockSkewMs;
    await sleep(Math.max(0, retiresAt - Date.now()) + 2 * a.app.services.signingKeys!.refreshMs + 100);
    for (const server of [a, b]) {
      expect(await jwksKids(server)).not.toContain(oldSigning.kid);
      expect(await codeOf(server, signEs(oldSigning.key, oldSigning.kid, claimsFor(user, sid)))).toBe(ErrorCode.UNAUTHENTICATED);
    }
    expect(logs.text()).not.toMatch(/PRIVATE KEY|"d":/);
  });

  it('keys:revoke takes the signing key out at once; the other instance refuses its tokens within the reload bound, cached ones too', async () => {
    const user = await signupUser(a);
    const token = user.accessToken;
    const kid = kidOf(token);
    expect(await codeOf(b, token)).toBeNull(); // now in b's verified-token cache
    const printed: string[] = [];
    const code = await runKeysCommand(['revoke', kid], {
      prisma: a.app.infra.database.prisma,
      config: a.config,
      logger: createLogger({ level: 'silent' }),
      clock: systemClock,
      print: (line) => printed.push(line),
    });
    expect(code).toBe(0);
    expect(printed.join('\n')).toMatch(/revoked/);
    await sleep(2 * b.app.services.signingKeys!.refreshMs + 100);
    for (const server of [a, b]) {
      expect(await jwksKids(server)).not.toContain(kid);
      expect(await codeOf(server, token)).toBe(ErrorCode.UNAUTHENTICATED);
    }
    // Signing goes on with another key, which both instances accept.
    const again = await b.gql(LOGIN, { input: { email: user.email, password: user.password } });
    const fresh = again.body.data!.login.accessToken as string;
    expect(kidOf(fresh)).not.toBe(kid);
    expect(await codeOf(a, fresh)).toBeNull();
    expect(await codeOf(b, fresh)).toBeNull();
    // An unknown kid is a clear error, not a crash.
    const unknown: string[] = [];
    expect(
      await runKeysCommand(['revoke', 'no-such-kid'], {
        prisma: a.app.infra.database.prisma,
        config: a.config,
        logger: createLogger({ level: 'silent' }),
        clock: systemClock,
        print: (line) => unknown.push(line),
      }),
    ).toBe(1);
    expect(
      await runKeysCommand(['bogus'], {
        prisma: a.app.infra.database.prisma,
        config: a.config,
        logger: createLogger({ level: 'silent' }),
        clock: systemClock,
        print: (line) => unknown.push(line),
      }),
    ).toBe(2);
  });
});

describe('scheduled rotation (JWT_KEY_ROTATION)', () => {
  const db = ownDatabase();
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ...FAST, JWT_KEY_ROTATION: '3s', ...(await db.env()) } });
  });
  afterAll(async () => {
    await server?.close();
    await db.drop();
  });

  it("publishes the next key ahead and signs with it once the current key's time is up", async () => {
    const user = await signupUser(server);
    const first = kidOf(user.accessToken);
    const started = Date.now();
    let second: string | undefined;
    let publishedAt: number | undefined;
    while (Date.now() - started < 6_000) {
      const kids = await jwksKids(server);
      const other = kids.find((kid) => kid !== first);
      if (other && publishedAt === undefined) publishedAt = Date.now();
      const login = await server.gql(LOGIN, { input: { email: user.email, password: user.password } });
      const kid = kidOf(login.body.data!.login.accessToken);
      if (kid !== first) {
        second = kid;
        break;
      }
      await sleep(100);
    }
    expect(second).toBeDefined();
    expect(publishedAt).toBeDefined();
    expect(Date.now() - publishedAt!).toBeGreaterThanOrEqual(server.config.jwksMaxAgeMs - 200);
  });
});

describe('JWT_SECRET rotation and keys no secret opens', () => {
  const db = ownDatabase();
  let first: TestServer;
  afterAll(async () => {
    await first?.close();
    await db.drop();
  });

  it('re-seals the stored keys under the new JWT_SECRET and loses none; with neither secret, /readyz is 503 and nothing leaks', async () => {
    const logs = logSink();
    first = await startTestServer({ env: { ...FAST, ...(await db.env()) }, logDestination: logs.stream });
    const user = await signupUser(first);
    const kid = kidOf(user.accessToken);
    const prisma = first.app.infra.database.prisma;
    const before = (await prisma.signingKey.findUnique({ where: { kid } }))!;
    const der = openWithToken(TEST_JWT_SECRET, 'access-token signing key', kid, before.privateSealed!)!;
    const privateD = (createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }) as { d: string }).d;
    expect(Buffer.from(before.privateSealed!).includes(der)).toBe(false);

    const rotated = await startTestServer({
      shareWith: first,
      env: { ...FAST, JWT_SECRET: SECRET_2, JWT_SECRET_PREVIOUS: TEST_JWT_SECRET },
      logDestination: logs.stream,
    });
    try {
      const after = (await prisma.signingKey.findUnique({ where: { kid } }))!;
      expect(openWithToken(TEST_JWT_SECRET, 'access-token signing key', kid, after.privateSealed!)).toBeNull();
      expect(openWithToken(SECRET_2, 'access-token signing key', kid, after.privateSealed!)).not.toBeNull();
      // Same key, still signing, on the re-sealed instance.
      expect(rotated.app.services.signingKeys!.signingKey()!.kid).toBe(kid);
      expect(await codeOf(rotated, user.accessToken)).toBeNull();
    } finally {
      await rotated.close();
    }
    const onlyNew = await startTestServer({ shareWith: first, env: { ...FAST, JWT_SECRET: SECRET_2 }, logDestination: logs.stream });
    try {
      expect(onlyNew.app.services.signingKeys!.signingKey()!.kid).toBe(kid);
      const login = await onlyNew.gql(LOGIN, { input: { email: user.email, password: user.password } });
      expect(kidOf(login.body.data!.login.accessToken)).toBe(kid);
    } finally {
      await onlyNew.close();
    }

    const stranger = await startTestServer({ shareWith: first, env: { ...FAST, JWT_SECRET: SECRET_3 }, logDestination: logs.stream });
    try {
      const ready = await fetch(`${stranger.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: Record<string, string> }).checks.signingKey).toBe('none');
      // Verifying needs only the public key: the token still works; signing is an opaque 500-free error.
      expect(await codeOf(stranger, user.accessToken)).toBeNull();
      const login = await stranger.gql(LOGIN, { input: { email: user.email, password: user.password } });
      expect(login.status).toBeLessThan(500);
      expect(login.body.errors?.[0]?.extensions?.code).toBe(ErrorCode.INTERNAL_SERVER_ERROR);
      expect(JSON.stringify(login.body)).not.toMatch(/key|BEGIN|sealed/i);
    } finally {
      await stranger.close();
    }
    expect(logs.text()).not.toContain(privateD);
    expect(logs.text()).not.toContain(der.toString('base64'));
    expect(logs.text()).not.toMatch(/PRIVATE KEY/);
  });
});

describe('upgrading a deployment that ran HS256', () => {
  const db = ownDatabase();
  let old: TestServer;
  afterAll(async () => {
    await old?.close();
    await db.drop();
  });

  it('signs nobody out: HS256 tokens from before the switch verify until they expire, then HS256 is refused', async () => {
    old = await startTestServer({ env: { ...FAST, JWT_ALGORITHM: 'HS256', ...(await db.env()) } });
    const user = await signupUser(old);
    expect(jwt.decode(user.accessToken, { complete: true })!.header.alg).toBe('HS256');
    const sid = (jwt.decode(user.accessToken) as { sid: string }).sid;
    const upgraded = await startTestServer({ shareWith: old, env: FAST });
    try {
      expect(await codeOf(upgraded, user.accessToken)).toBeNull();
      const login = await upgraded.gql(LOGIN, { input: { email: user.email, password: user.password } });
      expect(jwt.decode(login.body.data!.login.accessToken, { complete: true })!.header.alg).toBe('ES256');
      // The HS256 kid is never published.
      expect(await jwksKids(upgraded)).not.toContain(kidOf(user.accessToken));
      // After ACCESS_TOKEN_TTL + CLOCK_SKEW no HS256 token is accepted, even one that has not expired.
      await sleep(upgraded.config.accessTokenTtlMs + upgraded.config.clockSkewMs + 2 * upgraded.app.services.signingKeys!.refreshMs + 200);
      const { iss: _iss, aud: _aud, ...claims } = claimsFor(user, sid);
      const lateHs = signHs(TEST_JWT_SECRET, { ...claims, iss: 'warden', aud: 'warden' });
      expect(await codeOf(old, lateHs)).toBeNull(); // a correct HS256 token, as the old instance shows
      expect(await codeOf(upgraded, lateHs)).toBe(ErrorCode.UNAUTHENTICATED);
    } finally {
      await upgraded.close();
    }
  });

  it('a fresh ES256 deployment accepts no HS256 token at all', async () => {
    const database = ownDatabase();
    const fresh = await startTestServer({ env: { ...FAST, ...(await database.env()) } });
    try {
      const user = await signupUser(fresh);
      const sid = (jwt.decode(user.accessToken) as { sid: string }).sid;
      expect(await codeOf(fresh, signHs(TEST_JWT_SECRET, claimsFor(user, sid)))).toBe(ErrorCode.UNAUTHENTICATED);
    } finally {
      await fresh.close();
      await database.drop();
    }
  });
});
