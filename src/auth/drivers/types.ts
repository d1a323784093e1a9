// The one interface every passdb/userdb driver implements (Maddy-style modules chosen by
// `driver =`): lookup, optional verify for drivers that check passwords themselves (Lua's
// auth_password_verify, PAM), optional iterate for userdbs that can list users.
import type { Logger } from '../../log/logger.js';
import type { LuaWorkerPool } from '../../lua/index.js';
import type { AuthDbRequest } from '../request.js';

/** Dovecot's passdb results (PASSDB_RESULT_*). */
export type PassdbResultCode = 'ok' | 'mismatch' | 'unknown' | 'disabled' | 'expired' | 'internal' | 'scheme-not-available' | 'next';

export interface PassdbReply {
  result: PassdbResultCode;
  /** Stored password, `{SCHEME}data` or bare (then the driver's defaultScheme applies). */
  password?: string;
  /** Extra fields: `nopassword`, `nologin`, `reason`, `allow_nets`, `userdb_*`, `user`, ... */
  fields?: Record<string, string>;
  /** For 'internal': what to log (error); for 'mismatch': why, instead of "Password mismatch" (info). */
  error?: string;
}

export interface PassdbDriver {
  /** Name used in log prefixes, e.g. `passwd-file`. */
  readonly driver: string;
  /** Scheme for stored passwords without a `{SCHEME}` prefix. */
  readonly defaultScheme: string;
  lookup(req: AuthDbRequest): Promise<PassdbReply>;
  /**
   * Checks a plaintext password itself. Resolving to undefined means "not for this request, use
   * lookup and let the service verify" (a Lua script without auth_password_verify).
   */
  verify?(req: AuthDbRequest, plain: string): Promise<PassdbReply | undefined>;
  /** Startup work (loading a script); rejects with the fatal error (`passdb-lua: initialization failed: ...`). */
  init?(): Promise<void>;
  close?(): void | Promise<void>;
}

export type UserdbResultCode = 'ok' | 'unknown' | 'internal';

export interface UserdbReply {
  result: UserdbResultCode;
  /** home, uid, gid, mail, quota_rule and any extra fields. */
  fields?: Record<string, string>;
  error?: string;
}

export interface UserdbDriver {
  readonly driver: string;
  lookup(req: AuthDbRequest): Promise<UserdbReply>;
  iterate?(): AsyncIterable<string>;
  init?(): Promise<void>;
  close?(): void | Promise<void>;
}

/** One account as the built-in account database returns it. */
export interface AccountRecord {
  username: string;
  password: string;
  uid?: number | string;
  gid?: number | string;
  home?: string;
  fields: Record<string, string>;
}

/**
 * What the `roost` driver needs from the server database (src/storage provides it): answered at
 * once (a file beside the data) or later (a database server), so the driver awaits both.
 */
export interface AccountStore {
  getUser(name: string): AccountRecord | undefined | Promise<AccountRecord | undefined>;
  listUsers(): string[] | Promise<string[]>;
}

export interface DriverContext {
  logger: Logger;
  accounts?: AccountStore;
  /** Runs `driver = lua` scripts (src/cli/context.ts passes the server's pool). */
  lua?: LuaWorkerPool;
  /** auth_debug: lets the scripts' `req:log_debug` / debug events through. */
  authDebug?: boolean;
}

export interface AuthDriverModule {
  name: string;
  passdb?: (args: string, ctx: DriverContext) => PassdbDriver;
  userdb?: (args: string, ctx: DriverContext) => UserdbDriver;
}
