// What a command handler may see and do: the one narrow surface between the handlers and the
// session (smtp-server's handler_<VERB> works through its connection the same way). State changes
// go through explicit transitions (select, unselect, enableExtension), responses through respond()
// (whole lines) or responseSink() (streamed FETCH/SEARCH output), and extensions that must follow the
// session's life (QRESYNC, NOTIFY, CONTEXT=SEARCH, COMPRESS) attach SessionHooks instead of editing
// the session.
import type { AuthResult, AuthService } from '../../auth/index.js';
import type { Settings } from '../../config/index.js';
import type { Logger } from '../../log/logger.js';
import type { MailUser } from '../../mail-user/mail-user.js';
import type { ChangeNotice, UserStore } from '../../storage/types.js';
import type { ImapCommand } from '../protocol/index.js';
import type { ResponseSink } from './fetch-output.js';
import type { SelectedMailbox } from '../selected-mailbox.js';
import type { CommandResult } from './types.js';

export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/** Extensions a client turns on for the rest of the session (RFC 5161 ENABLE, or implicitly). */
export type SessionExtension = 'CONDSTORE' | 'QRESYNC' | 'UTF8=ACCEPT' | 'IMAP4rev2';

export interface SessionStats {
  deleted: number;
  expunged: number;
  trashed: number;
  fetchHdrCount: number;
  fetchHdrBytes: number;
  fetchBodyCount: number;
  fetchBodyBytes: number;
}

/**
 * Life-cycle hooks, designed once for the extensions that follow the session rather than one
 * command. Every member is optional; `addHooks` returns the function that detaches them.
 */
export interface SessionHooks {
  /** A mailbox was selected; its SELECT/EXAMINE responses are written, the tagged OK is not. */
  selected?(view: SelectedMailbox): void;
  /** The selected mailbox is no longer selected (UNSELECT, CLOSE, another SELECT, DELETE). */
  unselected?(view: SelectedMailbox): void;
  /** An extension was just enabled (ENABLE, or implicitly by a command that uses it). */
  enabled?(extension: SessionExtension): void;
  /** A storage change notice arrived (any mailbox of the user, or the mailbox list). */
  changed?(notice: ChangeNotice): void;
  /**
   * The selected view's pending updates were just written (before a tagged reply or in IDLE):
   * a hook may add its own untagged responses (CONTEXT=SEARCH ADDTO/REMOVEFROM).
   */
  updatesFlushed?(view: SelectedMailbox): Promise<void> | void;
  /** A command passed the state check and is about to run (NOTIFY: no unsolicited output now). */
  commandStarting?(cmd: ImapCommand): void;
  /**
   * After the pending updates were written, before the tagged reply and after each wake-up in
   * IDLE; may write asynchronously (NOTIFY's STATUS/LIST lines and MessageNew FETCH responses).
   */
  afterUpdates?(): Promise<void> | void;
  /** The tagged reply about to be written: a hook may return it with a response code added. */
  tagged?(result: CommandResult, cmd: ImapCommand): CommandResult;
  /** The session ends (LOGOUT or disconnect); the store is still open. */
  ended?(): void;
}

/** The connection facts and waits a handler may use; writing goes through respond(). */
export interface ClientConnection {
  readonly remoteIp: string;
  readonly remotePort: number;
  readonly localIp: string;
  readonly localPort: number;
  /** TLS on this connection (from the start or after STARTTLS). */
  readonly secured: boolean;
  readonly isClosed: boolean;
  /** The next raw line (IDLE's DONE, a SASL response), or null once the connection closed. */
  readLine(): Promise<string | null>;
  /** Resolves when the written responses have left the process's buffer. */
  drain(): Promise<void>;
}

