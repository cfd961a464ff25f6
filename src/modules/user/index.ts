/**
 * Users: the user row every other concern reads (USER_SELECT, UserRow), roles, the default avatar,
 * the profile and admin operations (UserService), and the GraphQL `User` type other types point
 * to (UserType; ownRows marks rows the viewer may see private fields of).
 * Resolvers: user.resolver.ts, read by src/schema/build-schema.ts only.
 */
export { Role } from './role';
export { defaultAvatarUrl } from './default-avatar';
export { USER_COLUMNS, USER_SELECT, UserService, type UserRow } from './user.service';
export { UserType, ownRows } from './user.type';
