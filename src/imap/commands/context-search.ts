// CONTEXT=SEARCH (RFC 5267 §4): `SEARCH RETURN (UPDATE ...)` keeps a search alive while the mailbox
// stays selected, and the session tells the client how its result changes, as Dovecot 2.3.19 does
// (test/fixtures/context-search):
// - an expunged match: `* ESEARCH (TAG "t") [UID] REMOVEFROM (0 set)` just before the EXPUNGE
//   lines, with the sequence numbers they still have (one line per search for all the expunges);
// - flag changes and new messages: after the view's FETCH/EXISTS/RECENT lines, one line per search
//   `... REMOVEFROM (0 set) ADDTO (0 set)` (either part left out when empty), sequence numbers of
//   the view after the update. Position 0: SEARCH results have no order, as Dovecot sends them.
// Sequence numbers, `*` and `$` in the criteria are fixed when the search starts (Dovecot resolves them
// to UIDs then: `SEARCH RETURN (UPDATE) 2:3` keeps its two messages when a lower one is expunged, and
// `UID 2:*` takes no later message), so only the messages that changed are evaluated again: new
// ones, and those whose modseq moved. CANCELUPDATE ends a search; closing the mailbox ends all.
import type { MessageMeta } from '../../storage/types.js';
import type { SearchKey, SeqRange, SequenceSet } from '../protocol/index.js';
import { formatNumberSet, sequenceSetIntervals } from '../protocol/index.js';
import type { SelectedMailbox } from '../selected-mailbox.js';
import type { CommandContext, SessionHooks } from './context.js';
import { searchInSlices, type SearchMessage } from './search-eval.js';
import { textCacheFor } from './search.js';
import { no, ok, SELECTED, type CommandHandler } from './types.js';

interface LiveSearch {
  uid: boolean;
  /** The criteria with sequence sets, `*` and `$` fixed as UID sets (fixPositions). */
  criteria: SearchKey;
  /** The matches the client knows of, as UIDs. */
  uids: Set<number>;
}

/** UIDs as a UID set of consecutive runs (an empty list matches nothing). */
function uidSet(uids: readonly number[]): SequenceSet {
  const ranges: SeqRange[] = [];
  for (const u of uids) {
    const last = ranges[ranges.length - 1];
    if (last && last.to === u - 1) last.to = u;
    else ranges.push({ from: u, to: u });
  }
  return { kind: 'ranges', ranges };
}

/**
 * `key` with every sequence set, `*` and `$` replaced by the UIDs they name in `view` now, so the
 * key no longer depends on the message's place in the mailbox.
 */
function fixPositions(key: SearchKey, view: SelectedMailbox, saved: readonly number[] | null): SearchKey {
  const uids = view.allUids;
  switch (key.type) {
    case 'sequence':
    case 'uid': {
      if (key.set.kind === 'saved') return { type: 'uid', set: uidSet(saved ?? []) };
      if (key.type === 'uid') {
        const max = uids.length > 0 ? uids[uids.length - 1]! : 0;
        return { type: 'uid', set: { kind: 'ranges', ranges: sequenceSetIntervals(key.set, max).map(([from, to]) => ({ from, to })) } };
      }
      const named: number[] = [];
      for (const [lo, hi] of sequenceSetIntervals(key.set, uids.length)) for (let seq = lo; seq <= hi; seq++) named.push(uids[seq - 1]!);
      return { type: 'uid', set: uidSet(named) };
    }
    case 'not':
      return { type: 'not', key: fixPositions(key.key, view, saved) };
    case 'or':
      return { type: 'or', left: fixPositions(key.left, view, saved), right: fixPositions(key.right, view, saved) };
    case 'and':
      return { type: 'and', keys: key.keys.map((k) => fixPositions(k, view, saved)) };
    default:
      return key;
  }
}

