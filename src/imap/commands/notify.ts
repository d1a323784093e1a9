// NOTIFY (RFC 5465), as Dovecot 2.3.19 implements it (imap/cmd-notify.c, imap/imap-notify.c):
// `NOTIFY SET [STATUS] (filter (events))...` chooses which events the session hears of and
// `NOTIFY NONE` turns them off. Events for other mailboxes go out as `* STATUS` and `* LIST`
// (mailbox-watch.ts); the selected mailbox's as EXISTS/EXPUNGE/FETCH through its view, with a
// FETCH of MessageNew's attributes for each new message. They are sent at once when no command is
// running (RFC 5465 §1: the client need not IDLE), in IDLE, and before the tagged reply of any
// command; never in the middle of one, so that no EXPUNGE falls inside FETCH, STORE or SEARCH
// (RFC 3501 §7.4.1). Changes arrive as the store's change notices, from this process or another
// (`roost deliver`, the CLI) through the backend's change feed.
//
// Dovecot's limits and choices kept: AnnotationChange, MailboxMetadataChange and
// ServerMetadataChange are refused with `NO [BADEVENT ...]`; more than imap_notify_max_mailbox_names
// (Dovecot: 100) names in one filter group is `NO [NOTIFICATIONOVERFLOW]`; `inboxes` watches the
// same mailboxes as `personal` (Dovecot cannot tell which mailboxes receive mail).
import { NOTIFY_EVENTS, type NotifyEvent, type NotifySpec } from '../protocol/index.js';
import { MailboxWatch, type NotifyLineFormat } from '../notify/mailbox-watch.js';
import type { SelectedMailbox } from '../selected-mailbox.js';
import type { CommandContext, SessionHooks } from './context.js';
import { planFetch, renderFetchAll, type FetchMessage } from './fetch-items.js';
import { ResponseBatcher, type ResponseSink } from './fetch-output.js';
import { utf8MailboxNames } from './imap4rev2.js';
import { mailboxAstring } from './mailboxes.js';
import { AUTHENTICATED, no, ok, type CommandHandler, type CommandResult } from './types.js';

/**
 * Unsolicited notifications wait this long after a change, so that a burst (STORE then EXPUNGE, a
 * delivery of many messages) makes one notification: Dovecot's NOTIFY_DELAY_MSECS
 * (lib-storage/list/mailbox-list-index-notify.c, lib-storage/mailbox-watch.c).
 */
export const NOTIFY_DELAY_MS = 500;

/** Events Dovecot 2.3.19 knows but does not send (imap-notify.h UNSUPPORTED_EVENTS). */
const UNSUPPORTED: ReadonlySet<NotifyEvent> = new Set(['AnnotationChange', 'MailboxMetadataChange', 'ServerMetadataChange']);

class Notifier {
  private spec: NotifySpec | null = null;
  /** NOTIFY was used in this session: the selected mailbox then follows the selected filter. */
  private active = false;
  private watch: MailboxWatch | null = null;
  /** A command is running (its end delivers what is pending). */
  private running = false;
  private delivering = false;
  private scheduled = false;
  private selectedDirty = false;
  /** Other mailboxes' notifications go out before the running command's tagged reply. */
  private deliverAtEnd = false;
  private ended = false;
  /** MessageNew's FETCH covers UIDs from here (Dovecot's client->notify_uidnext). */
  private fetchFromUid = 0;
  /** The view's highest UID after its last flush, and whether that flush announced new messages. */
  private knownTopUid = 0;
  private newMail = false;

  constructor(private readonly session: CommandContext) {}

  /** The mail user NOTIFY was set for: UNAUTHENTICATE (RFC 8437) and a new login forget it. */
  private owner: unknown = null;

  private get current(): boolean {
    if (this.active && this.session.user !== this.owner) this.reset();
    return this.active;
  }

  private reset(): void {
    this.active = false;
    this.spec = null;
    this.watch = null;
    this.selectedDirty = false;
  }

