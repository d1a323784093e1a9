// The selected mailbox as this session sees it (RFC 3501 §2.3.1.2, §7.4.1): the sequence-number map,
// the flags last reported, the \Recent messages this session owns, and the changes made by other
// sessions or LMTP deliveries that are still to be announced. Storage is by UID; sequence numbers
// exist only here, and they change only when this view announces EXISTS/EXPUNGE.
import { FlagSets, MessageColumns } from '../storage/mailbox-index.js';
import { SYSTEM_FLAGS, type ChangeRecord, type MailboxViewSnapshot, type SyncUserStore, type UserStore } from '../storage/types.js';
import { isPromise, then, type MaybePromise } from '../storage/maybe-async.js';
import { formatNumberSet, sequenceSetIntervals, type SequenceSet } from './protocol/index.js';

export interface MessageRef {
  seq: number;
  uid: number;
}

/** What the IMAP layer shows for flag lists: system flags, then keywords (Dovecot's order). */
export const FLAGS_LIST = '\\Answered \\Flagged \\Deleted \\Seen \\Draft';

const NO_UIDS: ReadonlySet<number> = new Set();

export class SelectedMailbox {
  /**
   * By sequence number − 1: UIDs ascending, stored flags, modseqs, RFC822.SIZE (-1 while not known:
   * appended later). At open a copy-on-write holder of the mailbox's shared listing.
   */
  private cols: MessageColumns = new MessageColumns(new FlagSets());
  private unknownSizes = 0;
  /** allUids, made on demand and kept until the view changes. */
  private uidList: number[] | null = null;
  /** Sequence number of the first message without \Seen when the view was opened (0: none). */
  firstUnseenAtOpen = 0;
  /** The mailbox tracked modseqs when the view was read (HIGHESTMODSEQ in SELECT's responses). */
  modseqTrackingAtOpen = false;
  private recent = new Set<number>();
  /** Expunged in storage but not yet announced (RFC 3501 §7.4.1: not during FETCH/STORE/SEARCH). */
  private pendingExpunges = new Set<number>();
  private keywords = new Set<string>();
  /** Highest modseq whose changes this view has taken in. */
  private syncedModseq = 0;
  /** Set by a change notice; cleared by sync(). */
  dirty = false;
  uidNext: number;
  highestModseq: number;
  /**
   * What sync() announces unasked (RFC 5465 §5.1: after NOTIFY the selected mailbox's EXISTS/RECENT
   * and flag changes only when its filter asks for MessageNew / FlagChange; EXPUNGE always, so that
   * the client's sequence numbers stay right). The counts are taken in silently otherwise.
   */
  announce = { counts: true, flags: true };
  /** The last count announced with EXISTS / RECENT. */
  private announcedExists = 0;
  private announcedRecent = 0;

  private constructor(
    private readonly store: UserStore,
    readonly id: number,
    private selectedName: string,
    readonly readOnly: boolean,
    readonly uidValidity: number,
    uidNext: number,
    highestModseq: number,
  ) {
    this.uidNext = uidNext;
    this.highestModseq = highestModseq;
  }

  /**
   * The mailbox's current name: another session may RENAME the selected mailbox, which stays
   * selected under its new name (the view follows the mailbox id, as Dovecot's does).
   */
  async currentName(): Promise<string> {
    const info = await this.store.getMailboxById(this.id);
    if (info) this.selectedName = info.name;
    return this.selectedName;
  }

  /** currentName() where the store answers synchronously; the name last seen otherwise. */
  get name(): string {
    const info = this.store.getMailboxById(this.id);
    if (!isPromise(info) && info) this.selectedName = info.name;
    return this.selectedName;
  }

  /**
   * Opens the view; throws StorageError NONEXISTENT for a missing or \Noselect mailbox. Over a
   * synchronous store the view is returned (and the error thrown) at once.
   */
  static open(store: SyncUserStore, name: string, readOnly: boolean): SelectedMailbox;
  static open(store: UserStore, name: string, readOnly: boolean): MaybePromise<SelectedMailbox>;
  static open(store: UserStore, name: string, readOnly: boolean): MaybePromise<SelectedMailbox> {
    return then(store.openMailboxView(name, !readOnly), (snap) => SelectedMailbox.fromSnapshot(store, snap, readOnly));
  }

