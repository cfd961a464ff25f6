/**
 * Model-based test of the refresh-token protocol (docs/api.md §4) against a real server: fast-check
 * commands drive random sequences of login, rotate, replay inside and after the grace window,
 * reuse of an ancestor, logout in each scope, revokeSession, changePassword, resetPassword, and
 * races (parallel rotations with or without a logout or changePassword, their start order chosen
 * by fast-check's scheduler). After every step the server is checked against a small model:
 *
 * - every live session has exactly one usable refresh token: the model's current one is at the
 *   row's generation and verifies under its key (the previous one only replays that same token);
 * - an ended session never serves an access token (`me` answers SESSION_REVOKED) or a refresh token;
 * - a reuse ends exactly its own session;
 * - no response is a 5xx or INTERNAL_SERVER_ERROR.
 *
 * Fixed seed and few runs in CI (both passes; PostgreSQL only when DATABASE_URL is set);
 * MODEL_RUNS and MODEL_SEED run it longer. The counts of runs and steps are printed.
 */
import fc from 'fast-check';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ManualClock } from '../../src/lib/clock';
import { RefreshTokenCodec } from '../../src/lib/refresh-token';
import { prismaOf, refresh } from './support';
import {
  LOGIN,
  LOGOUT,
  ME,
  errorCode,
  sessionIdOf,
  signupUser,
  startTestServer,
  TEST_JWT_SECRET,
  type GqlResponse,
  type TestServer,
} from '../kit';

const GRACE_MS = 10_000;
const RUNS = Number(process.env.MODEL_RUNS ?? 8);
const SEED = Number(process.env.MODEL_SEED ?? 20261201);
const MAX_COMMANDS = Number(process.env.MODEL_MAX_COMMANDS ?? 20);

const CHANGE_PASSWORD = `mutation($current: String!, $next: String!) { changePassword(currentPassword: $current, newPassword: $next) { accessToken refreshToken } }`;
const REVOKE = 'mutation($id: ID!) { revokeSession(id: $id) }';
const REQUEST_RESET = 'mutation($email: String!) { requestPasswordReset(email: $email) }';
const RESET = 'mutation($token: String!, $newPassword: String!) { resetPassword(token: $token, newPassword: $newPassword) }';

interface MUser {
  email: string;
  password: string;
  passwords: number;
}
interface MSession {
  id: string;
  user: MUser;
  live: boolean;
  access: string;
  current: string;
  previous: string | null;
  rotatedAt: number | null;
  /** Spent tokens two or more generations back. */
  ancestors: string[];
  /** Tokens a credential change made unusable: they must answer REFRESH_TOKEN_INVALID. */
  dead: string[];
}
interface Model {
  users: MUser[];
  sessions: MSession[];
}
interface Real {
  server: TestServer;
  clock: ManualClock;
  scheduler: fc.Scheduler;
}

let steps = 0;
const codec = new RefreshTokenCodec([TEST_JWT_SECRET]);

