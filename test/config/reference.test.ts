/**
 * docs/configuration.md is the configuration reference: its table is generated from the config
 * schema (`npm run docs:config`), so it names every variable the schema reads, and nothing else.
 * These fail when the page is stale: a variable added, removed or re-described without
 * regenerating the page.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ENVIRONMENT_VARIABLES, variableReference } from '../../src/config';
import { REFERENCE_PAGE, renderPage } from '../../scripts/config-reference';

const page = () => readFileSync(path.resolve(__dirname, '..', '..', REFERENCE_PAGE), 'utf8');

/** The variables named in the first column of the reference table. */
function documentedVariables(): string[] {
  return page()
    .split('\n')
    .filter((line) => /^\| `[A-Z]/.test(line))
    .flatMap((line) => [...line.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]));
}

describe('the configuration reference (docs/configuration.md)', () => {
  it('is what `npm run docs:config` generates from the schema', () => {
    const current = page();
    expect(renderPage(current)).toBe(current);
  });

  it('describes every variable in the schema', () => {
    expect(
      variableReference()
        .filter((variable) => !variable.description?.trim())
        .map((variable) => variable.name),
    ).toEqual([]);
  });

  it('documents every variable Warden reads, and none it does not', () => {
    expect(ENVIRONMENT_VARIABLES).toEqual(expect.arrayContaining(['PORT', 'JWT_SECRET', 'DATABASE_URL']));
    expect([...documentedVariables()].sort()).toEqual([...ENVIRONMENT_VARIABLES].sort());
  });

  it('shows a default the schema applies, and the text given for the ones it derives', () => {
    const rows = new Map(
      page()
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .map((line) => [line.split('|')[1].trim(), line.split('|')[2].trim()]),
    );
    expect(rows.get('`ACCESS_TOKEN_TTL`')).toBe('`15m`');
    expect(rows.get('`BCRYPT_COST`')).toBe('`12`');
    expect(rows.get('`TRUST_PROXY`')).toBe('`false`');
    expect(rows.get('`DATABASE_URL`')).toBe('unset → embedded PGlite');
    expect(rows.get('`CORS_ORIGINS`')).toBe('none');
  });
});
