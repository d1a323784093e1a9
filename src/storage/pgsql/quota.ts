// Quota usage (RFC 9208 STORAGE and MESSAGE) of one user's store: the sum of its mailboxes'
// counters, which the schema keeps with the message rows. No per-user counter row: every
// delivery would lock it (see migrations/0001-init.sql).
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