  /** One storage transaction read the listing (and, for SELECT, claimed \Recent): only the view is built here. */
  private static fromSnapshot(store: UserStore, snap: MailboxViewSnapshot, readOnly: boolean): SelectedMailbox {
    const info = snap.info;
    const view = new SelectedMailbox(store, info.id, info.name, readOnly, info.uidValidity, info.uidNext, info.highestModseq);
    view.syncedModseq = info.highestModseq;
    view.cols = snap.columns;
    // Keywords in use, in order of first appearance, then the other registered ones (as open() by
    // messages does).
    for (const k of snap.keywordsInUse) view.keywords.add(k);
    for (const k of snap.keywords) view.keywords.add(k);
    if (readOnly) view.recentForExamine = snap.recentCount;
    else for (const uid of snap.claimedRecent) view.recent.add(uid);
    view.firstUnseenAtOpen = snap.firstUnseenSeq;
    view.modseqTrackingAtOpen = info.modseqTracking;
    view.announcedExists = view.cols.length;
    view.announcedRecent = view.recentCount;
    return view;
  }

  private recentForExamine = 0;

  get count(): number {
    return this.cols.length;
  }

  get recentCount(): number {
    return this.readOnly ? this.recentForExamine : this.recent.size;
  }

  /** RFC 9051 (IMAP4rev2 enabled): no \Recent flag, RECENT response or RECENT/NEW/OLD matches. */
  private recentHidden = false;
  hideRecent(): void {
    this.recentHidden = true;
  }

  /** Every UID in sequence order (the engines iterate this). */
  get allUids(): readonly number[] {
    if (this.uidList === null) {
      const n = this.cols.length;
      const list = new Array<number>(n);
      for (let i = 0; i < n; i++) list[i] = this.cols.uidAt(i);
      this.uidList = list;
    }
    return this.uidList;
  }

  /** The highest UID in the view, 0 when it is empty. */
  get lastUid(): number {
    return this.cols.lastUid();
  }

  uidAt(seq: number): number | undefined {
    return seq >= 1 && seq <= this.cols.length ? this.cols.uidAt(seq - 1) : undefined;
  }

  /** Sequence number of `uid`, 0 when it is not in the view. Binary search: UIDs are ascending. */
  seqOf(uid: number): number {
    return this.cols.indexOf(uid) + 1;
  }

  /** Stored flags plus \Recent when this session owns it. */
  flagsOf(uid: number): string[] {
    const stored = this.storedFlagsOf(uid);
    return this.recent.has(uid) && !this.recentHidden ? [...stored, '\\Recent'] : stored;
  }

  /** Stored flags (messages with the same flags share one frozen list). */
  storedFlagsOf(uid: number): string[] {
    const i = this.cols.indexOf(uid);
    return i >= 0 ? (this.cols.flagsAt(i) as string[]) : [];
  }

  /** Stored flags of the message at `seq` (1 ≤ seq ≤ count), without a search by UID. */
  storedFlagsAt(seq: number): string[] {
    return this.cols.flagsAt(seq - 1) as string[];
  }

  /** Modseq of the message at `seq` (1 ≤ seq ≤ count). */
  modseqAt(seq: number): number {
    return this.cols.modseqAt(seq - 1);
  }

  /** RFC822.SIZE of the message at `seq`, -1 when the view does not know it (see loadSizes). */
  sizeAt(seq: number): number {
    return seq >= 1 && seq <= this.cols.length ? this.cols.sizeAt(seq - 1) : -1;
  }

  /**
   * Fills in the sizes of `seqs` the view does not know yet (messages appended since SELECT) with
   * one storage query; false when some message is no longer in storage.
   */
  async loadSizes(seqs: Iterable<number>): Promise<boolean> {
    if (this.unknownSizes === 0) return true;
    const missing: number[] = [];
    for (const seq of seqs) if (this.sizeAt(seq) === -1) missing.push(this.cols.uidAt(seq - 1));
    if (missing.length === 0) return true;
    const metas = await this.store.getMessages(this.id, missing);
    for (const m of metas) {
      const i = this.cols.indexOf(m.uid);
      if (i >= 0 && this.cols.sizeAt(i) === -1) {
        this.cols.setSize(i, m.size);
        this.unknownSizes--;
      }
    }
    return metas.length === missing.length;
  }

