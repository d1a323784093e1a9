// The cached MIME tree of a message (DESIGN "one concept, one place"): read from storage, parsed
// and cached there on first use when the message was stored without one.
import { parseMessage } from '../../mime/parser.js';
import type { MimePart } from '../../mime/types.js';
import type { SyncBodyReader, MessageMeta, SyncUserStore } from '../../storage/types.js';

/** The storage calls FETCH and SEARCH need. */
export type MessageBodyStore = Pick<SyncUserStore, 'openBody' | 'getMimeStructure' | 'setMimeStructure'>;

export function loadMimeStructure(store: MessageBodyStore, meta: MessageMeta, body?: SyncBodyReader): MimePart {
  const cached = store.getMimeStructure(meta.bodyId);
  if (cached !== undefined) return cached as MimePart;
  const root = parseMessage(body ?? store.openBody(meta.bodyId));
  store.setMimeStructure(meta.bodyId, root);
  return root;
}
