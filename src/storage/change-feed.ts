// The change feed: how a storage backend tells a user's sessions that the user's mail changed,
// whichever process made the change (`roost deliver`, the CLI, another server, a Lua worker).
// Dovecot's IMAP sessions notice other processes' changes through the index files
// (mail-index-sync; IDLE watches dovecot.index.log with inotify); Roost's backends provide this
// interface instead, and the store turns a signal into a catch-up from its own data
// (UserStore.refreshChanges: for SQLite, PRAGMA data_version and the modseq change log).
//
// A feed only says "look again": it carries no detail, so that a backend can implement it with
// whatever its engine offers (a watched file for SQLite, LISTEN/NOTIFY for PostgreSQL).

export interface ChangeFeed {
  /** This process committed a change to the user's store: let the other processes know. */
  announce(): void;
  /**
   * Calls `onSignal` soon after another process announced a change (and, as a safety net, now and
   * then without one: a spurious signal only costs a cheap check). One watcher per user and
   * process serves every subscriber. Returns the unsubscribe function.
   */
  watch(onSignal: () => void): () => void;
  /** Releases what this feed holds (open files, watchers when no one else uses them). */
  close(): void;
}
