// A compact, shared listing of one mailbox: what SELECT needs from every message (UID, flags,
// modseq, RFC822.SIZE) in typed arrays, kept current by applying the changes since the modseq it
// last saw instead of being read again. All sessions of a user on this thread share one per mailbox,
// like Dovecot's sessions share the mailbox index file (lib-index/mail-index-map.c); a session's
// view takes a copy-on-write reference, so SELECT costs the same for 10 or 100,000 messages once the
// listing has been read. Backend-neutral: a backend supplies the rows (IndexSource).
import { flagsToList } from './flags.js';

/**
 * Flag lists interned per mailbox: messages refer to a list by number, and every holder of the
 * same number gets the same frozen array (the IMAP layer formats each distinct list once).
 */
export class FlagSets {
  private readonly byKey = new Map<string, number>();
  private readonly byStored = new Map<string, number>();
  private readonly lists: (readonly string[])[] = [];
  private readonly seen: boolean[] = [];
  private readonly keywords: boolean[] = [];

  /** The number of a flag list (canonical order, as flagsToList() makes them). */
  idOf(list: readonly string[]): number {
    const key = list.join(' ');
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.lists.length;
      this.byKey.set(key, id);
      this.lists.push(Object.freeze([...list]));
      this.seen.push(list.includes('\\Seen'));
      this.keywords.push(list.some((f) => !f.startsWith('\\')));
    }
    return id;
  }

  /** The number of the list of stored system-flag bits and keyword column. */
  idOfStored(bits: number, keywords: string | null): number {
    const key = keywords === null ? String(bits) : `${bits} ${keywords}`;
    let id = this.byStored.get(key);
    if (id === undefined) this.byStored.set(key, (id = this.idOf(flagsToList(bits, keywords))));
    return id;
  }

  list(id: number): readonly string[] {
    return this.lists[id]!;
  }

  isSeen(id: number): boolean {
    return this.seen[id]!;
  }

  hasKeywords(id: number): boolean {
    return this.keywords[id]!;
  }

  get anyKeywords(): boolean {
    return this.keywords.includes(true);
  }

  get size(): number {
    return this.lists.length;
  }
}

/** The arrays behind one or more MessageColumns; `used` is the highest length any holder wrote. */
interface Buffers {
  uids: Uint32Array;
  sets: Uint32Array;
  modseqs: Float64Array;
  sizes: Float64Array;
  used: number;
}

function allocate(capacity: number): Buffers {
  return { uids: new Uint32Array(capacity), sets: new Uint32Array(capacity), modseqs: new Float64Array(capacity), sizes: new Float64Array(capacity), used: 0 };
}

/**
 * Parallel columns in UID order, copy-on-write: share() hands out another holder of the same arrays;
 * a holder copies them before it changes or removes a message another holder may see. Appending
 * writes in place when no holder has written past this one's end.
 */
export class MessageColumns {
  private buf: Buffers;
  private n: number;
  private shared = false;

  constructor(
    readonly flagSets: FlagSets,
    capacity = 16,
  ) {
    this.buf = allocate(Math.max(16, capacity));
    this.n = 0;
  }

  get length(): number {
    return this.n;
  }

  /** Columns of `n` messages written by `fill` (each array has exactly n elements to fill). */
  static filled(flagSets: FlagSets, n: number, fill: (uids: Uint32Array, sets: Uint32Array, modseqs: Float64Array, sizes: Float64Array) => void): MessageColumns {
    const cols = new MessageColumns(flagSets, n + Math.max(16, n >> 4));
    const b = cols.buf;
    fill(b.uids.subarray(0, n), b.sets.subarray(0, n), b.modseqs.subarray(0, n), b.sizes.subarray(0, n));
    cols.n = n;
    b.used = n;
    return cols;
  }

  /** Another holder of the same messages (O(1)); both copy before their next change. */
  share(): MessageColumns {
    const other = Object.create(MessageColumns.prototype) as MessageColumns;
    Object.assign(other, { flagSets: this.flagSets, buf: this.buf, n: this.n, shared: true });
    this.shared = true;
    return other;
  }

