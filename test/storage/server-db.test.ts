import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logHub } from '../../src/log/logger.js';
import { errorCode } from './helpers/temp-store.js';
import { openServerDb, StorageError, type ServerDb } from '../../src/storage/index.js';

let dir: string;
let db: ServerDb;
beforeEach(() => {
  logHub.setDefaultOutput(false);
  dir = mkdtempSync(join(tmpdir(), 'roost-serverdb-'));
  db = openServerDb(join(dir, 'roost.db'));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const code = errorCode;

describe('server database', () => {
  test('add, get, list, delete users', () => {
    const u = db.addUser({ username: 'Alice', password: '{PLAIN}secret', uid: 1000, gid: 1000, fields: { mail_plugins: 'quota' } });
    expect(u).toMatchObject({ username: 'Alice', password: '{PLAIN}secret', uid: 1000, home: null, fields: { mail_plugins: 'quota' } });
    expect(u.createdAt).toBeInstanceOf(Date);
    db.addUser({ username: 'bob' });
    expect(db.listUsers().map((x) => x.username)).toEqual(['Alice', 'bob']);
    expect(db.getUser('alice')).toBeUndefined(); // case as given
    expect(code(() => db.addUser({ username: 'Alice' }))).toBe('ALREADYEXISTS');
    db.deleteUser('bob');
    expect(db.getUser('bob')).toBeUndefined();
    expect(code(() => db.deleteUser('bob'))).toBe('NONEXISTENT');
  });

  test('passwords must carry a {SCHEME}; fields can be changed and cleared', () => {
    expect(code(() => db.addUser({ username: 'c', password: 'plaintext' }))).toBe('PARAMETERS');
    expect(code(() => db.addUser({ username: 'with space' }))).toBe('PARAMETERS');
    expect(code(() => db.addUser({ username: '' }))).toBe('PARAMETERS');
    db.addUser({ username: 'c' });
    db.setPassword('c', '{SHA512-CRYPT}$6$abc');
    expect(db.getUser('c')!.password).toBe('{SHA512-CRYPT}$6$abc');
    expect(code(() => db.setPassword('nobody', '{PLAIN}x'))).toBe('NONEXISTENT');
    const r = db.setFields('c', { home: '/home/c', quotaRule: '*:storage=1G', fields: { a: '1', b: '2' } });
    expect(r).toMatchObject({ home: '/home/c', quotaRule: '*:storage=1G', fields: { a: '1', b: '2' } });
    const r2 = db.setFields('c', { home: null, fields: { a: null } });
    expect(r2).toMatchObject({ home: null, quotaRule: '*:storage=1G', fields: { b: '2' } });
    expect(code(() => db.setFields('c', { uid: -1 }))).toBe('PARAMETERS');
  });

  test('data survives reopen', () => {
    db.addUser({ username: 'persist', password: '{PLAIN}x' });
    db.close();
    db = openServerDb(join(dir, 'roost.db'));
    expect(db.getUser('persist')?.password).toBe('{PLAIN}x');
  });
});
