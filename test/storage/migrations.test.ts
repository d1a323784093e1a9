import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logHub } from '../../src/log/logger.js';
import { migrateServerDb, parseMailLocation } from '../../src/storage/index.js';
import { openSqliteUserStore as openSyncUserStore, sqliteDbPath } from '../../src/storage/sqlite/index.js';
import { defaultMigrationsDir, migrateUserStore } from '../../src/storage/sqlite/migrations.js';

let dir: string;
beforeEach(() => {
  logHub.setDefaultOutput(false);
  dir = mkdtempSync(join(tmpdir(), 'roost-migrate-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('migrations', () => {
  test('the migrations folder is found at the package root', () => {
    expect(existsSync(join(defaultMigrationsDir(), 'user', '0001_init.sql'))).toBe(true);
    expect(existsSync(join(defaultMigrationsDir(), 'server', '0001_init.sql'))).toBe(true);
  });

  test('applied once, idempotent, recorded, and an integrity check passes', async () => {
    const path = join(dir, 'u', 'mail.db');
    expect(migrateUserStore(path)).toEqual([1, 2, 3, 4]);
    expect(migrateUserStore(path)).toEqual([]);
    const place = { dataDir: dir, mailLocation: 'sqlite:~/mail.db' };
    expect(await migrateServerDb(place)).toEqual({ where: join(dir, 'roost.db'), applied: [1] });
    expect(await migrateServerDb(place)).toEqual({ where: join(dir, 'roost.db'), applied: [] });
    const db = new Database(path, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT version, name FROM schema_migrations').all()).toEqual([
      { version: 1, name: 'init' },
      { version: 2, name: 'body_files' },
      { version: 3, name: 'modseq_tracking' },
      { version: 4, name: 'mailbox_counters' },
    ]);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  test('a later migration is applied on open; a failing one rolls back; a newer database is refused', () => {
    const mig = join(dir, 'mig');
    mkdirSync(join(mig, 'user'), { recursive: true });
    writeFileSync(join(mig, 'user', '0001_init.sql'), 'CREATE TABLE a (x INTEGER);');
    const path = join(dir, 'x.db');
    expect(migrateUserStore(path, mig)).toEqual([1]);
    writeFileSync(join(mig, 'user', '0002_more.sql'), 'CREATE TABLE b (y INTEGER); INSERT INTO nonexistent VALUES (1);');
    expect(() => migrateUserStore(path, mig)).toThrow(/nonexistent/);
    const db = new Database(path);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'b'").get()).toEqual({ n: 0 });
    db.pragma('user_version = 7');
    db.close();
    expect(() => migrateUserStore(path, mig)).toThrow(/newer than this Roost/);
  });

  test('mail_location sqlite paths', () => {
    expect(sqliteDbPath('sqlite:~/mail.db', '/home/a')).toBe('/home/a/mail.db');
    expect(sqliteDbPath('sqlite:/var/mail/a.db', '/home/a')).toBe('/var/mail/a.db');
    expect(sqliteDbPath('sqlite:mail/a.db', '/home/a')).toBe('/home/a/mail/a.db');
    expect(parseMailLocation('sqlite:~/mail.db').backend.scheme).toBe('sqlite');
    expect(() => parseMailLocation('maildir:~/Maildir')).toThrow(/sqlite:~\/mail\.db/);
    expect(() => parseMailLocation('sqlite:~/')).toThrow(/needs a file name/);
  });

  test('opening a store twice on one file works (second open sees the schema)', () => {
    const opts = { username: 'u', home: dir, dbPath: join(dir, 'm.db'), separator: '/' };
    const a = openSyncUserStore(opts);
    const b = openSyncUserStore(opts);
    a.createMailbox('X');
    expect(b.getMailbox('X')).toBeDefined();
    a.close();
    b.close();
  });
});
