/**
 * N instances deployed at once onto a new, empty database: each applies pending migrations at
 * start, under the migration engine's advisory lock, so all of them start and every migration is
 * applied exactly once.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { withClient, withDatabase } from '../support/db-template';
import { WardenProcess } from './support';
import { describeNeeding, LOGIN, postgresServerUrl, SIGNUP, uniqueEmail } from '../kit';

describeNeeding({ postgres: true, onePass: true }, 'instances starting at once on an empty database', () => {
  const server = postgresServerUrl()!;
  const name = `warden_start_${randomBytes(6).toString('hex')}`;
  const url = () => withDatabase(server, name);
  const processes: WardenProcess[] = [];

  beforeAll(() => withClient(server, (client) => client.query(`CREATE DATABASE "${name}"`)));
  afterAll(async () => {
    await Promise.allSettled(processes.map((warden) => warden.stop()));
    await withClient(server, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  });

  it('all start, the migrations are applied once, and they serve the same data', async () => {
    const started = await Promise.all([0, 1, 2].map(() => WardenProcess.start({ DATABASE_URL: url(), REDIS_URL: '', LOG_LEVEL: 'info' })));
    processes.push(...started);

    const migrations = readdirSync(path.join(__dirname, '..', '..', 'prisma', 'migrations'), { withFileTypes: true }).filter((entry) =>
      entry.isDirectory(),
    );
    const rows = await withClient(
      url(),
      async (client) => (await client.query('SELECT migration_name, finished_at FROM _prisma_migrations')).rows,
    );
    expect(rows.map((row) => row.migration_name).sort()).toEqual(migrations.map((entry) => entry.name).sort());
    expect(rows.every((row) => row.finished_at !== null)).toBe(true);
    // Exactly one of them applied them.
    expect(started.filter((warden) => warden.output().includes('applied database migrations'))).toHaveLength(1);

    const email = uniqueEmail('start');
    expect((await started[0].gql(SIGNUP, { input: { email, password: 'started at once', name: 'Start' } })).body.errors).toBeUndefined();
    const login = await started[2].gql(LOGIN, { input: { email, password: 'started at once' } });
    expect(login.body.data?.login.user.email).toBe(email);
  }, 90_000);
});
