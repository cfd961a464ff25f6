/**
 * N instances deployed at once onto a new, empty database: each applies pending migrations at
 * start, under the migration engine's advisory lock, so all of them start and every migration is
 * applied exactly once; and they make one ES256 signing key between them (the first takes
 * generation 1, so a second instance that also found the table empty collides and uses the
 * winner's), so each one at once accepts the access tokens every other one signs.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { withClient, withDatabase } from '../support/db-template';
import { WardenProcess } from './support';
import { describeNeeding, LOGIN, ME, postgresServerUrl, SIGNUP, uniqueEmail } from '../kit';

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

    // One signing key, published alike by all three.
    const keys = await withClient(url(), async (client) => (await client.query('SELECT kid, generation FROM "SigningKey"')).rows);
    expect(keys).toEqual([{ kid: expect.any(String), generation: 1 }]);
    const published = await Promise.all(
      started.map(
        async (warden) => ((await (await fetch(`${warden.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys,
      ),
    );
    for (const jwks of published) expect(jwks.map((key) => key.kid)).toEqual([keys[0].kid]);

    // A token from each instance is accepted by every instance, at once (no reload in between).
    for (const [signer, warden] of started.entries()) {
      const token = (await warden.gql(LOGIN, { input: { email, password: 'started at once' } })).body.data!.login.accessToken;
      for (const [reader, other] of started.entries()) {
        const me = await other.gql(ME, {}, { token });
        expect({ signer, reader, id: me.body.data?.me?.id, errors: me.body.errors }).toEqual({
          signer,
          reader,
          id: login.body.data!.login.user.id,
          errors: undefined,
        });
      }
    }
  }, 90_000);
});
