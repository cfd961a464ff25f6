/**
 * `npm run db:migrate:create -- <name>`: writes prisma/migrations/<timestamp>_<name>/migration.sql
 * from the difference between the existing migrations and prisma/schema.prisma (computed on an
 * in-memory PGlite; no server needed). Prints "no changes" when there is nothing to migrate.
 */
import path from 'node:path';
import { repoRoot } from '../src/infra/migrate';
import { createMigration } from './migration-tooling';

async function main(): Promise<void> {
  const name = process.argv.slice(2).join(' ').trim();
  if (!name) {
    console.error('usage: npm run db:migrate:create -- <name>');
    process.exitCode = 2;
    return;
  }
  const created = await createMigration(name);
  if (!created) {
    console.log('no changes');
    return;
  }
  console.log(`created ${path.relative(repoRoot(), path.join(created.dir, 'migration.sql'))}`);
  if (/\bDROP\b/.test(created.sql)) console.log('note: it drops something; review it for data loss before committing');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
