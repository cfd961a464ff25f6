/**
 * A real gateway in front of a subgraph verifies Warden's ES256 tokens with nothing but Warden's
 * JWKS: Hive Gateway's runtime (proxy mode) with its JWT plugin pointed at
 * `/.well-known/jwks.json`, forwarding the verified claims to a small subgraph that echoes them.
 * A Warden token passes and the subgraph sees sub, scope, aal and amr; expired, forged (foreign
 * key under a real kid), `alg: none`, HS256 keyed with the public key (PEM or JWK JSON), wrong
 * issuer or audience, and missing tokens are refused at the gateway — the subgraph never sees
 * them; claims a client puts in its own request's extensions do not reach the subgraph; after
 * `keys rotate` a token of the new key passes once the gateway has refetched the JWKS, and after
 * `keys revoke` the revoked key's tokens are refused once its cache entry has expired.
 *
 * The gateway runs as its own process (test/gateway/hive-gateway.mjs), Warden and the subgraph in
 * this one, all on loopback. It takes several seconds (a gateway process, a key rotation), so it
 * runs in the PostgreSQL + Redis pass only, on a database of its own (its rotation must not touch
 * other files' keys).
 */
import { createHmac, createPublicKey, generateKeyPairSync, randomUUID, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { AddressInfo } from 'node:net';
import { buildSchema, graphql } from 'graphql';
import jwt from 'jsonwebtoken';
import { runKeysCommand } from '../../src/modules/keys/keys-command';
import { createLogger } from '../../src/infra/logger';
import { systemClock } from '../../src/lib/clock';
import { createTestDatabase, type TestDatabase } from '../support/db-template';
import { LOGIN, signupUser, startTestServer, type SignedUp, type TestServer, describeInServicesPass, sleep } from '../kit';

/** Keys published 1 s before they sign; the gateway trusts a fetched JWKS no longer than that. */
const FAST = { JWKS_MAX_AGE: '1s', JWT_KEY_ROTATION: '1h', ACCESS_TOKEN_TTL: '60s', CLOCK_SKEW: '0' };
const JWKS_CACHE_MS = 1_000;

const SDL = /* GraphQL */ `
  type Claims {
    sub: String
    scope: String
    aal: String
    amr: [String!]
    role: String
  }
  type Query {
    claims: Claims
  }
`;
const CLAIMS = '{ claims { sub scope aal amr role } }';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const kidOf = (token: string) => (jwt.decode(token, { complete: true })!.header as { kid: string }).kid;

function signEc(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

function signHmac(header: Record<string, unknown>, payload: Record<string, unknown>, key: string): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

const listen = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
const closeServer = (server: Server | undefined) => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));

/** Runs test/gateway/hive-gateway.mjs on a loopback port and waits for it to say where. */
async function startGateway(env: Record<string, string>): Promise<{ process: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [path.join(__dirname, 'hive-gateway.mjs')], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const lines = createInterface({ input: child.stdout });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the gateway did not start in 20 s: ${stderr}`)), 20_000);
      lines.once('line', (line) => {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the gateway exited with ${String(code)}: ${stderr}`));
      });
    });
    return { process: child, url };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

