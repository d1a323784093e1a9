// UIDs, modseqs and UIDVALIDITYs across nodes. Each is handed out by one UPDATE ... RETURNING on
// the mailbox (or store) row inside the caller's transaction: the row lock it takes makes a second
// node's allocation for the same mailbox wait until the first one commits or rolls back. So UIDs
// are unique, and they become visible in increasing order (a client never sees UID 5 before a
// UID 4 that later appears, RFC 3501 §2.3.1.1). A rolled-back allocation gives its numbers back.
//
// Call these inside PgsqlPool.transaction, and as late in it as the work allows: the mailbox row
// stays locked for appenders and flag changers of that mailbox until COMMIT.
import { StorageError } from '../types.js';
import type { PgsqlClient } from './pool.js';

/** UIDs are 32-bit nz-numbers (RFC 3501 §9 nz-number, uniqueid). */
export const MAX_UID = 0xffffffff;

/** The store row of `username`, created (with `separator`) on first use. */
export async function ensureMailStore(client: PgsqlClient, username: string, separator: string): Promise<number> {
  const inserted = await client.query<{ id: number }>(
    'INSERT INTO mail_store (username, separator, created_at) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING RETURNING id',
    [username, separator, Date.now()],
  );
  if (inserted.rows[0]) return inserted.rows[0].id;
  const found = await client.query<{ id: number }>('SELECT id FROM mail_store WHERE username = $1', [username]);
  return found.rows[0]!.id;
}

/**
 * The next UIDVALIDITY of the store: time-based like Dovecot's, never below the last one handed
 * out in the store (two creations in one second, a clock step back, two nodes at once).
 */
export async function nextUidValidity(client: PgsqlClient, storeId: number, nowMs = Date.now()): Promise<number> {
  const { rows } = await client.query<{ v: number }>(
    `UPDATE mail_store SET last_uid_validity =
       CASE WHEN greatest($2::bigint, last_uid_validity + 1) > ${MAX_UID} THEN 1 ELSE greatest($2::bigint, last_uid_validity + 1) END
     WHERE id = $1 RETURNING last_uid_validity AS v`,
    [storeId, Math.floor(nowMs / 1000)],
  );
  if (!rows[0]) throw new StorageError('NONEXISTENT', `Mail store ${storeId} does not exist`);
  return rows[0].v;
}

export interface NewMailbox {
  id: number;
  uidValidity: number;
}

/** Inserts a mailbox row with a fresh UIDVALIDITY; ALREADYEXISTS if the name is taken. */
export async function insertMailbox(client: PgsqlClient, storeId: number, name: string, opts: { noselect?: boolean; specialUse?: string[] } = {}): Promise<NewMailbox> {
  const uidValidity = await nextUidValidity(client, storeId);
  const { rows } = await client.query<{ id: number }>(
    `INSERT INTO mailbox (store_id, name, uid_validity, noselect, special_use, created_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (store_id, name) DO NOTHING RETURNING id`,
    [storeId, name, uidValidity, opts.noselect ?? false, (opts.specialUse ?? []).join(' '), Date.now()],
  );
  if (!rows[0]) throw new StorageError('ALREADYEXISTS', 'Mailbox already exists');
  return { id: rows[0].id, uidValidity };
}

export interface UidRange {
  /** The first of `count` consecutive UIDs. */
  firstUid: number;
  /** The modseq the new messages get (one per append/copy, as Dovecot's transaction commit). */
  modseq: number;
  uidValidity: number;
}

/**
 * `count` new UIDs and one new modseq for an append or copy into the mailbox. Holds the mailbox
 * row's lock until the caller's transaction ends. NONEXISTENT if the mailbox is gone; a mailbox
 * whose UIDs would pass 2^32-1 refuses (Dovecot then needs a new UIDVALIDITY).
 */
export async function allocateUids(client: PgsqlClient, mailboxId: number, count: number): Promise<UidRange> {
  if (!Number.isInteger(count) || count < 1) throw new StorageError('SERVERBUG', `allocateUids: bad count ${count}`);
  const { rows } = await client.query<{ first_uid: number; modseq: number; uid_validity: number }>(
    `UPDATE mailbox SET uid_next = uid_next + $2, highest_modseq = highest_modseq + 1
     WHERE id = $1 AND NOT noselect AND uid_next + $2 <= ${MAX_UID + 1}
     RETURNING uid_next - $2 AS first_uid, highest_modseq AS modseq, uid_validity`,
    [mailboxId, count],
  );
  if (rows[0]) return { firstUid: rows[0].first_uid, modseq: rows[0].modseq, uidValidity: rows[0].uid_validity };
  const box = await client.query<{ noselect: boolean }>('SELECT noselect FROM mailbox WHERE id = $1', [mailboxId]);
  if (!box.rows[0] || box.rows[0].noselect) throw new StorageError('NONEXISTENT', 'Mailbox does not exist');
  throw new StorageError('LIMIT', 'Mailbox has run out of UIDs');
}

/** One new modseq for a change in the mailbox (flags, keywords, expunge). Locks the row as allocateUids. */
export async function allocateModseq(client: PgsqlClient, mailboxId: number): Promise<number> {
  const { rows } = await client.query<{ modseq: number }>('UPDATE mailbox SET highest_modseq = highest_modseq + 1 WHERE id = $1 RETURNING highest_modseq AS modseq', [mailboxId]);
  if (!rows[0]) throw new StorageError('NONEXISTENT', 'Mailbox does not exist');
  return rows[0].modseq;
}

/**
 * Deliberately gives the mailbox a new UIDVALIDITY (an import keeping another server's UIDs).
 * The only way the schema lets it change: the trigger refuses every other update of it.
 */
export async function changeUidValidity(client: PgsqlClient, mailboxId: number, uidValidity: number): Promise<void> {
  await client.query("SELECT set_config('roost.change_uidvalidity', 'on', true)");
  try {
    await client.query('UPDATE mailbox SET uid_validity = $2 WHERE id = $1', [mailboxId, uidValidity]);
  } finally {
    await client.query("SELECT set_config('roost.change_uidvalidity', '', true)");
  }
}

/**
 * Locks several mailbox rows for the rest of the transaction, in id order, before the work that
 * changes them (COPY/MOVE between two mailboxes): two transactions that lock the same mailboxes
 * then wait for each other instead of deadlocking. NONEXISTENT if one is gone.
 */
export async function lockMailboxes(client: PgsqlClient, mailboxIds: number[]): Promise<void> {
  const ids = [...new Set(mailboxIds)].sort((a, b) => a - b);
  const { rows } = await client.query('SELECT id FROM mailbox WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [ids]);
  if (rows.length !== ids.length) throw new StorageError('NONEXISTENT', 'Mailbox does not exist');
}
