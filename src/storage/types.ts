// The storage contract every protocol layer and the Lua bindings use (DESIGN.md decision 7). It is
// deliberately narrow, as Dovecot's mail_storage_vfuncs: a backend is one folder under
// src/storage/ (sqlite/, pgsql/) that implements these types, and nothing above
// src/storage knows which backend serves a user (storage/index.ts chooses it by the scheme of
// `mail_location`, storage/location.ts).
//
// One interface in two modes (UserStoreOf<M>):
// - `SyncUserStore` (M = 'sync'): every call returns its value. Lua's storage calls run inside a
//   worker thread and must be synchronous, as in Dovecot; a backend serves them synchronously
//   (SQLite natively; a network engine through a blocking bridge in the worker).
// - `UserStore` (M = 'async'): calls may return a promise, and callers `await` them (delivery, the
//   IMAP layer and the CLI; README "The storage boundary"). A synchronous store is one too (an
//   await of a plain value costs one microtask), so SQLite keeps its synchronous speed.
// Batches that must be atomic are backend operations (appendMany, replace, setMetadataMany,
// importMessages, openMailboxView): there is no generic transaction in the contract.

import type { EntryNameRules } from './metadata-entries.js';
import type { MessageColumns } from './mailbox-index.js';
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
  | 'UNAVAILABLE' // RFC 5530: the storage engine cannot be reached now (a database down); try again
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
 * A body staged by one store that another store of the same backend may share instead of storing
 * the same bytes again (stageBody `linkFrom`; the other recipients of an LMTP message). Opaque
 * outside the backend: only `durable` is for the caller, a promise that resolves once the staged
 * data is durable (rejects if that failed).
 */
export interface SharedBody {
  readonly durable: Promise<void>;
}

/**
 * A large body already written durably by one store (UserStore.stageBody), waiting for the append
 * that refers to it: an opaque handle to pass as AppendInput.content. Only the store that staged
 * it can append it, once.
 */
export interface StagedBody extends SharedBody {
  readonly kind: 'staged';
  readonly size: number;
  /** Frees the staged data unless a committed append refers to it (call when the append failed). Idempotent. */
  discard(): Promise<void>;
}

