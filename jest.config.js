/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  // Compiles worker-thread entries (src/lua) to dist/: threads cannot load .ts (test/global-setup.ts).
  globalSetup: '<rootDir>/test/global-setup.ts',
  testTimeout: 30000,
  // Integration tests start servers and worker threads; two cores, so keep parallelism modest.
  maxWorkers: 2,
};
