// The mail_user session: one per IMAP login, per LMTP recipient, per CLI command acting on a user
// (Dovecot's struct mail_user). It carries who the user is (userdb fields), where their mail is,
// which service created it, and the per-user plugin environment; plugins hook its lifecycle.
import path from 'node:path';
import { Logger } from '../log/logger.js';
import { actorView, parseMailLocation } from '../storage/index.js';
import { StorageError, type MailboxInfo, type SyncUserStore, type UserStore, type UserStoreOptions } from '../storage/types.js';
import { MailUserInitError, type MailUserHooks } from './hooks.js';
import { newSessionId } from './session-id.js';
import { quotaLimitsFromRule } from './quota-rule.js';
import type { UserStoreRegistry } from './store-registry.js';
import { expandMailUserTemplate, type MailUserVariableSource } from './variables.js';

export type ServiceName = 'imap' | 'lmtp' | 'doveadm' | 'lda' | string;

/** The settings a mail user needs, taken from the effective config for its protocol. */
export interface MailUserSettings {
  /** `mail_home`, e.g. `./data/home/%d/%n` (relative paths resolve against the process cwd). */
  mailHome: string;
  /** `mail_location` (`<scheme>:<rest>`; storage chooses the backend by the scheme). */
  mailLocation: string;
  /** Hierarchy separator of the inbox namespace. */
  separator: string;
  mailUid: string;
  mailGid: string;
  mailDebug: boolean;
  hostname: string;
  /** The `plugin { }` block. */
  plugin: Record<string, string>;
  /** Other global settings a userdb field may override (e.g. `mail_lua_script`). */
  globals?: Record<string, string>;
  /** Dovecot's `mail_fsync`: `optimized` (default), `always`, `never`. */
  mailFsync?: 'optimized' | 'always' | 'never';
  /** `mail_max_message_size` in bytes (APPEND and delivery refuse bigger messages). */
  maxMessageSize?: number;
  /**
   * Dovecot's `mailbox_idle_check_interval` (ms): how often the store looks for other processes'
   * changes besides watching for them (the change feed's safety poll).
   */
  idleCheckInterval?: number;
  /** `mail_index_retain_messages`: mailbox listings kept after the user's last session (storage indexRetainMessages). */
  indexRetainMessages?: number;
  /** `namespace inbox { mailbox NAME { special_use auto } }`: created/subscribed on first use. */
  mailboxes?: { name: string; specialUse: string[]; auto: 'no' | 'create' | 'subscribe' }[];
}

export interface MailUserParams {
  username: string;
  service: ServiceName;
  /** Fields from the userdb lookup (home, uid, gid, mail, quota_rule, extra fields). */
  userdbFields?: Record<string, string>;
  localIp?: string;
  remoteIp?: string;
  localPort?: number;
  remotePort?: number;
  /** The login user when a master user logged in as this user. */
  authUser?: string;
  sessionId?: string | null;
  /** Dovecot's `nonexistent`/`anonymous`/`autocreated` flags (false for real sessions). */
  flags?: Partial<Record<'nonexistent' | 'anonymous' | 'autocreated' | 'admin' | 'dsyncing', boolean>>;
}

/** A mail user of any service: its store taken as a UserStore (what code that needs no sync calls takes). */
export type AnyMailUser = MailUser<UserStore>;

/** Userdb fields that configure the user itself rather than its plugins (see pluginGetenv). */
const USERDB_OWN_FIELDS = new Set(['home', 'uid', 'gid', 'chroot', 'mail', 'system_groups_user', 'nice']);

/**
 * `S`: the store type its service's opener hands out. A service that opens synchronous stores (the
 * one `roost serve`, the CLI and the tests create, and the Lua plugins on the main thread rely on)
 * hands out SyncUserStore; the protocol layers take any as a UserStore (ServerContext) and await
 * every call.
 */
export class MailUser<S extends UserStore = SyncUserStore> implements MailUserVariableSource {
  readonly username: string;
  readonly service: ServiceName;
  readonly sessionId: string | null;
  readonly createTime: number; // unix seconds
  readonly userdbFields: Record<string, string>;
  readonly localIp: string;
  readonly remoteIp: string;
  readonly localPort: number;
  readonly remotePort: number;
  readonly authUser: string;
  readonly flags: Record<'nonexistent' | 'anonymous' | 'autocreated' | 'admin' | 'dsyncing', boolean>;
  readonly log: Logger;
  readonly home: string;
  readonly uid: number;
  readonly gid: number;
  /** Per-plugin state attached to this user (e.g. the mail-lua state handle). */
  readonly pluginData = new Map<string, unknown>();
  /** Set once the created hooks ran: Dovecot's namespaces exist only from then on. */
  namespacesReady = false;

  private store: S | null = null;
  /** The shared store seen through this session: its changes carry this user as actor (push events). */
  private storeView: S | null = null;
  /** The configured mailboxes being set up, while an asynchronous store does it (see openStore). */
  private storeSetup: Promise<void> | null = null;
  private deinitDone = false;
  private storeOptionsCache: UserStoreOptions | undefined;
  private pluginEnvCache: Record<string, string> | undefined;

