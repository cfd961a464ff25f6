// ESLint flat config: typescript-eslint with type information (each file is checked against the
// tsconfig.json nearest to it), and eslint-config-prettier last so no rule fights the formatter.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/node_modules/', '**/dist/', 'src/generated/', 'packages/client/src/generated/', 'coverage/', '.data/', 'bench/results/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The unsafe-any family would flag every read of a parsed JSON body in the tests (hundreds of
      // findings, none a bug); the promise and type rules below are the ones that catch real mistakes.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      // Async hooks and interface methods without an await are normal here (Apollo plugins, the
      // store interface); making them sync would turn a rejection into a synchronous throw.
      '@typescript-eslint/require-await': 'off',
      // A `let` that closures read before its one assignment (a value a test fills in later) stays a `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Its fixes disagree with tsc for files that two tsconfigs cover (the client package's and the
      // root's), and for Prisma calls it asks for type arguments in place of the casts; its safe
      // findings were applied once.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // `_name` marks a value left out on purpose (`const { exp: _exp, ...rest } = claims`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Test doubles and the bench's peer servers stand in for libraries' loosely typed callbacks.
    files: ['test/**', 'bench/**', 'packages/*/test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Plain JavaScript (configs, .mjs scripts) has no types to check against; prisma.config.ts is in no tsconfig.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs', 'prisma.config.ts'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  prettier,
);
