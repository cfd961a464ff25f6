// Runs `prisma generate` offline. Prisma's CLI insists on locating a schema-engine binary even
// though `generate` never runs it, and the binary's download host may be unreachable; pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any existing file satisfies the check. Migrations do not use
// the binary at all (see src/infra/migrate.ts), so this stand-in is never executed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let cli;
try {
  cli = require.resolve('prisma/build/index.js');
} catch {
  // Production installs (`npm ci --omit=dev`) ship the client generated at build time.
  console.log('prisma-generate: the prisma CLI is not installed; skipping');
  process.exit(0);
}
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY || !existsSync(env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;
}
const result = spawnSync(process.execPath, [cli, 'generate'], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
