// The storage interface every protocol layer and the Lua bindings use. It is deliberately narrow
// (DESIGN.md decision 7): a second backend (PostgreSQL) implements these same types in a sibling
// folder. All calls are synchronous: better-sqlite3 is synchronous, and the Lua API that sits on top
// of it must be synchronous like Dovecot's.

/** IMAP system flags as stored; `\Recent` is not stored per message (see recent ownership). */
export type SystemFlag = '\\Answered' | '\\Flagged' | '\\Deleted' | '\\Seen' | '\\Draft';
export const SYSTEM_FLAGS: readonly SystemFlag[] = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

/** Dovecot's bit values (spec §6): \Answered=1, \Flagged=2, \Deleted=4, \Seen=8, \Draft=16, \Recent=32. */
export const FLAG_BITS: Record<SystemFlag | '\\Recent', number> = {
  '\\Answered': 1,
  '\\Flagged': 2,
  '\\Deleted': 4,
  '\\Seen': 8,
  '\\Draft': 16,
  '\\Recent': 32,
};

export type StorageErrorCode =
  | 'NONEXISTENT' // RFC 5530 [NONEXISTENT], also TRYCREATE for APPEND/COPY targets
  | 'ALREADYEXISTS'
  | 'NOPERM'
  | 'INUSE'
  | 'OVERQUOTA'
  | 'LIMIT'
  | 'PARAMETERS' // bad name, bad argument
  | 'EXPUNGEISSUED'
  | 'TOOBIG'
  | 'NOTFOUND' // metadata entry etc.
  | 'SERVERBUG';

/** Errors are values with a protocol meaning; the protocol layer renders them. */
export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

export interface MailboxInfo {
  id: number;
  /** Full name with the configured hierarchy separator, INBOX always spelled `INBOX`. */
  name: string;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  /** RFC 6154 attributes, e.g. ['\\Sent']. */
  specialUse: string[];
  subscribed: boolean;
  /** \Noselect placeholder kept because it has children (RFC 3501 §6.3.4 DELETE). */
  noselect: boolean;
}

export interface MailboxStatus {
  name: string;
  messages: number;
  recent: number;
  unseen: number;
  uidNext: number;
  uidValidity: number;
  highestModseq: number;
  /** Sum of RFC822.SIZE of all messages (STATUS=SIZE, RFC 8438). */
  size: number;
  /** Sequence number of the first message without \Seen, 0 if none. */
  firstUnseenSeq: number;
  /** Lowest UID that is \Recent, or uidNext when none is. */
  firstRecentUid: number;
  /** Every keyword ever used in the mailbox (PERMANENTFLAGS / FLAGS responses). */
  keywords: string[];
}

/** One message as the index knows it (no body). */
export interface MessageMeta {
  uid: number;
  modseq: number;
  /** System flags and keywords, IMAP spelling (`\Seen`, `$Forwarded`, ...), without \Recent. */
  flags: string[];
  internalDate: Date;
  /** When the message was saved into this mailbox (Dovecot's save date). */
  saveDate: Date;
  size: number;
  /** Globally unique id of this copy's content (Dovecot's GUID), hex. */
  guid: string;
  /** Id of the stored body (shared by COPY). */
  bodyId: number;
}

export interface AppendInput {
  /** The message bytes; large messages may be given as a path to a spooled temp file. */
  content: Buffer | { path: string; size: number };
  flags?: string[];
  internalDate?: Date;
  /** Set \Recent for this session (only the session that first sees a message owns \Recent). */
  recentForSession?: boolean;
}

export interface AppendResult {
  uid: number;
  uidValidity: number;
  modseq: number;
  mailboxId: number;
}

export interface CopyResult {
  uidValidity: number;
  /** Pairs in ascending source-UID order (RFC 4315 COPYUID). */
  sourceUids: number[];
  destUids: number[];
}

export type FlagOperation = 'set' | 'add' | 'remove';

export interface StoreFlagsInput {
  uids: number[];
  operation: FlagOperation;
  flags: string[];
  /** CONDSTORE UNCHANGEDSINCE (RFC 7162 §3.1.3): messages with a higher modseq are not changed. */
  unchangedSince?: number;
}

export interface StoreFlagsResult {
  /** Messages whose flags actually changed, with their new state. */
  changed: { uid: number; flags: string[]; modseq: number; oldFlags: string[] }[];
  /** UIDs refused because of UNCHANGEDSINCE (the MODIFIED response code). */
  modified: number[];
}

