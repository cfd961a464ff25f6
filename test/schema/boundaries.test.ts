/**
 * Layer boundaries: the domain (services, lib/, infra/, domain/) knows nothing of GraphQL or of
 * the request context; only resolvers, the schema and the app wiring import context.ts or schema/.
 * (Import cycles are checked by `npm run check:cycles` in CI.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(__dirname, '..', '..', 'src');

/** Every .ts file under `dir`, relative to src/. */
function files(dir: string): string[] {
  return readdirSync(path.join(SRC, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
    .map((entry) => path.relative(SRC, path.join(entry.parentPath, entry.name)));
}

/** The files under src/ that `file` imports (relative specifiers only), relative to src/. */
function importsOf(file: string): string[] {
  const source = readFileSync(path.join(SRC, file), 'utf8');
  return [...source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"](\.[^'"]+)['"]/g)].map((match) =>
    path.relative(SRC, path.resolve(path.dirname(path.join(SRC, file)), match[1])),
  );
}

const isGraphQLLayer = (target: string) => target === 'context' || target.startsWith(`schema${path.sep}`);

describe('layer boundaries', () => {
  const domain = [
    ...files('modules').filter((file) => !/\.(resolver|types?|inputs)\.ts$/.test(file)),
    ...files('lib'),
    ...files('infra'),
    ...files('domain'),
  ];

  it('finds the domain files it checks', () => {
    expect(domain).toEqual(
      expect.arrayContaining([
        path.join('modules', 'identity', 'auth.service.ts'),
        path.join('lib', 'pagination.ts'),
        path.join('domain', 'types.ts'),
      ]),
    );
  });

  it('keeps services, lib/, infra/ and domain/ free of imports from context.ts and schema/', () => {
    const offenders = domain.flatMap((file) =>
      importsOf(file)
        .filter(isGraphQLLayer)
        .map((target) => `${file} imports ${target}`),
    );
    expect(offenders).toEqual([]);
  });
});
