// Quota usage of a SQLite store, kept incrementally in one row (each copy counts).
import { StorageError, type QuotaUsage } from '../types.js';
import type { UnitOfWork } from './unit-of-work.js';

/** Adds (or with negative numbers, removes) usage; OVERQUOTA when an increase would pass the limits. */
export function addUsage(u: UnitOfWork, bytes: number, messages: number): void {
  if (bytes > 0 || messages > 0) {
    const { storageBytes, messages: maxMessages } = u.quotaLimits;
    if (storageBytes || maxMessages) {
      const usage = quotaUsage(u);
      if ((storageBytes && usage.storageBytes + bytes > storageBytes) || (maxMessages && usage.messages + messages > maxMessages)) {
        throw new StorageError('OVERQUOTA', 'Quota exceeded (mailbox for user is full)');
      }
    }
  }
  u.stmts
    .get('UPDATE quota_usage SET storage_bytes = storage_bytes + ?, messages = messages + ? WHERE id = 1')
    .run(bytes, messages);
}

export function quotaUsage(u: UnitOfWork): QuotaUsage {
  u.assertOpen();
  const r = u.stmts.get('SELECT storage_bytes, messages FROM quota_usage WHERE id = 1').get() as {
    storage_bytes: number;
    messages: number;
  };
  return { storageBytes: r.storage_bytes, messages: r.messages };
}
