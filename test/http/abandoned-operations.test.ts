/**
 * close() waits for operations whose client hung up: they have no connection left for the HTTP
 * server to wait on, yet still use the database (a login's session insert after its bcrypt).
 */
import { Writable } from 'node:stream';
import { PasswordHasher } from '../../src/lib/password';
import { LOGIN, signupUser, startTestServer, waitFor } from '../kit';

it('close() lets an operation whose client went away finish before the database closes', async () => {
  const lines: string[] = [];
  const server = await startTestServer({
    // A login at cost 12 spends a few hundred ms in bcrypt before it writes its session.
    env: { BCRYPT_COST: '12' },
    logDestination: new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  const user = await signupUser(server);
  const events = server.app.infra.database.prisma;
  const sessionsBefore = await events.session.count({ where: { userId: user.user.id } });

  // Seen from inside: the login has reached bcrypt (a fixed delay was a guess under load).
  const verify = jest.spyOn(PasswordHasher.prototype, 'verify');
  const abort = new AbortController();
  const login = fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: LOGIN, variables: { input: { email: user.email, password: user.password } } }),
    signal: abort.signal,
  }).catch(() => 'aborted');
  await waitFor(() => verify.mock.calls.length > 0, { what: 'the login to reach bcrypt' });
  abort.abort();
  expect(await login).toBe('aborted');

  // Count before close() ends the database: the login must have written its session by then.
  let sessionsAtClose = -1;
  const closeDatabase = server.app.infra.database.close.bind(server.app.infra.database);
  server.app.infra.database.close = async () => {
    sessionsAtClose = await events.session.count({ where: { userId: user.user.id } });
    await closeDatabase();
  };
  await server.close();
  expect(sessionsAtClose).toBe(sessionsBefore + 1);
  expect(lines.filter((line) => /"level":50/.test(line))).toEqual([]);
  verify.mockRestore();
});
