// Two projects run the suites: `default` runs every test file on the default storage (SQLite),
// and `pgsql` runs the suites in PGSQL_SUITES (storage contract, protocol) again on the
// PostgreSQL backend (issue #15: the same suites on both backends, parametrised, not copied).
// The backend reaches the test servers and stores through test/backend.ts (jest global
// ROOST_TEST_BACKEND); the pgsql project's globalSetup starts one private PostgreSQL server for
// the run. Suites that test PostgreSQL itself (test/storage/pgsql/, the multi-node tests) start
// their own and run in `default`.
// On PostgreSQL the Lua workers' storage calls go through the storage sync bridge, so the Lua
// suites of the pgsql pass also cover the bridge with a real asynchronous backend.
// `npx jest --selectProjects default` runs the SQLite pass alone.

/**
 * Suites that run on PostgreSQL too (globs under test/): the storage contract suites and the
 * protocol suites (IMAP, LMTP, mail-lua, push notifications, a few end-to-end ones), whose test
 * servers take their mail_location from test/backend.ts. Tests of SQLite's own files (body files,
 * hard links, its transaction) skip themselves there; PGSQL_LEFT_OUT are not run at all.
 */
const PGSQL_SUITES = [
  'storage/mailboxes.test.ts',
  'storage/messages.test.ts',
  'storage/metadata.test.ts',
  'storage/mailbox-counters.test.ts',
  'storage/import-ids.test.ts',
  'storage/mail-events.test.ts',
  'imap/server/*.test.ts',
  'imap/dovecot-*.test.ts',
  'lmtp/*.test.ts',
  'lua/mail-*.test.ts',
  'lua/dovecot-conformance.test.ts',
  'lua/dovecot-sessions.test.ts',
  'push/*.test.ts',
  'e2e/idle-delivery.test.ts',
  'e2e/mail-lua.test.ts',
  'e2e/per-user.test.ts',
];

/** Matched by PGSQL_SUITES, but not run on PostgreSQL. */
const PGSQL_LEFT_OUT = [
  // SQLite's own files: reads mail.db with better-sqlite3 and migrates an old one.
  'imap/server/mailbox-index.test.ts',
  // Its child process opens the SQLite store directly: the same test again, on SQLite.
  'lmtp/crash.test.ts',
  // The idle-store cache is the mail-user layer's, the same on both; compiling the CLI for its
  // `roost deliver` costs ~10 s, and notify.test.ts already has another process's delivery
  // reach a session over PostgreSQL's change feed.
  'imap/server/store-idle.test.ts',
  // Compares the backends itself, on a PostgreSQL of its own.
  'imap/server/async-store.test.ts',
];

const base = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
};

/** @type {import('jest').Config} */
export default {
  // Compiles worker-thread entries (src/lua) to dist/: threads cannot load .ts (test/global-setup.ts).
  globalSetup: '<rootDir>/test/global-setup.ts',
  testTimeout: 30000,
  // Integration tests start servers and worker threads; two cores, so keep parallelism modest.
  maxWorkers: 2,
  projects: [
    { ...base, displayName: 'default', testMatch: ['**/*.test.ts'] },
    {
      ...base,
      displayName: 'pgsql',
      testMatch: [...PGSQL_SUITES.map((glob) => `<rootDir>/test/${glob}`), ...PGSQL_LEFT_OUT.map((file) => `!**/test/${file}`)],
      globals: { ROOST_TEST_BACKEND: 'pgsql' },
      globalSetup: '<rootDir>/test/pg/global-pgsql.ts',
      globalTeardown: '<rootDir>/test/pg/global-pgsql-teardown.ts',
    },
  ],
};
