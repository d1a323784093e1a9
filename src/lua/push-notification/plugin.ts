// The push_notification + push_notification_lua plugins (spec §12): per mail user, the configured
// drivers receive the user's own changes from the storage mail-event feed. The Lua calls run
// asynchronously after the commit, in order, on a per-session queue: a failing, slow or hanging
// handler never delays or fails the IMAP command or LMTP delivery that caused the event.
// Dovecot: src/plugins/push-notification/push-notification-plugin.c.
import type { AnyMailUser as MailUser } from '../../mail-user/mail-user.js';
import type { MailUserService } from '../../mail-user/service.js';
import { savedMessage } from '../../storage/mail-events.js';
import { isPromise, type MaybePromise } from '../../storage/maybe-async.js';
import type { MailTransactionEvents, UserStore } from '../../storage/types.js';
import type { LuaStateHandle, LuaWorkerPool } from '../pool.js';
import { pushTransactions } from './events.js';
import { LuaPushDriver, takePreparedState } from './lua-driver.js';
import { messageFields, savedMessageFields, type MessageFields } from './message-fields.js';
import { driverSettings, pushNotificationEnabled } from './settings.js';

const PLUGIN = 'push-notification';

export interface PushNotificationOptions {
  /** mail-lua's state of a session, reused when no script file is configured (§12.1). */
  mailLuaState?: (user: MailUser) => LuaStateHandle | undefined;
}

/** What the plugin keeps per mail user. */
class PushSession {
  private queue: Promise<void> = Promise.resolve();
  /** Resolves once every run queued so far has been handed to its driver (it may still run). */
  private handedOver: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;
  private store: UserStore | null = null;

  constructor(
    private readonly user: MailUser,
    private readonly mailUsers: MailUserService<UserStore>,
    readonly drivers: LuaPushDriver[],
  ) {}

  /** Subscribes to the user's store (the instance the session's own view writes through). */
  attach(): void {
    this.store = this.mailUsers.stores.acquire(this.user.storeOptions());
    this.unsubscribe = this.store.onMailEvents((txn) => this.onCommit(txn));
  }

  /** Called synchronously right after a commit: snapshot what is needed, queue the Lua work. */
  private onCommit(txn: MailTransactionEvents): void {
    if (txn.actor !== this.user || !this.store) return;
    const store = this.store;
    const wantsFields = this.drivers.some((d) => d.wantsMessageFields);
    // Header data is read now, while the saved body certainly exists (a MOVE may free it soon).
    // An asynchronous store answers later: the reads start now, the queue waits for them.
    const fields = new Map<number, MaybePromise<MessageFields>>();
    if (wantsFields) {
      for (const e of txn.events) {
        if (e.type !== 'MessageSave' || fields.has(e.bodyId)) continue;
        // A message saved from memory (a delivery) is read from there, not back from the store.
        const saved = savedMessage(e);
        fields.set(e.bodyId, saved ? savedMessageFields(saved) : messageFields(store, e.bodyId));
      }
    }
    if (![...fields.values()].some(isPromise)) {
      const read = fields as Map<number, MessageFields>;
      for (const t of pushTransactions(txn, (e) => read.get(e.bodyId) ?? null)) {
        for (const d of this.drivers) {
          this.queueRun((handedOver) => {
            const running = d.run(t);
            handedOver();
            return running;
          });
        }
      }
      return;
    }
    // Queued now, so in commit order behind the earlier transactions' runs.
    // (A read that fails leaves that message's fields out, as a body gone already does; it must
    // not stop the queue.)
    const reading = Promise.all([...fields].map(async ([id, f]) => [id, await Promise.resolve(f).catch(() => null)] as const));
    this.queueRun(async (handedOver) => {
      const read = new Map(await reading);
      const runs = [...pushTransactions(txn, (e) => read.get(e.bodyId) ?? null)].flatMap((t) => this.drivers.map((d) => () => d.run(t)));
      if (runs.length === 0) handedOver();
      for (const [i, run] of runs.entries()) {
        const running = run();
        if (i === runs.length - 1) handedOver();
        await running;
      }
    });
  }

