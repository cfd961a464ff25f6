import { newOpaqueToken } from './tokens';
import { openWithToken, sealWithToken } from './seal';

describe('sealWithToken / openWithToken', () => {
  const token = newOpaqueToken();
  const secret = Buffer.from('{"refreshToken":"next"}');

  it('opens with the same token, purpose and binding', () => {
    const sealed = sealWithToken(token, 'purpose', 'row-1', secret);
    expect(openWithToken(token, 'purpose', 'row-1', sealed)).toEqual(secret);
  });

  it('never contains the plaintext, and differs each time (random IV)', () => {
    const a = sealWithToken(token, 'purpose', 'row-1', secret);
    const b = sealWithToken(token, 'purpose', 'row-1', secret);
    expect(Buffer.from(a).includes(secret)).toBe(false);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it.each([
    ['another token', newOpaqueToken(), 'purpose', 'row-1'],
    ['another purpose', token, 'other', 'row-1'],
    ['another row', token, 'purpose', 'row-2'],
  ])('refuses %s', (_what, otherToken, purpose, binding) => {
    const sealed = sealWithToken(token, 'purpose', 'row-1', secret);
    expect(openWithToken(otherToken, purpose, binding, sealed)).toBeNull();
  });

  it('refuses altered or truncated bytes', () => {
    const sealed = sealWithToken(token, 'purpose', 'row-1', secret);
    const altered = Uint8Array.from(sealed);
    altered[altered.length - 1] ^= 1;
    expect(openWithToken(token, 'purpose', 'row-1', altered)).toBeNull();
    expect(openWithToken(token, 'purpose', 'row-1', sealed.subarray(0, 20))).toBeNull();
    expect(openWithToken(token, 'purpose', 'row-1', new Uint8Array(0))).toBeNull();
  });
});
