// The storage interface every protocol layer and the Lua bindings use. It is deliberately narrow
// (DESIGN.md decision 7): a second backend (PostgreSQL) implements these same types in a sibling
// folder. All calls are synchronous: better-sqlite3 is synchronous, and the Lua API that sits on top
// of it must be synchronous like Dovecot's.

import type { EntryNameRules } from './metadata-entries.js';
import type { AppendOrigin, MailEventListener, StoreActor } from './mail-events.js';

export type { AppendOrigin, MailEvent, MailEventListener, MailTransactionEvents, StoreActor } from './mail-events.js';

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
  /** Modseq tracking enabled (a CONDSTORE client opened the mailbox): Dovecot's !no_modseq_tracking. */
  modseqTracking: boolean;
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
  /** See MailboxInfo.modseqTracking. */
  modseqTracking: boolean;
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

/** The compact per-message view returned by listMessageFlags. */
export interface MessageFlags {
  uid: number;
  modseq: number;
  flags: string[];
  size: number;
}

/** A message spooled to a temp file (read in chunks, never whole). */
export interface SpooledContent {
  path: string;
  size: number;
}

/**
 * A body file another store may hard-link (stageBody linkFrom): its path, and a promise that
 * resolves once its data is durable (rejects if that failed). A StagedBody is one (already durable).
 */
export interface BodyLinkSource {
  readonly path: string;
  readonly durable: Promise<void>;
}

/**
 * A large body already written durably into one store's body files (UserStore.stageBody), waiting
 * for the append that refers to it. Only the store that staged it can append it, once.
 */
export interface StagedBody extends BodyLinkSource {
  readonly kind: 'staged';
  /** Absolute path of the body file: the hard-link source for another user's copy (stageBody linkFrom). */
  readonly path: string;
  readonly size: number;
  /** Removes the file unless a committed append refers to it (call when the append failed). Idempotent. */
  discard(): Promise<void>;
}

export interface AppendInput {
  /**
   * The message bytes; large messages may be given as a path to a spooled temp file, or staged
   * ahead with stageBody() (bodies of at least bodyFileThresholdBytes become files).
   */
  content: Buffer | SpooledContent | StagedBody;
  flags?: string[];
  internalDate?: Date;
  /**
   * The appending session owns \Recent for this message (it has the mailbox selected and will
   * count it itself): the message is stored as already claimed, so no other session gets \Recent
   * for it. Default false: \Recent goes to the next session whose claimRecent() takes it.
   */
  recentForSession?: boolean;
  /**
   * The parsed MIME structure (JSON-serialisable, produced by src/mime by the caller: storage does
   * not import mime). Stored once with the body and returned by getMimeStructure().
   */
  mimeStructure?: unknown;
  /**
   * The size IMAP reports (RFC822.SIZE, STATUS SIZE, SEARCH LARGER, quota): bytes with every bare
   * LF counted as CRLF, as Dovecot reports a message stored with bare LFs. Defaults to the stored
   * byte length; the caller knows it from the MIME parse.
   */
  virtualSize?: number;
  /**
   * Who is saving, for the mail-event feed (MailEvent MessageSave): `delivery` for LMTP/LDA
   * (Dovecot's MessageNew), `append` (default) for IMAP APPEND (MessageAppend).
   */
  origin?: AppendOrigin;
  /**
   * Import only (`roost import`): the UID the source gave the message, at least the mailbox's
   * UIDNEXT (PARAMETERS otherwise); UIDNEXT becomes uid + 1. Default: UIDNEXT.
   */
  uid?: number;
  /** Import only: the source's GUID (Dovecot's maildir GUID is the file's base name). Default: a new one. */
  guid?: string;
}

export interface AppendResult {
  uid: number;
  uidValidity: number;
  modseq: number;
  mailboxId: number;
  /** Id of the stored body (for getMimeStructure / openBody). */
  bodyId: number;
  /** Size in bytes (RFC822.SIZE). */
  size: number;
  guid: string;
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
  /**
   * UIDs that are \Recent in the calling session (it claimed them): reported as `oldRecent` in the
   * mail-event feed (Dovecot's push events list \Recent in flags_old). Not stored.
   */
  recentUids?: readonly number[];
}

export interface StoreFlagsResult {
  /** Messages whose flags actually changed, with their new state. */
  changed: { uid: number; flags: string[]; modseq: number; oldFlags: string[] }[];
  /** UIDs refused because of UNCHANGEDSINCE (the MODIFIED response code). */
  modified: number[];
}

