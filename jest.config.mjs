/**
 * Tests run on Node 22 with native ESM (MikroORM 7 is ESM only), TypeScript
 * compiled per file by swc. One PostgreSQL serves the whole run (see
 * test/global-setup.mjs); test files isolate themselves by tenant.
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022', keepClassNames: true },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  // Sources import './x.js' (NodeNext); jest resolves the .ts beside it.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/global-setup.mjs',
  globalTeardown: '<rootDir>/test/global-teardown.mjs',
  // Two cores: more workers only contend with the server and PostgreSQL.
  maxWorkers: 2,
  testTimeout: 60_000,
};
