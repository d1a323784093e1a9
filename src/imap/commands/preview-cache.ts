// RFC 8970 PREVIEW with LAZY: the preview is answered only when it is at hand, NIL otherwise
// (§3.2: the client then asks again later, or without LAZY). Dovecot 2.3.19 answers LAZY from its
// index cache: NIL until a FETCH PREVIEW without LAZY computed (and cached) the message's preview,
// and a LAZY request starts caching previews of messages saved afterwards. Roost keeps previews in
// memory per user store, by content GUID (a COPY shares it, as Dovecot's copy keeps its cache): a
// FETCH PREVIEW without LAZY fills it, and the messages a LAZY request answered NIL for are computed
// in the background, one per turn of the event loop, so a later request has them.
import { snippet } from '../../mime/decode.js';
import type { MessageMeta } from '../../storage/types.js';
import { syncBody } from '../../storage/maybe-async.js';
import { loadMimeStructure, type MessageBodyStore } from './fetch-mime.js';

/** Previews kept per user store (the oldest go first); about 300 bytes each. */
export const PREVIEW_CACHE_ENTRIES = 20_000;
/** Messages waiting for a background preview per user store; later ones are not queued. */
export const PREVIEW_QUEUE_LIMIT = 5_000;

export class PreviewCache {
  private readonly previews = new Map<string, string>();
  private readonly queue = new Map<string, MessageMeta>();
  private draining = false;

  constructor(
    private readonly store: MessageBodyStore,
    readonly maxEntries = PREVIEW_CACHE_ENTRIES,
    readonly maxQueued = PREVIEW_QUEUE_LIMIT,
  ) {}

  get(guid: string): string | undefined {
    return this.previews.get(guid);
  }

  set(guid: string, preview: string): void {
    this.previews.delete(guid);
    this.previews.set(guid, preview);
    if (this.previews.size > this.maxEntries) this.previews.delete(this.previews.keys().next().value!);
  }

  /** The preview of `meta`, computed now and kept (FETCH PREVIEW without LAZY). */
  compute(meta: MessageMeta, read: () => string): string {
    const known = this.previews.get(meta.guid);
    if (known !== undefined) return known;
    const preview = read();
    this.set(meta.guid, preview);
    return preview;
  }

  /** Queues `meta` for a background preview (a LAZY request found none). */
  computeLater(meta: MessageMeta): void {
    if (this.previews.has(meta.guid) || this.queue.has(meta.guid) || this.queue.size >= this.maxQueued) return;
    this.queue.set(meta.guid, meta);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => void this.drainOne());
    }
  }

  /** Waiting messages (tests poll this). */
  get queued(): number {
    return this.queue.size;
  }

  private async drainOne(): Promise<void> {
    const next = this.queue.entries().next();
    if (next.done) {
      this.draining = false;
      return;
    }
    const [guid, meta] = next.value;
    this.queue.delete(guid);
    try {
      const body = await this.store.openBody(meta.bodyId);
      const root = await loadMimeStructure(this.store, meta, body);
      this.set(guid, snippet(await syncBody(body), root));
    } catch {
      // Expunged meanwhile, or the session ended and closed the store: the queue stops (a later
      // LAZY request queues what it still misses).
      this.queue.clear();
    }
    setImmediate(() => void this.drainOne());
  }
}

const caches = new WeakMap<MessageBodyStore, PreviewCache>();

export function previewCacheFor(store: MessageBodyStore): PreviewCache {
  let cache = caches.get(store);
  if (!cache) {
    cache = new PreviewCache(store);
    caches.set(store, cache);
  }
  return cache;
}
