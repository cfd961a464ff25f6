/**
 * The typed SDK: the generated files are current, every root field of Warden's schema has an
 * operation document, and the enums carry every code the server sends (as schema.graphql lists them).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema, isEnumType, Kind, OperationTypeNode, parse, validate, type DocumentNode } from 'graphql';
import * as sdk from '../src/index';

const PACKAGE = path.resolve(__dirname, '..');
// The schema and codegen.yml belong to the server, two levels up in this repository.
const ROOT = path.resolve(PACKAGE, '..', '..');
const OPERATIONS = path.join(PACKAGE, 'operations');
const schema = buildSchema(readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8'));

const operationDocuments = (): DocumentNode[] =>
  readdirSync(OPERATIONS)
    .filter((file) => file.endsWith('.graphql'))
    .map((file) => parse(readFileSync(path.join(OPERATIONS, file), 'utf8')));

describe('typed SDK (codegen.yml)', () => {
  it('is what `npm run codegen` generates from schema.graphql and operations/', () => {
    const cli = path.join(ROOT, 'node_modules', '@graphql-codegen', 'cli', 'esm', 'bin.js');
    const run = spawnSync(process.execPath, [cli, '--config', 'codegen.yml', '--check'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const output = `${run.stdout}\n${run.stderr}`;
    if (run.status !== 0)
      throw new Error(`packages/client/src/generated is stale or codegen failed; run \`npm run codegen\`:\n${output.slice(-2000)}`);
    expect(output).not.toMatch(/stale/i);
  });

  it('has an operation document for every Query and Mutation field of schema.graphql', () => {
    const used = new Set<string>();
    for (const document of operationDocuments()) {
      for (const definition of document.definitions) {
        if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
        const root =
          definition.operation === OperationTypeNode.QUERY
            ? 'Query'
            : definition.operation === OperationTypeNode.MUTATION
              ? 'Mutation'
              : 'Subscription';
        for (const selection of definition.selectionSet.selections) {
          if (selection.kind === Kind.FIELD) used.add(`${root}.${selection.name.value}`);
        }
      }
    }
    const fields = [schema.getQueryType()!, schema.getMutationType()!].flatMap((type) =>
      Object.keys(type.getFields()).map((name) => `${type.name}.${name}`),
    );
    expect(fields.filter((field) => !used.has(field))).toEqual([]);
  });

  it('exposes ErrorCode as a TypeScript enum with every code the server sends', () => {
    const errorCode = schema.getType('ErrorCode');
    if (!isEnumType(errorCode)) throw new Error('schema.graphql has no ErrorCode enum');
    expect(Object.values(sdk.ErrorCode).sort()).toEqual(
      errorCode
        .getValues()
        .map((value) => value.name)
        .sort(),
    );
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
