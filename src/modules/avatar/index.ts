/**
 * Avatars: presigned uploads to object storage, checked and re-encoded before they become a
 * user's picture (AvatarService), where avatars live in storage (AvatarLibrary), and the
 * Cache-Control their public URLs are served with (AVATAR_CACHE_CONTROL).
 * Resolvers: avatar.resolver.ts, read by src/schema/build-schema.ts only.
 */
export { AVATAR_CACHE_CONTROL, AvatarService } from './avatar.service';
export { AvatarLibrary } from './avatar-library';