/** A change recorded with a modseq: what other sessions and CONDSTORE/QRESYNC read. */
export type ChangeRecord =
  | { kind: 'append'; mailboxId: number; uid: number; modseq: number }
  | { kind: 'flags'; mailboxId: number; uid: number; modseq: number; flags: string[] }
  | { kind: 'expunge'; mailboxId: number; uid: number; modseq: number };

/** A change notice published to every session of the same user, in this thread and in others. */
export interface ChangeNotice {
  user: string;
  /** Mailbox affected, or null for a mailbox-list change (create/delete/rename/subscribe). */
  mailboxId: number | null;
  kind: 'messages' | 'flags' | 'expunge' | 'mailboxes' | 'metadata';
  highestModseq: number;
}

export interface MetadataEntry {
  /** Entry name as IMAP sees it, e.g. `/private/comment`, `/shared/vendor/vendor.dovecot/x`. */
  entry: string;
  value: Buffer;
}

export interface QuotaUsage {
  storageBytes: number;
  messages: number;
}

/** Where a body section lives, so FETCH can read only the bytes it needs. */
export interface BodyReader {
  size: number;
  /** Reads `length` bytes at `offset` (fewer at the end). Only the chunks covering the range are loaded. */
  read(offset: number, length: number): Buffer;
}

/**
 * One user's mail store. Obtained from `StorageEngine.openUser()`. Several instances may exist for
 * the same user at once (one per thread); they coordinate through SQLite and change notices.
 */
export interface UserStore {
  readonly username: string;
  readonly separator: string;

  // Mailboxes (names always use `separator`; `INBOX` is case-insensitive).
  listMailboxes(): MailboxInfo[];
  getMailbox(name: string): MailboxInfo | undefined;
  /** Creates parents as needed (RFC 3501 §6.3.3); ALREADYEXISTS if it exists. */
  createMailbox(name: string, opts?: { specialUse?: string[] }): MailboxInfo;
  /** RFC 3501 §6.3.4: a mailbox with children becomes \Noselect; deleting INBOX is refused. */
  deleteMailbox(name: string): void;
  /** Renames children too; renaming INBOX moves its messages to the new mailbox and leaves INBOX empty. */
  renameMailbox(oldName: string, newName: string): void;
  setSubscribed(name: string, subscribed: boolean): void;
  /** Subscriptions may name mailboxes that do not exist (RFC 3501 §6.3.6). */
  listSubscriptions(): string[];
  setSpecialUse(name: string, specialUse: string[]): void;

  status(name: string): MailboxStatus;

  // Messages (by UID; sequence numbers are a session view kept by the protocol layer).
  append(mailbox: string, input: AppendInput): AppendResult;
  /** All messages in UID order (the session builds its sequence map from this). */
  listMessages(mailboxId: number): MessageMeta[];
  getMessages(mailboxId: number, uids: number[]): MessageMeta[];
  openBody(bodyId: number): BodyReader;
  /** Parsed MIME structure cached at append (JSON produced by src/mime). */
  getMimeStructure(bodyId: number): unknown;
  storeFlags(mailboxId: number, input: StoreFlagsInput): StoreFlagsResult;
  copy(fromMailboxId: number, uids: number[], toMailbox: string): CopyResult;
  move(fromMailboxId: number, uids: number[], toMailbox: string): CopyResult;
  /** Removes messages; returns the expunged UIDs. */
  expunge(mailboxId: number, uids: number[]): number[];
  /** Changes after `sinceModseq` (CONDSTORE CHANGEDSINCE, IDLE, QRESYNC). */
  changesSince(mailboxId: number, sinceModseq: number): ChangeRecord[];

  // \Recent (Dovecot semantics: the first session that opens the mailbox after delivery owns it).
  claimRecent(mailboxId: number): number[];

  // Metadata (RFC 5464); mailbox '' is server metadata.
  getMetadata(mailbox: string, entries: string[]): MetadataEntry[];
  /** value null removes the entry. */
  setMetadata(mailbox: string, entry: string, value: Buffer | null): void;
  listMetadata(mailbox: string, prefix: string, depth: 0 | 1 | 'infinity'): MetadataEntry[];

  quotaUsage(): QuotaUsage;

  /** Subscribes to change notices for this user (from any thread). Returns an unsubscribe function. */
  onChange(listener: (n: ChangeNotice) => void): () => void;

  close(): void;
}
