// Quota usage (RFC 9208 STORAGE and MESSAGE) of one user's store: the sum of its mailboxes'
// counters, which the schema keeps with the message rows. No per-user counter row: every
// delivery would lock it (see migrations/0001-init.sql).
import { StorageError, type QuotaLimits } from '../types.js';
import type { Queryable } from './bodies.js';

export interface QuotaUsage {
  /** Bytes of all messages (RFC 9208 STORAGE is in KiB: the caller rounds up). */
  storageBytes: number;
  messages: number;
}

export async function quotaUsage(db: Queryable, storeId: number): Promise<QuotaUsage> {
  const { rows } = await db.query<{ bytes: string | number; messages: string | number }>(
    'SELECT coalesce(sum(size), 0)::bigint AS bytes, coalesce(sum(messages), 0)::bigint AS messages FROM mailbox WHERE store_id = $1',
    [storeId],
  );
  return { storageBytes: Number(rows[0]!.bytes), messages: Number(rows[0]!.messages) };
}

/**
 * OVERQUOTA when adding `bytes` and `messages` would pass the user's limits (RFC 9208). With
 * limits, the store row is locked for the rest of the transaction first, so two nodes' deliveries
 * to the same user are counted one after the other (none without limits: no hot spot then).
 */
export async function checkQuota(c: Queryable, u: { storeId: number; quotaLimits: QuotaLimits }, bytes: number, messages: number): Promise<void> {
  const { storageBytes, messages: maxMessages } = u.quotaLimits;
  if (!storageBytes && !maxMessages) return;
  if (bytes <= 0 && messages <= 0) return;
  await lockQuota(c, u);
  const usage = await quotaUsage(c, u.storeId);
  if ((storageBytes && usage.storageBytes + bytes > storageBytes) || (maxMessages && usage.messages + messages > maxMessages)) {
    throw new StorageError('OVERQUOTA', 'Quota exceeded (mailbox for user is full)');
  }
}

/**
 * Takes the store row's lock when the user has quota limits: a transaction that will check quota
 * after locking mailbox rows (COPY) calls it first, since the lock order is store row, then
 * mailbox rows.
 */
export async function lockQuota(c: Queryable, u: { storeId: number; quotaLimits: QuotaLimits }): Promise<void> {
  if (!u.quotaLimits.storageBytes && !u.quotaLimits.messages) return;
  await c.query('SELECT 1 FROM mail_store WHERE id = $1 FOR UPDATE', [u.storeId]);
}
