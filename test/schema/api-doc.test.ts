/**
 * docs/api.md is the public contract: every type, field, argument, default, enum value and
 * directive in its §3 schema block must be in the schema.graphql Warden builds, with the same
 * types. (More may be added in the schema; nothing the page promises may be missing or differ.)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  print,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLSchema,
} from 'graphql';
import { describeInEmbeddedPass } from '../kit';

const ROOT = path.resolve(__dirname, '..', '..');

/** The ```graphql block of docs/api.md's "3. Schema" section. */
function documentedSdl(): string {
  const page = readFileSync(path.join(ROOT, 'docs', 'api.md'), 'utf8');
  const section = page.slice(page.indexOf('## 3. Schema'), page.indexOf('## 4. '));
  const block = /```graphql\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('docs/api.md §3 has no ```graphql block');
  return block[1];
}

const directivesOf = (node: { astNode?: { directives?: readonly import('graphql').DirectiveNode[] } | null }) =>
  (node.astNode?.directives ?? []).map((directive) => print(directive)).sort();

const defaultOf = (value: GraphQLArgument | GraphQLInputField) =>
  value.defaultValue === undefined ? undefined : JSON.stringify(value.defaultValue);

/** Every promise of `documented` that `actual` breaks, as readable lines. */
function differences(documented: GraphQLSchema, actual: GraphQLSchema): string[] {
  const problems: string[] = [];
  for (const directive of documented.getDirectives()) {
    const built = actual.getDirective(directive.name);
    if (!built) {
      problems.push(`directive @${directive.name} is missing`);
      continue;
    }
    if ([...directive.locations].sort().join() !== [...built.locations].sort().join()) problems.push(`@${directive.name} locations differ`);
    for (const arg of directive.args) {
      const match = built.args.find((a) => a.name === arg.name);
      if (!match || String(match.type) !== String(arg.type) || defaultOf(match) !== defaultOf(arg))
        problems.push(`@${directive.name}(${arg.name}) differs`);
    }
  }
  for (const type of Object.values(documented.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    const built = actual.getType(type.name);
    if (!built) {
      problems.push(`type ${type.name} is missing`);
      continue;
    }
    if (built.constructor !== type.constructor) {
      problems.push(`${type.name} is a ${built.constructor.name}, documented as a ${type.constructor.name}`);
      continue;
    }
    if (isEnumType(type) && isEnumType(built)) {
      for (const value of type.getValues()) if (!built.getValue(value.name)) problems.push(`${type.name}.${value.name} is missing`);
    }
    if ((isObjectType(type) || isInterfaceType(type)) && (isObjectType(built) || isInterfaceType(built))) {
      const fields = built.getFields();
      for (const field of Object.values(type.getFields()) as GraphQLField<unknown, unknown>[]) {
        const match = fields[field.name];
        const where = `${type.name}.${field.name}`;
        if (!match) {
          problems.push(`${where} is missing`);
          continue;
        }
        if (String(match.type) !== String(field.type))
          problems.push(`${where} is ${String(match.type)}, documented as ${String(field.type)}`);
        if (directivesOf(match).join(' ') !== directivesOf(field).join(' ')) {
          problems.push(
            `${where} carries ${directivesOf(match).join(' ') || 'no directive'}, documented as ${directivesOf(field).join(' ') || 'none'}`,
          );
        }
        for (const arg of field.args) {
          const built = match.args.find((a) => a.name === arg.name);
          if (!built) problems.push(`${where}(${arg.name}) is missing`);
          else if (String(built.type) !== String(arg.type) || defaultOf(built) !== defaultOf(arg))
            problems.push(`${where}(${arg.name}) differs`);
        }
        for (const arg of match.args) {
          if (String(arg.type).endsWith('!') && arg.defaultValue === undefined && !field.args.some((a) => a.name === arg.name)) {
            problems.push(`${where}(${arg.name}) is required but not documented`);
          }
        }
      }
    }
    if (isInputObjectType(type) && isInputObjectType(built)) {
      const fields = built.getFields();
      for (const field of Object.values(type.getFields())) {
        const match = fields[field.name];
        if (!match) problems.push(`${type.name}.${field.name} is missing`);
        else if (String(match.type) !== String(field.type) || defaultOf(match) !== defaultOf(field))
          problems.push(`${type.name}.${field.name} differs`);
      }
    }
  }
  return problems;
}

// Does not depend on the backend: runs in CI's embedded pass only.
describeInEmbeddedPass('docs/api.md', () => {
  const documented = buildSchema(documentedSdl());
  const actual = buildSchema(readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8'));

  it('documents a schema with root fields to check', () => {
    expect(Object.keys(documented.getQueryType()!.getFields())).toContain('me');
    expect(Object.keys(documented.getMutationType()!.getFields())).toContain('refreshToken');
  });

  it('promises nothing that schema.graphql lacks or types differently', () => {
    expect(differences(documented, actual)).toEqual([]);
  });

  it('notices a field that differs from the page (the check can fail)', () => {
    const changed = buildSchema(documentedSdl().replace('me: User! @auth(assurance: AAL1)', 'me: User @public'));
    expect(differences(changed, actual)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Query\.me is User!, documented as User$/)]),
    );
  });
});
