// SEARCH / UID SEARCH (RFC 3501 §6.4.4), ESEARCH return options (RFC 4731) and SAVE (RFC 5182):
// the session supplies the view (sequence numbers, \Recent, `$`); the SEARCH engine
// (search-eval.ts) decides which messages match, in time slices so other connections keep being
// served while it reads message text (DESIGN.md §6).
import type { MessageMeta, UserStore } from '../../storage/types.js';
import type { SelectedMailbox } from '../selected-mailbox.js';
import { searchInSlices, type SearchMessage } from './search-eval.js';
import { formatEsearch, formatSearchResponse, searchCharsetError } from './search-response.js';
import { SearchTextCache } from './search-text.js';
import { searchUpdatesOf } from './context-search.js';
import { ok, SELECTED, type CommandHandler } from './types.js';

/** One decoded-text cache per open user store (shared by that user's sessions). */
const textCaches = new WeakMap<UserStore, SearchTextCache>();

export function textCacheFor(store: UserStore): SearchTextCache {
  let cache = textCaches.get(store);
  if (!cache) {
    cache = new SearchTextCache();
    textCaches.set(store, cache);
  }
  return cache;
}

/** Messages read from the index per storage call: listing a large mailbox is sliced too. */
const LIST_BATCH = 1000;

/**
 * The view's messages with their index data, in sequence order (those expunged in storage
 * meanwhile are left out). A large mailbox is read in batches with a turn of the event loop
 * between them; null when the connection went away during one.
 */
export async function listMessages(store: UserStore, view: SelectedMailbox, aborted: () => boolean): Promise<SearchMessage[] | null> {
  const uids = view.allUids;
  const messages: SearchMessage[] = [];
  const add = (metas: MessageMeta[]) => {
    for (const meta of metas) {
      const seq = view.seqOf(meta.uid);
      if (seq > 0) messages.push({ seq, meta });
    }
  };
  if (uids.length <= LIST_BATCH) {
    if (uids.length > 0) add(await store.listMessages(view.id));
    return messages;
  }
  for (let i = 0; i < uids.length; i += LIST_BATCH) {
    if (i > 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (aborted()) return null;
    }
    add(await store.getMessages(view.id, uids.slice(i, i + LIST_BATCH)));
  }
  return messages;
}

export const SEARCH: CommandHandler<'SEARCH'> = {
  states: SELECTED,
  mayAnnounceExpunge: (cmd) => cmd.uid,
  async run(session, tag, cmd) {
    const charsetError = searchCharsetError(cmd.charset, session.isEnabled('UTF8=ACCEPT'));
    if (charsetError) return charsetError;
    const view = session.selected!;
    const store = session.store;
    const uids = view.allUids;
    const aborted = () => session.client.isClosed || session.selected !== view;
    const messages = await listMessages(store, view, aborted);
    if (messages === null) return null;
    // While the search pauses, this session runs no other command and its view takes in nobody
    // else's changes (they wait for the sync after the tagged reply): sequence numbers stay valid.
    // A message expunged meanwhile by another session is left out once its body is gone.
    const result = await searchInSlices({ store, textCache: textCacheFor(store) }, messages, cmd.criteria, {
      recentUids: view.recentUids,
      highestSeq: view.count,
      maxUid: uids.length > 0 ? uids[uids.length - 1]! : 0,
      savedResult: session.savedSearch ?? undefined,
      returnUids: cmd.uid,
    }, { aborted });
    // The connection closed during a pause (its store may be closed too): nobody to answer.
    if (result === null) return null;
    if (result.highestModseq !== null) await session.enableExtension('CONDSTORE');
    // RFC 9051 §6.4.4: in IMAP4rev2 a SEARCH without RETURN answers ESEARCH with ALL.
    if (cmd.returnOptions === null && session.isEnabled('IMAP4rev2')) {
      const line = formatEsearch(tag, cmd.uid, result.numbers, [], result.highestModseq, result.modseqs);
      if (line) session.respond(line);
      return ok('Search completed.');
    }
    if (cmd.returnOptions === null) {
      session.respond(formatSearchResponse(result.numbers, result.highestModseq));
      return ok('Search completed.');
    }
    if (cmd.returnOptions.includes('SAVE')) {
      // RFC 5182: `$` keeps UIDs whatever form the search returned.
      session.savedSearch = cmd.uid ? [...result.numbers] : result.numbers.map((s) => view.uidAt(s)!).filter((u) => u !== undefined);
    }
    // RFC 5267 §4.3: UPDATE keeps the search alive; ADDTO/REMOVEFROM follow as the mailbox changes.
    if (cmd.returnOptions.includes('UPDATE')) {
      const uidsNow = cmd.uid ? result.numbers : result.numbers.map((s) => view.uidAt(s)!).filter((u) => u !== undefined);
      searchUpdatesOf(session)?.add(tag, cmd.uid, cmd.criteria, uidsNow);
    }
    const line = formatEsearch(tag, cmd.uid, result.numbers, cmd.returnOptions, result.highestModseq, result.modseqs, cmd.partial);
    if (line) session.respond(line);
    return ok('Search completed.');
  },
};
