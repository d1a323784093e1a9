// Backup and restore of one user's store while the server runs: a consistent snapshot of the
// SQLite file (VACUUM INTO, https://www.sqlite.org/lang_vacuum.html#vacuuminto: one read
// transaction, so it sees exactly the commits made before it started) plus the body files that
// snapshot refers to. A backup folder holds `mail.db` and `bodies/<x>/<name>`, the store's own layout.
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BodyFiles, fsyncDirSync } from './body-files.js';
import type { BackupResult } from '../backend.js';
import { StorageError } from '../types.js';

export const BACKUP_DB_NAME = 'mail.db';

/** How often a backup starts over when a body file went away between snapshot and copy. */
const MAX_SNAPSHOT_ATTEMPTS = 5;


/** Where a user's SQLite store lives: its database file and the home holding its body files. */
export interface StoreLocation {
  dbPath: string;
  home: string;
}

function bodyFileNames(db: Database.Database): string[] {
  return db.prepare('SELECT file FROM body WHERE file IS NOT NULL').pluck().all() as string[];
}

const fsyncPath = fsyncDirSync;

function copyDurably(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  fsyncPath(to);
}

/**
 * Writes a backup of the store at `src` into the folder `dest` (created; refused if it already
 * holds a backup). Body files are never changed once written, and one is unlinked only after the
 * commit that dropped its last reference (body-files.ts): a file the snapshot names but that is
 * gone was expunged after the snapshot, so the backup starts over with a newer snapshot.
 */
export function backupUserStore(src: StoreLocation, dest: string): BackupResult {
  if (!existsSync(src.dbPath)) throw new StorageError('NONEXISTENT', `No mail store at ${src.dbPath}`);
  const finalDb = join(dest, BACKUP_DB_NAME);
  if (existsSync(finalDb)) throw new StorageError('ALREADYEXISTS', `${dest} already holds a backup (${BACKUP_DB_NAME})`);
  mkdirSync(dest, { recursive: true });
  const tmpDb = join(dest, `${BACKUP_DB_NAME}.tmp`);
  const live = new Database(src.dbPath, { fileMustExist: true });
  try {
    live.pragma('busy_timeout = 10000');
    const srcFiles = new BodyFiles(join(src.home, 'bodies'));
    const destFiles = new BodyFiles(join(dest, 'bodies'));
    for (let attempt = 1; ; attempt++) {
      rmSync(tmpDb, { force: true });
      live.prepare('VACUUM INTO ?').run(tmpDb);
      const snap = new Database(tmpDb);
      let names: string[];
      let messages: number;
      try {
        names = bodyFileNames(snap);
        messages = snap.prepare('SELECT count(*) FROM message').pluck().get() as number;
      } finally {
        snap.close();
      }
      let missing = false;
      for (const name of names) {
        const to = destFiles.pathOf(name);
        if (existsSync(to)) continue; // copied by an earlier attempt (a body file never changes)
        const from = srcFiles.pathOf(name);
        if (!existsSync(from)) {
          missing = true;
          break;
        }
        copyDurably(from, to);
      }
      if (missing) {
        if (attempt >= MAX_SNAPSHOT_ATTEMPTS) {
          throw new StorageError('INUSE', `Backup of ${src.dbPath}: body files kept disappearing; try again`);
        }
        continue;
      }
      fsyncPath(tmpDb);
      renameSync(tmpDb, finalDb);
      fsyncPath(dest);
      return { messages, bodyFiles: names.length };
    }
  } finally {
    live.close();
    rmSync(tmpDb, { force: true });
  }
}

interface MailboxMark {
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
}

/**
 * Puts the backup in folder `src` back as the store at `dest`. Body files are copied first, then
 * the database is written with SQLite's online backup into the live file, so a running server's
 * connections see either the old store or the restored one, never a mix. A mailbox that kept its
 * UIDVALIDITY keeps UIDNEXT and HIGHESTMODSEQ from going backwards: a client's cached UIDs are
 * never reused for other messages (RFC 3501 §2.3.1.1) and CONDSTORE's modseq only grows
 * (RFC 7162 §3.1.1). Sessions open during a restore should be ended afterwards.
 */
export async function restoreUserStore(src: string, dest: StoreLocation): Promise<BackupResult> {
  const srcDb = join(src, BACKUP_DB_NAME);
  if (!existsSync(srcDb)) throw new StorageError('NONEXISTENT', `No backup at ${src} (${BACKUP_DB_NAME} missing)`);
  const work = `${dest.dbPath}.restore-${process.pid}.tmp`;
  rmSync(work, { force: true });
  const backup = new Database(srcDb, { readonly: true, fileMustExist: true });
  try {
    const ok = backup.pragma('quick_check', { simple: true });
    if (ok !== 'ok') throw new StorageError('PARAMETERS', `${srcDb} is damaged: ${String(ok)}`);
    const isStore = backup.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mailbox'").get();
    if (!isStore) throw new StorageError('PARAMETERS', `${srcDb} is not a Roost mail store`);
    backup.prepare('VACUUM INTO ?').run(work);
  } finally {
    backup.close();
  }
  try {
    const restored = new Database(work);
    let result: BackupResult;
    try {
      const srcFiles = new BodyFiles(join(src, 'bodies'));
      const destFiles = new BodyFiles(join(dest.home, 'bodies'));
      const names = bodyFileNames(restored);
      for (const name of names) {
        const to = destFiles.pathOf(name);
        if (existsSync(to) && statSync(to).size === statSync(srcFiles.pathOf(name)).size) continue;
        copyDurably(srcFiles.pathOf(name), to);
      }
      if (existsSync(dest.dbPath)) {
        const live = new Database(dest.dbPath, { readonly: true, fileMustExist: true });
        let marks: MailboxMark[];
        try {
          marks = live.prepare('SELECT name, uid_validity, uid_next, highest_modseq FROM mailbox').all() as MailboxMark[];
        } finally {
          live.close();
        }
        const bump = restored.prepare(
          `UPDATE mailbox SET uid_next = max(uid_next, @uid_next), highest_modseq = max(highest_modseq, @highest_modseq + 1)
           WHERE name = @name AND uid_validity = @uid_validity`,
        );
        restored.transaction(() => marks.forEach((m) => bump.run(m)))();
      }
      // Listings of the live store kept in memory (mailbox-index.ts) do not describe this one.
      restored.prepare("INSERT OR REPLACE INTO store_info (key, value) VALUES ('incarnation', ?)").run(randomUUID());
      result = { messages: restored.prepare('SELECT count(*) FROM message').pluck().get() as number, bodyFiles: names.length };
    } finally {
      restored.close();
    }
    if (existsSync(dest.dbPath)) {
      const from = new Database(work, { readonly: true });
      try {
        await from.backup(dest.dbPath);
      } finally {
        from.close();
      }
    } else {
      mkdirSync(dirname(dest.dbPath), { recursive: true });
      fsyncPath(work);
      renameSync(work, dest.dbPath);
    }
    return result;
  } finally {
    rmSync(work, { force: true });
  }
}
