// Prisma CLI configuration. Warden itself never reads this file: the server picks its driver
// adapter in src/infra/database.ts. The URL matters only to `prisma migrate deploy` where the
// schema-engine binary is available; everything else in this repo works without it.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/warden' },
});