  /**
   * True when storage holds no change this view has not taken in: its UIDs, flags and modseqs are
   * then storage's own, and a flags-only FETCH can be answered without a listing.
   */
  async inSyncWithStore(): Promise<boolean> {
    const info = await this.store.getMailboxById(this.id);
    return info !== undefined && info.highestModseq === this.syncedModseq;
  }

  modseqOf(uid: number): number {
    const i = this.cols.indexOf(uid);
    return i >= 0 ? this.cols.modseqAt(i) : 0;
  }

  /** The \Recent UIDs this session owns (the FETCH/SEARCH engines read it). */
  get recentUids(): ReadonlySet<number> {
    return this.recentHidden ? NO_UIDS : this.recent;
  }

  isRecent(uid: number): boolean {
    return !this.recentHidden && this.recent.has(uid);
  }

  /**
   * Whether this session owns \Recent for `uid`, also when IMAP4rev2 hides it from the client:
   * the storage still has it, and the push events' `flags_old` report it (as for a rev1 client).
   */
  ownsRecent(uid: number): boolean {
    return this.recent.has(uid);
  }

  /** Expunged by someone else, not yet announced: FETCH of it fails, STORE skips it. */
  isExpungePending(uid: number): boolean {
    return this.pendingExpunges.has(uid);
  }

  /** An APPEND by this session into this mailbox stored \Recent as ours (AppendInput.recentForSession). */
  markRecent(uid: number): void {
    if (!this.readOnly) this.recent.add(uid);
  }

  /** Records flags this session stored itself (so sync does not announce them again). */
  noteFlags(uid: number, flags: readonly string[], modseq: number): void {
    const i = this.cols.indexOf(uid);
    if (i < 0) return;
    this.cols.setFlags(i, this.cols.flagSets.idOf(flags), modseq);
    this.noteKeywords(flags);
  }

  /** `* FLAGS` / PERMANENTFLAGS lines when a keyword new to the mailbox appeared, else none. */
  takeKeywordAnnouncements(): string[] {
    if (!this.newKeywords) return [];
    this.newKeywords = false;
    const lines = [`* FLAGS (${this.flagList()})\r\n`];
    if (!this.readOnly) lines.push(`* OK [PERMANENTFLAGS (${this.permanentFlagList()})] Flags permitted.\r\n`);
    return lines;
  }

  /** `FLAGS (...)` and PERMANENTFLAGS lists: system flags and every keyword in use. */
  flagList(): string {
    return [FLAGS_LIST, ...this.keywords].join(' ');
  }

  permanentFlagList(): string {
    return this.readOnly ? '' : [...SYSTEM_FLAGS, ...this.keywords, '\\*'].join(' ');
  }

  /**
   * Messages of a sequence set (`uid` false) or UID set (`uid` true), in sequence order. Sequence
   * numbers must fit the mailbox (checked by the caller); UIDs that do not exist are skipped.
   */
  resolve(set: SequenceSet, uid: boolean): MessageRef[] {
    const out: MessageRef[] = [];
    const cols = this.cols;
    const n = cols.length;
    if (n === 0) return out;
    if (!uid) {
      for (const [lo, hi] of sequenceSetIntervals(set, n)) for (let s = lo; s <= hi; s++) out.push({ seq: s, uid: cols.uidAt(s - 1) });
      return out;
    }
    const maxUid = cols.lastUid();
    for (const [lo, hi] of sequenceSetIntervals(set, maxUid)) {
      // RFC 3501 §6.4.8: `n:*` always includes the highest UID, even when n is above it.
      let seq = cols.lowerBound(lo) + 1;
      for (; seq <= n && cols.uidAt(seq - 1) <= hi; seq++) out.push({ seq, uid: cols.uidAt(seq - 1) });
    }
    if (set.kind === 'ranges' && out.length === 0 && set.ranges.some((r) => r.from === '*' || r.to === '*')) {
      out.push({ seq: n, uid: maxUid });
    }
    return out;
  }

