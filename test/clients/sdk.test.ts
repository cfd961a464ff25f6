/**
 * The client package and the server package's client subpaths: `warden/client`, `/apollo` and
 * `/urql` keep working as re-exports of `@warden/client`, and the server never loads a client
 * library. (The SDK's own tests live with it, in packages/client/test.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

describe('package exports', () => {
  it('ships warden/client, warden/client/apollo and warden/client/urql from dist, as the client package itself', () => {
    if (
      !existsSync(path.join(ROOT, 'dist', 'src', 'client', 'index.js')) ||
      !existsSync(path.join(ROOT, 'packages', 'client', 'dist', 'index.js'))
    ) {
      throw new Error('dist/src/client or packages/client/dist is missing: run `npm run build` (npm test compiles first)');
    }
    const script = `
      const client = require('warden/client');
      const apollo = require('warden/client/apollo');
      const urql = require('warden/client/urql');
      console.log(JSON.stringify({
        resolved: require.resolve('warden/client'),
        createWardenAuth: typeof client.createWardenAuth,
        errorCode: client.ErrorCode.REFRESH_TOKEN_REUSED,
        meDocument: client.MeDocument.kind,
        createWardenApolloLink: typeof apollo.createWardenApolloLink,
        wardenAuthExchange: typeof urql.wardenAuthExchange,
        same: client.createWardenAuth === require('@warden/client').createWardenAuth
          && apollo.createWardenApolloLink === require('@warden/client/apollo').createWardenApolloLink
          && urql.wardenAuthExchange === require('@warden/client/urql').wardenAuthExchange,
        package: require.resolve('@warden/client'),
      }));`;
    const output = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' }));
    expect(output).toEqual({
      resolved: path.join(ROOT, 'dist', 'src', 'client', 'index.js'),
      createWardenAuth: 'function',
      errorCode: 'REFRESH_TOKEN_REUSED',
      meDocument: 'Document',
      createWardenApolloLink: 'function',
      wardenAuthExchange: 'function',
      same: true,
      package: path.join(ROOT, 'packages', 'client', 'dist', 'index.js'),
    });
    for (const entry of ['index', 'apollo', 'urql'])
      expect(existsSync(path.join(ROOT, 'dist', 'src', 'client', `${entry}.d.ts`))).toBe(true);
  });

  it('keeps the client libraries optional: the server imports none of them', () => {
    const CLIENT_DIR = path.join(ROOT, 'src', 'client');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (full !== CLIENT_DIR && full !== path.join(ROOT, 'src', 'generated')) walk(full);
        } else if (entry.name.endsWith('.ts')) {
          const source = readFileSync(full, 'utf8');
          for (const [, specifier] of source.matchAll(/(?:from|import|require)\s*\(?\s*['"]([^'"]+)['"]/g)) {
            const intoClient = specifier.startsWith('.') && path.resolve(path.dirname(full), specifier).startsWith(CLIENT_DIR);
            if (/^(@apollo\/client|@urql\/|rxjs|wonka|@warden\/client)/.test(specifier) || intoClient)
              offenders.push(`${path.relative(ROOT, full)}: ${specifier}`);
          }
        }
      }
    };
    walk(path.join(ROOT, 'src'));
    expect(offenders).toEqual([]);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    for (const name of ['@apollo/client', '@urql/core', '@urql/exchange-auth', 'rxjs']) {
      expect(pkg.dependencies[name]).toBeUndefined();
      expect(pkg.peerDependenciesMeta[name]).toEqual({ optional: true });
      expect(pkg.devDependencies[name]).toBeDefined();
    }
  });
});
