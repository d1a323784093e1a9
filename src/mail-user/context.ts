// What a protocol server (IMAP, LMTP) needs from the rest of Roost: created once by `roost serve`
// (src/cli/context.ts) or by a test, and passed down. Protocol layers never build these themselves.
import type { AuthService } from '../auth/index.js';
import type { Settings } from '../config/index.js';
import type { ServerDb, UserStore } from '../storage/types.js';
import type { MailUserService } from './service.js';
import type { UserLocks } from './user-locks.js';

export interface ServerContext {
  /** Global settings; use `settingsFor(settings, protocol)` for a protocol's effective view. */
  readonly settings: Settings;
  readonly serverDb: ServerDb;
  readonly auth: AuthService;
  /** Its mail users' stores are used as UserStore (every call awaited), whatever the opener. */
  readonly mailUsers: MailUserService<UserStore>;
  /** Users whose store is being replaced (`roost restore` on a running server); shared by reloads. */
  readonly userLocks?: UserLocks;
}