  async set(spec: NotifySpec | null): Promise<CommandResult> {
    if (spec) {
      const used = new Set<NotifyEvent>([...(spec.selected?.events ?? []), ...spec.groups.flatMap((g) => g.events)]);
      const bad = NOTIFY_EVENTS.filter((e) => used.has(e) && UNSUPPORTED.has(e));
      if (bad.length > 0) return no('Unsupported NOTIFY events.', `BADEVENT ${bad.join(' ')}`);
      const limit = this.session.settings.imap_notify_max_mailbox_names;
      if (limit > 0 && maxNamesPerGroup(spec) > limit) return no('Too many mailbox names', 'NOTIFICATIONOVERFLOW');
      normalizeNames(spec, this.session.store.separator);
    }
    this.spec = spec;
    this.active = true;
    this.owner = this.session.user;
    // The watch hears change notices (touch) from here on, before its first snapshot is read.
    const watch = spec && spec.groups.length > 0 ? MailboxWatch.create(this.session.store, spec) : null;
    this.watch = watch;
    if (watch) {
      await watch.load();
      if (spec?.status) this.session.respond(...(await watch.initialStatus(this.session.selected?.id ?? null, this.lineFormat())));
    }
    const view = this.session.selected;
    if (view) this.applyTo(view);
    return ok('NOTIFY completed.');
  }

  private get selectedEvents(): readonly NotifyEvent[] {
    return this.spec?.selected?.events ?? [];
  }

  /** RFC 5465 §5.1: EXISTS/RECENT only with MessageNew, flag FETCHes only with FlagChange. */
  private applyTo(view: SelectedMailbox): void {
    if (!this.current) return;
    view.announce = { counts: this.selectedEvents.includes('MessageNew'), flags: this.selectedEvents.includes('FlagChange') };
  }

  private lineFormat(): NotifyLineFormat {
    const utf8 = utf8MailboxNames(this.session);
    const sep = this.session.store.separator.replace(/[\\"]/g, '\\$&');
    return {
      status: (name, items) => `* STATUS ${mailboxAstring(name, utf8)} (${items.map(([k, v]) => `${k} ${v}`).join(' ')})\r\n`,
      list: (flags, name, oldName) =>
        `* LIST (${flags.join(' ')}) "${sep}" ${mailboxAstring(name, utf8)}${oldName === undefined ? '' : ` ("OLDNAME" (${mailboxAstring(oldName, utf8)}))`}\r\n`,
    };
  }

  // ---- hooks ----

  hooks(): SessionHooks {
    return {
      selected: (view) => {
        this.applyTo(view);
        this.fetchFromUid = view.uidNext;
        this.knownTopUid = topUid(view);
        this.newMail = false;
      },
      unselected: (view) => this.watch?.resync(view.id),
      // Dovecot's have_new_mails: MessageNew's FETCH follows an EXISTS that was sent.
      updatesFlushed: (view) => {
        this.selectedDirty = false;
        const top = topUid(view);
        if (top > this.knownTopUid && view.announce.counts) this.newMail = true;
        this.knownTopUid = top;
      },
      changed: (notice) => {
        if (!this.current) return;
        this.watch?.touch(notice.kind === 'elsewhere' ? null : notice.mailboxId);
        const view = this.session.selected;
        if (view && (notice.kind === 'elsewhere' || notice.mailboxId === view.id)) this.selectedDirty = true;
        if (this.watch || this.selectedEvents.length > 0) this.schedule();
      },
      // Dovecot answers a command with the notifications that were waiting when it began; those of
      // changes made meanwhile (the command's own CREATE, say) come after its tagged reply.
      commandStarting: (cmd) => {
        this.running = true;
        this.deliverAtEnd = cmd.name === 'IDLE' || (this.watch?.pending ?? false);
      },
      afterUpdates: () => this.deliver(this.deliverAtEnd),
      tagged: (result) => {
        this.running = false;
        if (this.watch?.pending || this.selectedDirty) this.schedule();
        return result;
      },
      ended: () => {
        this.ended = true;
        this.watch = null;
      },
    };
  }

  /** Between commands: deliver NOTIFY_DELAY_MS after the first change (a burst makes one pass). */
  private schedule(): void {
    if (this.scheduled || this.running || this.ended) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      void this.session.runBetweenCommands(() => this.deliverUnsolicited());
    }, NOTIFY_DELAY_MS).unref();
  }

