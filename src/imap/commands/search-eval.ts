// The SEARCH engine (RFC 3501 §6.4.4, RFC 4731/5182 saved results, RFC 5032 OLDER/YOUNGER,
// RFC 7162 MODSEQ). Two passes, cheap keys first: pass one decides every message it can from the
// index alone (flags, size, dates, numbers, modseq); only messages still undecided reach pass two,
// which reads headers and, if still needed, decoded body text (cached per body, search-text.ts).
import { sequenceSetHas, type SequenceSet } from '../protocol/sequence-set.js';
import type { SearchKey } from '../protocol/commands.js';
import type { MessageMeta } from '../../storage/types.js';
import type { MessageBodyStore } from './fetch-mime.js';
import { imapDayNumber, localDayNumber, sentDayNumber } from './search-dates.js';
import { foldForSearch, messageText, type MessageText, type SearchTextCache } from './search-text.js';

export interface SearchContext {
  store: MessageBodyStore;
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
      return compareDay(localDayNumber(meta.internalDate), key.op, imapDayNumber(key.date));
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

function headerMatches(text: MessageText, field: string, value: string): boolean {
  const values = text.headers.get(field.toLowerCase());
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
    case 'header': return headerMatches(text(), key.field, key.value);
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

/**
 * Evaluates `key` over `messages` (the selected mailbox, in sequence order). Storage errors (a
 * body expunged by another session meanwhile) propagate: the caller answers NO.
 */
export function evaluateSearch(ctx: SearchContext, messages: readonly SearchMessage[], key: SearchKey, opts: SearchOptions): SearchResult {
  const env: Env = {
    opts,
    saved: opts.savedResult ? new Set(opts.savedResult) : null,
    nowMs: (ctx.now ?? new Date()).getTime(),
  };
  const numbers: number[] = [];
  let highestModseq = 0;
  for (const m of messages) {
    let match = cheap(key, m, env);
    if (match === null) {
      let loaded: MessageText | null = null;
      match = full(key, m, env, () => (loaded ??= messageText(ctx.store, m.meta, ctx.textCache)));
    }
    if (match) {
      numbers.push(opts.returnUids ? m.meta.uid : m.seq);
      if (m.meta.modseq > highestModseq) highestModseq = m.meta.modseq;
    }
  }
  return { numbers, highestModseq: usesModseq(key) && numbers.length > 0 ? highestModseq : null };
}
