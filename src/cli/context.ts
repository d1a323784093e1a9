// Builds the ServerContext from the configuration: the server database, the auth service with
// its account adapter, and the mail-user service. `roost serve`, the CLI verbs and tests use it.
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { AuthService, type AccountStore } from '../auth/index.js';
import type { AuthSettings } from '../auth/settings.js';
import type { Settings } from '../config/index.js';
import type { ServerContext } from '../mail-user/context.js';
import { MailUserService } from '../mail-user/service.js';
import { mailUserSettings } from '../mail-user/settings.js';
import type { MailUserSettings } from '../mail-user/mail-user.js';
import { openServerDb, openUserStore } from '../storage/index.js';
import { LuaWorkerPool, type LuaPoolSettings } from '../lua/index.js';
import type { ServerDb, ServerDbPlace, UserStore } from '../storage/types.js';
import type { UserLocks } from '../mail-user/user-locks.js';
import { IdleStores, type IdleClock } from '../mail-user/idle-stores.js';

/** The `roost` passdb/userdb driver reads accounts from the server database. */
export function accountStoreFor(db: ServerDb): AccountStore {
  return {
    async getUser(name) {
      const u = await db.getUser(name);
      if (!u) return undefined;
      const fields: Record<string, string> = { ...u.fields };
      if (u.quotaRule) fields.quota_rule = u.quotaRule;
      return {
        username: u.username,
        password: u.password ?? '',
        uid: u.uid ?? undefined,
        gid: u.gid ?? undefined,
        home: u.home ?? undefined,
        fields,
      };
    },
    listUsers: async () => (await db.listUsers()).map((u) => u.username),
  };
}

export function authSettingsFrom(s: Settings): AuthSettings {
  return {
    passdbs: s.passdb.map((p) => ({ ...p, name: p.name || undefined })),
    userdbs: s.userdb.map((u) => ({ ...u, name: u.name || undefined })),
    auth_username_format: s.auth_username_format,
    auth_default_realm: s.auth_default_realm,
    auth_realms: s.auth_realms,
    auth_master_user_separator: s.auth_master_user_separator,
    auth_username_chars: s.auth_username_chars,
    auth_failure_delay: s.auth_failure_delay / 1000,
  };
}

/** Where the built-in user database is (storage chooses it by the global mail_location). */
export function serverDbPlace(settings: Settings): ServerDbPlace {
  return { dataDir: settings.data_dir, mailLocation: settings.mail_location };
}

export interface CreatedContext extends ServerContext {
  /** Its stores are opened synchronously (openSyncUserStore): every backend serves that mode. */
  readonly mailUsers: MailUserService<UserStore>;
  /** The Lua worker pool, created on first use from the lua_* settings. */
  luaPool(): LuaWorkerPool;
  close(): Promise<void>;
}

export function luaPoolFor(settings: Settings): LuaWorkerPool {
  return new LuaWorkerPool(luaPoolSettings(settings));
}

/** The pool settings from the lua_* settings; `defaultWorkers` stands for lua_workers = 0. */
export function luaPoolSettings(settings: Settings, defaultWorkers = availableParallelism()): LuaPoolSettings {
  const workers = settings.lua_workers || defaultWorkers; // 0 = one per core
  return {
    workers,
    maxWorkers: settings.lua_max_workers || 4 * workers,
    callTimeoutMs: settings.lua_call_timeout,
    memoryLimitBytes: settings.lua_memory_limit,
    watchdogTimeoutMs: settings.lua_watchdog_timeout || undefined,
    system: {
      readPaths: settings.lua_read_paths,
      writePaths: settings.lua_write_paths,
      allowCommands: settings.lua_allow_commands,
    },
  };
}

export interface ServerContextOptions {
  serverDb?: ServerDb;
  /** How auth waits (penalty, auth_failure_delay); tests pass a clock they control. */
  authSleep?: (ms: number) => Promise<void>;
  /** Use this pool (owned by the caller, not closed here) instead of one from the lua_* settings. */
  luaPool?: LuaWorkerPool;
  /** `serve`: one set of user locks for every generation of the configuration. */
  userLocks?: UserLocks;
  /** Timers for closing idle stores (mail_store_idle_time); tests pass one they advance. */
  idleClock?: IdleClock;
}

export function createServerContext(settings: Settings, opts: ServerContextOptions = {}): CreatedContext {
  mkdirSync(settings.data_dir, { recursive: true });
  const serverDb = opts.serverDb ?? openServerDb(serverDbPlace(settings));
  let pool: LuaWorkerPool | null = null;
  const luaPool = () => opts.luaPool ?? (pool ??= luaPoolFor(settings));
  // A Lua passdb/userdb loads its scripts at start-up (Dovecot's auth process does), so the pool
  // exists from the start only when one is configured.
  const authUsesLua = [...settings.passdb, ...settings.userdb].some((d) => d.driver === 'lua');
  const auth = new AuthService(authSettingsFrom(settings), {
    accounts: accountStoreFor(serverDb),
    lua: authUsesLua ? luaPool() : undefined,
    authDebug: settings.auth_debug,
    ...(opts.authSleep ? { sleep: opts.authSleep } : {}),
  });
  const idleStores = new IdleStores(
    { idleMs: settings.mail_store_idle_time, maxIdle: settings.mail_store_idle_max },
    opts.idleClock,
    // A store being restored is closed when its last user ends (and stays closed).
    (username) => !opts.userLocks?.isLocked(username),
  );
  // Worked out once per service (25+ µs each, per login otherwise): a context's settings never
  // change (a reload makes a new context). Services are named by the code, a handful.
  const perService = new Map<string, MailUserSettings>();
  const settingsFor = (service: string): MailUserSettings => {
    let s = perService.get(service);
    if (!s) {
      s = mailUserSettings(settings, service);
      if (perService.size < 16) perService.set(service, s);
    }
    return s;
  };
  const mailUsers = new MailUserService(settingsFor, openUserStore, idleStores);
  return {
    settings,
    serverDb,
    auth,
    mailUsers,
    ...(opts.userLocks ? { userLocks: opts.userLocks } : {}),
    luaPool,
    async close() {
      // Deinit hooks (mail-lua) still need the pool: users first, then auth scripts, then the pool.
      await mailUsers.shutdown();
      await auth.close();
      if (pool) await pool.close();
      if (!opts.serverDb) await serverDb.close();
    },
  };
}
