/**
 * The viewer cache (src/modules/session/viewer-cache.ts): a live session's requests skip the
 * database, and every write that ends a session or changes its user is seen at once — on this
 * instance and on another one sharing the store (in-process, or over Redis in the CI pass with
 * REDIS_URL), by the very next request — with the cache warm when the write happens.
 */
import { ErrorCode } from '../../src/errors/error-code';
import type { Broadcast, BroadcastHandlers } from '../../src/infra/broadcast';
import { MemoryStore, type Store } from '../../src/infra/store';
import { createLogger } from '../../src/infra/logger';
import { ViewerCache } from '../../src/modules/session/viewer-cache';
import type { UserRow } from '../../src/modules/user/user.service';
import { RedisServer } from '../support/redis-server';
import {
  describeWithRedis,
  LOGIN,
  ME,
  errorCode,
  signupAdmin,
  signupUser,
  startTestServer,
  uniqueEmail,
  type GqlResponse,
  type SignedUp,
  type TestServer,
} from '../kit';

const logger = createLogger({ level: 'silent' });

describe('an authenticated request', () => {
  let server: TestServer;
  const statements: string[] = [];
  beforeAll(async () => {
    server = await startTestServer({ onQuery: (event) => statements.push(event.query) });
  });
  afterAll(() => server?.close());

  /** Session checks among the statements (the sign-up's verification mail writes after the response). */
  const checks = (sent: string[]) => sent.filter((sql) => sql.includes('"Session"'));

  it('reads the database once, then answers from the cache while the session is live', async () => {
    const user = await signupUser(server);
    statements.length = 0;
    expect((await server.gql(ME, {}, { token: user.accessToken })).body.data!.me.id).toBe(user.user.id);
    expect(checks(statements)).toHaveLength(1);
    statements.length = 0;
    for (let i = 0; i < 3; i++) expect((await server.gql(ME, {}, { token: user.accessToken })).body.data!.me.id).toBe(user.user.id);
    expect(checks(statements)).toHaveLength(0);
  });

  it('reads the database every time with SESSION_CACHE_TTL=0', async () => {
    const seen: string[] = [];
    const uncached = await startTestServer({ env: { SESSION_CACHE_TTL: '0' }, onQuery: (event) => seen.push(event.query) });
    try {
      const user = await signupUser(uncached);
      seen.length = 0;
      for (let i = 0; i < 3; i++) await uncached.gql(ME, {}, { token: user.accessToken });
      expect(checks(seen)).toHaveLength(3);
    } finally {
      await uncached.close();
    }
  });
});

