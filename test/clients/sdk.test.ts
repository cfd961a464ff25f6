/**
 * The typed SDK and the package's client subpaths: generated files are current, every root
 * field has an operation document, and the server never loads a client library.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema, Kind, parse, validate, type DocumentNode } from 'graphql';
import * as sdk from '../../src/client';
import { ErrorCode as ServerErrorCode } from '../../src/errors/error-code';

const ROOT = path.resolve(__dirname, '..', '..');
const OPERATIONS = path.join(ROOT, 'src', 'client', 'operations');
const schema = buildSchema(readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8'));

const operationDocuments = (): DocumentNode[] =>
  readdirSync(OPERATIONS)
    .filter((file) => file.endsWith('.graphql'))
    .map((file) => parse(readFileSync(path.join(OPERATIONS, file), 'utf8')));

describe('typed SDK (codegen.yml)', () => {
  it('is what `npm run codegen` generates from schema.graphql and src/client/operations', () => {
    const cli = path.join(ROOT, 'node_modules', '@graphql-codegen', 'cli', 'esm', 'bin.js');
    const run = spawnSync(process.execPath, [cli, '--config', 'codegen.yml', '--check'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const output = `${run.stdout}\n${run.stderr}`;
    if (run.status !== 0) throw new Error(`src/client/generated is stale or codegen failed; run \`npm run codegen\`:\n${output.slice(-2000)}`);
    expect(output).not.toMatch(/stale/i);
  });

  it('has an operation document for every Query and Mutation field of schema.graphql', () => {
    const used = new Set<string>();
    for (const document of operationDocuments()) {
      for (const definition of document.definitions) {
        if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
        const root = definition.operation === 'query' ? 'Query' : definition.operation === 'mutation' ? 'Mutation' : 'Subscription';
        for (const selection of definition.selectionSet.selections) {
          if (selection.kind === Kind.FIELD) used.add(`${root}.${selection.name.value}`);
        }
      }
    }
    const fields = [schema.getQueryType()!, schema.getMutationType()!].flatMap((type) => Object.keys(type.getFields()).map((name) => `${type.name}.${name}`));
    expect(fields.filter((field) => !used.has(field))).toEqual([]);
  });

  it('exposes ErrorCode as a TypeScript enum with every code the server sends', () => {
    expect(Object.values(sdk.ErrorCode).sort()).toEqual(Object.values(ServerErrorCode).sort());
    expect(sdk.ErrorCode.ACCESS_TOKEN_EXPIRED).toBe('ACCESS_TOKEN_EXPIRED');
    expect(sdk.Role.ADMIN).toBe('ADMIN');
    expect(sdk.LogoutScope.GLOBAL).toBe('GLOBAL');
  });

  it('exports a typed document for each operation', () => {
    expect(sdk.MeDocument.definitions[0]).toMatchObject({ kind: 'OperationDefinition', name: { value: 'Me' } });
    expect(sdk.RefreshTokenDocument.definitions[0]).toMatchObject({ operation: 'mutation', name: { value: 'RefreshToken' } });
  });

  it('sends a refresh mutation that is valid against schema.graphql', () => {
    expect(validate(schema, parse(sdk.REFRESH_TOKEN_MUTATION))).toEqual([]);
  });
});

describe('package exports', () => {
  it('ships warden/client, warden/client/apollo and warden/client/urql from dist', () => {
    if (!existsSync(path.join(ROOT, 'dist', 'src', 'client', 'index.js'))) {
      throw new Error('dist/src/client is missing: run `npm run build` (npm test compiles first)');
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
      }));`;
    const output = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' }));
    expect(output).toEqual({
      resolved: path.join(ROOT, 'dist', 'src', 'client', 'index.js'),
      createWardenAuth: 'function',
      errorCode: 'REFRESH_TOKEN_REUSED',
      meDocument: 'Document',
      createWardenApolloLink: 'function',
      wardenAuthExchange: 'function',
    });
    for (const entry of ['index', 'apollo', 'urql']) expect(existsSync(path.join(ROOT, 'dist', 'src', 'client', `${entry}.d.ts`))).toBe(true);
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
            if (/^(@apollo\/client|@urql\/|rxjs|wonka)/.test(specifier) || intoClient) offenders.push(`${path.relative(ROOT, full)}: ${specifier}`);
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
