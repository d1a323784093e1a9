// NOTIFY (RFC 5465 §3, §8 ABNF): `NOTIFY NONE` or `NOTIFY SET [STATUS] (filter events)...`, parsed
// as Dovecot 2.3.19 parses it (imap/cmd-notify.c), with its error texts: a malformed argument is
// `Invalid arguments`, an unknown event name too; the selected filter's rules (§5.1) have their
// own texts. Unsupported-but-known events (BADEVENT) and the mailbox-name limit
// (NOTIFICATIONOVERFLOW) are the handler's business: they answer NO, not BAD.
import type { ImapArg } from './args.js';
import { argToAstring } from './args.js';
import { CommandSyntaxError, decodeMailbox, fail, type ArgCursor } from './arg-cursor.js';
import type { NotifyEvent, NotifyGroup, NotifySelected, NotifySpec } from './commands.js';
import { parseFetchAttributes } from './fetch-parser.js';

/** RFC 5465 §5 event names in Dovecot's order (the order BADEVENT lists them in). */
export const NOTIFY_EVENTS: readonly NotifyEvent[] = [
  'MessageNew', 'MessageExpunge', 'FlagChange', 'AnnotationChange',
  'MailboxName', 'SubscriptionChange', 'MailboxMetadataChange', 'ServerMetadataChange',
];

function parseEvent(arg: ImapArg | undefined): NotifyEvent {
  if (arg?.type !== 'atom') fail();
  const lower = arg.value.toLowerCase();
  const event = NOTIFY_EVENTS.find((e) => e.toLowerCase() === lower);
  if (!event) fail();
  return event;
}

function isAtom(arg: ImapArg | undefined, word: string): boolean {
  return arg?.type === 'atom' && arg.value.toUpperCase() === word;
}

/** The events of the selected filter: NONE or a list, MessageNew optionally followed by fetch-atts. */
function parseSelected(delayed: boolean, arg: ImapArg | undefined): NotifySelected {
  const selected: NotifySelected = { delayed, events: [], fetch: null };
  if (isAtom(arg, 'NONE')) return selected;
  if (arg?.type !== 'list' || arg.items.length === 0) fail();
  const items = arg.items;
  for (let i = 0; i < items.length; i++) {
    const event = parseEvent(items[i]);
    if (!selected.events.includes(event)) selected.events.push(event);
    const next = items[i + 1];
    if (event === 'MessageNew' && next?.type === 'list') {
      try {
        selected.fetch = parseFetchAttributes(next);
      } catch (e) {
        if (!(e instanceof CommandSyntaxError)) throw e;
        // Dovecot: `Invalid fetch-att list: Unknown parameter: BOGUS`.
        fail(`Invalid fetch-att list: ${e.reason.replace(/^Unknown parameter /, 'Unknown parameter: ').replace(/\.$/, '')}`);
      }
      i++;
    }
  }
  // RFC 5465 §5.1 (Dovecot's texts).
  const has = (e: NotifyEvent) => selected.events.includes(e);
  if (has('MessageNew') !== has('MessageExpunge')) fail('MessageNew and MessageExpunge must be together');
  if ((has('FlagChange') || has('AnnotationChange')) && !has('MessageExpunge')) fail('FlagChange requires MessageNew and MessageExpunge');
  return selected;
}

function parseMailboxes(arg: ImapArg | undefined, c: ArgCursor): string[] {
  if (!arg) fail();
  const one = argToAstring(arg);
  if (one !== null) return [decodeMailbox(one, c.options)];
  if (arg.type !== 'list') fail();
  return arg.items.map((item) => {
    const name = argToAstring(item);
    if (name === null) fail();
    return decodeMailbox(name, c.options);
  });
}

export function parseNotifyArguments(c: ArgCursor): NotifySpec | null {
  const verb = c.done ? '' : (c.peek()?.type === 'atom' ? c.atom().toUpperCase() : fail());
  if (verb === 'NONE') return null;
  if (verb !== 'SET') fail();
  const spec: NotifySpec = { status: false, selected: null, groups: [] };
  if (c.acceptAtom('STATUS')) spec.status = true;
  while (!c.done) {
    const group = c.list();
    const filterArg = group[0];
    if (filterArg?.type !== 'atom') fail();
    const filter = filterArg.value.toLowerCase();
    if (filter === 'selected' || filter === 'selected-delayed') {
      if (spec.selected) fail('Duplicate selected filter');
      spec.selected = parseSelected(filter === 'selected-delayed', group[1]);
      continue;
    }
    const named = filter === 'subtree' || filter === 'mailboxes';
    const eventsArg = group[named ? 2 : 1];
    if (isAtom(eventsArg, 'NONE')) continue; // the default: nothing to watch
    if (eventsArg?.type !== 'list' || eventsArg.items.length === 0) fail();
    const events: NotifyEvent[] = [];
    for (const item of eventsArg.items) {
      const event = parseEvent(item);
      if (!events.includes(event)) events.push(event);
    }
    let parsed: NotifyGroup;
    if (filter === 'inboxes' || filter === 'personal' || filter === 'subscribed') parsed = { filter, events };
    else if (named) parsed = { filter, names: parseMailboxes(group[1], c), events };
    else fail();
    spec.groups.push(parsed);
  }
  return spec;
}