  /**
   * Takes in the changes since the last sync and returns the untagged lines that announce them.
   * `allowExpunge` false (during FETCH, STORE, SEARCH) keeps expunged messages in the map until a
   * later sync may announce them. `condstore` adds MODSEQ to flag updates (RFC 7162 §3.2.4).
   */
  async sync(opts: { allowExpunge: boolean; condstore: boolean; uidInFetch?: boolean; qresync?: boolean }): Promise<string[]> {
    const lines: string[] = [];
    if (this.dirty) {
      this.dirty = false;
      // Read first: a metadata change takes a modseq without a message change (Dovecot), and the
      // view is in sync once it has seen every modseq up to here.
      let highest: number;
      let changes;
      try {
        highest = (await this.store.getMailboxById(this.id))?.highestModseq ?? 0;
        changes = await this.store.changesSince(this.id, this.syncedModseq);
      } catch (err) {
        // Nothing read, nothing applied: look again at the next sync (an engine that went away).
        this.dirty = true;
        throw err;
      }
      await this.apply(changes);
      if (highest > this.syncedModseq) this.syncedModseq = highest;
      if (highest > this.highestModseq) this.highestModseq = highest;
    }
    if (opts.allowExpunge && this.pendingExpunges.size > 0) {
      // Highest first, so each sequence number is still valid when its line is read.
      // RECENT waits for the end of the sync: after EXISTS, as Dovecot orders them.
      lines.push(...this.expungeOwn([...this.pendingExpunges], opts.qresync, false));
      this.pendingExpunges.clear();
    }
    lines.push(...this.takeKeywordAnnouncements());
    for (const uid of this.announce.flags ? this.flagUpdates : []) {
      const seq = this.seqOf(uid);
      if (seq === 0 || this.pendingExpunges.has(uid)) continue;
      // Dovecot's order: UID (always once QRESYNC is on, RFC 7162 §3.2.4), MODSEQ, FLAGS.
      const parts: string[] = [];
      if (opts.uidInFetch || opts.qresync) parts.push(`UID ${uid}`);
      if (opts.condstore) {
        const modseq = this.modseqOf(uid);
        parts.push(`MODSEQ (${modseq})`);
        if (modseq > this.highestModseqSent) this.highestModseqSent = modseq;
      }
      parts.push(`FLAGS (${this.flagsOf(uid).join(' ')})`);
      lines.push(`* ${seq} FETCH (${parts.join(' ')})\r\n`);
    }
    this.flagUpdates.clear();
    if (this.cols.length !== this.announcedExists) {
      if (this.announce.counts) lines.push(`* ${this.cols.length} EXISTS\r\n`);
      this.announcedExists = this.cols.length;
    }
    if (this.recentCount !== this.announcedRecent) {
      if (!this.recentHidden && this.announce.counts) lines.push(`* ${this.recentCount} RECENT\r\n`);
      this.announcedRecent = this.recentCount;
    }
    return lines;
  }

  private flagUpdates = new Set<number>();
  private newKeywords = false;

  private async apply(changes: ChangeRecord[]): Promise<void> {
    let appended = false;
    for (const c of changes) {
      if (c.modseq > this.syncedModseq) this.syncedModseq = c.modseq;
      if (c.modseq > this.highestModseq) this.highestModseq = c.modseq;
      const seq = this.seqOf(c.uid);
      if (c.kind === 'expunge') {
        if (seq > 0) this.pendingExpunges.add(c.uid);
        continue;
      }
      if (seq === 0) {
        // New message: UIDs only grow, so it goes at the end of the map.
        if (c.kind === 'append' && (this.cols.length === 0 || c.uid > this.cols.lastUid())) {
          this.addMessageWithKeywordCheck(c.uid, c.flags, c.modseq);
          if (c.uid >= this.uidNext) this.uidNext = c.uid + 1;
          appended = true;
        }
        continue;
      }
      if (this.pendingExpunges.has(c.uid)) continue;
      const i = seq - 1;
      if (!sameFlags(this.cols.flagsAt(i), c.flags)) {
        this.cols.setFlags(i, this.cols.flagSets.idOf(c.flags), c.modseq);
        this.noteKeywords(c.flags);
        this.flagUpdates.add(c.uid);
      } else if (this.cols.modseqAt(i) !== c.modseq) {
        this.cols.setFlags(i, this.cols.setAt(i), c.modseq);
      }
    }
    if (appended && !this.readOnly) for (const uid of await this.store.claimRecent(this.id)) this.recent.add(uid);
    const info = await this.store.getMailboxById(this.id);
    if (info) {
      this.uidNext = Math.max(this.uidNext, info.uidNext);
      this.highestModseq = Math.max(this.highestModseq, info.highestModseq);
    }
  }