/** A change recorded with a modseq: what other sessions and CONDSTORE/QRESYNC read. */
export type ChangeRecord =
  /** A message created after `sinceModseq` (append, copy, move), with its current flags. */
  | { kind: 'append'; mailboxId: number; uid: number; modseq: number; flags: string[] }
  /** An older message whose flags changed after `sinceModseq`. */
  | { kind: 'flags'; mailboxId: number; uid: number; modseq: number; flags: string[] }
  /** An expunge after `sinceModseq` (from the expunge log; QRESYNC VANISHED). */
  | { kind: 'expunge'; mailboxId: number; uid: number; modseq: number };

/** A change notice published to every session of the same user, in this thread and in others. */
export interface ChangeNotice {
  user: string;
  /** Mailbox affected, or null for a mailbox-list change (create/delete/rename/subscribe). */
  mailboxId: number | null;
  /**
   * `elsewhere`: another process (or connection) changed the store; what and where is not known
   * here (mailboxId is null): look again at whatever is shown (UserStore.refreshChanges).
   */
  kind: 'messages' | 'flags' | 'expunge' | 'mailboxes' | 'metadata' | 'elsewhere';
  /** The mailbox's highest modseq after the change (0 for `elsewhere`: not known). */
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
  readonly bodyId: number;
  readonly size: number;
  /**
   * Reads `length` bytes at `offset` (fewer at the end, empty past it). Only the chunks covering the
   * range are loaded. Throws StorageError EXPUNGEISSUED when the body was freed meanwhile.
   */
  read(offset: number, length: number): Buffer;
  /** The same range as successive slices, one stored chunk at a time (stream a large FETCH). */
  slices(offset: number, length: number): IterableIterator<Buffer>;
}

/**
 * One user's mail store. Obtained from `openUserStore()`. Several instances may exist for the same
 * user at once (one per thread); they coordinate through SQLite and change notices.
 *
 * Mailbox names use `separator`; `INBOX` (and an `INBOX<sep>` prefix) is case-insensitive and
 * always returned as `INBOX`. Names are UTF-8 (the IMAP layer converts modified UTF-7). Every
 * mutating call is one transaction: it commits durably before it returns (inside `durably()`: before
 * the promise resolves), then notices go out.
 * Errors are StorageError with a protocol meaning.
 */
export interface UserStore {
  readonly username: string;
  readonly separator: string;

  // ---- Mailboxes ----
  /** Every mailbox including \Noselect placeholders, sorted by name. */
  listMailboxes(): MailboxInfo[];
  getMailbox(name: string): MailboxInfo | undefined;
  /** The mailbox with this id, undefined once deleted (a session detects deletion with it). */
  getMailboxById(id: number): MailboxInfo | undefined;
  /**
   * Creates the mailbox; missing parents become \Noselect placeholders (RFC 3501 §6.3.3, as Dovecot
   * lists them). Creating a name that is a placeholder makes it selectable. ALREADYEXISTS if it
   * exists, PARAMETERS for a bad name (see mailbox-names.ts).
   */
  createMailbox(name: string, opts?: { specialUse?: string[] }): MailboxInfo;
  /**
   * RFC 3501 §6.3.4: removes the mailbox and its messages. With children it stays as a \Noselect
   * placeholder; deleting a placeholder that has children is refused (NOPERM); INBOX is refused
   * (NOPERM). Subscriptions are kept (they may name nonexistent mailboxes).
   */
  deleteMailbox(name: string): void;
  /**
   * RFC 3501 §6.3.5: renames the mailbox and its children (ids, UIDVALIDITY and UIDs kept;
   * subscriptions follow). Renaming INBOX moves its messages into the new mailbox and leaves an
   * empty INBOX with a new UIDVALIDITY; INBOX's children are not moved.
   */
  renameMailbox(oldName: string, newName: string): void;
  setSubscribed(name: string, subscribed: boolean): void;
  /** Subscribed names, sorted; may name mailboxes that do not exist (RFC 3501 §6.3.6). */
  listSubscriptions(): string[];
  /** Replaces the RFC 6154 attributes (\All \Archive \Drafts \Flagged \Junk \Sent \Trash, RFC 8457 \Important). */
  setSpecialUse(name: string, specialUse: string[]): void;

  /**
   * Import only (`roost import`, like dsync): takes over a source mailbox's UIDVALIDITY (INUSE once
   * the mailbox has handed out a UID) and raises UIDNEXT (never lowers it).
   */
  setMailboxUids(name: string, ids: { uidValidity?: number; uidNext?: number }): MailboxInfo;

