// The SEARCH engine (RFC 3501 §6.4.4, RFC 4731/5182 saved results, RFC 5032 OLDER/YOUNGER,
// RFC 7162 MODSEQ). Cheap keys first: each message is decided from the index alone (flags, size,
// dates, numbers, modseq) when possible; only a message still undecided has its headers and, if
// still needed, its decoded body text read (cached per body, search-text.ts). Reading text is the
// expensive part, so the network thread evaluates in slices (searchInSlices) and gives the event
// loop a turn between them (DESIGN.md §6).
import { performance } from 'node:perf_hooks';
import { sequenceSetHas, type SequenceSet } from '../protocol/sequence-set.js';
import type { SearchKey } from '../protocol/commands.js';
import { StorageError, type MessageMeta } from '../../storage/types.js';
import { imapDayNumber, localDayNumber, sentDayNumber } from './search-dates.js';
import { foldForSearch, messageText, type MessageText, type SearchBodyStore, type SearchTextCache } from './search-text.js';
import { DataPending, isPromise, type MaybePromise } from '../../storage/maybe-async.js';

export interface SearchContext {
  store: SearchBodyStore;
  /** Decoded-text cache shared by the user's sessions (optional but makes repeated TEXT fast). */
  textCache?: SearchTextCache;
  /** "Now" for OLDER/YOUNGER; default the current time. */
  now?: Date;
}

export interface SearchMessage {
  seq: number;
  meta: MessageMeta;
}

export interface SearchOptions {
  /** UIDs that are \Recent in this session. */
  recentUids: ReadonlySet<number>;
  /** `*` in a sequence set: the number of messages in the mailbox view. */
  highestSeq: number;
  /** `*` in a UID set: the highest UID in the mailbox (RFC 3501 §6.4.8). */
  maxUid: number;
  /** UIDs saved by `SEARCH RETURN (SAVE)` (RFC 5182 `$`); an absent result matches nothing. */
  savedResult?: readonly number[];
  /** Return UIDs (UID SEARCH) instead of sequence numbers. */
  returnUids: boolean;
}

export interface SearchResult {
  /** Matching sequence numbers or UIDs, ascending. */
  numbers: number[];
  /** RFC 7162 §3.1.5: highest mod-sequence of the matches when MODSEQ was a key; else null. */
  highestModseq: number | null;
  /** The mod-sequence of each match, parallel to `numbers` (ESEARCH MIN/MAX report theirs). */
  modseqs: number[];
}

type Tri = boolean | null; // null: cannot be decided without reading the message

interface Env {
  opts: SearchOptions;
  saved: Set<number> | null;
  nowMs: number;
}

function flagSet(meta: MessageMeta, flag: string): boolean {
  const lower = flag.toLowerCase();
  for (const f of meta.flags) if (f.length === flag.length && f.toLowerCase() === lower) return true;
  return false;
}

function inSet(set: SequenceSet, n: number, max: number, env: Env): boolean {
  if (set.kind === 'saved') return env.saved?.has(n) ?? false;
  return sequenceSetHas(set, n, max);
}

function compareDay(day: number, op: 'before' | 'on' | 'since', wanted: number): boolean {
  return op === 'before' ? day < wanted : op === 'on' ? day === wanted : day >= wanted;
}

/** Pass one: keys the index answers; header/body keys are `null` (unknown). */
function cheap(key: SearchKey, m: SearchMessage, env: Env): Tri {
  const meta = m.meta;
  switch (key.type) {
    case 'all': return true;
    case 'flag':
      if (key.flag.toLowerCase() === '\\recent') return env.opts.recentUids.has(meta.uid) === key.set;
      return flagSet(meta, key.flag) === key.set;
    case 'new': return env.opts.recentUids.has(meta.uid) && !flagSet(meta, '\\Seen');
    case 'old': return !env.opts.recentUids.has(meta.uid);
    case 'date':
      if (key.field === 'sent') return null;
      return compareDay(localDayNumber(key.field === 'saved' ? meta.saveDate : meta.internalDate), key.op, imapDayNumber(key.date));
    // RFC 8474: EMAILID is the content GUID; Roost gives no THREADID, so none matches.
    case 'objectid': return key.field === 'emailid' && key.id === meta.guid;
    case 'age': {
      // Dovecot: OLDER n = internal date < now - n, YOUNGER n = internal date >= now - n.
      const limit = env.nowMs - key.seconds * 1000;
      return key.op === 'older' ? meta.internalDate.getTime() < limit : meta.internalDate.getTime() >= limit;
    }
    case 'size': return key.op === 'larger' ? meta.size > key.size : meta.size < key.size;
    // `$` holds UIDs (RFC 5182 §2.1) whether it appears as a sequence set or a UID set.
    case 'sequence': return key.set.kind === 'saved' ? inSet(key.set, meta.uid, env.opts.maxUid, env) : inSet(key.set, m.seq, env.opts.highestSeq, env);
    case 'uid': return inSet(key.set, meta.uid, env.opts.maxUid, env);
    case 'modseq': return meta.modseq >= key.modseq;
    case 'header': case 'body': case 'text': return null;
    case 'not': {
      const r = cheap(key.key, m, env);
      return r === null ? null : !r;
    }
    case 'or': {
      const l = cheap(key.left, m, env);
      if (l === true) return true;
      const r = cheap(key.right, m, env);
      if (r === true) return true;
      return l === false && r === false ? false : null;
    }
    case 'and': {
      let unknown = false;
      for (const k of key.keys) {
        const r = cheap(k, m, env);
        if (r === false) return false;
        if (r === null) unknown = true;
      }
      return unknown ? null : true;
    }
  }
}

