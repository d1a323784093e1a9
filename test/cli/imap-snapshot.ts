// What a client sees of a mailbox over IMAP, for tests that move mail (import/export,
// migrate-store) and compare the before and the after.
import type { ImapFlow } from 'imapflow';

export interface MailboxSnapshot {
  uidValidity: string;
  uidNext: number;
  /** Every message: UID, flags without \Recent (sorted), internal date, the whole source. */
  messages: { uid: number; flags: string[]; date: string; source: string }[];
}

/** The snapshot of the selectable mailbox `path` on a logged-in ImapFlow session. */
export async function mailboxSnapshot(client: ImapFlow, path: string): Promise<MailboxSnapshot> {
  const lock = await client.getMailboxLock(path);
  try {
    const mb = client.mailbox as { uidValidity: bigint; uidNext: number; exists: number };
    const messages: MailboxSnapshot['messages'] = [];
    if (mb.exists > 0) {
      for await (const m of client.fetch('1:*', { uid: true, flags: true, internalDate: true, source: true })) {
        messages.push({
          uid: m.uid,
          flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(),
          date: new Date(m.internalDate as Date).toISOString(),
          source: m.source!.toString(),
        });
      }
    }
    return { uidValidity: String(mb.uidValidity), uidNext: mb.uidNext, messages };
  } finally {
    lock.release();
  }
}
