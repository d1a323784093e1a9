// A session's view of a shared UserStore: every call runs with the session as actor, so the
// mail-event feed can tell which session made a change (MailTransactionEvents.actor). The store
// itself is shared by all sessions of the user in a thread (mail-user/store-registry.ts).
import type { StoreActor } from './mail-events.js';
import type { StoreMode, UserStoreOf } from './types.js';

export function actorView<S extends UserStoreOf<StoreMode>>(store: S, actor: StoreActor): S {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || prop === 'withActor' || prop === 'constructor') return value;
      let fn = wrapped.get(prop);
      if (!fn && prop === 'durably') {
        // The store durably() hands to its function acts for the same actor.
        let inner: { store: S; view: S } | undefined;
        const durably = value as (f: (s: S) => unknown) => Promise<unknown>;
        fn = (f: (s: S) => unknown) =>
          target.withActor(actor, () =>
            durably.call(target, (s: S) => {
              if (inner?.store !== s) inner = { store: s, view: actorView(s, actor) };
              return f(inner.view);
            }),
          );
        wrapped.set(prop, fn);
      }
      if (!fn) {
        const method = value as (...args: unknown[]) => unknown;
        fn = (...args: unknown[]) => target.withActor(actor, () => method.apply(target, args));
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}