  private addMessageWithKeywordCheck(uid: number, flags: readonly string[], modseq: number): void {
    this.cols.push(uid, this.cols.flagSets.idOf(flags), modseq, -1);
    this.uidList = null;
    this.unknownSizes++;
    this.noteKeywords(flags);
  }

  private noteKeywords(flags: readonly string[]): void {
    for (const f of flags) {
      if (f.startsWith('\\') || this.keywords.has(f)) continue;
      this.keywords.add(f);
      this.newKeywords = true;
    }
  }

  private removeAt(seq: number, uid: number): void {
    if (this.cols.sizeAt(seq - 1) === -1) this.unknownSizes--;
    this.cols.removeAt(seq - 1);
    this.uidList = null;
    // The next sync announces the lower \Recent count (`* n RECENT` after the EXPUNGEs, as
    // Dovecot 2.3.19 does).
    this.recent.delete(uid);
  }

  /**
   * Takes `uids` out of the view and returns the lines that announce it: `* n EXPUNGE`, highest
   * first, or once QRESYNC is on one `* VANISHED uid-set` (RFC 7162 §3.2.10).
   */
  expungeOwn(uids: number[], qresync = false, announceRecent = true): string[] {
    const seqs = uids.map((u) => this.seqOf(u)).filter((s) => s > 0).sort((a, b) => b - a);
    const lines: string[] = seqs.length > 0 && this.beforeExpunge ? this.beforeExpunge(seqs.map((s) => this.cols.uidAt(s - 1)).reverse()) : [];
    const gone: number[] = [];
    for (const seq of seqs) {
      const uid = this.cols.uidAt(seq - 1);
      this.removeAt(seq, uid);
      this.pendingExpunges.delete(uid);
      if (qresync) gone.push(uid);
      // A message the client was never told of (appended since the last EXISTS) needs no EXPUNGE;
      // the messages appended meanwhile still get their EXISTS from the next sync.
      else if (seq <= this.announcedExists) lines.push(`* ${seq} EXPUNGE\r\n`);
      if (seq <= this.announcedExists) this.announcedExists--;
    }
    if (gone.length > 0) lines.push(`* VANISHED ${formatNumberSet(gone.sort((a, b) => a - b))}\r\n`);
    if (announceRecent && this.recentCount !== this.announcedRecent) {
      if (this.announce.counts) lines.push(`* ${this.recentCount} RECENT\r\n`);
      this.announcedRecent = this.recentCount;
    }
    return lines;
  }

  /**
   * Lines to send before the EXPUNGE lines of `uids` (still in the view, ascending): CONTEXT=SEARCH's
   * REMOVEFROM goes there (RFC 5267 §4.3, Dovecot 2.3.19's order).
   */
  beforeExpunge: ((uids: readonly number[]) => string[]) | null = null;

  /** Expunges by others the view holds back (RFC 3501 §7.4.1): Dovecot's sync_delayed_expunges. */
  get hasDelayedExpunges(): boolean {
    return this.pendingExpunges.size > 0;
  }

  /** The highest MODSEQ sent in FETCH responses since the last takeHighestModseqSent(). */
  private highestModseqSent = 0;

  /** A command's own FETCH/STORE responses carried this MODSEQ. */
  noteModseqSent(modseq: number): void {
    if (modseq > this.highestModseqSent) this.highestModseqSent = modseq;
  }

  /** Reads and resets the highest MODSEQ announced in FETCH responses (Dovecot's highest_fetch_modseq). */
  takeHighestModseqSent(): number {
    const m = this.highestModseqSent;
    this.highestModseqSent = 0;
    return m;
  }

  /** Messages with \Deleted among `candidates` (or all), for EXPUNGE / CLOSE. */
  deletedUids(candidates?: Set<number>): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.cols.length; i++) {
      const uid = this.cols.uidAt(i);
      if (candidates && !candidates.has(uid)) continue;
      if (this.cols.flagsAt(i).includes('\\Deleted')) out.push(uid);
    }
    return out;
  }
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => set.has(f.toLowerCase()));
}
