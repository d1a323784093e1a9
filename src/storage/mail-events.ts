// The detailed mail-event feed (Dovecot's notify plugin): what one committed storage transaction
// changed, message by message, attributed to the session that made the change. Push notifications
// (and any other plugin that needs per-message detail) subscribe with UserStore.onMailEvents; the
// coarse ChangeNotice stays what IMAP sessions use to resynchronise.
//
// Events are facts, not Dovecot event names: a flag change reports the old and new flags, and the
// push-notification plugin derives FlagsSet/FlagsClear/MessageRead/MessageTrash from it, as
// Dovecot's push-notification plugin does from notify's mail_update_flags callback.

/** Who made a change: an opaque token set with UserStore.withActor (one per mail-user session). */
export type StoreActor = object;

/** How a message came to be appended (AppendInput.origin): MTA delivery or a client's APPEND/COPY. */
export type AppendOrigin = 'delivery' | 'append' | 'copy';

interface MessageRef {
  /** Mailbox name when the event happened. */
  mailbox: string;
  mailboxId: number;
  uid: number;
  uidValidity: number;
}

export type MailEvent =
  | { type: 'MailboxCreate' | 'MailboxDelete' | 'MailboxSubscribe' | 'MailboxUnsubscribe'; mailbox: string }
  | { type: 'MailboxRename'; mailbox: string; oldMailbox: string }
  /** A message saved: `origin` tells an MTA delivery from a client's APPEND and from COPY/MOVE. */
  | (MessageRef & { type: 'MessageSave'; origin: AppendOrigin; bodyId: number; flags: string[] })
  | (MessageRef & { type: 'MessageExpunge' })
  /**
   * A message's flags or keywords changed (IMAP spelling, system flags first, keywords after).
   * `oldRecent`: the message was \Recent in the acting session (StoreFlagsInput.recentUids).
   */
  | (MessageRef & { type: 'MessageFlags'; oldFlags: string[]; newFlags: string[]; oldRecent: boolean });

/** Everything one committed transaction changed, in the order it happened. */
export interface MailTransactionEvents {
  user: string;
  /** The actor current when the transaction started (undefined: not attributed to a session). */
  actor: StoreActor | undefined;
  /**
   * False when a transaction that had already recorded events rolled back (e.g. a COPY over
   * quota): `events` is then empty. Dovecot's push driver ends such a transaction with
   * end_txn(ctx, false).
   */
  committed: boolean;
  events: MailEvent[];
}

export type MailEventListener = (txn: MailTransactionEvents) => void;

/** The message a MessageSave event saved, as the caller held it in memory (see noteSavedMessage). */
export interface SavedMessage {
  content: Buffer;
  /** AppendInput.mimeStructure: the parsed structure stored with the body. */
  mimeStructure: unknown;
}

const savedMessages = new WeakMap<MailEvent, SavedMessage>();

/**
 * Records what `event`'s message was saved from, when the saver held it whole in memory with its
 * MIME structure: a listener that reads the new message (the push plugin's header fields and
 * snippet) then need not read back from the store what was just written.
 */
export function noteSavedMessage(event: MailEvent, saved: SavedMessage): void {
  savedMessages.set(event, saved);
}

/** What noteSavedMessage recorded for `event`, if anything. */
export function savedMessage(event: MailEvent): SavedMessage | undefined {
  return savedMessages.get(event);
}