/** Relative cost, so AND/OR try header keys before body keys in pass two. */
function cost(key: SearchKey): number {
  switch (key.type) {
    case 'header': return 1;
    case 'date': return key.field === 'sent' ? 1 : 0;
    case 'body': case 'text': return 2;
    case 'not': return cost(key.key);
    case 'or': return Math.max(cost(key.left), cost(key.right));
    case 'and': return key.keys.reduce((c, k) => Math.max(c, cost(k)), 0);
    default: return 0;
  }
}

function headerMatches(text: MessageText, field: string, value: string, address = false): boolean {
  // FROM/TO/CC/BCC match the rewritten address list; HEADER FROM matches the field as written.
  const values = (address ? text.addresses : text.headers).get(field.toLowerCase());
  if (!values) return false;
  // RFC 3501: an empty string matches every message that has the field.
  if (value === '') return true;
  const needle = foldForSearch(value);
  return values.some((v) => v.includes(needle));
}

function sentDay(text: MessageText, meta: MessageMeta): number {
  const date = text.headers.get('date')?.[0];
  const day = date === undefined ? null : sentDayNumber(date);
  // No usable Date: header: fall back to the internal date (as Dovecot's mail_get_date does).
  return day ?? localDayNumber(meta.internalDate);
}

/** Pass two: full evaluation, the message's text loaded on first need. */
function full(key: SearchKey, m: SearchMessage, env: Env, text: () => MessageText): boolean {
  switch (key.type) {
    case 'header': return headerMatches(text(), key.field, key.value, key.address);
    case 'date':
      if (key.field === 'internal') return cheap(key, m, env) === true;
      return compareDay(sentDay(text(), m.meta), key.op, imapDayNumber(key.date));
    case 'body': return key.value === '' || text().body().includes(foldForSearch(key.value));
    case 'text': {
      if (key.value === '') return true;
      const needle = foldForSearch(key.value);
      const t = text();
      return t.headerText.includes(needle) || t.body().includes(needle);
    }
    case 'not': return !full(key.key, m, env, text);
    case 'or': {
      const [a, b] = cost(key.left) <= cost(key.right) ? [key.left, key.right] : [key.right, key.left];
      return full(a, m, env, text) || full(b, m, env, text);
    }
    case 'and': {
      const sorted = key.keys.length > 1 ? [...key.keys].sort((a, b) => cost(a) - cost(b)) : key.keys;
      return sorted.every((k) => full(k, m, env, text));
    }
    default: return cheap(key, m, env) === true;
  }
}

function usesModseq(key: SearchKey): boolean {
  switch (key.type) {
    case 'modseq': return true;
    case 'not': return usesModseq(key.key);
    case 'or': return usesModseq(key.left) || usesModseq(key.right);
    case 'and': return key.keys.some(usesModseq);
    default: return false;
  }
}

/** How searchInSlices shares the event loop. Every field has a default. */
export interface SliceOptions {
  /** Work between two turns of the event loop, in ms (default 8). */
  sliceMs?: number;
  /** At most this many messages that needed header or body text per slice (default 256). */
  textMessagesPerSlice?: number;
  /** Gives the event loop a turn (default: a setImmediate). */
  pause?: () => Promise<void>;
  /** Asked after every pause: true abandons the search (the connection closed meanwhile). */
  aborted?: () => boolean;
}

export const DEFAULT_SLICE_MS = 8;
export const DEFAULT_TEXT_MESSAGES_PER_SLICE = 256;
/** Messages decided from the index alone between two looks at the clock. */
const CHEAP_CHECK_EVERY = 1024;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One evaluation over a fixed list of messages, resumable between slices. */
class SearchRun {
  private next = 0;
  private readonly numbers: number[] = [];
  private readonly modseqs: number[] = [];
  private highestModseq = 0;
  private readonly env: Env;

  constructor(
    private readonly ctx: SearchContext,
    private readonly messages: readonly SearchMessage[],
    private readonly key: SearchKey,
    private readonly opts: SearchOptions,
  ) {
    this.env = {
      opts,
      saved: opts.savedResult ? new Set(opts.savedResult) : null,
      nowMs: (ctx.now ?? new Date()).getTime(),
    };
    ctx.textCache?.beginScan();
  }