  /**
   * Queues `run` behind the runs before it (each starts once the one before has finished); `run`
   * calls `handedOver` once its last driver call is on its way to the worker (see finish()).
   */
  private queueRun(run: (handedOver: () => void) => Promise<void>): void {
    let handedOver!: () => void;
    this.handedOver = new Promise<void>((resolve) => (handedOver = resolve));
    this.queue = this.queue.then(() => run(handedOver));
  }

  /** Stops listening; resolves once queued transactions ran, then frees the drivers and store. */
  async finish(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.drivers.length === 1) {
      // The close follows the last transaction to the state's worker as soon as that one is on
      // its way (calls on one state run in the order they are sent): the worker runs both back to
      // back rather than being woken once more for the close (issue #18). With several drivers
      // each closes after all of them ran, as before.
      await this.handedOver;
      const closed = this.drivers[0]!.close();
      await this.queue;
      await closed;
    } else {
      await this.queue;
      for (const d of this.drivers) await d.close();
    }
    if (this.store) this.mailUsers.stores.release(this.store);
    this.store = null;
  }

  get sharesState(): boolean {
    return this.drivers.some((d) => !d.ownsState);
  }
}

/** Registers the plugin's hooks on `mailUsers`; `close()` waits for queued notifications. */
export function installPushNotification(
  mailUsers: MailUserService<UserStore>,
  /** The pool, or a getter that creates it on first use. */
  pool: LuaWorkerPool | (() => LuaWorkerPool),
  opts: PushNotificationOptions = {},
): { uninstall: () => void; close: () => Promise<void> } {
  const finishing = new Set<Promise<void>>();
  const mailLuaState =
    opts.mailLuaState ??
    ((user: MailUser) => {
      const s = user.pluginData.get('mail-lua');
      return s && typeof (s as LuaStateHandle).callHook === 'function' ? (s as LuaStateHandle) : undefined;
    });

  const startSession = async (user: MailUser, drivers: LuaPushDriver[]): Promise<void> => {
    if (drivers.length === 0) return;
    const session = new PushSession(user, mailUsers, drivers);
    try {
      session.attach();
    } catch (e) {
      user.log.error(`push-notification: ${e instanceof Error ? e.message : String(e)}`);
      await session.finish();
      return;
    }
    user.pluginData.set(PLUGIN, session);
  };

  const uninstall = mailUsers.addHooks(PLUGIN, {
    async created(user) {
      // The first driver's state, when mail-lua created it already (pushCompanionPlan).
      let prepared = takePreparedState(user);
      try {
        if (!pushNotificationEnabled(user)) return;
        const drivers: LuaPushDriver[] = [];
        for (const setting of driverSettings(user)) {
          if (setting.driver !== 'lua') {
            user.log.error(`push-notification: Unknown driver: ${setting.driver}`);
            break;
          }
          const adopt = prepared;
          prepared = undefined;
          try {
            drivers.push(await LuaPushDriver.init(user, setting, typeof pool === 'function' ? pool() : pool, mailLuaState(user), adopt));
          } catch (e) {
            // Dovecot logs the failure and goes on with the login; later drivers are not set up.
            user.log.error(`lua: ${e instanceof Error ? e.message : String(e)}`);
            break;
          }
        }
        await startSession(user, drivers);
      } finally {
        // Not adopted (cannot happen while the plan and this hook agree): closed, not leaked.
        if (prepared?.state) await prepared.state.close().catch(() => undefined);
      }
    },

    async deinitPre(user) {
      const session = user.pluginData.get(PLUGIN);
      if (!(session instanceof PushSession)) return;
      user.pluginData.delete(PLUGIN);
      const done = session.finish().catch((e: unknown) => user.log.error(`push-notification: ${String(e)}`));
      // mail-lua closes a shared state at deinit, so its queue must be done first (Dovecot runs
      // push synchronously at commit anyway). An own state drains in the background: an LMTP
      // reply waits for the session's deinit and must not wait for a slow web service.
      if (session.sharesState) {
        await done;
        return;
      }
      finishing.add(done);
      void done.finally(() => finishing.delete(done));
    },
  });

  return {
    uninstall,
    close: async () => {
      await Promise.all([...finishing]);
    },
  };
}
