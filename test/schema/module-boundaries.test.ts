/**
 * Module boundaries: each folder under src/modules is one concern, and its index.ts is the only
 * door other code uses. Outside src/modules/<name>/, a file may import src/modules/<name>/index.ts
 * and nothing else of it — with one exception: src/schema/build-schema.ts reads the resolver
 * classes (`*.resolver.ts`). Resolvers sit above the request context, which names every service,
 * so an index that re-exported them would close a cycle (context → services → index → resolver →
 * context). Checked over src/, scripts/ and bench/; tests may open a module's internals to unit-test
 * them. (Cycles, type-only imports included: `npm run check:cycles`.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const MODULES = path.join('src', 'modules');
const SCHEMA_BUILDER = path.join('src', 'schema', 'build-schema.ts');

/** Every .ts file under `dir` (relative to the repository), skipping generated code. */
function tsFiles(dir: string): string[] {
  if (!existsSync(path.join(ROOT, dir))) return [];
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts|tsx)$/.test(entry.name))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)))
    .filter((file) => !file.split(path.sep).includes('generated') && !file.split(path.sep).includes('node_modules'));
}

/** Relative specifiers `source` imports: static imports and re-exports, import(), require(), jest.mock(). */
export function specifiersOf(source: string): string[] {
  const patterns = [
    /\b(?:import|export)\b[^'";]*?\bfrom\s*['"](\.[^'"]+)['"]/g,
    /\bimport\s*['"](\.[^'"]+)['"]/g,
    /\b(?:import|require|jest\.mock|jest\.requireActual)\s*\(\s*['"](\.[^'"]+)['"]/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1]));
}

/** The file a relative specifier names, relative to the repository ('src/modules/user/index.ts'). */
function resolve(importer: string, specifier: string): string {
  const base = path.normalize(path.join(path.dirname(importer), specifier)).replace(/\.js$/, '');
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts'), base]) {
    if (existsSync(path.join(ROOT, candidate))) return candidate;
  }
  return `${base}.ts`;
}

/** Why `importer` may not import `target`, or null when it may. */
export function violation(importer: string, target: string): string | null {
  const parts = path.relative(MODULES, target).split(path.sep);
  if (parts[0] === '..' || parts.length < 2) return null; // not inside a module
  const module = parts[0];
  if (importer.startsWith(path.join(MODULES, module) + path.sep)) return null; // its own module
  if (parts.length === 2 && parts[1] === 'index.ts') return null;
  if (importer === SCHEMA_BUILDER && parts.length === 2 && parts[1].endsWith('.resolver.ts')) return null;
  return `${importer} reaches into ${target} (import from src/modules/${module} instead)`;
}

function violations(files: string[]): string[] {
  return files.flatMap((file) => {
    const source = readFileSync(path.join(ROOT, file), 'utf8');
    return specifiersOf(source)
      .map((specifier) => violation(file, resolve(file, specifier)))
      .filter((problem): problem is string => problem !== null);
  });
}

const modules = readdirSync(path.join(ROOT, MODULES), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

describe('module boundaries', () => {
  it('knows the modules it guards', () => {
    expect(modules).toEqual(expect.arrayContaining(['identity', 'session', 'security', 'account', 'user', 'post']));
  });

  it.each(modules)('gives %s an index.ts that opens with what the module offers', (module) => {
    const index = path.join(ROOT, MODULES, module, 'index.ts');
    expect(existsSync(index)).toBe(true);
    expect(readFileSync(index, 'utf8')).toMatch(/^\/\*\*\n \* \S/);
  });

  it('flags a file that reaches into another module, and lets the index and own-module imports through', () => {
    const service = path.join('src', 'modules', 'post', 'post.service.ts');
    expect(violation(service, path.join('src', 'modules', 'user', 'user.service.ts'))).toMatch(/reaches into/);
    expect(violation(path.join('src', 'services.ts'), path.join('src', 'modules', 'security', 'secret-gate.service.ts'))).toMatch(
      /reaches into/,
    );
    expect(violation(path.join('src', 'app.ts'), path.join('src', 'modules', 'post', 'post.resolver.ts'))).toMatch(/reaches into/);
    expect(violation(service, path.join('src', 'modules', 'user', 'index.ts'))).toBeNull();
    expect(violation(service, path.join('src', 'modules', 'post', 'post.type.ts'))).toBeNull();
    expect(violation(SCHEMA_BUILDER, path.join('src', 'modules', 'post', 'post.resolver.ts'))).toBeNull();
    expect(
      specifiersOf(`import type { A } from '../user/user.service';\nexport { B } from "./b";\nconst c = await import('../c');`),
    ).toEqual(['../user/user.service', './b', '../c']);
  });

  it('keeps every import from outside a module on its index', () => {
    const files = ['src', 'scripts', 'bench'].flatMap(tsFiles);
    expect(files).toEqual(expect.arrayContaining([path.join('src', 'services.ts'), SCHEMA_BUILDER, path.join('scripts', 'keys.ts')]));
    expect(violations(files)).toEqual([]);
  });
});