async function stopGateway(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** What each subgraph request carried in `extensions.jwt` (the gateway's forwarded claims). */
interface SubgraphRequest {
  query: string;
  extensions?: { jwt?: { payload?: Record<string, unknown> } };
}

let database: TestDatabase | undefined;
let warden: TestServer;
let user: SignedUp;
let subgraph: Server;
let gateway: ChildProcess | undefined;
let gatewayUrl: string;
const received: SubgraphRequest[] = [];

async function throughGateway(authorization: string | undefined, body: Record<string, unknown> = { query: CLAIMS }) {
  const response = await fetch(gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as { data?: { claims?: Record<string, unknown> | null } | null; errors?: Array<{ message: string }> },
  };
}

const decoded = () => jwt.decode(user.accessToken, { complete: true })!;
const realHeader = () => decoded().header as unknown as Record<string, unknown>;
const realClaims = () => decoded().payload as Record<string, unknown>;
const currentKey = () => warden.app.services.signingKeys!.signingKey()!.key;
const fresh = (overrides: Record<string, unknown> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return { ...realClaims(), jti: randomUUID(), iat: now, exp: now + 60, ...overrides };
};

async function login(): Promise<string> {
  const response = await warden.gql(LOGIN, { input: { email: user.email, password: user.password } });
  return response.body.data!.login.accessToken as string;
}

async function keysCommand(...args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const code = await runKeysCommand(args, {
    prisma: warden.app.infra.database.prisma,
    config: warden.config,
    logger: createLogger({ level: 'silent' }),
    clock: systemClock,
    print: (line) => lines.push(line),
  });
  expect(code).toBe(0);
  return lines;
}

// Starts a gateway process and rotates keys (about 5 s): the PostgreSQL + Redis pass only.
describeInServicesPass('Hive Gateway with its JWT plugin on Warden’s JWKS', () => {
  beforeAll(async () => {
    database = await createTestDatabase();
    warden = await startTestServer({ env: { ...FAST, DATABASE_URL: database.url } });
    user = await signupUser(warden);

    // The subgraph trusts whatever claims the gateway forwards (it is reachable only through the
    // gateway in a real deployment) and answers with them.
    const schema = buildSchema(SDL);
    subgraph = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as SubgraphRequest & { variables?: Record<string, unknown> };
        received.push(body);
        void graphql({
          schema,
          source: body.query,
          variableValues: body.variables,
          rootValue: { claims: body.extensions?.jwt?.payload ?? null },
        }).then((result) => {
          response.setHeader('content-type', 'application/json');
          response.end(JSON.stringify(result));
        });
      });
    });
    const subgraphUrl = `${await listen(subgraph)}/graphql`;

    ({ process: gateway, url: gatewayUrl } = await startGateway({
      WARDEN_JWKS_URL: `${warden.url}/.well-known/jwks.json`,
      WARDEN_ISSUER: warden.config.jwtIssuer,
      WARDEN_AUDIENCE: warden.config.jwtAudience,
      SUBGRAPH_URL: subgraphUrl,
      SUBGRAPH_SDL: SDL,
      JWKS_CACHE_MS: String(JWKS_CACHE_MS),
    }));
  });

  afterAll(async () => {
    await stopGateway(gateway);
    await closeServer(subgraph);
    await warden?.close();
    await database?.drop();
  });

  it('passes a Warden token and forwards its claims to the subgraph', async () => {
    const before = received.length;
    const result = await throughGateway(`Bearer ${user.accessToken}`);
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data!.claims).toEqual({ sub: user.user.id, scope: 'user', aal: 'aal1', amr: ['pwd'], role: 'USER' });
    expect(received.length).toBe(before + 1);
    expect(received.at(-1)!.extensions!.jwt!.payload).toMatchObject({
      sub: user.user.id,
      scope: 'user',
      aal: 'aal1',
      iss: warden.config.jwtIssuer,
      aud: warden.config.jwtAudience,
    });
  });

  it('refuses expired, forged and confused tokens at the gateway; the subgraph never sees them', async () => {
    const jwks = (await (await fetch(`${warden.url}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, string>> };
    const jwk = jwks.keys.find((key) => key.kid === realHeader().kid)!;
    const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'pem', type: 'spki' }) as string;
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const past = Math.floor(Date.now() / 1000) - 3600;
    const header = realHeader();
    const admin = { role: 'ADMIN', scope: 'user admin' };
    const refused: Record<string, string> = {
      // Correctly signed by Warden's current key, but expired an hour ago.
      expired: signEc(header, fresh({ iat: past, exp: past + 60 }), currentKey()),
      foreignKeyRealKid: signEc(header, fresh(admin), attacker.privateKey),
      algNone: `${b64url({ ...header, alg: 'none' })}.${b64url(fresh(admin))}.`,
      hs256PublicKeyPem: signHmac({ ...header, alg: 'HS256' }, fresh(admin), pem),
      hs256PublicKeyJwk: signHmac({ ...header, alg: 'HS256' }, fresh(admin), JSON.stringify(jwk)),
      wrongIssuer: signEc(header, fresh({ iss: 'https://evil.example' }), currentKey()),
      wrongAudience: signEc(header, fresh({ aud: 'billing' }), currentKey()),
      tampered: `${user.accessToken.split('.')[0]}.${b64url({ ...realClaims(), ...admin })}.${user.accessToken.split('.')[2]}`,
    };
    const before = received.length;
    for (const [name, token] of Object.entries(refused)) {
      const result = await throughGateway(`Bearer ${token}`);
      expect({ name, status: result.status, message: result.body.errors?.[0]?.message, data: result.body.data ?? null }).toEqual({
        name,
        status: 401,
        message: 'Unauthenticated',
        data: null,
      });
    }
    // A kid the JWKS does not list: Hive's JWT plugin takes it for an unavailable key provider and
    // answers a masked 500 rather than 401 (refused all the same).
    const unknownKid = await throughGateway(`Bearer ${signEc({ ...header, kid: 'not-a-warden-kid' }, fresh(admin), attacker.privateKey)}`);
    expect([401, 500]).toContain(unknownKid.status);
    expect(unknownKid.body.data ?? null).toBeNull();
    const missing = await throughGateway(undefined);
    expect(missing.status).toBe(401);
    expect(missing.body.data ?? null).toBeNull();
    expect(received.length).toBe(before);
  });

  it('forwards only the verified claims, never ones the client put in its request', async () => {
    const spoofed = { jwt: { payload: { sub: 'someone-else', scope: 'user admin', role: 'ADMIN', aal: 'aal2' } } };
    const result = await throughGateway(`Bearer ${user.accessToken}`, { query: CLAIMS, extensions: spoofed });
    expect(result.status).toBe(200);
    expect(result.body.data!.claims).toEqual({ sub: user.user.id, scope: 'user', aal: 'aal1', amr: ['pwd'], role: 'USER' });
    expect(received.at(-1)!.extensions!.jwt!.payload).toMatchObject({ sub: user.user.id, role: 'USER' });
  });

  it('passes a token of the new key after keys rotate, and refuses a revoked key’s tokens once its cache entry expires', async () => {
    const oldToken = await login();
    const oldKid = kidOf(oldToken);
    expect((await throughGateway(`Bearer ${oldToken}`)).status).toBe(200);

    await keysCommand('rotate');
    // Warden signs with the new key once it has been published for JWKS_MAX_AGE.
    let newToken: string | undefined;
    const deadline = Date.now() + 8_000;
    while (Date.now() < deadline) {
      const token = await login();
      if (kidOf(token) !== oldKid) {
        newToken = token;
        break;
      }
      await sleep(100);
    }
    expect(newToken).toBeDefined();
    const passed = await throughGateway(`Bearer ${newToken!}`);
    expect(passed.status).toBe(200);
    expect(passed.body.data!.claims).toMatchObject({ sub: user.user.id });
    // The old key is still published (its tokens have not expired): both verify.
    expect((await throughGateway(`Bearer ${oldToken}`)).status).toBe(200);

    // A compromised key: removed from the JWKS at once; the gateway refuses its tokens once it
    // has refetched (here after its 1 s cache), without a restart.
    await keysCommand('revoke', oldKid);
    await sleep(JWKS_CACHE_MS + 200);
    const before = received.length;
    const revoked = await throughGateway(`Bearer ${oldToken}`);
    // Hive's JWT plugin takes a kid it cannot find for an unavailable key provider: 500, masked.
    expect([401, 500]).toContain(revoked.status);
    expect(revoked.body.data ?? null).toBeNull();
    expect(received.length).toBe(before);
    expect((await throughGateway(`Bearer ${newToken!}`)).status).toBe(200);
  });
});
