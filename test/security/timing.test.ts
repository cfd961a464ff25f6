/**
 * Login time must not tell a registered email from an unregistered one (docs/api.md §5
 * INVALID_CREDENTIALS): an unknown email still costs a bcrypt compare at the same cost.
 * Compared on the median of paired ratios (each unknown-email login timed right after a
 * wrong-password one, so both see the same machine load), at a bcrypt cost where one compare
 * dominates. Without the dummy compare the ratio falls to about 0.15.
 */
import { ErrorCode } from '../../src/errors/error-code';
import { login, median } from './helpers';
import { timed, errorCode, signupUser, startTestServer, uniqueEmail, type TestServer } from '../kit';

const SAMPLES = 21;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { BCRYPT_COST: '10', LOGIN_MAX_FAILURES: '1000' } });
});
afterAll(() => server.close());

it('takes about as long for an unknown email as for a wrong password', async () => {
  const user = await signupUser(server);
  // Warm-up: the first unknown-email login also makes the dummy hash.
  await login(server, uniqueEmail('warm'), 'wrong password 123');
  await login(server, user.email, 'wrong password 123');

  const ratios: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const a = await timed(() => login(server, user.email, `wrong password ${i}`));
    const b = await timed(() => login(server, uniqueEmail('ghost'), `wrong password ${i}`));
    expect(errorCode(a.value)).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(errorCode(b.value)).toBe(ErrorCode.INVALID_CREDENTIALS);
    ratios.push(b.ms / a.ms);
  }
  const ratio = median(ratios);
  expect(ratio).toBeGreaterThan(0.6);
  expect(ratio).toBeLessThan(1.6);
});
