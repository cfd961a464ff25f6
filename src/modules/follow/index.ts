/**
 * The follow graph: following and unfollowing users, and follower counts (FollowService).
 * Resolvers: follow.resolver.ts, read by src/schema/build-schema.ts only.
 */
export { FollowService } from './follow.service';
