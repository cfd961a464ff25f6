/**
 * The browser suite's servers: Warden (a real HTTP server, cookie transport, CORS_ORIGINS = the
 * app's origin) and examples/web installed as a user installs it — the client package from
 * `npm pack` output, so only its public exports resolve — built with its own build script and
 * served on loopback. Pages are opened at http://localhost:<port>; `localhost` and `127.0.0.1`
 * are different sites to the browser, which the CSRF tests use.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Clock } from '../../src/lib/clock';
import { startTestServer, type TestServer } from '../kit';

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLE = path.join(ROOT, 'examples', 'web');
export const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

export interface StaticSite {
  port: number;
  close(): Promise<void>;
}

/** Serves `page(pathname)` (null → 404) on 127.0.0.1. */
export async function serveSite(page: (pathname: string) => { type: string; body: string | Buffer } | null): Promise<StaticSite> {
  const server: Server = createServer((request, response) => {
    const found = page(new URL(request.url ?? '/', 'http://x').pathname);
    if (!found) response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    else response.writeHead(200, { 'content-type': found.type, 'cache-control': 'no-store' }).end(found.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface ExampleSetup {
  warden: TestServer;
  /** http://localhost:<port>/graphql, as the app calls it */
  wardenUrl: string;
  /** http://localhost:<port>, the app's origin (in CORS_ORIGINS and WEBAUTHN_ORIGINS) */
  appOrigin: string;
  close(): Promise<void>;
}

/**
 * Starts Warden and the example app for one test file. Under the app's origin, /graphql/probe is
 * a blank page: a script there would see every non-HttpOnly cookie of Warden's /graphql path
 * (cookies do not separate ports), so it is where `document.cookie` is checked.
 */
export async function startExample(options: { clock?: Clock; env?: Record<string, string> } = {}): Promise<ExampleSetup> {
  const built = path.join(ROOT, 'packages', 'client', 'dist', 'index.js');
  if (!existsSync(built)) throw new Error(`${path.relative(ROOT, built)} is missing: run \`npm run build\` (npm test compiles first)`);
  const work = mkdtempSync(path.join(tmpdir(), 'warden-web-'));
  const dist = path.join(work, 'dist');
  const site = await serveSite((pathname) => {
    if (pathname.startsWith('/graphql/')) return { type: TYPES['.html'], body: '<!doctype html><title>probe</title>' };
    const file = path.join(dist, pathname === '/' ? 'index.html' : path.normalize(pathname));
    const type = TYPES[path.extname(file)];
    if (!type || !file.startsWith(dist + path.sep) || !existsSync(file)) return null;
    return { type, body: readFileSync(file) };
  });
  const appOrigin = `http://localhost:${site.port}`;
  const warden = await startTestServer({
    clock: options.clock,
    env: {
      REFRESH_TOKEN_TRANSPORT: 'cookie',
      COOKIE_SECURE: 'false',
      CORS_ORIGINS: appOrigin,
      WEBAUTHN_RP_ID: 'localhost',
      WEBAUTHN_ORIGINS: appOrigin,
      ...options.env,
    },
  });
  const wardenUrl = `http://localhost:${new URL(warden.url).port}/graphql`;
  try {
    installAndBuild(dist, wardenUrl);
  } catch (error) {
    await Promise.all([warden.close(), site.close()]);
    throw error;
  }
  return {
    warden,
    wardenUrl,
    appOrigin,
    close: async () => {
      await Promise.all([warden.close(), site.close()]);
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/**
 * examples/web with the packed client package installed, made once per checkout and content of
 * the two (the browser test files share it) and kept in the temp directory, like the database
 * templates. Its other packages are links into this checkout's node_modules, so the checkout's
 * path is part of the key: a copy made by another clone (since deleted) would hold dangling links.
 */
function installedExample(): string {
  const hash = createHash('sha256').update(`${ROOT}\0`);
  const add = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name === 'node_modules' || (entry.name === 'dist' && dir === EXAMPLE)) continue;
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) add(file);
      else hash.update(`${path.relative(ROOT, file)}\0`).update(readFileSync(file));
    }
  };
  add(EXAMPLE);
  add(path.join(ROOT, 'packages', 'client', 'dist'));
  hash.update(readFileSync(path.join(ROOT, 'packages', 'client', 'package.json')));
  const appDir = path.join(tmpdir(), `warden-web-example-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(path.join(appDir, 'package.json'))) {
    if (existsSync(path.join(appDir, 'node_modules', 'esbuild', 'package.json'))) return appDir;
    rmSync(appDir, { recursive: true, force: true }); // its links lead nowhere: node_modules was removed and not reinstalled
  }

  const partial = mkdtempSync(`${appDir}.tmp-`);
  const output = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', partial], {
    cwd: path.join(ROOT, 'packages', 'client'),
    encoding: 'utf8',
  });
  const tarball = path.join(partial, output.trim().split('\n').pop()!);
  cpSync(EXAMPLE, partial, { recursive: true, filter: (source) => !/[/\\](node_modules|dist)$/.test(source) });
  const modules = path.join(partial, 'node_modules');
  const client = path.join(modules, '@warden', 'client');
  mkdirSync(client, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', client, '--strip-components=1']);
  rmSync(tarball);
  // Everything else as `npm install` would resolve it, from this repository's node_modules.
  for (const entry of readdirSync(path.join(ROOT, 'node_modules'))) {
    if (entry === '@warden' || entry === 'warden' || entry.startsWith('.')) continue;
    symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(modules, entry));
  }
  try {
    renameSync(partial, appDir); // atomic: a concurrent run never sees half an install
  } catch {
    rmSync(partial, { recursive: true, force: true }); // another run got there first
  }
  return appDir;
}

/**
 * Awaits `opening` together like Promise.all, but first hands whatever did open to `keep`, so
 * the file's afterAll closes it when another part failed: a browser connection left open keeps
 * jest from exiting after the run.
 */
export async function openTogether<T extends unknown[]>(
  opening: { [K in keyof T]: Promise<T[K]> },
  keep: (opened: { [K in keyof T]: T[K] | undefined }) => void,
): Promise<void> {
  const results = await Promise.allSettled(opening as unknown as Promise<unknown>[]);
  keep(results.map((result) => (result.status === 'fulfilled' ? result.value : undefined)) as { [K in keyof T]: T[K] | undefined });
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Builds the installed example with its own build script, for `wardenUrl`, into `outDir`. */
function installAndBuild(outDir: string, wardenUrl: string): void {
  execFileSync(process.execPath, ['build.mjs'], {
    cwd: installedExample(),
    env: { ...process.env, WARDEN_URL: wardenUrl, OUT_DIR: outDir },
    encoding: 'utf8',
  });
}