  constructor(
    readonly settings: MailUserSettings,
    params: MailUserParams,
    private readonly stores: UserStoreRegistry<S>,
    private readonly hooks: readonly { name: string; hooks: MailUserHooks }[],
  ) {
    this.username = params.username;
    this.service = params.service;
    this.sessionId = params.sessionId === undefined ? newSessionId() : params.sessionId;
    this.createTime = Math.floor(Date.now() / 1000);
    this.userdbFields = { ...(params.userdbFields ?? {}) };
    this.localIp = params.localIp ?? '';
    this.remoteIp = params.remoteIp ?? '';
    this.localPort = params.localPort ?? 0;
    this.remotePort = params.remotePort ?? 0;
    this.authUser = params.authUser ?? params.username;
    this.flags = {
      nonexistent: false,
      anonymous: false,
      autocreated: false,
      admin: false,
      dsyncing: false,
      ...params.flags,
    };
    this.uid = parseNumericId(this.userdbFields.uid ?? settings.mailUid);
    this.gid = parseNumericId(this.userdbFields.gid ?? settings.mailGid);
    // Dovecot's log prefix for mail processes: `imap(alice)<pid><session>: `.
    const sess = this.sessionId ? `<${this.sessionId}>` : '';
    this.log = new Logger(`${this.service}(${this.username})<${process.pid}>${sess}: `);
    const homeTemplate = this.userdbFields.home ?? settings.mailHome;
    this.home = path.resolve(this.expand(homeTemplate, { skipHome: true }));
  }

  /**
   * Plugin setting lookup (Dovecot's mail_user_plugin_getenv): userdb fields override the
   * `plugin { }` block; a userdb field `plugin/<name>` is the explicit form.
   */
  pluginGetenv(name: string): string | undefined {
    // Dovecot's mail-storage-service.c takes these userdb fields for the user itself (home
    // directory, uid, ...): they never reach the plugin environment (checked on 2.3.19: nil).
    const own = USERDB_OWN_FIELDS.has(name) ? undefined : this.userdbFields[name];
    return this.userdbFields[`plugin/${name}`] ?? own ?? this.settings.plugin[name];
  }

  /**
   * Every name pluginGetenv answers, with its value (plugin { } < userdb field < userdb
   * `plugin/<name>`). Computed once per session (settings and userdb fields do not change in
   * it): mail-lua and push each send it to a Lua worker, and one object crosses once.
   */
  pluginEnvironment(): Readonly<Record<string, string>> {
    if (this.pluginEnvCache) return this.pluginEnvCache;
    const env: Record<string, string> = { ...this.settings.plugin };
    for (const [k, v] of Object.entries(this.userdbFields)) if (!k.startsWith('plugin/') && !USERDB_OWN_FIELDS.has(k)) env[k] = v;
    for (const [k, v] of Object.entries(this.userdbFields)) if (k.startsWith('plugin/')) env[k.slice(7)] = v;
    return (this.pluginEnvCache = env);
  }

  /** A global setting, overridable per user by a userdb field of the same name. */
  setting(name: string): string | undefined {
    return this.userdbFields[name] ?? this.settings.globals?.[name];
  }

  /** Dovecot's var_expand with the mail-user variable table (spec §7.4). */
  expand(template: string, opts: { skipHome?: boolean } = {}): string {
    return expandMailUserTemplate(template, this, opts);
  }

  /**
   * The user's store options (plain data, so a Lua worker can open its own connection). Computed
   * once per session: a delivery asks for them four times (its store, push's subscription, the
   * data of two Lua states). Throws each time while the userdb `mail` field is invalid.
   */
  storeOptions(): Readonly<UserStoreOptions> {
    if (this.storeOptionsCache) return this.storeOptionsCache;
    const location = this.userdbFields.mail ?? this.settings.mailLocation;
    parseMailLocation(location); // a userdb `mail` field is checked here (the config's at load)
    return (this.storeOptionsCache = {
      username: this.username,
      home: this.home,
      location,
      separator: this.settings.separator,
      quota: quotaLimitsFromRule(this.pluginGetenv('quota_rule')),
      fsync: this.settings.mailFsync ?? 'optimized',
      settings: {
        ...(this.settings.maxMessageSize ? { maxMessageBytes: this.settings.maxMessageSize } : {}),
        ...(this.settings.idleCheckInterval ? { changePollIntervalMs: this.settings.idleCheckInterval } : {}),
        ...(this.settings.indexRetainMessages !== undefined ? { indexRetainMessages: this.settings.indexRetainMessages } : {}),
      },
    });
  }

  /**
   * The user's mail store; opened on first use (after the created hooks). Callers that take it as
   * a UserStore await every call, and use openStore(): with an asynchronous store the configured
   * mailboxes (applyConfiguredMailboxes) are only set up once that resolves. A synchronous store
   * has them set up when this returns.
   */
  getStore(): S {
    if (!this.namespacesReady) throw new Error(`No namespace found for user ${this.username}: storage not yet initialised`);
    if (!this.store) {
      this.store = this.stores.acquire(this.storeOptions());
      const setup = runStoreSteps(this.applyConfiguredMailboxes(this.store));
      if (setup) {
        // The next openStore() reports a failure, as the synchronous call would have thrown it.
        this.storeSetup = setup;
        setup.catch(() => {});
      }
    }
    if (!this.storeView) this.storeView = actorView(this.store, this);
    return this.storeView;
  }