/** Every way a session ends or its user changes, each with the cache warm on both instances. */
describe('with the cache warm on two instances sharing the store', () => {
  const adminEmail = uniqueEmail('cache-admin');
  let a: TestServer;
  let b: TestServer;
  let admin: SignedUp;
  beforeAll(async () => {
    a = await startTestServer({ env: { ADMIN_EMAILS: adminEmail } });
    b = await startTestServer({ env: { ADMIN_EMAILS: adminEmail }, shareWith: a });
    admin = await signupAdmin(a, adminEmail);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const warm = async (user: { accessToken: string }) => {
    for (const server of [a, b]) expect(errorCode(await server.gql(ME, {}, { token: user.accessToken }))).toBeUndefined();
  };
  /** What B answers next: the write on A has answered, so B must already know. */
  const onB = (token: string): Promise<GqlResponse<any>> => b.gql(ME, {}, { token });
  const revokedOn = async (token: string) => {
    expect(errorCode(await a.gql(ME, {}, { token }))).toBe(ErrorCode.SESSION_REVOKED);
    expect(errorCode(await onB(token))).toBe(ErrorCode.SESSION_REVOKED);
  };

  it('logout ends the session on both at once', async () => {
    const user = await signupUser(a);
    await warm(user);
    expect((await a.gql('mutation { logout }', {}, { token: user.accessToken })).body.data!.logout).toBe(true);
    await revokedOn(user.accessToken);
  });

  it('revokeSession from another device ends that session on both', async () => {
    const user = await signupUser(a);
    const other = (await a.gql(LOGIN, { input: { email: user.email, password: user.password } })).body.data!.login;
    await warm(user);
    const sessionId = JSON.parse(Buffer.from(user.accessToken.split('.')[1], 'base64url').toString()).sid as string;
    expect(
      (await b.gql('mutation($id: ID!) { revokeSession(id: $id) }', { id: sessionId }, { token: other.accessToken })).body.data!
        .revokeSession,
    ).toBe(true);
    await revokedOn(user.accessToken);
  });

  it('changePassword ends the other sessions on both', async () => {
    const user = await signupUser(a);
    const other = (await a.gql(LOGIN, { input: { email: user.email, password: user.password } })).body.data!.login;
    await warm(user);
    const changed = await a.gql(
      'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }',
      { c: user.password, n: 'a brand new password' },
      { token: other.accessToken },
    );
    expect(errorCode(changed)).toBeUndefined();
    await revokedOn(user.accessToken);
  });

  it('reuse of a refresh token ends its session on both', async () => {
    const user = await signupUser(a);
    await warm(user);
    const refresh = 'mutation($t: String) { refreshToken(refreshToken: $t) { accessToken } }';
    const rotated = await a.gql(refresh, { t: user.refreshToken });
    expect(errorCode(rotated)).toBeUndefined();
    const next = rotated.body.data!.refreshToken.accessToken as string;
    await warm({ accessToken: next });
    // A second rotation makes the first token an older ancestor: presenting it is reuse.
    const current = await a.gql('mutation($t: String) { refreshToken(refreshToken: $t) { refreshToken } }', { t: user.refreshToken });
    expect(errorCode(current)).toBeUndefined();
    await a.gql(refresh, { t: current.body.data!.refreshToken.refreshToken });
    expect(errorCode(await b.gql(refresh, { t: user.refreshToken }))).toBe(ErrorCode.REFRESH_TOKEN_REUSED);
    await revokedOn(next);
  });

  it('setUserRole shows the new role on both', async () => {
    const user = await signupUser(a);
    await warm(user);
    const set = await a.gql(
      'mutation($id: ID!) { setUserRole(userId: $id, role: ADMIN) { role } }',
      { id: user.user.id },
      { token: admin.accessToken },
    );
    expect(set.body.data!.setUserRole.role).toBe('ADMIN');
    expect((await a.gql(ME, {}, { token: user.accessToken })).body.data!.me.role).toBe('ADMIN');
    expect((await onB(user.accessToken)).body.data!.me.role).toBe('ADMIN');
  });

  it('updateMe shows the new name on both', async () => {
    const user = await signupUser(a);
    await warm(user);
    expect(
      (await b.gql('mutation { updateMe(input: { name: "Renamed" }) { name } }', {}, { token: user.accessToken })).body.data!.updateMe.name,
    ).toBe('Renamed');
    expect((await a.gql(ME, {}, { token: user.accessToken })).body.data!.me.name).toBe('Renamed');
    expect((await onB(user.accessToken)).body.data!.me.name).toBe('Renamed');
  });

  it('deleteUser signs the user out on both', async () => {
    const user = await signupUser(a);
    await warm(user);
    expect(
      (await a.gql('mutation($id: ID!) { deleteUser(userId: $id) }', { id: user.user.id }, { token: admin.accessToken })).body.data!
        .deleteUser,
    ).toBe(true);
    expect(errorCode(await a.gql(ME, {}, { token: user.accessToken }))).toBe(ErrorCode.UNAUTHENTICATED);
    expect(errorCode(await onB(user.accessToken))).toBe(ErrorCode.UNAUTHENTICATED);
  });
});

const row = (id: string): UserRow => ({
  id,
  name: 'n',
  email: `${id}@example.test`,
  emailVerified: false,
  role: 'USER' as UserRow['role'],
  avatarUrl: '',
  bio: '',
  createdAt: new Date(0),
});

/** A store whose broadcast channel a test can take down and bring back. */
class SwitchableStore extends MemoryStore {
  live = true;
  handlers: BroadcastHandlers | null = null;
  override async broadcast(channel: string, handlers: BroadcastHandlers): Promise<Broadcast> {
    this.handlers = handlers;
    const inner = await super.broadcast(channel, handlers);
    const isLive = () => this.live;
    return {
      get live() {
        return isLive();
      },
      publish: (message) => inner.publish(message),
      close: () => inner.close(),
    };
  }
  setLive(live: boolean) {
    this.live = live;
    this.handlers!.reset();
  }
}

describe('ViewerCache', () => {
  it('does not keep a read that an invalidation overtook', async () => {
    const cache = await ViewerCache.open(new MemoryStore(), { ttlMs: 60_000, logger });
    const ticket = cache.ticket();
    await cache.invalidateUser('u1'); // e.g. a logout committed while the read was in flight
    cache.remember(ticket, 's1', row('u1'));
    expect(cache.lookup('s1', 'u1')).toBeUndefined();
    cache.remember(cache.ticket(), 's1', row('u1'));
    expect(cache.lookup('s1', 'u1')?.id).toBe('u1');
  });

  it('answers only for the user the session belongs to, and drops all of a user at once', async () => {
    const cache = await ViewerCache.open(new MemoryStore(), { ttlMs: 60_000, logger });
    cache.remember(cache.ticket(), 's1', row('u1'));
    cache.remember(cache.ticket(), 's2', row('u1'));
    cache.remember(cache.ticket(), 's3', row('u2'));
    expect(cache.lookup('s1', 'u2')).toBeUndefined();
    await cache.invalidateUser('u1');
    expect(cache.lookup('s1', 'u1')).toBeUndefined();
    expect(cache.lookup('s2', 'u1')).toBeUndefined();
    expect(cache.lookup('s3', 'u2')?.id).toBe('u2');
  });

  it('hears invalidations published by another instance on the same store', async () => {
    const store = new MemoryStore();
    const mine = await ViewerCache.open(store, { ttlMs: 60_000, logger });
    const theirs = await ViewerCache.open(store, { ttlMs: 60_000, logger });
    mine.remember(mine.ticket(), 's1', row('u1'));
    await theirs.invalidateUser('u1');
    expect(mine.lookup('s1', 'u1')).toBeUndefined();
  });

  it('serves and keeps nothing while its channel is down, and forgets everything it had', async () => {
    const store = new SwitchableStore();
    const cache = await ViewerCache.open(store as Store, { ttlMs: 60_000, logger });
    cache.remember(cache.ticket(), 's1', row('u1'));
    store.setLive(false);
    expect(cache.lookup('s1', 'u1')).toBeUndefined();
    cache.remember(cache.ticket(), 's2', row('u2'));
    expect(cache.lookup('s2', 'u2')).toBeUndefined();
    store.setLive(true);
    expect(cache.lookup('s1', 'u1')).toBeUndefined();
    expect(cache.lookup('s2', 'u2')).toBeUndefined();
  });

  it('is off with a zero TTL', async () => {
    const cache = await ViewerCache.open(new MemoryStore(), { ttlMs: 0, logger });
    cache.remember(cache.ticket(), 's1', row('u1'));
    expect(cache.lookup('s1', 'u1')).toBeUndefined();
  });
});

/** Two instances on a private redis-server that the test stops and restarts. */
describeWithRedis('with Redis publish/subscribe between instances', () => {
  let redis: RedisServer;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
    a = await startTestServer({ env: { REDIS_URL: redis.url } });
    b = await startTestServer({ env: { REDIS_URL: redis.url }, shareWith: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis?.stop();
  });

  /** B's next answer's error code: A's write has answered, so B must already know. */
  const firstErrorOnB = async (token: string) => errorCode(await b.gql(ME, {}, { token }));
  const warmOnB = async (token: string) => {
    for (let i = 0; i < 2; i++) expect(errorCode(await b.gql(ME, {}, { token }))).toBeUndefined();
  };

  it('a logout on A reaches B through Redis', async () => {
    const user = await signupUser(a);
    await warmOnB(user.accessToken);
    expect((await a.gql('mutation { logout }', {}, { token: user.accessToken })).body.data!.logout).toBe(true);
    expect(await firstErrorOnB(user.accessToken)).toBe(ErrorCode.SESSION_REVOKED);
  });

  it('while Redis is down B checks the database, and after it is back the invalidations reach B again', async () => {
    const first = await signupUser(a);
    const second = await signupUser(a);
    await warmOnB(first.accessToken);
    await redis.stop();
    // B must neither answer from what it cached before nor cache anything now: A cannot publish.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await warmOnB(first.accessToken);
    expect((await a.gql('mutation { logout }', {}, { token: first.accessToken })).body.data!.logout).toBe(true);
    expect(await firstErrorOnB(first.accessToken)).toBe(ErrorCode.SESSION_REVOKED);

    await redis.start();
    // Once B has resubscribed it caches again, and again hears A.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if ((await fetch(`${b.url}/readyz`)).status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await warmOnB(second.accessToken);
    expect((await a.gql('mutation { logout }', {}, { token: second.accessToken })).body.data!.logout).toBe(true);
    expect(await firstErrorOnB(second.accessToken)).toBe(ErrorCode.SESSION_REVOKED);
  });
});
