/**
 * docs/configuration.md is the configuration reference: its table names every variable the
 * config schema reads, and nothing the schema does not read.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ENVIRONMENT_VARIABLES } from '../../src/config';

/** The variables named in the first column of the reference table (`A` / `B` rows name both). */
function documentedVariables(): string[] {
  const page = readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
  return page
    .split('\n')
    .filter((line) => /^\| `[A-Z]/.test(line))
    .flatMap((line) => [...line.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]));
}

describe('the configuration reference (docs/configuration.md)', () => {
  it('reads variables from the schema and from the page', () => {
    expect(ENVIRONMENT_VARIABLES).toEqual(expect.arrayContaining(['PORT', 'JWT_SECRET', 'DATABASE_URL']));
    expect(documentedVariables()).toEqual(expect.arrayContaining(['PORT', 'HOST', 'NODE_ENV']));
  });

  it('documents every variable Warden reads', () => {
    const documented = new Set(documentedVariables());
    expect(ENVIRONMENT_VARIABLES.filter((name) => !documented.has(name))).toEqual([]);
  });

  it('documents no variable Warden does not read', () => {
    const read = new Set(ENVIRONMENT_VARIABLES);
    expect(documentedVariables().filter((name) => !read.has(name))).toEqual([]);
  });
});
