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
  {
    // Files outside every tsconfig.json get a default program.
    files: ['prisma.config.ts'],
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['prisma.config.ts'] } } },
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
      // `_name` marks a value left out on purpose (`const { exp: _exp, ...rest } = claims`).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    // Plain JavaScript (configs, .mjs scripts) has no types to check against.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  prettier,
);
