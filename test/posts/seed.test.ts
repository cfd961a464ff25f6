import { openDatabase, type Database } from '../../src/infra/database';
import { createLogger } from '../../src/infra/logger';
import { PasswordHasher } from '../../src/lib/password';
import { SEED_PASSWORD, seedDatabase } from '../../scripts/seed';
import { freshPGlite } from '../support/db-template';

// Always on a private in-memory database: the seed's fixed emails must not meet other tests' data.
let database: Database;
beforeAll(async () => {
  database = await openDatabase({
    pglite: await freshPGlite(),
    ownsPGlite: true,
    migrate: false,
    logger: createLogger({ level: 'silent' }),
  });
});
afterAll(() => database.close());

describe('npm run db:seed', () => {
  it('adds users, follows and posts once, and nothing on a second run', async () => {
    const hasher = new PasswordHasher(4);
    const first = await seedDatabase(database.prisma, hasher);
    expect(first.newUsers).toBe(first.users);
    expect(first.users).toBeGreaterThanOrEqual(3);
    expect(first.follows).toBeGreaterThan(0);
    expect(first.posts).toBeGreaterThan(0);
    const counts = async () => ({
      users: await database.prisma.user.count(),
      follows: await database.prisma.follow.count(),
      posts: await database.prisma.post.count(),
      drafts: await database.prisma.post.count({ where: { published: false } }),
    });
    const before = await counts();
    expect(before).toMatchObject({ users: first.users, follows: first.follows, posts: first.posts });
    expect(before.drafts).toBeGreaterThan(0);

    expect(await seedDatabase(database.prisma, hasher)).toEqual({ users: first.users, newUsers: 0, follows: 0, posts: 0 });
    expect(await counts()).toEqual(before);

    const ada = await database.prisma.user.findFirstOrThrow({ where: { email: { startsWith: 'ada@' } }, select: { passwordHash: true } });
    expect(await hasher.verify(SEED_PASSWORD, ada.passwordHash!)).toBe(true);
  });
});
