/**
 * Environment skips: a suite that needs something the machine lacks is reported as skipped, with
 * the reason in its name and on the console, never passed without running. Under CI (CI=true,
 * as .ci/run runs) a missing redis-server or PostgreSQL server fails the suite instead: CI
 * installs both, so a skip there would hide a broken setup.
 *
 * Which pass a suite runs in: CI runs the suite twice, on the embedded defaults and on
 * PostgreSQL + Redis (DATABASE_URL and REDIS_URL set). A slow suite that does not depend on the
 * backend runs in one of them only (`describeInServicesPass`, `describeInEmbeddedPass`).
 */
import { spawnSync } from 'node:child_process';
import { REDIS_SKIP_REASON, redisServerAvailable } from '../support/redis-server';

export { REDIS_SKIP_REASON, redisServerAvailable };

export const PG_ADMIN_ENV = 'WARDEN_TEST_PG_ADMIN_URL';

/** A PostgreSQL server tests may create databases on (DATABASE_URL's, else WARDEN_TEST_PG_ADMIN_URL's), or undefined. */
export const postgresServerUrl = (): string | undefined => process.env.DATABASE_URL || process.env[PG_ADMIN_ENV] || undefined;

export const PG_SKIP_REASON = `skipped: no PostgreSQL server (set DATABASE_URL, or ${PG_ADMIN_ENV} to a role that may create databases, as .ci/run does)`;

export const redisCliAvailable = spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;
export const REDIS_CLI_SKIP_REASON = 'skipped: redis-cli is not on PATH (Debian package redis-tools)';

/** Which of CI's two passes this is: PostgreSQL + Redis (DATABASE_URL set), or the embedded defaults. */
export const servicesPass = (): boolean => Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
export const embeddedPass = (): boolean => !process.env.DATABASE_URL;

export interface Needs {
  /** a private redis-server (redis-server on PATH) */
  redis?: boolean;
  /** redis-cli on PATH */
  redisCli?: boolean;
  /** a PostgreSQL server to create databases on */
  postgres?: boolean;
  /**
   * The suite brings its own servers (a private redis-server, its own database), so both of CI's
   * passes would run it alike: it runs once, in the PostgreSQL + Redis pass.
   */
  onePass?: boolean;
}

export const ONE_PASS_REASON =
  'skipped: runs once, in the PostgreSQL + Redis pass (DATABASE_URL and REDIS_URL set); it brings its own servers, so the embedded pass would only repeat it';

/** Why a suite with these needs cannot run here, or null. */
export function missing(needs: Needs): string | null {
  const reasons: string[] = [];
  if (needs.redis && !redisServerAvailable) reasons.push(REDIS_SKIP_REASON);
  if (needs.redisCli && !redisCliAvailable) reasons.push(REDIS_CLI_SKIP_REASON);
  if (needs.postgres && !postgresServerUrl()) reasons.push(PG_SKIP_REASON);
  return reasons.length ? reasons.join('; ') : null;
}

/**
 * `describe` when `reason` is null; otherwise the suite is skipped with the reason in its name
 * and printed. With `failInCi`, under CI a reason fails the suite instead of skipping it.
 */
export function describeUnless(reason: string | null, name: string, fn: () => void, options: { failInCi?: boolean } = {}): void {
  if (!reason) {
    describe(name, fn);
    return;
  }
  if (options.failInCi && process.env.CI) {
    describe(name, () => {
      it('has what it needs', () => {
        throw new Error(`${name}: ${reason} (CI installs it; a skip here would hide a broken setup)`);
      });
    });
    return;
  }
  console.warn(`${name}: ${reason}`);
  describe.skip(`${name} [${reason}]`, fn);
}

/** A suite that needs the machine to have what `needs` names. */
export function describeNeeding(needs: Needs, name: string, fn: () => void): void {
  if (needs.onePass && !servicesPass()) {
    describeUnless(ONE_PASS_REASON, name, fn);
    return;
  }
  describeUnless(missing(needs), name, fn, { failInCi: true });
}

/** A suite that starts a private redis-server. */
export function describeWithRedis(name: string, fn: () => void): void {
  describeNeeding({ redis: true }, name, fn);
}

/** A suite that creates databases on a PostgreSQL server. */
export function describeWithPostgres(name: string, fn: () => void): void {
  describeNeeding({ postgres: true }, name, fn);
}

/** A suite that runs only in CI's PostgreSQL + Redis pass (slow, and not about the backend's kind). */
export function describeInServicesPass(name: string, fn: () => void): void {
  describeUnless(servicesPass() ? null : 'skipped: runs in the PostgreSQL + Redis pass only (DATABASE_URL and REDIS_URL set)', name, fn);
}

/** A suite that runs only in CI's embedded pass (it does not depend on the backend at all). */
export function describeInEmbeddedPass(name: string, fn: () => void): void {
  describeUnless(embeddedPass() ? null : 'skipped: does not depend on the backend; runs in the embedded pass only', name, fn);
}
