import { Arg, Ctx, Directive, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { ResolverContext } from '../../context';
import { AppError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import { clampFirst } from '../../schema/pagination';
import { type UserRow, UserType } from '../user';
import { CreatePostInput, UpdatePostInput } from './post.inputs';
import type { PostPage, PostRow } from './post.service';
import { PostConnection, PostType } from './post.type';

/** The services this resolver uses. */
type PostContext = ResolverContext<'posts'>;

@Resolver(() => PostType)
export class PostResolver {
  @Query(() => PostType, { nullable: true })
  @Directive('@auth')
  post(@Arg('id', () => ID) id: string, @Ctx() ctx: PostContext): Promise<PostRow | null> {
    return ctx.services.posts.findVisible(ctx.viewer, id);
  }

  @Query(() => PostConnection)
  @Directive('@auth')
  posts(
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null | undefined,
    @Arg('authorId', () => ID, { nullable: true }) authorId: string | null | undefined,
    @Ctx() ctx: PostContext,
  ): Promise<PostPage> {
    return ctx.services.posts.list(ctx.viewer!, { first: clampFirst(first), after, authorId });
  }

  @Query(() => PostConnection)
  @Directive('@auth')
  feed(
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null | undefined,
    @Ctx() ctx: PostContext,
  ): Promise<PostPage> {
    return ctx.services.posts.feed(ctx.viewer!, { first: clampFirst(first), after });
  }

  @Mutation(() => PostType)
  @Directive('@auth')
  createPost(@Arg('input', () => CreatePostInput) input: CreatePostInput, @Ctx() ctx: PostContext): Promise<PostRow> {
    return ctx.services.posts.create(ctx.viewer!, input);
  }

  @Mutation(() => PostType)
  @Directive('@auth')
  updatePost(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdatePostInput) input: UpdatePostInput,
    @Ctx() ctx: PostContext,
  ): Promise<PostRow> {
    return ctx.services.posts.update(ctx.viewer!, id, input);
  }

  @Mutation(() => Boolean)
  @Directive('@auth')
  async deletePost(@Arg('id', () => ID) id: string, @Ctx() ctx: PostContext): Promise<boolean> {
    await ctx.services.posts.remove(ctx.viewer!, id);
    return true;
  }

  /** Batched per request: one query for all the authors on a page, whatever its size. */
  @FieldResolver(() => UserType)
  async author(@Root() post: PostRow, @Ctx() ctx: PostContext): Promise<UserRow> {
    const author = await ctx.loaders.user.load(post.authorId);
    // Only when the author was deleted while this request ran (posts go with their author).
    if (!author) throw new AppError(ErrorCode.NOT_FOUND);
    return author;
  }
}