const quoteTag = (tag: string) => tag.replace(/[\\"]/g, '\\$&');

export class SearchUpdates {
  private readonly live = new Map<string, LiveSearch>();
  /** The view state the live searches were last evaluated against. */
  private seen = { modseq: -1, count: -1, maxUid: 0 };

  constructor(private readonly session: CommandContext) {}

  add(tag: string, uid: boolean, criteria: SearchKey, uids: readonly number[]): void {
    const view = this.session.selected;
    if (!view) return;
    this.live.set(tag, { uid, criteria: fixPositions(criteria, view, this.session.savedSearch), uids: new Set(uids) });
    this.noteSeen(view);
  }

  cancel(tag: string): boolean {
    return this.live.delete(tag);
  }

  clear(): void {
    this.live.clear();
  }

  private noteSeen(view: SelectedMailbox): void {
    const uids = view.allUids;
    this.seen = { modseq: view.highestModseq, count: view.count, maxUid: uids.length > 0 ? uids[uids.length - 1]! : 0 };
  }

  /**
   * The REMOVEFROM lines for matches about to be expunged from the view (`uids` still in it): they
   * go out before the EXPUNGE lines, numbered as the client still knows them.
   */
  beforeExpunge(view: SelectedMailbox, uids: readonly number[]): string[] {
    const lines: string[] = [];
    for (const [tag, search] of this.live) {
      const gone = uids.filter((u) => search.uids.has(u));
      if (gone.length === 0) continue;
      for (const u of gone) search.uids.delete(u);
      const numbers = search.uid ? gone : gone.map((u) => view.seqOf(u));
      lines.push(`* ESEARCH (TAG "${quoteTag(tag)}")${search.uid ? ' UID' : ''} REMOVEFROM (0 ${formatNumberSet(numbers)})\r\n`);
    }
    return lines;
  }

  /** The REMOVEFROM / ADDTO lines for flag changes and new messages since the last evaluation. */
  async refresh(view: SelectedMailbox): Promise<void> {
    if (this.live.size === 0) return;
    if (view.highestModseq === this.seen.modseq && view.count === this.seen.count) return;
    const since = this.seen;
    this.noteSeen(view);
    const uids = view.allUids;
    // Messages that changed: new ones, and those whose modseq moved (a flag change gives a modseq).
    const changed: number[] = [];
    for (const u of uids) if (u > since.maxUid || view.modseqOf(u) > since.modseq) changed.push(u);
    if (changed.length === 0) return;
    const store = this.session.store;
    const toMessages = (metas: readonly MessageMeta[]): SearchMessage[] => {
      const out: SearchMessage[] = [];
      for (const meta of metas) {
        const seq = view.seqOf(meta.uid);
        // An expunge the view still holds back: its REMOVEFROM comes with its EXPUNGE.
        if (seq > 0 && !view.isExpungePending(meta.uid)) out.push({ seq, meta });
      }
      return out;
    };
    const candidates = toMessages(await store.getMessages(view.id, changed));
    const opts = {
      recentUids: view.recentUids,
      highestSeq: view.count,
      maxUid: uids.length > 0 ? uids[uids.length - 1]! : 0,
      returnUids: true,
    };
    for (const [tag, search] of this.live) {
      // In one go, as the view's updates are written: no pause for other connections.
      const result = await searchInSlices({ store, textCache: textCacheFor(store) }, candidates, search.criteria, opts, { sliceMs: Infinity, textMessagesPerSlice: Infinity });
      const now = new Set(result!.numbers);
      const removed: number[] = [];
      const added: number[] = [];
      for (const m of candidates) {
        const u = m.meta.uid;
        if (now.has(u) && !search.uids.has(u)) added.push(u);
        else if (!now.has(u) && search.uids.has(u)) removed.push(u);
      }
      for (const u of removed) search.uids.delete(u);
      for (const u of added) search.uids.add(u);
      const numbers = (list: number[]) => formatNumberSet(search.uid ? list : list.map((u) => view.seqOf(u)));
      let line = `* ESEARCH (TAG "${quoteTag(tag)}")${search.uid ? ' UID' : ''}`;
      if (removed.length > 0) line += ` REMOVEFROM (0 ${numbers(removed)})`;
      if (added.length > 0) line += ` ADDTO (0 ${numbers(added)})`;
      if (removed.length > 0 || added.length > 0) this.session.respond(line + '\r\n');
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
    selected: (view) => {
      view.beforeExpunge = (uids) => updates.beforeExpunge(view, uids);
    },
    unselected: (view) => {
      view.beforeExpunge = null;
      updates.clear();
    },
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
    return allKnown ? ok('Updates cancelled.') : no('Unknown tag');
  },
};
