// Hooks a plugin attaches to the mail_user lifecycle (Dovecot's mail_user_hooks): mail-lua and
// push notifications subscribe here, so the protocol layers never mention Lua.
// Hooks see every mail user's store as a UserStore, whatever its service opens.
import type { AnyMailUser as MailUser } from './mail-user.js';

export interface MailUserHooks {
  /**
   * Runs after the user is set up, before storage is opened (Dovecot's mail_user_created runs
   * before namespaces exist). A thrown error fails the user's creation.
   */
  created?(user: MailUser): Promise<void>;
  /** Runs at destruction while storage is still usable (Dovecot's deinit_pre). Errors are logged. */
  deinitPre?(user: MailUser): Promise<void>;
  /** Runs after storage is released. Errors are logged. */
  deinit?(user: MailUser): Promise<void>;
  /**
   * deinitPre and deinit as one step, run instead of both when nothing but the storage release
   * would run between them (this plugin's deinitPre is the last to run and its deinit the first):
   * a plugin whose hooks run on another thread (mail-lua) does both in one trip there. The
   * storage is then released after it. Errors are logged.
   */
  deinitPreAndDeinit?(user: MailUser): Promise<void>;
}

/** Thrown when a created hook fails: IMAP answers "OK Logged in, but initialization failed.", LMTP 451. */
export class MailUserInitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailUserInitError';
  }
}
