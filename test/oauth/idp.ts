/**
 * A real OpenID provider for the OAuth tests: oidc-provider on a loopback port over HTTPS, with a
 * certificate made by openssl for this run, and a browser that walks its login and consent forms
 * over HTTP with a cookie jar. Warden reaches it through a fetch that trusts only that
 * certificate (createWarden's `oauth.fetch`), so nothing in Warden's own TLS checks is loosened.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const CLIENT_ID = 'warden-test';
export const CLIENT_SECRET = 'warden-test-client-secret-0123456789';
export const REDIRECT_URI = 'https://app.example.test/oauth/callback';

export interface IdpAccount {
  email?: string;
  emailVerified?: boolean;
  name?: string;
}

export interface TestIdp {
  issuer: string;
  port: number;
  /** Accounts by their `sub`; tests add to it at will. */
  accounts: Map<string, IdpAccount>;
  /** A fetch trusting this provider's certificate. */
  fetch: typeof fetch;
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1, made by openssl. */
export function makeCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-idp-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** fetch over node:https trusting exactly `ca` (the platform's fetch cannot take a CA without undici). */
export function fetchTrusting(ca: string): typeof fetch {
  return async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const headers = new Headers(init.headers);
    const body = init.body === undefined || init.body === null ? undefined : Buffer.from(await new Response(init.body).arrayBuffer());
    return new Promise<Response>((resolve, reject) => {
      const request = https.request(
        url,
        { method: init.method ?? 'GET', headers: Object.fromEntries(headers), ca, signal: init.signal ?? undefined },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(response.headers)) {
              for (const item of Array.isArray(value) ? value : [value]) if (item !== undefined) responseHeaders.append(name, item);
            }
            const status = response.statusCode ?? 500;
            resolve(
              new Response([101, 204, 205, 304].includes(status) ? null : Buffer.concat(chunks), { status, headers: responseHeaders }),
            );
          });
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  };
}

export const certificate = makeCertificate();

/** Starts oidc-provider on a free loopback port (or `port`), with one confidential client. */
export async function startIdp(options: { port?: number } = {}): Promise<TestIdp> {
  const { default: Provider } = await import('oidc-provider');
  const accounts = new Map<string, IdpAccount>();
  const server = https.createServer({ key: certificate.key, cert: certificate.cert });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `https://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'client_secret_post',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [await ecKey()] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    pkce: { required: () => true },
    findAccount: async (_ctx: unknown, sub: string) => {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        claims: async () => ({ sub, email: account.email, email_verified: account.emailVerified, name: account.name }),
      };
    },
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
  });
  provider.on('server_error', () => undefined);
  server.on('request', provider.callback());
  return {
    issuer,
    port,
    accounts,
    fetch: fetchTrusting(certificate.cert),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function ecKey() {
  const { generateKeyPairSync } = await import('node:crypto');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'idp-key-1', alg: 'ES256', use: 'sig' };
}

/**
 * A browser at the provider: follows redirects by hand, keeps the provider's cookies, fills in the
 * login form (any password) and the consent form, and stops at the redirect back to the app.
 */
export class IdpBrowser {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly idp: TestIdp) {}

  /** Signs in as `sub` from `authorizationUrl`; the code and state the provider sends back (and its iss). */
  async authorize(authorizationUrl: string, sub: string): Promise<{ code: string; state: string; url: URL }> {
    let response = await this.follow(authorizationUrl);
    for (let step = 0; step < 10; step++) {
      if (response.redirect?.startsWith(REDIRECT_URI)) {
        const url = new URL(response.redirect);
        const error = url.searchParams.get('error');
        if (error) throw new Error(`provider error: ${error} ${url.searchParams.get('error_description')}`);
        return { code: url.searchParams.get('code')!, state: url.searchParams.get('state')!, url };
      }
      const form = /<form[^>]*action="([^"]+)"[^>]*>[\s\S]*?name="prompt" value="(\w+)"/.exec(response.body);
      if (!form) throw new Error(`unexpected page ${response.status}: ${response.body.slice(0, 300)}`);
      const fields: Record<string, string> = form[2] === 'login' ? { prompt: 'login', login: sub, password: 'any' } : { prompt: 'consent' };
      response = await this.follow(new URL(form[1], this.idp.issuer).href, new URLSearchParams(fields).toString());
    }
    throw new Error('the provider never redirected back');
  }

  /** One request and the redirects after it, up to a page or the redirect to the app. */
  private async follow(start: string, form?: string): Promise<{ status: number; body: string; redirect?: string }> {
    let url = start;
    let body = form;
    for (let hop = 0; hop < 10; hop++) {
      const response = await this.idp.fetch(url, {
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '),
          ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
        },
        body,
      });
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const index = pair.indexOf('=');
        this.cookies.set(pair.slice(0, index), pair.slice(index + 1));
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        const next = new URL(location, url).href;
        if (next.startsWith(REDIRECT_URI)) return { status: response.status, body: '', redirect: next };
        url = next;
        body = undefined;
        continue;
      }
      return { status: response.status, body: await response.text() };
    }
    throw new Error('too many redirects');
  }
}
