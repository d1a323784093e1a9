// The messages between a bridged store (client.ts, on the thread that must block) and the helper
// thread that runs the backend's asynchronous store (worker.ts). Everything crosses by structured
// clone: Dates stay Dates, a Buffer arrives as a plain Uint8Array (revived by the receiver), class
// instances lose their prototype (StorageError and MessageColumns are sent as plain data).
import type { ChangeNotice, MailEvent, MetadataEntry, StorageErrorCode, UserStoreOptions } from '../types.js';

/** The contract calls that forward as they are: arguments and result are plain data. */
export const FORWARDED_METHODS = [
  'listMailboxes',
  'getMailbox',
  'getMailboxById',
  'createMailbox',
  'deleteMailbox',
  'renameMailbox',
  'setSubscribed',
  'listSubscriptions',
  'setSpecialUse',
  'setMailboxUids',
  'status',
  'enableModseqTracking',
  'append',
  'appendMany',
  'replace',
  'importMessages',
  'openMailboxView',
  'listMessages',
  'listMessageFlags',
  'getMessages',
  'getMimeStructure',
  'setMimeStructure',
  'storeFlags',
  'copy',
  'move',
  'expunge',
  'changesSince',
  'claimRecent',
  'getMetadata',
  'setMetadata',
  'setMetadataMany',
  'listMetadata',
  'quotaUsage',
  'refreshChanges',
] as const;
export type ForwardedMethod = (typeof FORWARDED_METHODS)[number];

/** A body staged on the helper (stageBody), named by its number in AppendInput.content. */
export interface StagedRef {
  bridgeStaged: number;
}

/** The actor of a call, as the helper's store sees it: the caller keeps the actor object itself. */
export interface ActorToken {
  bridgeActor: number;
}

export type BridgeRequest =
  | { id: number; op: 'open'; storeId: number; opts: UserStoreOptions }
  | { id: number; op: 'call'; storeId: number; method: ForwardedMethod; args: unknown[]; actor?: number }
  /** openBody / openBodyWithStructure: the reader stays on the helper, the size comes back. */
  | { id: number; op: 'openBody'; storeId: number; bodyId: number; withStructure: boolean }
  | { id: number; op: 'readBody'; storeId: number; bodyId: number; offset: number; length: number }
  /** Which of the store's feeds the caller has listeners for (the helper subscribes to those only). */
  | { id: number; op: 'listen'; storeId: number; mail: boolean; change: boolean }
  /** Resolves once every commit of the store so far is durable (UserStore.durably). */
  | { id: number; op: 'durable'; storeId: number; actor?: number }
  | { id: number; op: 'stageBody'; storeId: number; content: Uint8Array | { path: string; size: number }; linkFrom?: number }
  | { id: number; op: 'discardStaged'; storeId: number; staged: number }
  | { id: number; op: 'close'; storeId: number };

/** A mail-event record as it crosses: the actor is the caller's number for it. */
export interface RelayedMailTransaction {
  user: string;
  actor: number | undefined;
  committed: boolean;
  events: MailEvent[];
}

/** What a store's listeners get, in the order the helper's store emitted it. */
export type RelayedEvent =
  | { storeId: number; kind: 'mail'; txn: RelayedMailTransaction }
  | { storeId: number; kind: 'change'; notice: ChangeNotice };

export interface SerializedError {
  /** Set for a StorageError: rebuilt as one with this code. */
  storageCode?: StorageErrorCode;
  name: string;
  message: string;
  stack?: string;
}

/** Every reply carries the events emitted since the previous reply (of every store of the helper). */
export type BridgeReply =
  | { id: number; ok: true; value?: unknown; events: RelayedEvent[] }
  | { id: number; ok: false; error: SerializedError; events: RelayedEvent[] };

/** MailboxViewSnapshot.columns as data: the flag lists by number, then the columns. */
export interface SerializedColumns {
  flagLists: string[][];
  uids: Uint32Array;
  sets: Uint32Array;
  modseqs: Float64Array;
  sizes: Float64Array;
}

/** openBody's answer. */
export interface OpenedBody {
  bodyId: number;
  size: number;
  mimeStructure?: unknown;
}

/** stageBody's answer: a staged body kept on the helper, or the content to append as it is. */
export type StagedAnswer = { staged: number; size: number } | { content: Uint8Array | { path: string; size: number } };

export type { MetadataEntry };
