// What NOTIFY (RFC 5465) tells a client about mailboxes other than the selected one: `* LIST`
// for MailboxName and SubscriptionChange (§5.4, §5.5), `* STATUS` for MessageNew, MessageExpunge
// and FlagChange (§5.2-§5.3). Changes reach Roost's sessions as coarse notices (a mailbox id, or
// "something changed elsewhere" from another process), so the watch keeps a snapshot of every
// mailbox (name, counters) and of the subscriptions, and announces the difference, as Dovecot's mailbox-list
// index notifications do (lib-storage/list/mailbox-list-index-notify.c compares the status it
// recorded with the current one): a new UIDNEXT is an append, fewer messages than the appends
// explain is an expunge, another UNSEEN count is a \Seen change, another HIGHESTMODSEQ any change.
import type { MailboxInfo, UserStore } from '../../storage/types.js';
import type { NotifyEvent, NotifyGroup, NotifySpec } from '../protocol/index.js';

interface Counters {
  messages: number;
  uidNext: number;
  uidValidity: number;
  unseen: number;
  highestModseq: number;
}

interface Snapshot {
  name: string;
  noselect: boolean;
  counters: Counters | null;
}

/** What changed in one mailbox since the last look (Dovecot's mailbox_list_notify_event). */
interface MailboxChange {
  name: string;
  oldName?: string;
  create?: boolean;
  delete?: boolean;
  rename?: boolean;
  subscribe?: boolean;
  unsubscribe?: boolean;
  uidValidity?: boolean;
  appends?: boolean;
  expunges?: boolean;
  seen?: boolean;
  modseq?: boolean;
  counters?: Counters;
}

const MESSAGE_EVENTS: readonly NotifyEvent[] = ['MessageNew', 'MessageExpunge', 'FlagChange', 'AnnotationChange'];

/** Writes a STATUS or LIST line for a mailbox (name encoding belongs to the session). */
export interface NotifyLineFormat {
  status(name: string, items: Array<[string, number]>): string;
  list(flags: string[], name: string, oldName?: string): string;
}

export class MailboxWatch {
  private snapshots = new Map<number, Snapshot>();
  /** Subscriptions are kept by name: they outlive their mailbox (RFC 3501 §6.3.6). */
  private subscriptions = new Set<string>();
  /** Mailboxes changed since the last look (null: any of them); collect() looks at all anyway. */
  private dirty: Set<number> | null = new Set();
  /** Counters being taken again without a report (resync), awaited before the next look. */
  private resyncing: Promise<void> = Promise.resolve();

  /**
   * Takes the first snapshot. Make the watch receive change notices (touch) before: a change
   * made while the snapshot is read is then looked at again by the next collect().
   */
  private constructor(
    private readonly store: UserStore,
    readonly spec: NotifySpec,
  ) {}

  static create(store: UserStore, spec: NotifySpec): MailboxWatch {
    return new MailboxWatch(store, spec);
  }

  /** Reads the first snapshot of every mailbox and the subscriptions. */
  async load(): Promise<void> {
    for (const info of await this.store.listMailboxes()) this.snapshots.set(info.id, await this.snapshotOf(info, null));
    this.subscriptions = new Set(await this.store.listSubscriptions());
  }

  /** Some group wants message events: mailboxes' counters are kept. */
  get wantsStatus(): boolean {
    return this.spec.groups.some((g) => g.events.some((e) => MESSAGE_EVENTS.includes(e)));
  }

  /** A change notice: `mailboxId` null means the list changed or another process changed anything. */
  touch(mailboxId: number | null): void {
    if (mailboxId === null) this.dirty = null;
    else this.dirty?.add(mailboxId);
  }

  get pending(): boolean {
    return this.dirty === null || this.dirty.size > 0;
  }

  /**
   * RFC 5465 §3.1 NOTIFY SET STATUS: the STATUS of every watched mailbox but the selected one
   * (Dovecot: MESSAGES UIDNEXT UIDVALIDITY UNSEEN, HIGHESTMODSEQ when FlagChange is asked for).
   */
  async initialStatus(selectedId: number | null, fmt: NotifyLineFormat): Promise<string[]> {
    if (!this.wantsStatus) return [];
    // Dovecot looks at every event the command named, the selected filter's included.
    const used = [...(this.spec.selected?.events ?? []), ...this.spec.groups.flatMap((g) => g.events)];
    const withModseq = used.includes('FlagChange') || used.includes('AnnotationChange');
    const lines: string[] = [];
    for (const info of await this.store.listMailboxes()) {
      if (info.noselect || info.id === selectedId) continue;
      if (!this.spec.groups.some((g) => this.matchesMailbox(g, info.name, this.subscriptions.has(info.name)))) continue;
      const c = await this.countersOf(info);
      if (!c) continue;
      const items: Array<[string, number]> = [['MESSAGES', c.messages], ['UIDNEXT', c.uidNext], ['UIDVALIDITY', c.uidValidity], ['UNSEEN', c.unseen]];
      if (withModseq) items.push(['HIGHESTMODSEQ', c.highestModseq]);
      lines.push(fmt.status(info.name, items));
    }
    return lines;
  }