  /** STATUS; NONEXISTENT for an unknown or \Noselect mailbox. */
  status(name: string): MailboxStatus;
  /**
   * A CONDSTORE/QRESYNC session opened the mailbox (RFC 7162 §3.1): from now on its modseqs are
   * reported as tracked (Dovecot's mailbox_enable(CONDSTORE)). Counting does not change.
   */
  enableModseqTracking(mailboxId: number): void;

  // ---- Messages (by UID; sequence numbers are a session view kept by the protocol layer) ----
  /** Stores one message atomically. NONEXISTENT (render as TRYCREATE) when the mailbox is missing. */
  append(mailbox: string, input: AppendInput): AppendResult;
  /** RFC 3502 MULTIAPPEND: all or nothing, one commit, consecutive UIDs. */
  appendMany(mailbox: string, inputs: AppendInput[]): AppendResult[];
  /** All messages in UID order (the session builds its sequence map from this). One indexed scan. */
  listMessages(mailboxId: number): MessageMeta[];
  /**
   * The compact listing for the hot path (session sequence map, `FETCH 1:* (UID FLAGS RFC822.SIZE)`):
   * uid, modseq, flags and size only, in UID order; about half the cost of listMessages.
   */
  listMessageFlags(mailboxId: number): MessageFlags[];
  /** The messages with these UIDs that exist, in UID order. */
  getMessages(mailboxId: number, uids: number[]): MessageMeta[];
  /**
   * Bodies of at least bodyFileThresholdBytes are stored as files under the home. stageBody writes
   * such a file durably ahead of the transaction (file and directory fsync in the libuv threadpool,
   * so the event loop stays free) and returns what to pass as AppendInput.content; smaller content
   * is returned as it is. `onWritten` is told the new file as soon as its bytes are written (before
   * its sync): `linkFrom` of another store's stageBody with the same bytes (the other recipients of
   * an LMTP message) hard-links it instead of writing it again (copies across filesystems) and
   * resolves once the link and the source's data are durable (writes its own copy if the source
   * is gone or its sync failed). If the append fails, call discard(). append() given a Buffer or spooled file at
   * or above the threshold writes and syncs the file itself, on the calling thread; inside
   * durably() it keeps such a body in SQLite instead (no fsync on the event loop), so stage first.
   */
  stageBody(
    content: Buffer | SpooledContent,
    opts?: { linkFrom?: BodyLinkSource; onWritten?: (file: BodyLinkSource) => void },
  ): Promise<Buffer | SpooledContent | StagedBody>;
  openBody(bodyId: number): BodyReader;
  /**
   * openBody() and getMimeStructure() in one read, with the first chunk already loaded (SEARCH
   * reads the header block and the text parts of thousands of small messages: one query each).
   */
  openBodyWithStructure(bodyId: number): { body: BodyReader; mimeStructure: unknown };
  /** Parsed MIME structure cached at append (JSON produced by src/mime); undefined if none was given. */
  getMimeStructure(bodyId: number): unknown;
  /** Caches a MIME structure computed later (e.g. for a message appended without one). */
  setMimeStructure(bodyId: number, mimeStructure: unknown): void;
  /**
   * STORE / UID STORE. All messages changed by one call share one new modseq. `\Recent` cannot be
   * stored (PARAMETERS); system flags are matched case-insensitively, keywords too (the first
   * spelling used in the mailbox wins). Missing UIDs are ignored.
   */
  storeFlags(mailboxId: number, input: StoreFlagsInput): StoreFlagsResult;
  /** COPY: new UIDs in the target, flags/keywords/internaldate/GUID kept, bodies shared, \Recent set. */
  copy(fromMailboxId: number, uids: number[], toMailbox: string): CopyResult;
  /** MOVE (RFC 6851): copy and expunge in one transaction. */
  move(fromMailboxId: number, uids: number[], toMailbox: string): CopyResult;
  /** Removes these messages (the caller picks them, e.g. those with \Deleted); returns expunged UIDs ascending. */
  expunge(mailboxId: number, uids: number[]): number[];
  /** Changes after `sinceModseq` in modseq order (CONDSTORE CHANGEDSINCE, IDLE, QRESYNC). */
  changesSince(mailboxId: number, sinceModseq: number): ChangeRecord[];

  /**
   * \Recent (Dovecot semantics): atomically takes every message no session has claimed yet and
   * returns their UIDs ascending. The first session that selects the mailbox after a delivery gets them.
   */
  claimRecent(mailboxId: number): number[];

