import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema as buildSDL, GraphQLSchema, isObjectType } from 'graphql';
import { getSchema, printSchema } from '../../src/schema/build-schema';
import { AuthDirectiveError, applyAuthDirectives } from '../../src/schema/auth.directive';
import { describeInEmbeddedPass } from '../kit';

// Does not depend on the backend: runs in CI's embedded pass only.
describeInEmbeddedPass('schema.graphql', () => {
  it('is exactly what the code builds (run `npm run schema:emit` after changing a resolver)', async () => {
    const committed = readFileSync(path.join(__dirname, '..', '..', 'schema.graphql'), 'utf8');
    expect(committed).toBe(printSchema(await getSchema()));
  });

  it('declares @auth and @public and the ErrorCode enum', async () => {
    const sdl = printSchema(await getSchema());
    expect(sdl).toContain('directive @auth(requires: Role = USER, assurance: AssuranceLevel) on OBJECT | FIELD_DEFINITION');
    expect(sdl).toContain('directive @public on FIELD_DEFINITION');
    expect(sdl).toMatch(/enum ErrorCode \{[^}]*ACCESS_TOKEN_EXPIRED[^}]*\}/);
  });

  it('puts exactly one of @auth or @public on every Query and Mutation field', async () => {
    const schema = await getSchema();
    const offenders: string[] = [];
    for (const root of [schema.getQueryType(), schema.getMutationType()]) {
      for (const field of Object.values(root!.getFields())) {
        const names = (field.astNode?.directives ?? []).map((d) => d.name.value).filter((n) => n === 'auth' || n === 'public');
        if (names.length !== 1) offenders.push(`${root!.name}.${field.name}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('refuses to build a schema whose root field carries neither or both', () => {
    const base = `
      directive @auth(requires: Role = USER) on OBJECT | FIELD_DEFINITION
      directive @public on FIELD_DEFINITION
      enum Role { USER ADMIN }
    `;
    const neither = buildSDL(`${base} type Query { ok: Boolean @public  leak: String }`);
    expect(() => applyAuthDirectives(stripDirectives(neither))).toThrow(AuthDirectiveError);
    expect(() => applyAuthDirectives(stripDirectives(neither))).toThrow(/Query\.leak/);
    const both = buildSDL(`${base} type Query { ok: Boolean @public @auth }`);
    expect(() => applyAuthDirectives(stripDirectives(both))).toThrow(/both/);
    const fine = buildSDL(`${base} type Query { ok: Boolean @public  me: String @auth(requires: ADMIN) }`);
    expect(isObjectType(applyAuthDirectives(stripDirectives(fine)).getQueryType())).toBe(true);
  });
});

/** applyAuthDirectives declares the directives itself, as it does for type-graphql's output. */
function stripDirectives(schema: ReturnType<typeof buildSDL>) {
  const config = schema.toConfig();
  return new GraphQLSchema({ ...config, directives: config.directives.filter((d) => d.name !== 'auth' && d.name !== 'public') });
}
