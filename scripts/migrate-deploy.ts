/**
 * `npm run db:migrate`: applies pending migrations to DATABASE_URL, or else to the embedded PGlite
 * under DATA_DIR (default .data; files in <DATA_DIR>/pglite), as the server would on start.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { applyMigrations } from '../src/infra/migrate';

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  let applied: string[];
  let where: string;
  if (url) {
    const u = new URL(url);
    where = `${u.host}${u.pathname}`;
    applied = await applyMigrations({ kind: 'postgres', url });
  } else {
    const dir = path.join(path.resolve(process.env.DATA_DIR ?? '.data'), 'pglite');
    where = dir;
    mkdirSync(dir, { recursive: true });
    const client = await PGlite.create(dir);
    try {
      applied = await applyMigrations({ kind: 'pglite', client });
    } finally {
      await client.close();
    }
  }
  console.log(applied.length ? `applied to ${where}:\n  ${applied.join('\n  ')}` : `no pending migrations (${where})`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
