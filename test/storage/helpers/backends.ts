// One storage contract suite for every backend (issue #15: "Parametrise them; do not copy them").
// A suite declares its tests once with describeEachBackend(title, fn); jest.config.js runs the
// file in each project, and the project says the backend (test/backend.ts): SQLite in a temp
// folder, or PostgreSQL on the pgsql project's shared server, one database per describe, emptied
// after each test. `open()` returns the store as the contract's asynchronous UserStore, so every
// call is awaited.
import { afterAll, afterEach, beforeAll, beforeEach, describe } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logHub } from '../../../src/log/logger.js';
import { openUserStore, StorageError, type QuotaLimits, type StorageSettings, type UserStore } from '../../../src/storage/index.js';
import { freshPgDatabase, testBackend, type TestBackend } from '../../backend.js';
import type { PgDatabase } from '../../pg/harness.js';

export interface OpenExtra {
  settings?: Partial<StorageSettings>;
  quota?: QuotaLimits;
  separator?: string;
}

export interface BackendStores {
  readonly name: TestBackend;
  /** A temp folder of the test (spool files). */
  readonly dir: string;
  /** Opens (creating on first use) the store of `username` (default alice); closed after the test. */
  open(username?: string, extra?: OpenExtra): UserStore;
}

/** `fn` declares tests against `b`, the stores of this project's backend, in a describe named after it. */
export function describeEachBackend(title: string, fn: (b: BackendStores) => void): void {
  const name = testBackend;
  describe(`${title} [${name}]`, () => {
    let dir = '';
    let db: PgDatabase | undefined;
    const opened: UserStore[] = [];
    if (name === 'pgsql') {
      beforeAll(async () => {
        db = await freshPgDatabase();
      });
      afterAll(async () => {
        await db?.drop();
      });
    }
    beforeEach(() => {
      logHub.setDefaultOutput(false);
      dir = mkdtempSync(join(tmpdir(), 'roost-storage-'));
    });
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      // The next test starts from an empty database (the schema stays): cheaper than a new one.
      if (db) await db.query(`DO $$ BEGIN IF to_regclass('mail_store') IS NOT NULL THEN TRUNCATE mail_store, body, users RESTART IDENTITY CASCADE; END IF; END $$`);
      rmSync(dir, { recursive: true, force: true });
    });
    fn({
      name,
      get dir() {
        return dir;
      },
      open(username = 'alice', extra = {}) {
        const location = name === 'sqlite' ? 'sqlite:~/mail.db' : `pgsql:${db!.connectString}`;
        const s = openUserStore({
          username,
          home: join(dir, username),
          location,
          separator: extra.separator ?? '/',
          settings: extra.settings,
          quota: extra.quota,
          fsync: 'never',
        });
        opened.push(s);
        return s;
      },
    });
  });
}

/** The StorageError code a call throws or its promise rejects with, or 'no error' (other errors propagate). */
export async function errorCode(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof StorageError) return e.code;
    throw e;
  }
  return 'no error';
}

/** Every slice of a body reader's range, whether it yields them synchronously or not. */
export async function collect(slices: Iterable<Buffer> | AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const s of slices) out.push(s);
  return out;
}

export { msg } from './temp-store.js';
