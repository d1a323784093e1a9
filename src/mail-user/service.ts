// Creates mail users for the protocol layers and the CLI, with the plugin hooks registered on
// this server instance (several servers may live in one process, e.g. in tests).
import { mailUserSessionOpened } from '../metrics/metrics.js';
import { MailUser, type MailUserParams, type MailUserSettings } from './mail-user.js';
import type { MailUserHooks } from './hooks.js';
import { UserStoreRegistry, type UserStoreOpener } from './store-registry.js';
import { IdleStores } from './idle-stores.js';
import type { SyncUserStore, UserStore } from '../storage/types.js';

/** `S`: the store type of its opener, which its mail users hand out (MailUser). */
export class MailUserService<S extends UserStore = SyncUserStore> {
  private readonly hooks: { name: string; hooks: MailUserHooks }[] = [];
  readonly stores: UserStoreRegistry<S>;
  /** Live sessions, each with the call that takes it off the roost_mail_user_sessions gauge. */
  private live = new Map<MailUser<S>, () => void>();
  /** Deinits in progress, by username (see createUser). */
  private ending = new Map<string, Set<Promise<void>>>();

  constructor(
    private readonly settingsFor: (service: string) => MailUserSettings,
    opener: UserStoreOpener<S>,
    /** Stores kept open after their last user ended (default: the mail_store_idle_* defaults). */
    idleStores: IdleStores = new IdleStores(),
  ) {
    this.stores = new UserStoreRegistry(opener, idleStores);
  }

  /** Registers a plugin's hooks (mail-lua, push notifications); returns an unregister function. */
  addHooks(name: string, hooks: MailUserHooks): () => void {
    const entry = { name, hooks };
    this.hooks.push(entry);
    return () => {
      const i = this.hooks.indexOf(entry);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /**
   * Creates a user and runs the created hooks. Throws MailUserInitError when a hook fails; the
   * half-created user is then deinitialised (its deinit hooks see a user that never got storage).
   */
  async createUser(params: MailUserParams): Promise<MailUser<S>> {
    // A session of this user that is still ending runs its deinit hooks first: in Dovecot the
    // old imap process finishes mail_user_deinit before a new login's mail_user_created can run.
    const ending = this.ending.get(params.username);
    if (ending) await Promise.all(ending);
    const user = new MailUser(this.settingsFor(params.service), params, this.stores, this.hooks);
    this.live.set(user, mailUserSessionOpened(params.service));
    try {
      await user.runCreatedHooks();
    } catch (err) {
      await this.destroyUser(user);
      throw err;
    }
    return user;
  }

  async destroyUser(user: MailUser<S>): Promise<void> {
    this.live.get(user)?.();
    this.live.delete(user);
    const done = user.deinit();
    let set = this.ending.get(user.username);
    if (!set) this.ending.set(user.username, (set = new Set()));
    const tracked = done.catch(() => undefined);
    set.add(tracked);
    try {
      await done;
    } finally {
      set.delete(tracked);
      if (set.size === 0 && this.ending.get(user.username) === set) this.ending.delete(user.username);
    }
  }

  /** Ends every live session (server shutdown). */
  async shutdown(): Promise<void> {
    for (const u of [...this.live.keys()]) await this.destroyUser(u);
    this.stores.closeAll();
  }

  get liveUsers(): number {
    return this.live.size;
  }

  /** The live sessions (`roost who` lists those no protocol server lists itself). */
  sessions(): MailUser<S>[] {
    return [...this.live.keys()];
  }
}
