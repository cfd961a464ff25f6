/** PasswordHasher's queue: at most `concurrency` bcrypt jobs at once, the rest started in arrival order. */
const calls: Array<{ password: string; finish: (ok: boolean) => void }> = [];
jest.mock('bcrypt', () => ({
  __esModule: true,
  default: {
    compare: (password: string) => new Promise<boolean>((resolve) => calls.push({ password, finish: resolve })),
    hash: async () => 'hash',
  },
}));
import { PasswordHasher } from './password';

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('PasswordHasher', () => {
  beforeEach(() => {
    calls.length = 0;
  });

  it('runs at most `concurrency` bcrypt jobs at once and starts the rest in order', async () => {
    const hasher = new PasswordHasher(4, { concurrency: 2 });
    const results = ['a', 'b', 'c', 'd', 'e'].map((password) => hasher.verify(password, 'hash'));
    await settle();
    expect(calls.map((call) => call.password)).toEqual(['a', 'b']);
    calls[1].finish(true);
    await settle();
    expect(calls.map((call) => call.password)).toEqual(['a', 'b', 'c']);
    calls[0].finish(false);
    calls[2].finish(true);
    await settle();
    expect(calls.map((call) => call.password)).toEqual(['a', 'b', 'c', 'd', 'e']);
    calls[3].finish(false);
    calls[4].finish(true);
    expect(await Promise.all(results)).toEqual([false, true, true, false, true]);
  });

  it('frees the slot of a job that fails', async () => {
    const hasher = new PasswordHasher(4, { concurrency: 1 });
    const first = hasher.verify('a', 'hash');
    const second = hasher.verify('b', 'hash');
    await settle();
    expect(calls).toHaveLength(1);
    calls[0].finish(Promise.reject(new Error('bcrypt failed')) as unknown as boolean);
    await expect(first).rejects.toThrow('bcrypt failed');
    await settle();
    expect(calls.map((call) => call.password)).toEqual(['a', 'b']);
    calls[1].finish(true);
    expect(await second).toBe(true);
  });
});