  get done(): boolean {
    return this.next >= this.messages.length;
  }

  /**
   * Evaluates messages in order until all are done, `deadline` (performance.now()) passes or
   * `maxText` messages needed text. Waits only where an asynchronous store is reading text.
   */
  step(deadline: number, maxText: number): void | Promise<void> {
    let textMessages = 0;
    while (this.next < this.messages.length) {
      const m = this.messages[this.next++]!;
      let match = cheap(this.key, m, this.env);
      let checkClock = false;
      if (match === null) {
        const evaluated = this.evaluateText(m);
        textMessages++;
        if (isPromise(evaluated)) {
          // An asynchronous store is reading this message's text: go on from here once it is there.
          const textLeft = maxText - textMessages;
          return evaluated.then((matched) => {
            this.record(m, matched);
            if (textLeft <= 0 || (deadline !== Infinity && performance.now() >= deadline)) return;
            return this.step(deadline, textLeft);
          });
        }
        match = evaluated;
        checkClock = true;
      } else checkClock = (this.next & (CHEAP_CHECK_EVERY - 1)) === 0;
      this.record(m, match);
      if (textMessages >= maxText || (checkClock && deadline !== Infinity && performance.now() >= deadline)) return;
    }
  }

  private record(m: SearchMessage, match: boolean): void {
    if (!match) return;
    this.numbers.push(this.opts.returnUids ? m.meta.uid : m.seq);
    this.modseqs.push(m.meta.modseq);
    if (m.meta.modseq > this.highestModseq) this.highestModseq = m.meta.modseq;
  }

  /** Pass two for one message; a body freed meanwhile (expunged by another session) matches nothing. */
  private evaluateText(m: SearchMessage): MaybePromise<boolean> {
    let loaded: MessageText | null = null;
    const text = () => {
      if (loaded) return loaded;
      const t = messageText(this.ctx.store, m.meta, this.ctx.textCache);
      if (isPromise(t)) throw new DataPending(t.then((value) => (loaded = value)));
      return (loaded = t);
    };
    try {
      return full(this.key, m, this.env, text);
    } catch (err) {
      if (err instanceof DataPending) return this.evaluateAgain(m, err, text);
      if (err instanceof StorageError && err.code === 'EXPUNGEISSUED') return false;
      throw err;
    }
  }

  /** An asynchronous store is reading the message's text: evaluate again once it is there. */
  private async evaluateAgain(m: SearchMessage, pending: DataPending, text: () => MessageText): Promise<boolean> {
    for (;;) {
      try {
        await pending.ready;
        return full(this.key, m, this.env, text);
      } catch (err) {
        if (err instanceof DataPending) pending = err;
        else if (err instanceof StorageError && err.code === 'EXPUNGEISSUED') return false;
        else throw err;
      }
    }
  }

  result(): SearchResult {
    const n = this.numbers;
    return { numbers: n, highestModseq: usesModseq(this.key) && n.length > 0 ? this.highestModseq : null, modseqs: this.modseqs };
  }
}

/**
 * Evaluates `key` over `messages` (the selected mailbox, in sequence order) in one go, over a
 * synchronous store (SyncUserStore). For the network thread use searchInSlices. A message whose
 * body was freed meanwhile (expunged by another session) is left out; other storage errors
 * propagate: the caller answers NO.
 */
export function evaluateSearch(ctx: SearchContext, messages: readonly SearchMessage[], key: SearchKey, opts: SearchOptions): SearchResult {
  const run = new SearchRun(ctx, messages, key, opts);
  const pending = run.step(Infinity, Infinity);
  if (isPromise(pending)) {
    pending.catch(() => {});
    throw new Error('evaluateSearch needs a synchronous store; use searchInSlices');
  }
  return run.result();
}

/**
 * evaluateSearch in time slices: after `sliceMs` of work (or `textMessagesPerSlice` messages that
 * needed text) it pauses for a turn of the event loop, so one `SEARCH TEXT` over a large mailbox
 * does not stall every other connection. Same results, same order of evaluation. The message list
 * is a snapshot: the caller keeps its view (sequence numbers) fixed while the search runs. Resolves
 * null when `aborted()` says so after a pause.
 */
export async function searchInSlices(
  ctx: SearchContext,
  messages: readonly SearchMessage[],
  key: SearchKey,
  opts: SearchOptions,
  slicing: SliceOptions = {},
): Promise<SearchResult | null> {
  const sliceMs = slicing.sliceMs ?? DEFAULT_SLICE_MS;
  const maxText = slicing.textMessagesPerSlice ?? DEFAULT_TEXT_MESSAGES_PER_SLICE;
  const pause = slicing.pause ?? nextTurn;
  const run = new SearchRun(ctx, messages, key, opts);
  for (;;) {
    await run.step(performance.now() + sliceMs, maxText);
    if (run.done) return run.result();
    await pause();
    if (slicing.aborted?.()) return null;
  }
}