  /** getStore() once the store is ready for use (the configured mailboxes exist). */
  async openStore(): Promise<S> {
    const store = this.getStore();
    if (this.storeSetup) await this.storeSetup;
    return store;
  }

  /**
   * Dovecot's `mailbox NAME { auto = create|subscribe special_use = ... }`: autocreated mailboxes
   * exist (and, for `subscribe`, are subscribed when created) from the user's first session on,
   * for IMAP, LMTP and Lua alike. A configured special_use is applied to an existing mailbox that
   * has none of its own. Yields each storage call's result (runStoreSteps).
   */
  private *applyConfiguredMailboxes(store: UserStore): StoreSteps {
    for (const box of this.settings.mailboxes ?? []) {
      const name = box.name.toUpperCase() === 'INBOX' ? 'INBOX' : box.name;
      let info = (yield store.getMailbox(name)) as MailboxInfo | undefined;
      if (!info && box.auto !== 'no') {
        try {
          info = (yield store.createMailbox(name, box.specialUse.length ? { specialUse: box.specialUse } : undefined)) as MailboxInfo;
          if (box.auto === 'subscribe') yield store.setSubscribed(name, true);
        } catch (err) {
          // Another thread (a Lua worker) may have created it a moment ago.
          if (!(err instanceof StorageError && err.code === 'ALREADYEXISTS')) throw err;
          info = (yield store.getMailbox(name)) as MailboxInfo | undefined;
        }
      }
      if (info && !info.noselect && info.specialUse.length === 0 && box.specialUse.length) yield store.setSpecialUse(name, box.specialUse);
    }
  }

  /** Runs the created hooks in order; the first failure fails the creation. */
  async runCreatedHooks(): Promise<void> {
    for (const { hooks } of this.hooks) {
      if (!hooks.created) continue;
      try {
        await hooks.created(this);
      } catch (err) {
        throw err instanceof MailUserInitError ? err : new MailUserInitError(errorText(err));
      }
    }
    this.namespacesReady = true;
  }

  /**
   * Ends the session: deinit_pre hooks (storage usable), storage released, deinit hooks.
   * Idempotent. Hook errors are logged, never thrown.
   */
  async deinit(): Promise<void> {
    if (this.deinitDone) return;
    this.deinitDone = true;
    const reversed = [...this.hooks].reverse();
    const pre = reversed.filter((h) => h.hooks.deinitPre);
    const post = reversed.filter((h) => h.hooks.deinit);
    // A plugin whose deinitPre runs last and whose deinit runs first may do both in one step.
    const last = pre[pre.length - 1];
    const joined = last && last === post[0] && last.hooks.deinitPreAndDeinit ? last : undefined;
    for (const { hooks } of pre) {
      try {
        await (hooks === joined?.hooks ? hooks.deinitPreAndDeinit!(this) : hooks.deinitPre!(this));
      } catch (err) {
        this.log.error(errorText(err));
      }
    }
    if (this.store) {
      // An asynchronous store still setting up the configured mailboxes finishes first.
      await this.storeSetup?.catch(() => {});
      this.storeSetup = null;
      this.stores.release(this.store);
      this.store = null;
      this.storeView = null;
    }
    this.namespacesReady = false;
    for (const { hooks } of post) {
      if (hooks === joined?.hooks) continue;
      try {
        await hooks.deinit!(this);
      } catch (err) {
        this.log.error(errorText(err));
      }
    }
  }
}

/** Storage calls made one after the other: each yields what the call returned (a value or a promise). */
type StoreSteps = Generator<unknown, void, unknown>;

/**
 * Runs `steps`, handing each call's result back: synchronously as long as the store answers with
 * values (null is returned then), else from the first promise on (the promise of the rest).
 */
function runStoreSteps(steps: StoreSteps): Promise<void> | null {
  let next = steps.next();
  while (!next.done) {
    const value = next.value;
    if (isPromise(value)) return finishStoreSteps(steps, value);
    next = steps.next(value);
  }
  return null;
}

async function finishStoreSteps(steps: StoreSteps, pending: Promise<unknown>): Promise<void> {
  let input: unknown;
  let failure: { error: unknown } | null = null;
  try {
    input = await pending;
  } catch (error) {
    failure = { error };
  }
  for (;;) {
    const next = failure ? steps.throw(failure.error) : steps.next(input);
    if (next.done) return;
    failure = null;
    try {
      input = await next.value;
    } catch (error) {
      failure = { error };
    }
  }
}

function isPromise(v: unknown): v is Promise<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

function parseNumericId(v: string | undefined): number {
  if (v === undefined || v === '') return process.getuid?.() ?? 0;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : (process.getuid?.() ?? 0);
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
