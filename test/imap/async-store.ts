// A UserStore whose every call answers with a promise, as a network backend's does: it wraps a
// synchronous store, makes each call at once (so it runs inside the caller's withActor) and
// resolves it only after a turn of the event loop, so that other connections' work and change
// notices get in between, as they would while a query is on the wire. Body readers read the same
// way, and slices() is an async iterable.
import type { BodyReader, SyncBodyReader, SyncUserStore, UserStore } from '../../src/storage/types.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function later<T>(call: () => T): Promise<T> {
  const value = call();
  await nextTurn();
  return value;
}

function asyncBody(body: SyncBodyReader): BodyReader {
  return {
    bodyId: body.bodyId,
    size: body.size,
    read: (offset, length) => later(() => body.read(offset, length)),
    async *slices(offset, length) {
      for (const slice of body.slices(offset, length)) {
        await nextTurn();
        yield slice;
      }
    },
  };
}

/** Calls that stay synchronous in every backend (subscriptions, the actor, the promise-returning ones). */
const PASS_THROUGH = new Set<PropertyKey>(['username', 'separator', 'onChange', 'onMailEvents', 'withActor', 'stageBody']);

export interface AsyncStoreStats {
  /** Storage calls answered (each one a promise). */
  calls: number;
}

export function asyncStore(inner: SyncUserStore, stats: AsyncStoreStats = { calls: 0 }): UserStore {
  const wrapped = new Map<PropertyKey, unknown>();
  const store: UserStore = new Proxy(inner as unknown as UserStore, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || PASS_THROUGH.has(prop)) return typeof value === 'function' ? value.bind(target) : value;
      let fn = wrapped.get(prop);
      if (fn) return fn;
      const method = value as (...args: unknown[]) => unknown;
      if (prop === 'durably') {
        // The store durably() hands out defers its syncs: wrapped the same way.
        fn = (f: (s: UserStore) => unknown) => inner.durably((deferred) => f(asyncStore(deferred, stats)));
      } else if (prop === 'openBody') {
        fn = (bodyId: number) => later(() => asyncBody(inner.openBody(bodyId)));
      } else if (prop === 'openBodyWithStructure') {
        fn = (bodyId: number) =>
          later(() => {
            const { body, mimeStructure } = inner.openBodyWithStructure(bodyId);
            return { body: asyncBody(body), mimeStructure };
          });
      } else {
        fn = (...args: unknown[]) => {
          stats.calls++;
          return later(() => method.apply(target, args));
        };
      }
      wrapped.set(prop, fn);
      return fn;
    },
  });
  return store;
}
