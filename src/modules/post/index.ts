/**
 * Posts: writing, editing and paging through posts (PostService, PostPage).
 * Resolvers: post.resolver.ts and user-posts.resolver.ts (`User.posts`), read by
 * src/schema/build-schema.ts only.
 */
export { PostService, type PostPage } from './post.service';
