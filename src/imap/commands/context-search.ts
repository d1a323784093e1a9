// CONTEXT=SEARCH (RFC 5267 §4): `SEARCH RETURN (UPDATE ...)` keeps a search alive while the mailbox
// stays selected; whenever the session announces changes, each live search is evaluated again and
// the difference goes out as `* ESEARCH (TAG "t") [UID] ADDTO (0 set)` / `REMOVEFROM (0 set)`
// (position 0: SEARCH results have no order, as Dovecot sends them). CANCELUPDATE ends one. Built
// on the session hooks: evaluated after each flush of the view's updates, dropped when the mailbox
// is closed.
import type { SearchKey } from '../protocol/index.js';
import { formatNumberSet } from '../protocol/index.js';
import type { SelectedMailbox } from '../selected-mailbox.js';
import type { CommandContext, SessionHooks } from './context.js';
import { evaluateSearch, type SearchMessage } from './search-eval.js';
import { textCacheFor } from './search.js';
import { no, ok, SELECTED, type CommandHandler } from './types.js';

interface LiveSearch {
  uid: boolean;
  criteria: SearchKey;
  /** The matches the client knows of, as UIDs. */
  uids: Set<number>;
}

export class SearchUpdates {
  private readonly live = new Map<string, LiveSearch>();
  /** The view state the live searches were last evaluated against. */
  private seen = { modseq: -1, count: -1 };

  constructor(private readonly session: CommandContext) {}

  add(tag: string, uid: boolean, criteria: SearchKey, uids: readonly number[]): void {
    this.live.set(tag, { uid, criteria, uids: new Set(uids) });
    const view = this.session.selected;
    if (view) this.seen = { modseq: view.highestModseq, count: view.count };
  }

  cancel(tag: string): boolean {
    return this.live.delete(tag);
  }

  clear(): void {
    this.live.clear();
  }

  /** The ADDTO / REMOVEFROM lines for what changed since the last evaluation. */
  refresh(view: SelectedMailbox): void {
    if (this.live.size === 0) return;
    if (view.highestModseq === this.seen.modseq && view.count === this.seen.count) return;
    this.seen = { modseq: view.highestModseq, count: view.count };
    const store = this.session.store;
    const messages: SearchMessage[] = [];
    for (const meta of store.listMessages(view.id)) {
      const seq = view.seqOf(meta.uid);
      if (seq > 0) messages.push({ seq, meta });
    }
    const stored = new Set(messages.map((m) => m.meta.uid));
    const uids = view.allUids;
    for (const [tag, search] of this.live) {
      const result = evaluateSearch({ store, textCache: textCacheFor(store) }, messages, search.criteria, {
        recentUids: view.recentUids,
        highestSeq: view.count,
        maxUid: uids.length > 0 ? uids[uids.length - 1]! : 0,
        savedResult: this.session.savedSearch ?? undefined,
        returnUids: true,
      });
      const now = new Set(result.numbers);
      const removed: number[] = [];
      for (const u of search.uids) {
        if (now.has(u)) continue;
        const inView = view.seqOf(u) > 0;
        // An expunge the view still holds back is reported once the view lets it go; a message the
        // view no longer has is only named by UID (its sequence number is gone).
        if (inView && !stored.has(u)) continue;
        if (!inView && !search.uid) {
          search.uids.delete(u);
          continue;
        }
        removed.push(u);
      }
      const added = [...now].filter((u) => !search.uids.has(u));
      for (const u of removed) search.uids.delete(u);
      for (const u of added) search.uids.add(u);
      const prefix = `* ESEARCH (TAG "${tag.replace(/[\\"]/g, '\\$&')}")${search.uid ? ' UID' : ''}`;
      const numbers = (list: number[]) => (search.uid ? list : list.map((u) => view.seqOf(u)).filter((s) => s > 0));
      if (removed.length > 0) this.session.respond(`${prefix} REMOVEFROM (0 ${formatNumberSet(numbers(removed))})\r\n`);
      if (added.length > 0) this.session.respond(`${prefix} ADDTO (0 ${formatNumberSet(numbers(added))})\r\n`);
    }
  }
}

const bySession = new WeakMap<CommandContext, SearchUpdates>();

/** The live searches of a session (created with its hooks). */
export function searchUpdatesOf(session: CommandContext): SearchUpdates | undefined {
  return bySession.get(session);
}

export function contextSearchHooks(session: CommandContext): SessionHooks {
  const updates = new SearchUpdates(session);
  bySession.set(session, updates);
  return {
    unselected: () => updates.clear(),
    updatesFlushed: (view) => updates.refresh(view),
    ended: () => updates.clear(),
  };
}

/** RFC 5267 §4.3; Dovecot's text for a tag without a live search. */
export const CANCELUPDATE: CommandHandler<'CANCELUPDATE'> = {
  states: SELECTED,
  async run(session, _tag, cmd) {
    const updates = searchUpdatesOf(session);
    let allKnown = true;
    for (const t of cmd.tags) if (!updates?.cancel(t)) allKnown = false;
    return allKnown ? ok('Cancelupdate completed.') : no('Unknown tag');
  },
};
