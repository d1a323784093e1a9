// The cached MIME tree of a message (DESIGN "one concept, one place"): read from storage, parsed
// and cached there on first use when the message was stored without one.
import { parseMessage } from '../../mime/parser.js';
import type { MimePart } from '../../mime/types.js';
import type { BodyReader, MessageMeta, UserStore } from '../../storage/types.js';
import { isPromise, syncBody, then, type MaybePromise } from '../../storage/maybe-async.js';

/** The storage calls FETCH and SEARCH need. */
export type MessageBodyStore = Pick<UserStore, 'openBody' | 'getMimeStructure' | 'setMimeStructure'>;

/**
 * The message's MIME tree; synchronous when the store answers synchronously (SEARCH and FETCH
 * call it once per message).
 */
export function loadMimeStructure(store: MessageBodyStore, meta: MessageMeta, body?: BodyReader): MaybePromise<MimePart> {
  const cached = store.getMimeStructure(meta.bodyId);
  if (isPromise(cached)) return cached.then((c) => (c !== undefined ? (c as MimePart) : parseAndCache(store, meta, body)));
  if (cached !== undefined) return cached as MimePart;
  return parseAndCache(store, meta, body);
}

function parseAndCache(store: MessageBodyStore, meta: MessageMeta, body: BodyReader | undefined): MaybePromise<MimePart> {
  return then(body ?? store.openBody(meta.bodyId), (reader) =>
    then(syncBody(reader), (source) => {
      const root = parseMessage(source);
      return then(store.setMimeStructure(meta.bodyId, root), () => root);
    }),
  );
}