  // ---- Metadata (RFC 5464); mailbox '' is server metadata ----
  /**
   * Entries that exist among `entries` (missing ones are left out), in the order asked. Entry names
   * are `/private/...` or `/shared/...`, case-insensitive; PARAMETERS for a bad name.
   */
  getMetadata(mailbox: string, entries: string[], rules?: EntryNameRules): MetadataEntry[];
  /**
   * value null removes the entry. TOOBIG above settings.metadataMaxValueBytes, LIMIT above
   * metadataMaxEntries. `rules.anyName`: the Lua API's looser names (metadata-entries.ts).
   */
  setMetadata(mailbox: string, entry: string, value: Buffer | null, rules?: EntryNameRules): void;
  /** `prefix` itself if set plus its descendants down to `depth` (RFC 5464 §4.2.2), sorted by name. */
  listMetadata(mailbox: string, prefix: string, depth: 0 | 1 | 'infinity'): MetadataEntry[];

  /** Usage over all mailboxes, kept incrementally (each copy counts). */
  quotaUsage(): QuotaUsage;

  /**
   * Runs `fn` as one transaction (nested calls join it): several operations commit together and
   * their notices go out after the commit. For batching, not needed for single operations.
   */
  transaction<T>(fn: () => T): T;

  /**
   * Runs `fn` (synchronous store calls) and resolves with its result once every commit it made, and
   * every earlier commit of this database, is durable. Inside `fn` mutating calls return as soon as
   * they commit, and the WAL fsync runs in the libuv threadpool afterwards (durability
   * `async-fsync`), shared with other commits of the same file made meanwhile. Use it where a reply
   * acknowledges the change (LMTP 250, APPENDUID): reply only after it resolved. Rejects with
   * SERVERBUG if the sync fails (the change may or may not survive a power loss then).
   */
  durably<T>(fn: () => T): Promise<T>;

  /**
   * Subscribes to change notices for this user: this thread's changes at once, other threads' and
   * other processes' through the backend's change feed (change-feed.ts), which reaches a
   * subscriber within a second. Returns an unsubscribe function.
   */
  onChange(listener: (n: ChangeNotice) => void): () => void;

  /**
   * Looks whether another process or connection changed the store since the last look, and if so
   * sends an `elsewhere` notice to this store's listeners. Cheap (SQLite: one PRAGMA data_version,
   * no disk access): an IMAP session calls it before announcing updates, i.e. on every command,
   * as Dovecot syncs the mailbox index on each command (RFC 3501 §7: NOOP, CHECK, any command).
   */
  refreshChanges(): void;

  /**
   * Subscribes to the detailed mail-event feed of this store instance (this thread only): one
   * record per committed transaction that changed something, delivered synchronously right after
   * the commit; a rolled-back transaction produces none. Listener errors are logged, not thrown.
   */
  onMailEvents(listener: MailEventListener): () => void;

  /**
   * Runs `fn` with `actor` as the author of the changes it makes (MailTransactionEvents.actor):
   * the store is shared by a user's sessions in a thread, so each session's view sets its actor.
   */
  withActor<T>(actor: StoreActor, fn: () => T): T;

  close(): void;
}

/** Storage limits and tuning; every one has a default (DEFAULT_STORAGE_SETTINGS). */
export interface StorageSettings {
  /** Body chunk size in bytes; a partial FETCH reads whole chunks. */
  bodyChunkBytes: number;
  /**
   * Bodies of at least this many bytes are stored as files under the home (`<home>/bodies/`),
   * written once, shared by COPY and hard-linked between the recipients of one LMTP message;
   * smaller ones stay in SQLite. 0 keeps every body in SQLite.
   */
  bodyFileThresholdBytes: number;
  /** SQLite busy_timeout: how long a writer waits for another thread's transaction (ms). */
  busyTimeoutMs: number;
  /**
   * `async-fsync` (default): commits use synchronous=NORMAL and the store fdatasyncs the WAL itself
   * after each commit: on the calling thread for the synchronous methods (as durable as FULL), in
   * the libuv threadpool inside `durably()` (the event loop stays free; see wal-sync.ts).
   * `full`: SQLite fsyncs the WAL in every commit. Both: acknowledged = durable, even on power loss.
   * `normal`: WAL fsync at checkpoints only (a power loss can drop recent commits; tests, benches).
   */
  durability: 'full' | 'normal' | 'async-fsync';
  /** Largest message accepted by append (TOOBIG). */
  maxMessageBytes: number;
  /**
   * Safety-net poll of the change feed while the user has sessions (ms; Dovecot's
   * `mailbox_idle_check_interval`): a watched change file signals at once; this catches what a
   * filesystem's notifications miss. Where the file cannot be watched at all, the feed polls
   * every second instead (file-change-feed.ts).
   */
  changePollIntervalMs: number;
  /**
   * Messages' worth of mailbox listings (mailbox-index.ts, about 24 bytes a message) kept in memory
   * after the last session of their user ended, so the next SELECT of those mailboxes does not read
   * them again. 0 keeps none.
   */
  indexRetainMessages: number;
  /** Maximum bytes of one mailbox name (UTF-8) and of one hierarchy level. */
  maxMailboxNameBytes: number;
  maxMailboxLevelBytes: number;
  /** Maximum hierarchy depth of a mailbox name. */
  maxMailboxDepth: number;
  /** Maximum number of mailboxes (LIMIT). */
  maxMailboxes: number;
  /** Keyword limits: length of one keyword, distinct keywords per mailbox (LIMIT). */
  maxKeywordBytes: number;
  maxKeywordsPerMailbox: number;
  /** RFC 5464 MAXSIZE (TOOBIG) and TOOMANY (LIMIT, per mailbox or server). */
  metadataMaxValueBytes: number;
  metadataMaxEntries: number;
  metadataMaxEntryBytes: number;
}