/** Whether an append's content is a staged body (stageBody's handle) rather than bytes. */
export function isStagedBody(c: Buffer | SpooledContent | StagedBody): c is StagedBody {
  return !Buffer.isBuffer(c) && (c as Partial<StagedBody>).kind === 'staged';
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

/**
 * Mode of the contract (see the top of this file): 'sync', or 'async' which admits both. The async
 * mode is the wider type, so a synchronous store or body reader is also an asynchronous one.
 */
export type StoreMode = 'sync' | 'async';
/** What a call returns in mode M: the value itself (sync), or the value or a promise of it (async). */
export type Result<T, M extends StoreMode> = [M] extends ['sync'] ? T : T | Promise<T>;

/** Where a body section lives, so FETCH can read only the bytes it needs. */
export interface BodyReaderOf<out M extends StoreMode> {
  readonly bodyId: number;
  readonly size: number;
  /**
   * Reads `length` bytes at `offset` (fewer at the end, empty past it). Only the chunks covering the
   * range are loaded. Throws StorageError EXPUNGEISSUED when the body was freed meanwhile.
   */
  read(offset: number, length: number): Result<Buffer, M>;
  /** The same range as successive slices, one stored chunk at a time (stream a large FETCH). */
  slices(offset: number, length: number): [M] extends ['sync'] ? IterableIterator<Buffer> : Iterable<Buffer> | AsyncIterable<Buffer>;
}
export type BodyReader = BodyReaderOf<StoreMode>;
export type SyncBodyReader = BodyReaderOf<'sync'>;

/** What SELECT/EXAMINE needs to build a session's view (UserStore.openMailboxView). */
export interface MailboxViewSnapshot {
  /** The mailbox, read in the same transaction as the listing. */
  info: MailboxInfo;
  /** The listing in UID order: this view's copy-on-write holder of the shared one (mailbox-index.ts). */
  columns: MessageColumns;
  /** Keywords on messages, in order of first appearance by UID. */
  keywordsInUse: string[];
  /** \Recent messages (before the claim). */
  recentCount: number;
  /** With `claim`: the UIDs whose \Recent this caller took, ascending; else empty. */
  claimedRecent: number[];
  /** Sequence number of the first message without \Seen, 0 when there is none. */
  firstUnseenSeq: number;
  /** The mailbox's registered keywords (as MailboxStatus.keywords). */
  keywords: string[];
}

/** RFC 8508 REPLACE: the new message and the UIDs expunged in the same commit. */
export interface ReplaceResult {
  appended: AppendResult;
  expunged: number[];
}

/** One entry of SETMETADATA: value null removes it. */
export interface MetadataEntryChange {
  entry: string;
  value: Buffer | null;
}

/**
 * One user's mail store. Obtained from `openUserStore()`. Several instances may exist for the same
 * user at once (one per thread and process); they coordinate through the backend's engine and its
 * change feed.
 *
 * Mailbox names use `separator`; `INBOX` (and an `INBOX<sep>` prefix) is case-insensitive and
 * always returned as `INBOX`. Names are UTF-8 (the IMAP layer converts modified UTF-7). Every
 * mutating call is one transaction: it commits durably before it returns (inside `durably()`: before
 * the promise resolves), then notices go out.
 * Errors are StorageError with a protocol meaning.
 */
export interface UserStoreOf<out M extends StoreMode> {
  readonly username: string;
  readonly separator: string;

  // ---- Mailboxes ----
  /** Every mailbox including \Noselect placeholders, sorted by name. */
  listMailboxes(): Result<MailboxInfo[], M>;
  getMailbox(name: string): Result<MailboxInfo | undefined, M>;
  /** The mailbox with this id, undefined once deleted (a session detects deletion with it). */
  getMailboxById(id: number): Result<MailboxInfo | undefined, M>;
  /**
   * Creates the mailbox; missing parents become \Noselect placeholders (RFC 3501 §6.3.3, as Dovecot
   * lists them). Creating a name that is a placeholder makes it selectable. ALREADYEXISTS if it
   * exists, PARAMETERS for a bad name (see mailbox-names.ts).
   */
  createMailbox(name: string, opts?: { specialUse?: string[] }): Result<MailboxInfo, M>;
  /**
   * RFC 3501 §6.3.4: removes the mailbox and its messages. With children it stays as a \Noselect
   * placeholder; deleting a placeholder that has children is refused (NOPERM); INBOX is refused
   * (NOPERM). Subscriptions are kept (they may name nonexistent mailboxes).
   */
  deleteMailbox(name: string): Result<void, M>;
  /**
   * RFC 3501 §6.3.5: renames the mailbox and its children (ids, UIDVALIDITY and UIDs kept;
   * subscriptions follow). Renaming INBOX moves its messages into the new mailbox and leaves an
   * empty INBOX with a new UIDVALIDITY; INBOX's children are not moved.
   */
  renameMailbox(oldName: string, newName: string): Result<void, M>;
  setSubscribed(name: string, subscribed: boolean): Result<void, M>;
  /** Subscribed names, sorted; may name mailboxes that do not exist (RFC 3501 §6.3.6). */
  listSubscriptions(): Result<string[], M>;
  /** Replaces the RFC 6154 attributes (\All \Archive \Drafts \Flagged \Junk \Sent \Trash, RFC 8457 \Important). */
  setSpecialUse(name: string, specialUse: string[]): Result<void, M>;

  /**
   * Import only (`roost import`, `roost migrate-store`, like dsync): takes over a source mailbox's
   * UIDVALIDITY (INUSE once the mailbox has handed out a UID) and raises UIDNEXT and HIGHESTMODSEQ
   * (never lowers them): a CONDSTORE/QRESYNC client that cached the source's HIGHESTMODSEQ must
   * see every later change with a higher modseq (RFC 7162 §3.1.2.1).
   */
  setMailboxUids(name: string, ids: { uidValidity?: number; uidNext?: number; highestModseq?: number }): Result<MailboxInfo, M>;

  /** STATUS; NONEXISTENT for an unknown or \Noselect mailbox. */
  status(name: string): Result<MailboxStatus, M>;
  /**
   * A CONDSTORE/QRESYNC session opened the mailbox (RFC 7162 §3.1): from now on its modseqs are
   * reported as tracked (Dovecot's mailbox_enable(CONDSTORE)). Counting does not change.
   */
  enableModseqTracking(mailboxId: number): Result<void, M>;

  // ---- Messages (by UID; sequence numbers are a session view kept by the protocol layer) ----
  /** Stores one message atomically. NONEXISTENT (render as TRYCREATE) when the mailbox is missing. */
  append(mailbox: string, input: AppendInput): Result<AppendResult, M>;
  /** RFC 3502 MULTIAPPEND: all or nothing, one commit, consecutive UIDs. */
  appendMany(mailbox: string, inputs: AppendInput[]): Result<AppendResult[], M>;
  /**
   * RFC 8508 REPLACE: appends `input` to `mailbox` and expunges `uid` of mailbox `mailboxId` in one
   * commit (both or neither).
   */
  replace(mailboxId: number, uid: number, mailbox: string, input: AppendInput): Result<ReplaceResult, M>;
  /**
   * Import only (`roost import`, like dsync): appends `inputs` in one commit. An input's `uid` is
   * kept when it is still free (at least the mailbox's UIDNEXT at that point); otherwise the
   * message gets the next UID (clients see a new message).
   */
  importMessages(mailbox: string, inputs: AppendInput[]): Result<AppendResult[], M>;
  /**
   * What SELECT/EXAMINE needs, read in one transaction: the mailbox, the listing as parallel columns
   * in UID order, the mailbox's registered keywords, the number of \Recent messages and, with
   * `claim`, their UIDs, taken as claimRecent() does. NONEXISTENT for a missing or \Noselect mailbox.
   */
  openMailboxView(name: string, claim: boolean): Result<MailboxViewSnapshot, M>;
  /** All messages in UID order (the session builds its sequence map from this). One indexed scan. */
  listMessages(mailboxId: number): Result<MessageMeta[], M>;
  /**
   * The compact listing for the hot path (session sequence map, `FETCH 1:* (UID FLAGS RFC822.SIZE)`):
   * uid, modseq, flags and size only, in UID order; about half the cost of listMessages.
   */
  listMessageFlags(mailboxId: number): Result<MessageFlags[], M>;
  /** The messages with these UIDs that exist, in UID order. */
  getMessages(mailboxId: number, uids: number[]): Result<MessageMeta[], M>;
  /**
   * Large bodies (at least bodyFileThresholdBytes) can be stored ahead of the commit that refers to
   * them, durably and off the event loop: stageBody returns what to pass as AppendInput.content (a
   * StagedBody, or smaller content as it is). `onWritten` is told a SharedBody as soon as the bytes
   * are written (before they are durable): another store of the same backend given it as `linkFrom`
   * for the same bytes (the other recipients of an LMTP message) shares it instead of storing the
   * bytes again, and resolves once its own copy is durable. If the append fails, call discard().
   * (SQLite: a body file under the home, hard-linked between recipients; append() given large
   * content unstaged writes the file itself on the calling thread, or keeps the body in the
   * database inside durably(), so stage first.)
   */
  stageBody(
    content: Buffer | SpooledContent,
    opts?: { linkFrom?: SharedBody; onWritten?: (shared: SharedBody) => void },
  ): Promise<Buffer | SpooledContent | StagedBody>;
  openBody(bodyId: number): Result<BodyReaderOf<M>, M>;
  /**
   * openBody() and getMimeStructure() in one read, with the first chunk already loaded (SEARCH
   * reads the header block and the text parts of thousands of small messages: one query each).
   */
  openBodyWithStructure(bodyId: number): Result<{ body: BodyReaderOf<M>; mimeStructure: unknown }, M>;
  /** Parsed MIME structure cached at append (JSON produced by src/mime); undefined if none was given. */
  getMimeStructure(bodyId: number): Result<unknown, M>;
  /** Caches a MIME structure computed later (e.g. for a message appended without one). */
  setMimeStructure(bodyId: number, mimeStructure: unknown): Result<void, M>;
  /**
   * STORE / UID STORE. All messages changed by one call share one new modseq. `\Recent` cannot be
   * stored (PARAMETERS); system flags are matched case-insensitively, keywords too (the first
   * spelling used in the mailbox wins). Missing UIDs are ignored.
   */
  storeFlags(mailboxId: number, input: StoreFlagsInput): Result<StoreFlagsResult, M>;
  /** COPY: new UIDs in the target, flags/keywords/internaldate/GUID kept, bodies shared, \Recent set. */
  copy(fromMailboxId: number, uids: number[], toMailbox: string): Result<CopyResult, M>;
  /** MOVE (RFC 6851): copy and expunge in one transaction. */
  move(fromMailboxId: number, uids: number[], toMailbox: string): Result<CopyResult, M>;
  /** Removes these messages (the caller picks them, e.g. those with \Deleted); returns expunged UIDs ascending. */
  expunge(mailboxId: number, uids: number[]): Result<number[], M>;
  /** Changes after `sinceModseq` in modseq order (CONDSTORE CHANGEDSINCE, IDLE, QRESYNC). */
  changesSince(mailboxId: number, sinceModseq: number): Result<ChangeRecord[], M>;

  /**
   * \Recent (Dovecot semantics): atomically takes every message no session has claimed yet and
   * returns their UIDs ascending. The first session that selects the mailbox after a delivery gets them.
   */
  claimRecent(mailboxId: number): Result<number[], M>;

  // ---- Metadata (RFC 5464); mailbox '' is server metadata ----
  /**
   * Entries that exist among `entries` (missing ones are left out), in the order asked. Entry names
   * are `/private/...` or `/shared/...`, case-insensitive; PARAMETERS for a bad name.
   */
  getMetadata(mailbox: string, entries: string[], rules?: EntryNameRules): Result<MetadataEntry[], M>;
  /**
   * value null removes the entry. TOOBIG above settings.metadataMaxValueBytes, LIMIT above
   * metadataMaxEntries. `rules.anyName`: the Lua API's looser names (metadata-entries.ts).
   */
  setMetadata(mailbox: string, entry: string, value: Buffer | null, rules?: EntryNameRules): Result<void, M>;
  /**
   * RFC 5464 SETMETADATA: sets (or with value null removes) every entry in one commit, or none.
   * `maxEntries` (> 0): LIMIT when a new entry would make more than that many entries on the
   * mailbox (the IMAP layer's imap_metadata_max_entries), besides metadataMaxEntries.
   */
  setMetadataMany(mailbox: string, entries: MetadataEntryChange[], opts?: { maxEntries?: number; rules?: EntryNameRules }): Result<void, M>;
  /** `prefix` itself if set plus its descendants down to `depth` (RFC 5464 §4.2.2), sorted by name. */
  listMetadata(mailbox: string, prefix: string, depth: 0 | 1 | 'infinity'): Result<MetadataEntry[], M>;

  /** Usage over all mailboxes, kept incrementally (each copy counts). */
  quotaUsage(): Result<QuotaUsage, M>;


  /**
   * Runs `fn` and resolves with its result once every commit it made, and every earlier commit of
   * this store, is durable. Use it where a reply acknowledges the change (LMTP 250, APPENDUID):
   * reply only after it resolved. `fn` makes its calls through the store it is given (it may
   * await between them); calls made synchronously inside `fn` on this store count too. Rejects
   * with SERVERBUG if making it durable failed (the change may or may not survive a power loss
   * then). (SQLite, durability `async-fsync`: those calls return as soon as they commit, and the
   * WAL fsync runs in the libuv threadpool afterwards, shared with other commits of the same file
   * made meanwhile; other calls on the store sync before they return, as always.)
   */
  durably<T>(fn: (store: UserStoreOf<M>) => T | Promise<T>): Promise<T>;

  /**
   * Subscribes to change notices for this user: this thread's changes at once, other threads' and
   * other processes' through the backend's change feed (change-feed.ts), which reaches a
   * subscriber within a second. Returns an unsubscribe function.
   */
  onChange(listener: (n: ChangeNotice) => void): () => void;

  /**
   * Looks whether another process or connection changed the store since the last look, and if so
   * sends an `elsewhere` notice to this store's listeners. Cheap (SQLite: one PRAGMA data_version,
   * no disk access; a network engine answers from its change feed): an IMAP session calls it before announcing updates, i.e. on every command,
   * as Dovecot syncs the mailbox index on each command (RFC 3501 §7: NOOP, CHECK, any command).
   */
  refreshChanges(): Result<void, M>;

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

  close(): Result<void, M>;
}

/** What main-thread callers (IMAP, LMTP, mail-user, CLI) use: every call awaited. */
export type UserStore = UserStoreOf<StoreMode>;
/** What Lua's worker threads use: every call synchronous, as Dovecot's Lua API. */
export type SyncUserStore = UserStoreOf<'sync'>;

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
  /**
   * Dovecot's `mail_location`, `<scheme>:<backend-specific rest>`: the scheme picks the backend
   * (storage/location.ts), the rest is the backend's, e.g. `sqlite:~/mail.db` (`~` = home).
   */
  location: string;
  /**
   * Hierarchy separator (namespace inbox { separator }), default `/`. Recorded at creation: opening
   * the store later with another separator is refused (PARAMETERS) rather than mangling names.
   */
  separator: string;
  settings?: Partial<StorageSettings>;
  quota?: QuotaLimits;
  /**
   * Dovecot's `mail_fsync`: `optimized` (default) makes a change durable before success is reported,
   * `always` syncs inside every commit, `never` leaves it to the OS (tests, benches). Each backend
   * maps it onto its engine.
   */
  fsync?: MailFsync;
}

