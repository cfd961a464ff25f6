/** OAUTH_* settings (docs/oauth.md): each provider from its own variables, bad values named at start. */
import { ConfigError, loadConfig } from '../../src/config';

const base = { NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), DATA_DIR: '/tmp/warden-oauth-config-test' };
const google = {
  OAUTH_PROVIDERS: 'google,my-idp',
  OAUTH_GOOGLE_ISSUER: 'https://accounts.google.com',
  OAUTH_GOOGLE_CLIENT_ID: 'id.apps.googleusercontent.com',
  OAUTH_GOOGLE_CLIENT_SECRET: 'secret',
  OAUTH_GOOGLE_NAME: 'Google',
  OAUTH_MY_IDP_ISSUER: 'https://idp.example.test/realms/x',
  OAUTH_MY_IDP_CLIENT_ID: 'warden',
  OAUTH_REDIRECT_URIS: 'https://app.example.test/cb, https://app.example.test/cb2',
};

function problems(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('OAUTH_* configuration', () => {
  it('reads each listed provider, with defaults for the name and scopes', () => {
    const config = loadConfig({ ...base, ...google });
    expect(config.oauthProviders).toEqual([
      {
        id: 'google',
        name: 'Google',
        issuer: 'https://accounts.google.com',
        clientId: 'id.apps.googleusercontent.com',
        clientSecret: 'secret',
        scopes: 'openid email profile',
      },
      {
        id: 'my-idp',
        name: 'my-idp',
        issuer: 'https://idp.example.test/realms/x',
        clientId: 'warden',
        clientSecret: undefined,
        scopes: 'openid email profile',
      },
    ]);
    expect(config.oauthRedirectUris).toEqual(['https://app.example.test/cb', 'https://app.example.test/cb2']);
  });

  it('has no providers by default', () => {
    expect(loadConfig(base).oauthProviders).toEqual([]);
  });

  it('names every bad variable', () => {
    const message = problems({
      OAUTH_PROVIDERS: 'a,b,bad id,a',
      OAUTH_A_ISSUER: 'http://plain.example.test',
      OAUTH_B_CLIENT_ID: 'x',
      OAUTH_B_ISSUER: 'https://b.example.test',
      OAUTH_B_SCOPES: 'email profile',
      OAUTH_REDIRECT_URIS: 'not a url',
    });
    expect(message).toContain('OAUTH_A_ISSUER: must be an https:// URL');
    expect(message).toContain('OAUTH_A_CLIENT_ID: required');
    expect(message).toContain('OAUTH_B_SCOPES: must include openid');
    expect(message).toContain('OAUTH_PROVIDERS: "bad id"');
    expect(message).toContain('OAUTH_PROVIDERS: "a" is listed twice');
    expect(message).toContain('OAUTH_REDIRECT_URIS: "not a url"');
  });

  it('requires redirect URIs with providers', () => {
    const { OAUTH_REDIRECT_URIS: _unused, ...withoutUris } = google;
    expect(problems(withoutUris)).toContain('OAUTH_REDIRECT_URIS: required with OAUTH_PROVIDERS');
  });
});
