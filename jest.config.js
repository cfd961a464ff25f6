/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/src'],
  testMatch: ['**/*.test.ts'],
  // The generated Prisma client imports its siblings as `./x.js`; under jest they are .ts files.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    // ts-jest in transpile-only mode: fast, and `tsc --noEmit` (npm test runs it first) does the
    // type checking. tsconfig's module node16 keeps `import()` native, which the ESM-only
    // @prisma/schema-engine-wasm needs (jest runs with --experimental-vm-modules).
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  testTimeout: 30000,
};
