/**
 * Checks that run before any pending migration is applied, for migrations that must refuse
 * rather than lose something: a refusal throws MigrationError with what remains and what to do,
 * and nothing is applied (nor recorded as failed in _prisma_migrations, which would need a
 * manual `migrate resolve` afterwards). Each migration's SQL carries the same check for
 * `prisma migrate deploy`.
 */

/** Runs one query on the database being migrated. */
export type GuardQuery = <T>(sql: string) => Promise<T[]>;

export interface MigrationGuard {
  /** The migration directory it guards. */
  migration: string;
  /** Null to let it apply, else why not and what to do (one line). */
  refusal(query: GuardQuery): Promise<string | null>;
}

export const DROP_LEGACY_REFRESH_TOKENS = '20261201140000_drop_legacy_refresh_tokens';

export const MIGRATION_GUARDS: readonly MigrationGuard[] = [
  {
    // Dropping the hashed-token table signs out every live session whose current token is still
    // in it (docs/refresh-tokens.md, "Upgrading from hashed refresh tokens").
    migration: DROP_LEGACY_REFRESH_TOKENS,
    async refusal(query) {
      const [table] = await query<{ name: string | null }>(`SELECT to_regclass('"RefreshToken"')::text AS name`);
      if (!table?.name) return null; // a new database, or the migration already applied
      const [row] = await query<{ live: string | number; lapse: Date | string | null }>(
        `SELECT count(*) AS live, max(t."expiresAt") AS lapse
           FROM "RefreshToken" t JOIN "Session" s ON s.id = t."sessionId"
          WHERE t."expiresAt" > now() AND s."revokedAt" IS NULL AND s."absoluteExpiresAt" > now()`,
      );
      const live = Number(row?.live ?? 0);
      if (live === 0) return null;
      const lapse = new Date(row!.lapse!).toISOString();
      return (
        `Migration ${DROP_LEGACY_REFRESH_TOKENS} refused: ${live} old-format refresh tokens of live sessions remain in "RefreshToken" ` +
        `(the last lapses at ${lapse}); dropping the table would sign those sessions out. Either run the previous Warden release ` +
        `(it exchanges each at its next refresh and its cleanup deletes them as they lapse) until then, or sign them out now with ` +
        `DELETE FROM "RefreshToken"; then start again. Nothing was migrated.`
      );
    },
  },
];
