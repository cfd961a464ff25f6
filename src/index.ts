/**
 * Warden as a library: `import { createWarden, loadConfig } from 'warden'`. Importing it starts
 * nothing; the `warden` command (main.ts) is the CLI that reads the environment and listens.
 */
export { createWarden, type Warden, type WardenOverrides, type ListenOptions } from './bootstrap';
export { loadConfig, ConfigError, type Config } from './config';
export { DatabaseStartError } from './infra/database';
