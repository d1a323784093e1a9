// The PostgreSQL storage backend (`mail_location = pgsql:<Dovecot SQL connect string>`), issue #15.
//
// The modules (each tested against a real PostgreSQL, test/storage/pgsql/, and the store by
// the storage contract suites too, test/storage/*.test.ts, run on both backends):
//   connect.ts      Dovecot's pgsql `connect` string parser (shared with the sql passdb/userdb),
//                   `maxconns=` sets the pool size.
//   pool.ts         acquirePgsqlPool(connect): one pool per process and connect string
//                   (default size STORAGE_DEFAULT_MAXCONNS = 10); query() and transaction() retried
//                   once, with a log line, when the server ended the connection (never after COMMIT
//                   was sent). bigint columns come back as numbers.
//   migrations.ts   migratePgsql(pool): migrations/NNNN-name.sql in order, each in a transaction,
//                   under an advisory lock (nodes starting together apply them once).
//   migrations/     the schema: users/user_fields (built-in user database), mail_store (one per
//                   user: separator, last UIDVALIDITY), mailbox (uidvalidity,
//                   uid_next, highest_modseq, special-use, STATUS counters), mailbox_keyword,
//                   message, body/body_chunk, expunged, subscription, metadata. Triggers keep the
//                   counters and body reference counts and refuse an accidental UIDVALIDITY change
//                   or a uid_next/highest_modseq that goes down.
//   allocation.ts   ensureMailStore, nextUidValidity, insertMailbox, allocateUids, allocateModseq,
//                   changeUidValidity, lockMailboxes: UPDATE ... RETURNING on the mailbox row in
//                   the caller's transaction (unique UIDs, visible in increasing order, across
//                   nodes). Lock order: the store row (quota, mailbox creation), then mailbox rows
//                   (several: id order), then message rows, or COPY/MOVE in opposite directions
//                   deadlock.
//   quota.ts        quotaUsage(db, storeId): the sum of the store's mailbox counters; checkQuota.
//   bodies.ts       writeBody / openBody: 256 KiB chunks, a range read loads only its chunks; one
//                   body shared by every recipient's message.
//   changes.ts      expungeUids (with the expunge log) and changesSince (the catch-up by modseq).
//   change-feed.ts  PgsqlChangeFeed (the ChangeFeed of ../change-feed.ts): LISTEN/NOTIFY on one
//                   channel with the user as payload, one listening connection per process,
//                   reconnect with a log line and a catch-up signal; notifyChange(client, user)
//                   announces at COMMIT from inside a transaction; this process's own NOTIFYs are
//                   not signalled back to it.
//   user-store.ts   PgsqlUserStore, the asynchronous UserStore, split as the SQLite one:
//                   store-context.ts (set-up behind a ready promise, one transaction per mutating
//                   call, notices and mail events after COMMIT), mailbox-tree.ts, messages.ts,
//                   mailbox-view.ts (SELECT snapshot on this thread's shared listing,
//                   mailbox-index.ts), metadata.ts, quota.ts.
//   backend.ts      pgsqlBackend, the StorageBackend of backends.ts.
//   user-db.ts      PgsqlUserDb: the built-in user database (ServerDb's operations, async) on the
//                   users/user_fields tables; every node sees an added user at once.
//   operations.ts   for the StorageBackend entry: openPgsqlServerDb (the built-in user database,
//                   the ServerDb contract, on the mail's connection), migratePgsqlServerDb and
//                   migratePgsqlUserStore (`roost migrate`: the schema of the database).
//   migrations/ is copied into dist/ by the build (scripts/copy-assets.ts), beside migrations.js.
//   staged-body.ts  stageBody's handle: the recipients of one message share one body row.
//   The Lua workers' synchronous store is this async store on a helper thread behind the generic
//   storage sync bridge (../sync-bridge/), chosen in backend.ts.
export { DEFAULT_MAXCONNS, parsePgsqlConnect, type PgsqlConnectSettings } from './connect.js';
export { acquirePgsqlPool, STORAGE_DEFAULT_MAXCONNS, type PgsqlClient, type PgsqlPool } from './pool.js';
export { migratePgsql, loadPgsqlMigrations, pgsqlMigrationsDir, type PgsqlMigration } from './migrations.js';
export { allocateModseq, allocateUids, changeUidValidity, ensureMailStore, insertMailbox, lockMailboxes, nextUidValidity, MAX_UID, type NewMailbox, type UidRange } from './allocation.js';
export { BODY_CHUNK_SIZE, openBody, writeBody, type PgsqlBodyReader, type Queryable, type WriteBodyOptions } from './bodies.js';
export { quotaUsage, type QuotaUsage } from './quota.js';
export { changesSince, expungeUids, type ExpungeResult } from './changes.js';
export { CHANGE_CHANNEL, changePayload, notifyChange, PgsqlChangeFeed, PgsqlChangeListener, type ListenerOptions } from './change-feed.js';
export { PgsqlUserDb, type PgsqlUserDbOptions } from './user-db.js';
export { migratePgsqlServerDb, migratePgsqlUserStore, openPgsqlServerDb, pgsqlConnectOf } from './operations.js';
export { PgsqlUserStore, openPgsqlStore, type PgsqlUserStoreOptions } from './user-store.js';
export { checkPgsqlLocation, openPgsqlUserStore, pgsqlBackend } from './backend.js';
