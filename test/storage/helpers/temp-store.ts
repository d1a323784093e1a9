// Temp-dir stores for storage tests; everything is removed in cleanup().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logHub } from '../../../src/log/logger.js';
import { StorageError } from '../../../src/storage/index.js';
import { openSqliteUserStore, type SqliteStorageSettings, type SqliteUserStore, type SqliteUserStoreOptions } from '../../../src/storage/sqlite/index.js';
import type { QuotaLimits } from '../../../src/storage/types.js';

export interface TempStores {
  dir: string;
  options(username?: string, extra?: { settings?: Partial<SqliteStorageSettings>; quota?: QuotaLimits; separator?: string }): SqliteUserStoreOptions;
  open(username?: string, extra?: { settings?: Partial<SqliteStorageSettings>; quota?: QuotaLimits; separator?: string }): SqliteUserStore;
  cleanup(): void;
}

export function tempStores(): TempStores {
  logHub.setDefaultOutput(false);
  const dir = mkdtempSync(join(tmpdir(), 'roost-storage-'));
  const opened: SqliteUserStore[] = [];
  const options: TempStores['options'] = (username = 'alice', extra = {}) => ({
    username,
    home: join(dir, username),
    dbPath: join(dir, username, 'mail.db'),
    separator: extra.separator ?? '/',
    settings: extra.settings,
    quota: extra.quota,
  });
  return {
    dir,
    options,
    open(username, extra) {
      const s = openSqliteUserStore(options(username, extra));
      opened.push(s);
      return s;
    },
    cleanup() {
      for (const s of opened) s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function msg(subject: string, body = 'Hello\r\n'): Buffer {
  return Buffer.from(`From: a@example.org\r\nTo: b@example.org\r\nSubject: ${subject}\r\n\r\n${body}`);
}

/** The StorageError code a call throws, or 'no error' (other errors propagate). */
export function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof StorageError) return e.code;
    throw e;
  }
  return 'no error';
}
