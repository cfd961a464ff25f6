import { Prisma, type PrismaClient } from '../../generated/prisma/client';
import type { SqlRunner } from '../../infra/database';
import { AppError, ValidationError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import { isUuid } from '../../lib/tokens';
import { decodeCursor, toConnection } from '../../lib/pagination';
import type { Role } from '../user';

/** The columns a post response may show (authorId feeds the batched `author` field). */
export const POST_SELECT = {
  id: true,
  authorId: true,
  title: true,
  body: true,
  published: true,
  createdAt: true,
  updatedAt: true,
} as const;

export interface PostRow {
  id: string;
  authorId: string;
  title: string;
  body: string;
  published: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export type PostPage = ReturnType<typeof toConnection<PostRow>>;

/** Who is asking: the signed-in viewer, or null outside a signed-in request. */
export interface Actor {
  userId: string;
  role: Role;
}

export interface PageArgs {
  first: number;
  after?: string | null;
}

export interface PostServiceDeps {
  prisma: PrismaClient;
  /** The reads of post lists (every `posts`, `feed` and `User.posts` page), without Prisma's client in between. */
  sql: SqlRunner;
}

/** POST_SELECT's columns in SQL, of a `"Post"` row aliased `p`. */
const POST_COLUMNS = Prisma.sql`p.id, p."authorId", p.title, p.body, p.published, p."createdAt", p."updatedAt"`;

/** Drafts are shown only to their author and to ADMINs. */
const canSee = (actor: Actor | null, post: PostRow) =>
  post.published || (actor !== null && (actor.userId === post.authorId || actor.role === 'ADMIN'));

/** Only the author or an ADMIN may change or delete a post. */
const canModify = (actor: Actor, post: { authorId: string }) => actor.userId === post.authorId || actor.role === 'ADMIN';

const EMPTY_PAGE: PostPage = { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };

export class PostService {
  constructor(private readonly deps: PostServiceDeps) {}

  /**
   * A draft unless `published` is true.
   * @throws ValidationError when the title is blank after trimming.
   */
  async create(actor: Actor, input: { title: string; body: string; published?: boolean | null }): Promise<PostRow> {
    const title = cleanTitle(input.title);
    try {
      return await this.deps.prisma.post.create({
        data: { authorId: actor.userId, title, body: input.body, published: input.published ?? false },
        select: POST_SELECT,
      });
    } catch (error) {
      // The author was deleted while this request ran.
      if (isPrismaError(error, 'P2003')) throw new AppError(ErrorCode.UNAUTHENTICATED);
      throw error;
    }
  }

  /** The post, or null when it does not exist or is a draft the actor may not see. */
  async findVisible(actor: Actor | null, id: string): Promise<PostRow | null> {
    if (!isUuid(id)) return null;
    const post = await this.deps.prisma.post.findUnique({ where: { id }, select: POST_SELECT });
    return post && canSee(actor, post) ? post : null;
  }

  /**
   * Published posts, newest first. With `authorId`, only that author's, and when the author is
   * the actor, their drafts too.
   */
  async list(actor: Actor, options: PageArgs & { authorId?: string | null }): Promise<PostPage> {
    let where = Prisma.sql`p.published`;
    if (options.authorId !== undefined && options.authorId !== null) {
      if (!isUuid(options.authorId)) return EMPTY_PAGE;
      where =
        options.authorId === actor.userId
          ? Prisma.sql`p."authorId" = ${actor.userId}::uuid`
          : Prisma.sql`p."authorId" = ${options.authorId}::uuid AND p.published`;
    }
    return this.page(where, options);
  }

  /**
   * Published posts by the users the actor follows, newest first. One statement whose work is
   * bounded by (people followed) × (first + 1) index entries, however many posts they wrote: a
   * LATERAL join takes each followed author's newest posts from the (authorId, createdAt, id)
   * index, then the top of those. (Prisma's relation filter for this joins every User row,
   * and `authorId IN (…)` walks all published posts newest first; EXPLAIN in docs/performance.md.)
   */
  async feed(actor: Actor, options: PageArgs): Promise<PostPage> {
    const limit = options.first + 1;
    const rows = await this.deps.sql.query<PostRow>(Prisma.sql`
      SELECT ${POST_COLUMNS}
      FROM "Follow" f
      CROSS JOIN LATERAL (
        SELECT * FROM "Post" p
        WHERE p."authorId" = f."followingId" AND p.published ${afterCursorSql(options.after)}
        ORDER BY p."createdAt" DESC, p.id DESC
        LIMIT ${limit}
      ) p
      WHERE f."followerId" = ${actor.userId}::uuid
      ORDER BY p."createdAt" DESC, p.id DESC
      LIMIT ${limit}`);
    return toConnection(rows, options.first);
  }

  /**
   * Changes the fields given. Only the author or an ADMIN may.
   * @throws AppError NOT_FOUND for an unknown id, FORBIDDEN for anyone else (nothing changes then);
   * ValidationError for a blank title.
   */
  async update(
    actor: Actor,
    id: string,
    changes: { title?: string | null; body?: string | null; published?: boolean | null },
  ): Promise<PostRow> {
    const post = await this.findForChange(actor, id);
    const data: Prisma.PostUpdateInput = {};
    if (changes.title !== undefined && changes.title !== null) data.title = cleanTitle(changes.title);
    if (changes.body !== undefined && changes.body !== null) data.body = changes.body;
    if (changes.published !== undefined && changes.published !== null) data.published = changes.published;
    if (Object.keys(data).length === 0) return post;
    try {
      return await this.deps.prisma.post.update({ where: { id }, data, select: POST_SELECT });
    } catch (error) {
      if (isPrismaError(error, 'P2025')) throw new AppError(ErrorCode.NOT_FOUND); // deleted meanwhile
      throw error;
    }
  }

  /** @throws AppError NOT_FOUND for an unknown id, FORBIDDEN for anyone but the author or an ADMIN. */
  async remove(actor: Actor, id: string): Promise<void> {
    await this.findForChange(actor, id);
    const { count } = await this.deps.prisma.post.deleteMany({ where: { id } });
    if (count === 0) throw new AppError(ErrorCode.NOT_FOUND);
  }

  /**
   * One page of posts for each of several authors in one statement (`User.posts` over a list of
   * users): a LATERAL join walks each author's (authorId, createdAt, id) index for at most
   * first + 1 rows. Drafts are included only for the actor's own posts, as in `list`.
   */
  async pagesByAuthor(actor: Actor | null, authorIds: readonly string[], options: PageArgs): Promise<Map<string, PostPage>> {
    const pages = new Map<string, PostPage>();
    const ids = [...new Set(authorIds.filter(isUuid))];
    if (ids.length === 0) return pages;
    const visible = actor ? Prisma.sql`(p.published OR p."authorId" = ${actor.userId}::uuid)` : Prisma.sql`p.published`;
    const rows = await this.deps.sql.query<PostRow>(Prisma.sql`
      SELECT ${POST_COLUMNS}
      FROM unnest(${ids}::uuid[]) AS a(id)
      CROSS JOIN LATERAL (
        SELECT * FROM "Post" p
        WHERE p."authorId" = a.id AND ${visible} ${afterCursorSql(options.after)}
        ORDER BY p."createdAt" DESC, p.id DESC
        LIMIT ${options.first + 1}
      ) p`);
    const byAuthor = new Map<string, PostRow[]>();
    for (const post of rows) {
      const list = byAuthor.get(post.authorId) ?? [];
      list.push(post);
      byAuthor.set(post.authorId, list);
    }
    for (const id of ids) pages.set(id, toConnection(byAuthor.get(id) ?? [], options.first));
    return pages;
  }

  /**
   * One page in (createdAt, id) order, newest first. Sent on the driver: the posts list is the
   * read most requests of a feed-like client make, and Prisma's client cost it more than the SQL.
   */
  private async page(where: Prisma.Sql, options: PageArgs): Promise<PostPage> {
    const rows = await this.deps.sql.query<PostRow>(Prisma.sql`
      SELECT ${POST_COLUMNS}
        FROM "Post" p
       WHERE ${where} ${afterCursorSql(options.after)}
       ORDER BY p."createdAt" DESC, p.id DESC
       LIMIT ${options.first + 1}`);
    return toConnection(rows, options.first);
  }

  private async findForChange(actor: Actor, id: string): Promise<PostRow> {
    if (!isUuid(id)) throw new AppError(ErrorCode.NOT_FOUND);
    const post = await this.deps.prisma.post.findUnique({ where: { id }, select: POST_SELECT });
    if (!post) throw new AppError(ErrorCode.NOT_FOUND);
    if (!canModify(actor, post)) throw new AppError(ErrorCode.FORBIDDEN);
    return post;
  }
}

/**
 * The raw-SQL twin of afterCursorWhere: a row comparison, which PostgreSQL uses as an index
 * condition on (…, createdAt DESC, id DESC), so a deep page starts where the cursor points.
 */
function afterCursorSql(after: string | null | undefined): Prisma.Sql {
  const key = decodeCursor(after);
  return key ? Prisma.sql`AND (p."createdAt", p.id) < (${key.createdAt}::timestamptz, ${key.id}::uuid)` : Prisma.empty;
}

function cleanTitle(raw: string): string {
  const title = raw.trim();
  if (!title) throw new ValidationError({ title: 'must not be blank' });
  return title;
}

function isPrismaError(error: unknown, code: string): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === code;
}