/** Every answer passes through here: a 5xx or an internal error fails the run at once. */
function sane<T extends GqlResponse>(answer: T): T {
  if (answer.status >= 500 || errorCode(answer) === 'INTERNAL_SERVER_ERROR')
    throw new Error(`server error: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer;
}
const ok = <T extends GqlResponse>(answer: T, field: string) => {
  sane(answer);
  if (answer.body.errors) throw new Error(`${field} failed: ${JSON.stringify(answer.body.errors)}`);
  return (answer.body.data as Record<string, any>)[field];
};
const expectCode = (answer: GqlResponse, codes: string[]) => {
  sane(answer);
  expect(codes).toContain(errorCode(answer) ?? 'ok');
};

function rotated(session: MSession, pair: { accessToken: string; refreshToken: string }, at: number): void {
  if (session.previous) session.ancestors.push(session.previous);
  session.previous = session.current;
  session.current = pair.refreshToken;
  session.access = pair.accessToken;
  session.rotatedAt = at;
}
function rekeyed(session: MSession, pair: { accessToken: string; refreshToken: string }): void {
  session.dead.push(session.current, ...(session.previous ? [session.previous] : []), ...session.ancestors);
  session.ancestors = [];
  session.previous = null;
  session.rotatedAt = null;
  session.current = pair.refreshToken;
  session.access = pair.accessToken;
}
const endAll = (model: Model, where: (s: MSession) => boolean) => model.sessions.filter(where).forEach((s) => (s.live = false));

/** The invariants, checked after every command. */
async function check(model: Model, real: Real): Promise<void> {
  steps += 1;
  const rows = await prismaOf(real.server).session.findMany({
    where: { id: { in: model.sessions.map((s) => s.id) } },
    select: { id: true, generation: true, revokedAt: true, tokenSalt: true },
  });
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const session of model.sessions) {
    const row = byId.get(session.id)!;
    expect({ id: session.id, live: row.revokedAt === null }).toEqual({ id: session.id, live: session.live });
    if (session.live) {
      const parsed = codec.parse(session.current)!;
      expect(parsed.generation).toBe(row.generation);
      expect(codec.verifyTag(parsed, row.tokenSalt)).toBe(true);
    }
    const me = sane(await real.server.gql(ME, {}, { token: session.access }));
    if (session.live) expect(me.body.data?.me?.id).toBeDefined();
    else expect(errorCode(me)).toBe('SESSION_REVOKED');
  }
}

type Cmd = fc.AsyncCommand<Model, Real>;
const pick = <T>(items: T[], index: number): T => items[index % items.length];

class Login implements Cmd {
  constructor(
    private readonly u: number,
    private readonly fresh: boolean,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    let user: MUser;
    let pair: { accessToken: string; refreshToken: string };
    if (this.fresh || model.users.length === 0) {
      const signed = await signupUser(real.server);
      user = { email: signed.email, password: signed.password, passwords: 0 };
      model.users.push(user);
      pair = signed;
    } else {
      user = pick(model.users, this.u);
      pair = ok(await real.server.gql(LOGIN, { input: { email: user.email, password: user.password } }), 'login');
    }
    model.sessions.push({
      id: sessionIdOf(pair.accessToken),
      user,
      live: true,
      access: pair.accessToken,
      current: pair.refreshToken,
      previous: null,
      rotatedAt: null,
      ancestors: [],
      dead: [],
    });
    await check(model, real);
  }
  toString = () => `Login(${this.fresh ? 'new user' : this.u})`;
}

class Rotate implements Cmd {
  constructor(private readonly s: number) {}
  check = (model: Readonly<Model>) => model.sessions.length > 0;
  async run(model: Model, real: Real) {
    const session = pick(model.sessions, this.s);
    const answer = await refresh(real.server, session.current);
    if (session.live) rotated(session, ok(answer, 'refreshToken'), real.clock.now());
    else expectCode(answer, ['SESSION_REVOKED', 'REFRESH_TOKEN_REUSED']);
    await check(model, real);
  }
  toString = () => `Rotate(${this.s})`;
}

class ReplayPrevious implements Cmd {
  constructor(private readonly s: number) {}
  check = (model: Readonly<Model>) => model.sessions.some((s) => s.previous);
  async run(model: Model, real: Real) {
    const session = pick(
      model.sessions.filter((s) => s.previous),
      this.s,
    );
    const answer = await refresh(real.server, session.previous);
    if (!session.live) expectCode(answer, ['SESSION_REVOKED', 'REFRESH_TOKEN_REUSED']);
    else if (real.clock.now() - session.rotatedAt! < GRACE_MS) {
      const pair = ok(answer, 'refreshToken');
      expect(pair.refreshToken).toBe(session.current); // the same successor
      session.access = pair.accessToken;
    } else {
      expectCode(answer, ['REFRESH_TOKEN_REUSED']);
      session.live = false; // that session only
    }
    await check(model, real);
  }
  toString = () => `ReplayPrevious(${this.s})`;
}

class ReuseAncestor implements Cmd {
  constructor(
    private readonly s: number,
    private readonly a: number,
  ) {}
  check = (model: Readonly<Model>) => model.sessions.some((s) => s.ancestors.length > 0);
  async run(model: Model, real: Real) {
    const session = pick(
      model.sessions.filter((s) => s.ancestors.length > 0),
      this.s,
    );
    const answer = await refresh(real.server, pick(session.ancestors, this.a));
    expectCode(answer, session.live ? ['REFRESH_TOKEN_REUSED'] : ['SESSION_REVOKED', 'REFRESH_TOKEN_REUSED']);
    session.live = false;
    await check(model, real);
  }
  toString = () => `ReuseAncestor(${this.s}, ${this.a})`;
}

class PresentDead implements Cmd {
  constructor(private readonly s: number) {}
  check = (model: Readonly<Model>) => model.sessions.some((s) => s.dead.length > 0);
  async run(model: Model, real: Real) {
    const session = pick(
      model.sessions.filter((s) => s.dead.length > 0),
      this.s,
    );
    for (const token of session.dead) expectCode(await refresh(real.server, token), ['REFRESH_TOKEN_INVALID']);
    await check(model, real);
  }
  toString = () => `PresentDead(${this.s})`;
}

class PassGrace implements Cmd {
  check = () => true;
  async run(model: Model, real: Real) {
    real.clock.advance(GRACE_MS + 1);
    await check(model, real);
  }
  toString = () => 'PassGrace';
}

class Logout implements Cmd {
  constructor(
    private readonly s: number,
    private readonly scope: 'LOCAL' | 'OTHERS' | 'GLOBAL',
  ) {}
  check = (model: Readonly<Model>) => model.sessions.length > 0;
  async run(model: Model, real: Real) {
    const session = pick(model.sessions, this.s);
    ok(await real.server.gql(LOGOUT, { scope: this.scope }, { token: session.access }), 'logout');
    if (session.live) {
      if (this.scope === 'LOCAL') session.live = false;
      else endAll(model, (s) => s.user === session.user && (this.scope === 'GLOBAL' || s !== session));
    }
    await check(model, real);
  }
  toString = () => `Logout(${this.s}, ${this.scope})`;
}

class RevokeSession implements Cmd {
  constructor(
    private readonly s: number,
    private readonly t: number,
  ) {}
  check = (model: Readonly<Model>) => model.sessions.length > 0;
  async run(model: Model, real: Real) {
    const by = pick(model.sessions, this.s);
    const target = pick(
      model.sessions.filter((s) => s.user === by.user),
      this.t,
    );
    const answer = sane(await real.server.gql(REVOKE, { id: target.id }, { token: by.access }));
    if (by.live) {
      expect(answer.body.errors).toBeUndefined();
      target.live = false;
    } else expectCode(answer, ['SESSION_REVOKED']);
    await check(model, real);
  }
  toString = () => `RevokeSession(${this.s}, ${this.t})`;
}

class ChangePassword implements Cmd {
  constructor(private readonly s: number) {}
  check = (model: Readonly<Model>) => model.sessions.length > 0;
  async run(model: Model, real: Real) {
    const session = pick(model.sessions, this.s);
    const next = `new password ${++session.user.passwords} ${session.user.email}`;
    const answer = await real.server.gql(CHANGE_PASSWORD, { current: session.user.password, next }, { token: session.access });
    if (session.live) {
      rekeyed(session, ok(answer, 'changePassword'));
      session.user.password = next;
      endAll(model, (s) => s.user === session.user && s !== session);
    } else expectCode(answer, ['SESSION_REVOKED']);
    await check(model, real);
  }
  toString = () => `ChangePassword(${this.s})`;
}

class ResetPassword implements Cmd {
  constructor(private readonly u: number) {}
  check = (model: Readonly<Model>) => model.users.length > 0;
  async run(model: Model, real: Real) {
    const user = pick(model.users, this.u);
    const before = await outboxFiles(real.server);
    ok(await real.server.gql(REQUEST_RESET, { email: user.email }), 'requestPasswordReset');
    const token = await resetTokenFor(real.server, user.email, before);
    const next = `reset password ${++user.passwords} ${user.email}`;
    ok(await real.server.gql(RESET, { token, newPassword: next }), 'resetPassword');
    user.password = next;
    endAll(model, (s) => s.user === user);
    await check(model, real);
  }
  toString = () => `ResetPassword(${this.u})`;
}

/** Parallel rotations of one token, maybe with a logout or a changePassword; the scheduler orders their start. */
class Race implements Cmd {
  constructor(
    private readonly s: number,
    private readonly width: number,
    private readonly rival: 'none' | 'logout' | 'changePassword',
  ) {}
  check = (model: Readonly<Model>) => model.sessions.some((s) => s.live);
  async run(model: Model, real: Real) {
    const session = pick(
      model.sessions.filter((s) => s.live),
      this.s,
    );
    const token = session.current;
    const started = (label: string) => real.scheduler.schedule(Promise.resolve(label), label);
    const rotations = Array.from({ length: this.width }, (_, i) => started(`rotate ${i}`).then(() => refresh(real.server, token)));
    const next = `race password ${++session.user.passwords} ${session.user.email}`;
    const rival =
      this.rival === 'logout'
        ? started('logout').then(() => real.server.gql(LOGOUT, { scope: 'LOCAL' }, { token: session.access }))
        : this.rival === 'changePassword'
          ? started('changePassword').then(() =>
              real.server.gql(CHANGE_PASSWORD, { current: session.user.password, next }, { token: session.access }),
            )
          : undefined;
    await real.scheduler.waitAll();
    const answers = await Promise.all(rotations);
    const rivalAnswer = rival && (await rival);
    const pairs = answers
      .map((a) => sane(a))
      .flatMap((a) => (a.body.errors ? [] : [a.body.data!.refreshToken as { accessToken: string; refreshToken: string }]));
    // However they interleave: at most one successor.
    expect(new Set(pairs.map((p) => p.refreshToken)).size).toBeLessThanOrEqual(1);
    if (this.rival === 'none') {
      expect(pairs).toHaveLength(this.width);
      rotated(session, pairs[0], real.clock.now());
    } else if (this.rival === 'logout') {
      ok(rivalAnswer!, 'logout');
      for (const a of answers) expectCode(a, ['ok', 'SESSION_REVOKED']);
      session.live = false;
    } else {
      const fresh = ok(rivalAnswer!, 'changePassword');
      for (const a of answers) expectCode(a, ['ok', 'REFRESH_TOKEN_INVALID']);
      rekeyed(session, fresh);
      session.dead.push(...pairs.map((p) => p.refreshToken));
      session.user.password = next;
      endAll(model, (s) => s.user === session.user && s !== session);
    }
    await check(model, real);
  }
  toString = () => `Race(${this.s}, ${this.width}, ${this.rival})`;
}

async function outboxFiles(server: TestServer): Promise<Set<string>> {
  return new Set(await readdir(path.join(server.config.dataDir, 'outbox')).catch(() => [] as string[]));
}

/** The token of the first reset mail to `email` that was not in the outbox before. */
async function resetTokenFor(server: TestServer, email: string, before: Set<string>): Promise<string> {
  const dir = path.join(server.config.dataDir, 'outbox');
  // The mail is sent after the answer, in the background: on a loaded machine that can take a while.
  const deadline = Date.now() + 30_000;
  for (;;) {
    for (const file of (await readdir(dir).catch(() => [] as string[])).filter((f) => !before.has(f))) {
      const mail = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as { to: string; subject: string; text: string };
      const token =
        mail.to === email && mail.subject === 'Reset your Warden password'
          ? /^\s*([A-Za-z0-9_-]{43})\s*$/m.exec(mail.text)?.[1]
          : undefined;
      if (token) return token;
    }
    if (Date.now() > deadline) {
      const seen = await readdir(dir).catch(() => [] as string[]);
      throw new Error(
        `no reset mail to ${email} in ${seen.length} outbox files (${seen.length - before.size} new): ${seen.filter((f) => !before.has(f)).join(', ')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const index = fc.nat({ max: 50 });
const commands = [
  fc.tuple(index, fc.boolean()).map(([u, fresh]) => new Login(u, fresh)),
  index.map((s) => new Rotate(s)),
  index.map((s) => new Rotate(s)),
  index.map((s) => new ReplayPrevious(s)),
  fc.tuple(index, index).map(([s, a]) => new ReuseAncestor(s, a)),
  index.map((s) => new PresentDead(s)),
  fc.constant(new PassGrace()),
  fc.tuple(index, fc.constantFrom('LOCAL' as const, 'OTHERS' as const, 'GLOBAL' as const)).map(([s, scope]) => new Logout(s, scope)),
  fc.tuple(index, index).map(([s, t]) => new RevokeSession(s, t)),
  index.map((s) => new ChangePassword(s)),
  index.map((u) => new ResetPassword(u)),
  fc
    .tuple(index, fc.integer({ min: 2, max: 4 }), fc.constantFrom('none' as const, 'logout' as const, 'changePassword' as const))
    .map(([s, w, r]) => new Race(s, w, r)),
];

const backends: Array<[string, Record<string, string>]> = [['PGlite', { DATABASE_URL: '' }]];
if (process.env.DATABASE_URL) backends.push(['PostgreSQL', {}]);

describe.each(backends)('the refresh-token protocol against its model, on %s', (_backend, backendEnv) => {
  const clock = new ManualClock();
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      clock,
      env: { ...backendEnv, REFRESH_REUSE_GRACE: `${GRACE_MS / 1000}s`, REFRESH_TOKEN_TRANSPORT: 'body' },
    });
  });
  afterAll(() => server?.close());

  it('holds the invariants after every step of random command sequences', async () => {
    steps = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.commands(commands, { maxCommands: MAX_COMMANDS, size: 'max' }), async (scheduler, cmds) => {
        runs += 1;
        // Every run starts with one signed-in user, on the same server (users do not share state).
        const model: Model = { users: [], sessions: [] };
        const real: Real = { server, clock, scheduler };
        await new Login(0, true).run(model, real);
        await fc.asyncModelRun(() => ({ model, real }), cmds);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    console.log(`refresh-token model: ${runs} runs, ${steps} checked steps (seed ${SEED})`);
    expect(steps).toBeGreaterThan(runs);
  }, 300_000);
});