  uidAt(i: number): number {
    return this.buf.uids[i]!;
  }

  setAt(i: number): number {
    return this.buf.sets[i]!;
  }

  flagsAt(i: number): readonly string[] {
    return this.flagSets.list(this.buf.sets[i]!);
  }

  modseqAt(i: number): number {
    return this.buf.modseqs[i]!;
  }

  /** -1 while not known (see SelectedMailbox.loadSizes). */
  sizeAt(i: number): number {
    return this.buf.sizes[i]!;
  }

  lastUid(): number {
    return this.n === 0 ? 0 : this.buf.uids[this.n - 1]!;
  }

  /** Index of `uid`, -1 when absent (binary search: UIDs ascend). */
  indexOf(uid: number): number {
    const uids = this.buf.uids;
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = uids[mid]!;
      if (v === uid) return mid;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Index of the first UID ≥ `uid` (length when none). */
  lowerBound(uid: number): number {
    const uids = this.buf.uids;
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (uids[mid]! < uid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Makes the arrays this holder's own (copying when shared) with room for `extra` more messages. */
  private own(extra: number): void {
    const need = this.n + extra;
    if (!this.shared && need <= this.buf.uids.length) return;
    const next = allocate(Math.max(16, Math.ceil(need * (this.shared ? 1.25 : 1.5))));
    next.uids.set(this.buf.uids.subarray(0, this.n));
    next.sets.set(this.buf.sets.subarray(0, this.n));
    next.modseqs.set(this.buf.modseqs.subarray(0, this.n));
    next.sizes.set(this.buf.sizes.subarray(0, this.n));
    next.used = this.n;
    this.buf = next;
    this.shared = false;
  }

  push(uid: number, set: number, modseq: number, size: number): void {
    const b = this.buf;
    // In place when nobody wrote past our end: other holders only read below their own length.
    if (!(b.used === this.n && this.n < b.uids.length)) this.own(1);
    const w = this.buf;
    w.uids[this.n] = uid;
    w.sets[this.n] = set;
    w.modseqs[this.n] = modseq;
    w.sizes[this.n] = size;
    this.n++;
    w.used = this.n;
  }

  setFlags(i: number, set: number, modseq: number): void {
    this.own(0);
    this.buf.sets[i] = set;
    this.buf.modseqs[i] = modseq;
  }

  setSize(i: number, size: number): void {
    this.own(0);
    this.buf.sizes[i] = size;
  }

  removeAt(i: number): void {
    this.own(0);
    const b = this.buf;
    b.uids.copyWithin(i, i + 1, this.n);
    b.sets.copyWithin(i, i + 1, this.n);
    b.modseqs.copyWithin(i, i + 1, this.n);
    b.sizes.copyWithin(i, i + 1, this.n);
    this.n--;
    b.used = this.n;
  }

  /** Removes every message whose UID is in `gone` in one pass. */
  removeUids(gone: readonly number[]): void {
    if (!gone.some((uid) => this.indexOf(uid) >= 0)) return;
    const set = new Set(gone);
    this.own(0);
    const b = this.buf;
    let w = 0;
    for (let r = 0; r < this.n; r++) {
      if (set.has(b.uids[r]!)) continue;
      if (w !== r) {
        b.uids[w] = b.uids[r]!;
        b.sets[w] = b.sets[r]!;
        b.modseqs[w] = b.modseqs[r]!;
        b.sizes[w] = b.sizes[r]!;
      }
      w++;
    }
    this.n = w;
    b.used = w;
  }

  /**
   * Keywords on the messages, in the order they first appear by UID (SELECT's FLAGS order). Stops
   * as soon as every interned list that has keywords has been met.
   */
  keywordsInUse(): string[] {
    const fs = this.flagSets;
    if (!fs.anyKeywords) return [];
    let pending = 0;
    for (let id = 0; id < fs.size; id++) if (fs.hasKeywords(id)) pending++;
    const met = new Uint8Array(fs.size);
    const out = new Set<string>();
    const sets = this.buf.sets;
    for (let i = 0; i < this.n && pending > 0; i++) {
      const id = sets[i]!;
      if (met[id]) continue;
      met[id] = 1;
      if (!fs.hasKeywords(id)) continue;
      pending--;
      for (const f of fs.list(id)) if (!f.startsWith('\\')) out.add(f);
    }
    return [...out];
  }
}

/** A message row as a backend reads it: UID, modseq, system-flag bits, keyword column, size. */
export type IndexRow = readonly [uid: number, modseq: number, bits: number, keywords: string | null, size: number];

/** What a backend supplies to build and refresh a MailboxIndex (inside one read transaction). */
export interface IndexSource {
  /** Every message of the mailbox in UID order, as parallel columns. */
  listAll(mailboxId: number): { uids: ArrayLike<number>; modseqs: ArrayLike<number>; bits: ArrayLike<number>; keywords: ArrayLike<string | null>; sizes: ArrayLike<number> };
  /** Messages added or changed after `modseq` (any order), and the UIDs expunged after it. */
  changedSince(mailboxId: number, modseq: number): { rows: IndexRow[]; expunged: number[] };
}

/** The shared listing of one mailbox (one UIDVALIDITY of it), as of `modseq`. */
export class MailboxIndex {
  readonly flagSets = new FlagSets();
  private columns: MessageColumns;
  /** Highest modseq taken in. */
  modseq = 0;
  private keywordOrder: string[] | null = null;

  constructor(
    readonly mailboxId: number,
    readonly uidValidity: number,
  ) {
    this.columns = new MessageColumns(this.flagSets);
  }

  get messages(): number {
    return this.columns.length;
  }

  /** Reads the whole mailbox (the first SELECT of it on this thread). */
  load(source: IndexSource, modseq: number): void {
    const all = source.listAll(this.mailboxId);
    const fs = this.flagSets;
    // Messages without keywords (most) find their list by the bits alone.
    const byBits: (number | undefined)[] = [];
    this.columns = MessageColumns.filled(fs, all.uids.length, (uids, sets, modseqs, sizes) => {
      for (let i = 0; i < uids.length; i++) {
        uids[i] = all.uids[i]!;
        modseqs[i] = all.modseqs[i]!;
        sizes[i] = all.sizes[i]!;
        const bits = all.bits[i]!;
        const kw = all.keywords[i]!;
        let id: number | undefined;
        if (kw === null) {
          id = byBits[bits];
          if (id === undefined) byBits[bits] = id = fs.idOfStored(bits, null);
        } else {
          id = fs.idOfStored(bits, kw);
        }
        sets[i] = id;
      }
    });
    this.modseq = modseq;
    this.keywordOrder = null;
  }

  /** Takes in what changed after this.modseq, up to `modseq` (the mailbox's highest, read in the same transaction). */
  catchUp(source: IndexSource, modseq: number): void {
    if (modseq <= this.modseq) return;
    const { rows, expunged } = source.changedSince(this.mailboxId, this.modseq);
    const cols = this.columns;
    if (expunged.length > 0) cols.removeUids(expunged);
    const appended: IndexRow[] = [];
    for (const r of rows) {
      const i = cols.indexOf(r[0]);
      if (i >= 0) cols.setFlags(i, this.flagSets.idOfStored(r[2], r[3]), r[1]);
      else appended.push(r);
    }
    // UIDs only grow: new rows come after every row already here (sorted, in case they arrived by modseq).
    appended.sort((a, b) => a[0] - b[0]);
    for (const r of appended) {
      if (r[0] <= cols.lastUid()) {
        // Cannot happen with ascending UIDs; read everything again rather than guess.
        this.load(source, modseq);
        return;
      }
      cols.push(r[0], this.flagSets.idOfStored(r[2], r[3]), r[1], r[4]);
    }
    this.modseq = modseq;
    if (rows.length > 0 || expunged.length > 0) this.keywordOrder = null;
  }

  /** A copy-on-write holder of the listing for one session's view. */
  share(): MessageColumns {
    return this.columns.share();
  }

  /** Keywords on messages in order of first appearance (cached until the next change). */
  keywordsInUse(): string[] {
    return (this.keywordOrder ??= this.columns.keywordsInUse());
  }
}

/**
 * The indexes of one store (one user's database), by mailbox id. Kept for a while after the last
 * session of the user ends (MailboxIndexCache), so a LOGIN + SELECT + LOGOUT client does not read
 * the mailbox again each time; every use first takes in the changes since (other processes' too:
 * they are in the database).
 */
export class StoreIndexes {
  private readonly byMailbox = new Map<number, MailboxIndex>();
  /** The database's incarnation the indexes describe (a restore makes a new one). */
  private incarnation: string | null = null;

  /** Forgets every index when the database is another incarnation than the one they were read from. */
  checkIncarnation(incarnation: string | null): void {
    if (incarnation !== this.incarnation) this.byMailbox.clear();
    this.incarnation = incarnation;
  }

  /**
   * The index of a mailbox brought up to `highestModseq` (call inside the read transaction that
   * read the mailbox row). A new UIDVALIDITY or a database older than the index starts over.
   */
  current(source: IndexSource, mailboxId: number, uidValidity: number, highestModseq: number, messages: number): MailboxIndex {
    let index = this.byMailbox.get(mailboxId);
    if (index && (index.uidValidity !== uidValidity || index.modseq > highestModseq)) index = undefined;
    if (index) {
      index.catchUp(source, highestModseq);
      // The store's own count (kept in the same transactions) must agree; if some change reached
      // the database without a modseq, read the mailbox again rather than show a wrong listing.
      if (index.messages === messages) return index;
    }
    index = new MailboxIndex(mailboxId, uidValidity);
    index.load(source, highestModseq);
    this.byMailbox.set(mailboxId, index);
    return index;
  }

  /**
   * Where the index of a mailbox stands (its UIDVALIDITY and modseq), undefined when there is none:
   * an asynchronous backend reads what current() will ask of its source ahead.
   */
  peek(mailboxId: number): { uidValidity: number; modseq: number } | undefined {
    const index = this.byMailbox.get(mailboxId);
    return index && { uidValidity: index.uidValidity, modseq: index.modseq };
  }

  get messages(): number {
    let n = 0;
    for (const i of this.byMailbox.values()) n += i.messages;
    return n;
  }
}

/**
 * StoreIndexes by database file, shared by the stores of this thread: in use while a store of that
 * file is open, then retained least recently used first up to a total number of messages.
 */
export class MailboxIndexCache {
  private readonly inUse = new Map<string, { indexes: StoreIndexes; refs: number }>();
  private readonly retained = new Map<string, StoreIndexes>();

  /** `key` names one database file (its path and inode: a restored file is another one). */
  acquire(key: string): StoreIndexes {
    let e = this.inUse.get(key);
    if (!e) {
      const kept = this.retained.get(key);
      this.retained.delete(key);
      e = { indexes: kept ?? new StoreIndexes(), refs: 0 };
      this.inUse.set(key, e);
    }
    e.refs++;
    return e.indexes;
  }

  /** The store closed; keeps its indexes while the retained ones hold at most `retainMessages`. */
  release(key: string, retainMessages: number): void {
    const e = this.inUse.get(key);
    if (!e || --e.refs > 0) return;
    this.inUse.delete(key);
    if (retainMessages > 0 && e.indexes.messages <= retainMessages) this.retained.set(key, e.indexes);
    let total = 0;
    for (const i of this.retained.values()) total += i.messages;
    // Oldest first (a Map iterates in insertion order).
    for (const [k, i] of this.retained) {
      if (total <= retainMessages) break;
      this.retained.delete(k);
      total -= i.messages;
    }
  }

  /** Retained (not in use) databases, for tests. */
  get retainedCount(): number {
    return this.retained.size;
  }
}

/** The cache of this thread. */
export const mailboxIndexCache = new MailboxIndexCache();