  private async deliverUnsolicited(): Promise<void> {
    const s = this.session;
    if (this.running || this.delivering || this.ended || s.client.isClosed || (s.state !== 'authenticated' && s.state !== 'selected')) return;
    this.delivering = true;
    try {
      const selected = this.spec?.selected;
      const selectedDirty = this.selectedDirty;
      this.selectedDirty = false;
      if (s.selected && selected && selected.events.length > 0 && selectedDirty) {
        // `selected`: expunges too; `selected-delayed`: they wait for a command (RFC 5465 §6.1).
        await s.flushUpdates(!selected.delayed);
      }
      await this.deliver();
    } catch (err) {
      s.log.error(`NOTIFY delivery failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    } finally {
      this.delivering = false;
    }
  }

  /** The other mailboxes' LIST/STATUS lines, then MessageNew's FETCH for new messages in the view. */
  private async deliver(otherMailboxes = true): Promise<void> {
    if (!this.current || this.ended) return;
    const s = this.session;
    if (s.state !== 'authenticated' && s.state !== 'selected') return;
    const watch = this.watch;
    if (otherMailboxes && watch?.pending) s.respond(...(await watch.collect(s.selected?.id ?? null, this.lineFormat())));
    await this.fetchNew();
  }

  /** Dovecot's imap_client_notify_newmails: FETCH (attributes) for the messages the client just saw in EXISTS. */
  private async fetchNew(): Promise<void> {
    const s = this.session;
    const view = s.selected;
    const attributes = this.spec?.selected?.fetch;
    const newMail = this.newMail;
    this.newMail = false;
    if (!view || !attributes || !newMail) return;
    const uids = view.allUids;
    let first = uids.length;
    while (first > 0 && uids[first - 1]! >= this.fetchFromUid) first--;
    if (first === uids.length) return;
    const wanted = uids.slice(first).filter((u) => !view.isExpungePending(u));
    this.fetchFromUid = view.uidNext;
    if (wanted.length === 0) return;
    const seqByUid = new Map(wanted.map((u) => [u, view.seqOf(u)]));
    const messages: FetchMessage[] = (await s.store.getMessages(view.id, wanted)).map((meta) => ({ seq: seqByUid.get(meta.uid)!, meta }));
    if (attributes.some((a) => a.type === 'MODSEQ')) for (const m of messages) view.noteModseqSent(m.meta.modseq);
    // Rendered in memory first, then written at once: nothing can cut into the middle of a
    // response (between commands a command that arrives meanwhile waits, runBetweenCommands).
    const chunks: Buffer[] = [];
    const collect: ResponseSink = { write: (chunk) => (chunks.push(chunk), true), waitForDrain: async () => {} };
    const out = new ResponseBatcher(collect);
    await renderFetchAll({ store: s.store, out, recentUids: view.recentUids }, messages, planFetch(attributes, { includeUid: false, includeModseq: false }));
    await out.flush();
    if (chunks.length === 0) return;
    const sink = s.responseSink();
    const r = sink.write(Buffer.concat(chunks));
    if (r === false) await sink.waitForDrain();
    else if (r !== true) await r;
  }
}

/**
 * Dovecot counts the names of each (filter kind, event set) group and refuses more than 100 in
 * one (imap/cmd-notify.c IMAP_NOTIFY_MAX_NAMES_PER_NS); `personal`/`inboxes` and `subscribed`
 * count as one name each.
 */
function maxNamesPerGroup(spec: NotifySpec): number {
  const groups = new Map<string, Set<string>>();
  for (const g of spec.groups) {
    const kind = g.filter === 'mailboxes' ? 'mailboxes' : g.filter === 'subscribed' ? 'subscribed' : 'subtree';
    const key = `${kind} ${[...g.events].sort().join(',')}`;
    let names = groups.get(key);
    if (!names) groups.set(key, (names = new Set()));
    if (g.filter === 'subtree' || g.filter === 'mailboxes') for (const n of g.names) names.add(n);
    else names.add('');
  }
  let max = 0;
  for (const names of groups.values()) max = Math.max(max, names.size);
  return max;
}

/** `inbox/x` names INBOX's subtree: compare case-sensitively from here on (as Dovecot does). */
function normalizeNames(spec: NotifySpec, separator: string): void {
  for (const g of spec.groups) {
    if (g.filter !== 'subtree' && g.filter !== 'mailboxes') continue;
    g.names = g.names.map((n) => (n.length >= 5 && n.slice(0, 5).toUpperCase() === 'INBOX' && (n.length === 5 || n.startsWith(separator, 5)) ? `INBOX${n.slice(5)}` : n));
  }
}

function topUid(view: SelectedMailbox): number {
  return view.lastUid;
}

const notifiers = new WeakMap<CommandContext, Notifier>();

export function notifyHooks(session: CommandContext): SessionHooks {
  const notifier = new Notifier(session);
  notifiers.set(session, notifier);
  return notifier.hooks();
}

export const NOTIFY: CommandHandler<'NOTIFY'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    const notifier = notifiers.get(session);
    if (!notifier) return no('NOTIFY is not available.');
    return notifier.set(cmd.spec);
  },
};
