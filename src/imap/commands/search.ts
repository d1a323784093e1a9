// SEARCH / UID SEARCH (RFC 3501 §6.4.4), ESEARCH return options (RFC 4731) and SAVE (RFC 5182):
// the session supplies the view (sequence numbers, \Recent, `$`); the SEARCH engine
// (search-eval.ts) decides which messages match.
import type { UserStore } from '../../storage/types.js';
import { evaluateSearch, type SearchMessage } from './search-eval.js';
import { BADCHARSET_CODE, formatEsearch, formatSearchResponse, isSearchCharsetSupported } from './search-response.js';
import { SearchTextCache } from './search-text.js';
import { no, ok, SELECTED, type CommandHandler } from './types.js';

/** One decoded-text cache per open user store (shared by that user's sessions). */
const textCaches = new WeakMap<UserStore, SearchTextCache>();

function textCacheFor(store: UserStore): SearchTextCache {
  let cache = textCaches.get(store);
  if (!cache) {
    cache = new SearchTextCache();
    textCaches.set(store, cache);
  }
  return cache;
}

export const SEARCH: CommandHandler<'SEARCH'> = {
  states: SELECTED,
  mayAnnounceExpunge: (cmd) => cmd.uid,
  async run(session, tag, cmd) {
    if (!isSearchCharsetSupported(cmd.charset)) return no('Unsupported charset', BADCHARSET_CODE);
    const view = session.selected!;
    const store = session.store;
    const uids = view.allUids;
    const metas = uids.length === 0 ? [] : store.listMessages(view.id);
    const messages: SearchMessage[] = [];
    for (const meta of metas) {
      const seq = view.seqOf(meta.uid);
      if (seq > 0) messages.push({ seq, meta });
    }
    const result = evaluateSearch({ store, textCache: textCacheFor(store) }, messages, cmd.criteria, {
      recentUids: view.recentUids,
      highestSeq: view.count,
      maxUid: uids.length > 0 ? uids[uids.length - 1]! : 0,
      savedResult: session.savedSearch ?? undefined,
      returnUids: cmd.uid,
    });
    if (result.highestModseq !== null) session.condstore = true;
    if (cmd.returnOptions === null) {
      session.conn.write(formatSearchResponse(result.numbers, result.highestModseq));
      return ok('Search completed.');
    }
    if (cmd.returnOptions.includes('SAVE')) {
      // RFC 5182: `$` keeps UIDs whatever form the search returned.
      session.savedSearch = cmd.uid ? [...result.numbers] : result.numbers.map((s) => view.uidAt(s)!).filter((u) => u !== undefined);
    }
    const line = formatEsearch(tag, cmd.uid, result.numbers, cmd.returnOptions, result.highestModseq);
    if (line) session.conn.write(line);
    return ok('Search completed.');
  },
};
