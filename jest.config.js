/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/src', '<rootDir>/packages/client/test'],
  testMatch: ['**/*.test.ts'],
  // The generated Prisma client imports its siblings as `./x.js`; under jest they are .ts files.
  // The workspace packages are tested from their sources, as tsconfig.json's paths type-check them.
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    '^@warden/client$': '<rootDir>/packages/client/src/index.ts',
    '^@warden/client/(.*)$': '<rootDir>/packages/client/src/$1.ts',
  },
  transform: {
    // ts-jest in transpile-only mode: fast, and `tsc --noEmit` (npm test runs it first) does the
    // type checking. tsconfig's module node16 keeps `import()` native, which the ESM-only
    // @prisma/schema-engine-wasm needs (jest runs with --experimental-vm-modules).
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  // With more than one worker in the PostgreSQL + Redis pass, each worker's own services.
  setupFiles: ['<rootDir>/test/support/worker-env.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
};