export const DEFAULT_STORAGE_SETTINGS: Readonly<StorageSettings> = Object.freeze({
  bodyChunkBytes: 64 * 1024,
  bodyFileThresholdBytes: 32 * 1024,
  busyTimeoutMs: 10_000,
  durability: 'async-fsync',
  maxMessageBytes: 128 * 1024 * 1024,
  changePollIntervalMs: 30_000,
  indexRetainMessages: 1_000_000,
  maxMailboxNameBytes: 1024,
  maxMailboxLevelBytes: 255,
  maxMailboxDepth: 16,
  maxMailboxes: 10_000,
  maxKeywordBytes: 128,
  maxKeywordsPerMailbox: 256,
  metadataMaxValueBytes: 64 * 1024,
  metadataMaxEntries: 1_000,
  metadataMaxEntryBytes: 1_024,
});

/** Quota limits from the user's quota rule (0 or absent = unlimited). Exceeding them is OVERQUOTA. */
export interface QuotaLimits {
  storageBytes?: number;
  messages?: number;
}

/** Everything needed to open a user's store; plain data so a worker thread can open its own copy. */
export interface UserStoreOptions {
  username: string;
  /** The user's home directory (already expanded from mail_home). */
  home: string;
  /** Path of the SQLite file (from `mail_location = sqlite:~/mail.db`, `~` = home). Parent dirs are created. */
  dbPath: string;
  /**
   * Hierarchy separator (namespace inbox { separator }), default `/`. Recorded at creation: opening
   * the store later with another separator is refused (PARAMETERS) rather than mangling names.
   */
  separator: string;
  settings?: Partial<StorageSettings>;
  quota?: QuotaLimits;
  /** Folder holding `user/` and `server/` migrations; default: <package root>/migrations. */
  migrationsDir?: string;
}

// ---- Server database (accounts) ----

/** One account. `password` is a Dovecot `{SCHEME}...` string (hashing is src/auth's job) or null. */
export interface UserRecord {
  username: string;
  password: string | null;
  uid: number | null;
  gid: number | null;
  /** Home override; null = derived from mail_home. */
  home: string | null;
  /** Quota rule as in Dovecot's `quota_rule` (e.g. `*:storage=1G`), null = default. */
  quotaRule: string | null;
  /** Extra userdb fields. */
  fields: Record<string, string>;
  createdAt: Date;
}

export interface NewUser {
  username: string;
  password?: string | null;
  uid?: number | null;
  gid?: number | null;
  home?: string | null;
  quotaRule?: string | null;
  fields?: Record<string, string>;
}

/** Changes for setFields: absent = unchanged, null = cleared; in `fields` a null value removes the key. */
export interface UserFieldChanges {
  uid?: number | null;
  gid?: number | null;
  home?: string | null;
  quotaRule?: string | null;
  fields?: Record<string, string | null>;
}

export interface ServerDb {
  /** ALREADYEXISTS for a taken username, PARAMETERS for a bad name or a password not in `{SCHEME}` form. */
  addUser(user: NewUser): UserRecord;
  /** NONEXISTENT if there is no such user. Does not touch the user's mail files. */
  deleteUser(username: string): void;
  /** Exact (case-sensitive) lookup. */
  getUser(username: string): UserRecord | undefined;
  /** All users sorted by username. */
  listUsers(): UserRecord[];
  /** null removes the password (the account cannot log in with a password). */
  setPassword(username: string, passwordHash: string | null): void;
  setFields(username: string, changes: UserFieldChanges): UserRecord;
  close(): void;
}