  /** The LIST and STATUS lines for what changed since the last call, per mailbox in list order. */
  async collect(selectedId: number | null, fmt: NotifyLineFormat): Promise<string[]> {
    await this.resyncing;
    // Notices that arrive from here on are for the next look.
    this.dirty = new Set();
    const lines: string[] = [];
    const seen = new Set<number>();
    const mailboxes = await this.store.listMailboxes();
    const subscribedNow = new Set(await this.store.listSubscriptions());
    /** name -> true (subscribed) / false (unsubscribed) since the last look. */
    const subscriptionChanges = new Map<string, boolean>();
    for (const n of subscribedNow) if (!this.subscriptions.has(n)) subscriptionChanges.set(n, true);
    for (const n of this.subscriptions) if (!subscribedNow.has(n)) subscriptionChanges.set(n, false);
    this.subscriptions = subscribedNow;
    // A RENAME carries the subscription along: that is the rename's LIST, not two more.
    for (const info of mailboxes) {
      const before = this.snapshots.get(info.id);
      if (before && before.name !== info.name && subscriptionChanges.get(before.name) === false && subscriptionChanges.get(info.name) === true) {
        subscriptionChanges.delete(before.name);
        subscriptionChanges.delete(info.name);
      }
    }
    const subscriptionLines = (name: string, change: MailboxChange) => {
      const sub = subscriptionChanges.get(name);
      if (sub === undefined) return;
      subscriptionChanges.delete(name);
      if (sub) change.subscribe = true;
      else change.unsubscribe = true;
    };
    for (const info of mailboxes) {
      seen.add(info.id);
      const before = this.snapshots.get(info.id);
      const change: MailboxChange = { name: info.name };
      if (!before) change.create = true;
      else if (before.name !== info.name) {
        change.rename = true;
        change.oldName = before.name;
      }
      subscriptionLines(info.name, change);
      let counters = before?.counters ?? null;
      // Every message change takes a modseq: the list's own columns say whether to look closer.
      const moved = counters !== null && (info.highestModseq !== counters.highestModseq || info.uidNext !== counters.uidNext || info.uidValidity !== counters.uidValidity);
      // The selected mailbox's changes go out through its view; its counters are taken again when
      // it is closed (resync), not at every change the session makes in it.
      if (before && !info.noselect && moved && before.counters && info.id !== selectedId) {
        const now = await this.countersOf(info);
        if (now) {
          diffCounters(before.counters, now, change);
          counters = now;
        }
      } else if (!before || (before.counters === null && this.wantsStatus)) {
        counters = info.noselect ? null : await this.countersOf(info);
      }
      this.snapshots.set(info.id, await this.snapshotOf(info, counters));
      this.emit(lines, change, subscribedNow.has(info.name), info.id === selectedId, fmt);
    }
    for (const [id, before] of this.snapshots) {
      if (seen.has(id)) continue;
      this.snapshots.delete(id);
      const unsubscribed: MailboxChange = { name: before.name };
      subscriptionLines(before.name, unsubscribed);
      this.emit(lines, unsubscribed, subscribedNow.has(before.name), false, fmt);
      const change: MailboxChange = { name: before.name, delete: true };
      this.emit(lines, change, subscribedNow.has(before.name), false, fmt);
    }
    // Subscriptions of names that are no mailbox.
    for (const [name] of subscriptionChanges) {
      const change: MailboxChange = { name };
      subscriptionLines(name, change);
      this.emit(lines, change, subscribedNow.has(name), false, fmt);
    }
    return lines;
  }

  /**
   * Takes a mailbox's counters again without reporting them (the selected mailbox was closed).
   * Starts at once; the next collect() waits for it.
   */
  resync(mailboxId: number): void {
    const previous = this.resyncing;
    this.resyncing = (async () => {
      await previous;
      const before = this.snapshots.get(mailboxId);
      const info = await this.store.getMailboxById(mailboxId);
      if (!before || !info || before.counters === null) return;
      before.counters = await this.countersOf(info);
    })().catch(() => {}); // the store went away with the session: nothing to look at any more
  }

  private async snapshotOf(info: MailboxInfo, counters: Counters | null): Promise<Snapshot> {
    return { name: info.name, noselect: info.noselect, counters: counters ?? (this.wantsStatus && !info.noselect ? await this.countersOf(info) : null) };
  }