export type MailFsync = 'optimized' | 'always' | 'never';

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

/**
 * The built-in user database (the `roost` passdb/userdb, `roost user ...`), in the same two modes
 * as the user store (UserStoreOf): SQLite's file beside the data (<data_dir>/roost.db) answers
 * synchronously, a database server asynchronously. Callers take a ServerDb and await every call.
 */
export interface ServerDbOf<out M extends StoreMode> {
  /** ALREADYEXISTS for a taken username, PARAMETERS for a bad name or a password not in `{SCHEME}` form. */
  addUser(user: NewUser): Result<UserRecord, M>;
  /** NONEXISTENT if there is no such user. Does not touch the user's mail. */
  deleteUser(username: string): Result<void, M>;
  /** Exact (case-sensitive) lookup. */
  getUser(username: string): Result<UserRecord | undefined, M>;
  /** All users sorted by username. */
  listUsers(): Result<UserRecord[], M>;
  /** null removes the password (the account cannot log in with a password). */
  setPassword(username: string, passwordHash: string | null): Result<void, M>;
  setFields(username: string, changes: UserFieldChanges): Result<UserRecord, M>;
  close(): Result<void, M>;
}

/** What every caller uses: each call awaited. */
export type ServerDb = ServerDbOf<StoreMode>;
/** A server database that answers synchronously (SQLite's). */
export type SyncServerDb = ServerDbOf<'sync'>;

/** Options of the server database (each backend ignores what it has no use for). */
export interface ServerDbOptions {
  /** SQLite: how long a write waits for another process's lock. */
  busyTimeoutMs?: number;
  /** SQLite: the schema's folder (tests). */
  migrationsDir?: string;
  /** Longest username accepted (bytes, UTF-8). */
  maxUsernameBytes?: number;
}

/**
 * Where the server database lives: chosen by the scheme of the global `mail_location` (a backend
 * whose mail is in a shared database keeps its users there, so every node sees them), else
 * `<data_dir>/roost.db`.
 */
export interface ServerDbPlace {
  dataDir: string;
  mailLocation: string;
}
