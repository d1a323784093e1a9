// What SELECT/EXAMINE needs from a SQLite store, read in one transaction (UserStore.openMailboxView):
// the shared listing brought up to date (mailbox-view.ts, mailbox-index.ts), not read again.
import type { MailboxViewSnapshot } from '../types.js';
import { readMailboxView } from './mailbox-view.js';
import { openingTransaction, selectable, toInfo } from './mailbox-tree.js';
import type { UnitOfWork } from './unit-of-work.js';

/** UserStore.openMailboxView: one transaction, so no change falls between the row and the listing. */
export function openMailboxView(u: UnitOfWork, name: string, claim: boolean): MailboxViewSnapshot {
  u.assertOpen();
  return openingTransaction(u, name, () => readMailboxView(u.stmts, u.indexes, u.indexSource, toInfo(u, selectable(u, name)), claim));
}
