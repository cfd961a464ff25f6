/**
 * Warden as a library: `import { createWarden, loadConfig } from 'warden'`. Importing it starts
 * nothing; the `warden` command (main.ts) is the CLI that reads the environment and listens.
 *
 * An application adds its own type-graphql resolvers with createWarden(config, { resolvers });
 * each of their root fields carries `@Auth()` or `@Public()` (the build fails otherwise), and
 * `ctx` is a WardenContext. docs/library.md shows the whole of it.
 */
import 'reflect-metadata';

export { createWarden, type Warden, type WardenOptions, type ListenOptions } from './bootstrap';
export { loadConfig, ConfigError, type Config } from './config';
export { DatabaseStartError } from './infra/database';
export type { Context as WardenContext, Viewer, NoViewerReason, RequestMeta } from './context';
export { Auth, Public, AuthDirectiveError, type Role } from './schema/auth.directive';
export { getSchema as buildWardenSchema, printSchema } from './schema/build-schema';
export { AppError } from './errors/app-error';
export { ErrorCode } from './errors/error-code';
