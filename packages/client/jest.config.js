/** @type {import('jest').Config} The client package's own tests (`npm test` here); the repository's suite runs them too. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false, tsconfig: { module: 'commonjs', esModuleInterop: true } }] },
};
