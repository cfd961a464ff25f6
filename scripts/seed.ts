/**
 * `npm run db:seed`: fills DATABASE_URL, or else the embedded PGlite under DATA_DIR, with a few
 * users, follows and posts, so Sandbox has something to explore. Idempotent: users are matched
 * by email and posts and follows by fixed keys, so running it again adds nothing. Pending
 * migrations are applied first. Stop the server before seeding the embedded database (PGlite
 * allows one process at a time).
 */
import { createHash, randomUUID } from 'node:crypto';
import { loadConfig } from '../src/config';
import type { PrismaClient } from '../src/generated/prisma/client';
import { openDatabase } from '../src/infra/database';
import { createLogger } from '../src/infra/logger';
import { PasswordHasher } from '../src/lib/password';

export const SEED_PASSWORD = 'warden seed password';

const USERS = [
  { key: 'ada', name: 'Ada Lovelace', email: 'ada@seed.warden.test' },
  { key: 'grace', name: 'Grace Hopper', email: 'grace@seed.warden.test' },
  { key: 'alan', name: 'Alan Turing', email: 'alan@seed.warden.test' },
  { key: 'edsger', name: 'Edsger Dijkstra', email: 'edsger@seed.warden.test' },
] as const;

type Key = (typeof USERS)[number]['key'];

const FOLLOWS: Array<[follower: Key, following: Key]> = [
  ['ada', 'grace'],
  ['ada', 'alan'],
  ['grace', 'ada'],
  ['alan', 'ada'],
  ['alan', 'edsger'],
  ['edsger', 'grace'],
];

const POSTS: Array<{ key: string; author: Key; title: string; body: string; published: boolean; hoursAgo: number }> = [
  {
    key: 'engine',
    author: 'ada',
    title: 'Notes on the Analytical Engine',
    body: 'It weaves algebraic patterns just as the Jacquard loom weaves flowers and leaves.',
    published: true,
    hoursAgo: 72,
  },
  {
    key: 'bernoulli',
    author: 'ada',
    title: 'Computing Bernoulli numbers',
    body: 'Note G walks through the sequence of operations step by step.',
    published: true,
    hoursAgo: 30,
  },
  {
    key: 'ada-draft',
    author: 'ada',
    title: 'Poetical science (draft)',
    body: 'Imagination is the discovering faculty, pre-eminently.',
    published: false,
    hoursAgo: 2,
  },
  {
    key: 'bug',
    author: 'grace',
    title: 'First actual case of bug being found',
    body: 'Relay #70, panel F. Moth taped into the log book.',
    published: true,
    hoursAgo: 48,
  },
  {
    key: 'compilers',
    author: 'grace',
    title: 'Why we need compilers',
    body: 'People should be able to write programs in something close to English.',
    published: true,
    hoursAgo: 20,
  },
  {
    key: 'nanosecond',
    author: 'grace',
    title: 'A nanosecond is 30 centimetres',
    body: 'Hand out pieces of wire so the audience can hold one.',
    published: true,
    hoursAgo: 5,
  },
  {
    key: 'imitation',
    author: 'alan',
    title: 'Can machines think?',
    body: 'I propose to consider the question by way of the imitation game.',
    published: true,
    hoursAgo: 60,
  },
  {
    key: 'morphogenesis',
    author: 'alan',
    title: 'The chemical basis of morphogenesis',
    body: 'Reaction and diffusion can make spots and stripes.',
    published: true,
    hoursAgo: 12,
  },
  {
    key: 'goto',
    author: 'edsger',
    title: 'Go To statement considered harmful',
    body: 'The quality of programmers is a decreasing function of the density of go to statements.',
    published: true,
    hoursAgo: 40,
  },
  {
    key: 'edsger-draft',
    author: 'edsger',
    title: 'On the cruelty of really teaching computing science (draft)',
    body: 'Radical novelty calls for a new way of thinking.',
    published: false,
    hoursAgo: 1,
  },
];

/** A fixed UUID per seed key, so a second run finds the rows the first one made. */
function seedId(key: string): string {
  const hex = createHash('sha256').update(`warden-seed:${key}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export interface SeedResult {
  users: number;
  newUsers: number;
  follows: number;
  posts: number;
}

export async function seedDatabase(prisma: PrismaClient, hasher: PasswordHasher, now = new Date()): Promise<SeedResult> {
  let passwordHash: string | undefined;
  const ids = new Map<Key, string>();
  let newUsers = 0;
  for (const user of USERS) {
    let row = await prisma.user.findUnique({ where: { email: user.email }, select: { id: true } });
    if (!row) {
      passwordHash ??= await hasher.hash(SEED_PASSWORD);
      const id = randomUUID();
      row = await prisma.user.upsert({
        where: { email: user.email },
        update: {},
        create: {
          id,
          email: user.email,
          name: user.name,
          passwordHash,
          emailVerified: true,
          avatarUrl: `https://api.dicebear.com/9.x/identicon/svg?seed=${id}`,
          bio: `Hi, I'm ${user.name}!`,
        },
        select: { id: true },
      });
      newUsers++;
    }
    ids.set(user.key, row.id);
  }
  const follows = await prisma.follow.createMany({
    data: FOLLOWS.map(([follower, following]) => ({ followerId: ids.get(follower)!, followingId: ids.get(following)! })),
    skipDuplicates: true,
  });
  const posts = await prisma.post.createMany({
    data: POSTS.map((post) => ({
      id: seedId(`post:${post.key}`),
      authorId: ids.get(post.author)!,
      title: post.title,
      body: post.body,
      published: post.published,
      createdAt: new Date(now.getTime() - post.hoursAgo * 3_600_000),
    })),
    skipDuplicates: true,
  });
  return { users: USERS.length, newUsers, follows: follows.count, posts: posts.count };
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: 'warn' });
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
  try {
    const result = await seedDatabase(database.prisma, new PasswordHasher(config.bcryptCost));
    console.log(
      `seeded ${database.kind === 'postgres' ? 'PostgreSQL' : `the embedded database in ${config.dataDir}`}: ` +
        `${result.newUsers} new of ${result.users} users, ${result.follows} new follows, ${result.posts} new posts`,
    );
    console.log(`sign in as ${USERS.map((u) => u.email).join(', ')} with the password "${SEED_PASSWORD}"`);
  } finally {
    await database.close();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