  private async countersOf(info: MailboxInfo): Promise<Counters | null> {
    try {
      const s = await this.store.status(info.name);
      return { messages: s.messages, uidNext: s.uidNext, uidValidity: s.uidValidity, unseen: s.unseen, highestModseq: s.highestModseq };
    } catch {
      return null; // gone meanwhile: the next look reports the deletion
    }
  }

  /**
   * A change is up to three of Dovecot's records (a name change, a subscription change, new
   * counters), each matched on its own: `MailboxName` alone does not report a SUBSCRIBE that came
   * with a CREATE.
   */
  private emit(lines: string[], change: MailboxChange, subscribed: boolean, isSelected: boolean, fmt: NotifyLineFormat): void {
    const { name, oldName } = change;
    const parts: MailboxChange[] = [
      { name, oldName, create: change.create, delete: change.delete, rename: change.rename },
      { name, subscribe: change.subscribe, unsubscribe: change.unsubscribe },
      { name, uidValidity: change.uidValidity, appends: change.appends, expunges: change.expunges, seen: change.seen, modseq: change.modseq, counters: change.counters },
    ];
    for (const part of parts) if (this.matches(part, subscribed, isSelected)) lines.push(...this.linesFor(part, fmt));
  }

  /** Dovecot's imap_notify_match_event + imap_notify_match_mailbox, over every group. */
  private matches(change: MailboxChange, subscribed: boolean, isSelected: boolean): boolean {
    return this.spec.groups.some((g) => {
      if (!this.matchesMailbox(g, change.name, subscribed)) return false;
      const wants = (e: NotifyEvent) => g.events.includes(e);
      if (wants('MailboxName') && (change.create || change.delete || change.rename)) return true;
      if (wants('SubscriptionChange') && (change.subscribe || change.unsubscribe)) return true;
      // The selected mailbox's own changes go out through its view (RFC 5465 §5.1).
      if (isSelected) return false;
      if ((wants('MessageNew') || wants('MessageExpunge') || wants('FlagChange')) && change.uidValidity) return true;
      if (wants('MessageNew') && change.appends) return true;
      if (wants('MessageExpunge') && change.expunges) return true;
      if (wants('FlagChange') && (change.seen || change.modseq)) return true;
      return false;
    });
  }

  private matchesMailbox(g: NotifyGroup, name: string, subscribed: boolean): boolean {
    switch (g.filter) {
      case 'inboxes': // Dovecot cannot tell which mailboxes receive mail: all personal ones
      case 'personal':
        return true;
      case 'subscribed':
        return subscribed;
      case 'subtree': {
        const sep = this.store.separator;
        return g.names.some((n) => name === n || name.startsWith(n + sep));
      }
      case 'mailboxes':
        return g.names.includes(name);
    }
  }

  /** Dovecot's imap_notify_next: LIST lines first, then one STATUS with the items the change touched. */
  private linesFor(change: MailboxChange, fmt: NotifyLineFormat): string[] {
    const lines: string[] = [];
    if (change.create) lines.push(fmt.list([], change.name));
    if (change.delete) lines.push(fmt.list(['\\NonExistent'], change.name));
    if (change.rename) lines.push(fmt.list([], change.name, change.oldName));
    if (change.subscribe) lines.push(fmt.list(['\\Subscribed'], change.name));
    if (change.unsubscribe) lines.push(fmt.list([], change.name));
    const c = change.counters;
    if (c && (change.uidValidity || change.appends || change.expunges || change.seen || change.modseq)) {
      const counts = change.uidValidity || change.appends || change.expunges;
      const items: Array<[string, number]> = [];
      if (counts) items.push(['MESSAGES', c.messages], ['UIDNEXT', c.uidNext]);
      if (change.uidValidity) items.push(['UIDVALIDITY', c.uidValidity]);
      if (counts || change.seen) items.push(['UNSEEN', c.unseen]);
      // Dovecot 2.3.19 adds HIGHESTMODSEQ to every notification STATUS.
      items.push(['HIGHESTMODSEQ', c.highestModseq]);
      lines.push(fmt.status(change.name, items));
    }
    return lines;
  }
}

function diffCounters(before: Counters, now: Counters, change: MailboxChange): void {
  change.counters = now;
  if (now.uidValidity !== before.uidValidity) {
    change.uidValidity = true;
    return;
  }
  const appended = now.uidNext - before.uidNext;
  if (appended > 0) change.appends = true;
  if (now.messages < before.messages + appended) change.expunges = true;
  if (now.unseen !== before.unseen) change.seen = true;
  if (now.highestModseq !== before.highestModseq) change.modseq = true;
}