export interface CommandContext {
  readonly state: SessionState;
  readonly selected: SelectedMailbox | null;
  /** The user's store: every call may return a promise (await each one; UserStore). */
  readonly store: UserStore;
  readonly settings: Settings;
  readonly user: MailUser<UserStore> | null;
  readonly stats: SessionStats;
  readonly log: Logger;
  readonly sessionId: string;
  readonly client: ClientConnection;
  /** TLS or a trusted (local) connection: Dovecot's `secured`. */
  readonly secured: boolean;
  readonly plaintextAuthDisabled: boolean;
  /**
   * Runs `fn` on another user's store, as Dovecot's imap-urlauth worker opens the owner of a URL:
   * a userdb lookup, then a mail user (service `imap-urlauth`) released when `fn` is done. The
   * logged-in user's own store is passed as is. null when there is no such user.
   */
  withUserStore<T>(username: string, fn: (store: UserStore) => T | Promise<T>): Promise<T | null>;
  /** RFC 5182: UIDs saved by the last `SEARCH RETURN (SAVE)`, for `$`. */
  savedSearch: number[] | null;
  capabilities(): string[];

  // ---- transitions (RFC 3501 §3) ----
  /**
   * Makes `view` the selected mailbox (state `selected`); the hooks' `selected` run. `noticed`:
   * change notices that arrived while the view was being opened, applied to it as if it had
   * been selected then.
   */
  select(view: SelectedMailbox, noticed?: readonly ChangeNotice[]): void;
  /** Back to `authenticated`; the hooks' `unselected` run. No-op when nothing is selected. */
  unselect(): void;
  /** Turns an extension on; true when it was off before (RFC 5161 `* ENABLED` lists those). */
  enableExtension(extension: SessionExtension): Promise<boolean>;
  isEnabled(extension: SessionExtension): boolean;
  addHooks(hooks: SessionHooks): () => void;

  // ---- responses ----
  /** Writes whole response lines (each ends in CRLF): untagged data, continuations. */
  respond(...lines: string[]): void;
  /** The streaming output for large responses, with backpressure. */
  responseSink(): ResponseSink;
  /** Writes the selected view's pending updates (EXPUNGE only when `allowExpunge`). */
  flushUpdates(allowExpunge: boolean, cmd?: ImapCommand): Promise<void>;
  /** Runs the hooks' afterUpdates (IDLE calls it after each flushUpdates). */
  afterUpdates(): Promise<void>;
  /**
   * From now until `stop()`, the user's change notices are also kept in `notices` (SELECT: those
   * that arrive while the view is being opened, for select()).
   */
  collectNotices(): { notices: ChangeNotice[]; stop: () => void };
  /**
   * Runs unsolicited output between commands (NOTIFY without IDLE): a command that arrives
   * meanwhile waits until `fn` is done, so their storage calls and lines do not interleave.
   */
  runBetweenCommands(fn: () => Promise<void>): Promise<void>;
  /** Resolves on the next change notice (IDLE). */
  waitForChange(): { promise: Promise<void>; cancel: () => void };
  /** Renders a thrown error as the tagged reply (StorageError codes are IMAP response codes). */
  errorResult(err: unknown, cmd?: ImapCommand): CommandResult;

  // ---- not-authenticated state and the end ----
  readonly auth: AuthService;
  /** STARTTLS: null when no TLS is configured; otherwise the handshake after `okLine` is written. */
  startTls(okLine: string): Promise<void> | null;
  /** After a successful LOGIN/AUTHENTICATE: the mail user is created; null when the connection closed. */
  completeLogin(auth: Extract<AuthResult, { ok: true }>, method: string): Promise<CommandResult | null>;
  noteAuthFailure(user: string, method: string): void;
  /** RFC 4978: COMPRESS=DEFLATE is on. */
  readonly compressionActive: boolean;
  /** Both directions go through raw deflate from now on (call once the tagged OK is written). */
  startCompression(): void;
  /** RFC 8437: back to not-authenticated on the same connection. */
  unauthenticate(): Promise<void>;
  /** LOGOUT: ends the session, then closes the connection once `lines` are written. */
  logout(...lines: string[]): Promise<void>;
}
