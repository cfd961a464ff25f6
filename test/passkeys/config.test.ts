/**
 * WEBAUTHN_RP_ID / WEBAUTHN_RP_NAME / WEBAUTHN_ORIGINS are checked at start (docs/api.md §2): a
 * relying party browsers would refuse stops the start with a message naming the variable.
 */
import { ConfigError, loadConfig } from '../../src/config';

const base = { NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32) };
const load = (env: Record<string, string>) => loadConfig({ ...base, ...env });

describe('passkey relying-party settings', () => {
  it('defaults to localhost, Warden and http://localhost:4000', () => {
    expect(load({}).webauthn).toEqual({ rpId: 'localhost', rpName: 'Warden', origins: ['http://localhost:4000'] });
  });

  it('accepts https origins on the RP ID and its subdomains, and http only on localhost', () => {
    expect(
      load({
        WEBAUTHN_RP_ID: 'Example.com',
        WEBAUTHN_RP_NAME: 'Example',
        WEBAUTHN_ORIGINS: 'https://example.com, https://app.example.com:8443/',
      }).webauthn,
    ).toEqual({
      rpId: 'example.com',
      rpName: 'Example',
      origins: ['https://example.com', 'https://app.example.com:8443'],
    });
    expect(load({ WEBAUTHN_ORIGINS: 'http://localhost:5173,http://app.localhost:3000' }).webauthn.origins).toEqual([
      'http://localhost:5173',
      'http://app.localhost:3000',
    ]);
  });

  it.each([
    [{ WEBAUTHN_RP_ID: 'https://example.com' }, /WEBAUTHN_RP_ID/],
    [{ WEBAUTHN_RP_ID: 'example.com:443' }, /WEBAUTHN_RP_ID/],
    [{ WEBAUTHN_RP_ID: '127.0.0.1' }, /WEBAUTHN_RP_ID/],
    [{ WEBAUTHN_RP_ID: 'exa mple.com' }, /WEBAUTHN_RP_ID/],
    [{ WEBAUTHN_RP_NAME: 'x'.repeat(65) }, /WEBAUTHN_RP_NAME/],
    [{ WEBAUTHN_RP_NAME: '   ' }, /WEBAUTHN_RP_NAME/],
    [{ WEBAUTHN_ORIGINS: 'localhost:4000' }, /WEBAUTHN_ORIGINS: "localhost:4000"/],
    [{ WEBAUTHN_ORIGINS: 'http://localhost:4000/app' }, /WEBAUTHN_ORIGINS: .*not an origin/],
    [{ WEBAUTHN_ORIGINS: 'ftp://localhost' }, /WEBAUTHN_ORIGINS/],
    [{ WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'http://example.com' }, /must use https/],
    [{ WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://example.org' }, /not on WEBAUTHN_RP_ID/],
    [{ WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://notexample.com' }, /not on WEBAUTHN_RP_ID/],
    [{ WEBAUTHN_RP_ID: 'app.example.com', WEBAUTHN_ORIGINS: 'https://example.com' }, /not on WEBAUTHN_RP_ID/],
  ])('refuses %j', (env, message) => {
    expect(() => load(env)).toThrow(ConfigError);
    expect(() => load(env)).toThrow(message);
  });
});
