// From the storage mail-event feed to Dovecot's push-notification transactions and event tables
// (spec §12.2-§12.4; Dovecot: push-notification-event-*.c, push-notification-driver-lua.c).
//   - every mailbox event is its own one-event transaction;
//   - message events form one transaction per mailbox (Dovecot's are per mailbox transaction:
//     a MOVE is the destination's MessageAppend, then the source's MessageExpunge);
//   - a flag change always yields FlagsClear and FlagsSet (possibly empty, spec §16.5), plus
//     MessageRead / MessageTrash when \Seen / \Deleted became set.
import type { MailEvent, MailTransactionEvents } from '../../storage/mail-events.js';
import type { LuaArg } from '../types.js';
import type { MessageFields } from './message-fields.js';

/** Dovecot's event names, in its registration order (the order events of one message are raised). */
export const PUSH_EVENT_NAMES = [
  'FlagsClear',
  'FlagsSet',
  'MailboxCreate',
  'MailboxDelete',
  'MailboxRename',
  'MailboxSubscribe',
  'MailboxUnsubscribe',
  'MessageAppend',
  'MessageExpunge',
  'MessageNew',
  'MessageRead',
  'MessageTrash',
] as const;
export type PushEventName = (typeof PUSH_EVENT_NAMES)[number];

/** `dovecot_lua_notify_event` + `_<lowercase>` for each capital (spec §12.3). */
export function handlerName(event: PushEventName): string {
  return 'dovecot_lua_notify_event' + event.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

/** One event table as the handler receives it (numbers become Lua floats, arrays Lua sequences). */
export type PushEventTable = { name: PushEventName; mailbox: string } & { [field: string]: LuaArg };

export interface PushTransaction {
  events: PushEventTable[];
  /** end_txn's second argument: false after a rollback (then there are no events). */
  success: boolean;
}

type SaveEvent = Extract<MailEvent, { type: 'MessageSave' }>;
type FlagsEvent = Extract<MailEvent, { type: 'MessageFlags' }>;

// Dovecot's dlua_push_flags order.
const FLAG_ORDER = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', '\\Recent'];

function systemFlags(flags: readonly string[]): string[] {
  return FLAG_ORDER.filter((f) => flags.includes(f));
}

function keywords(flags: readonly string[]): string[] {
  return flags.filter((f) => !f.startsWith('\\'));
}

const minus = (a: readonly string[], b: readonly string[]) => a.filter((x) => !b.includes(x));
const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

/**
 * Splits one committed storage transaction into push transactions. `fieldsOf` supplies the header
 * data of a saved message (null when no script wants MessageNew/MessageAppend).
 */
export function pushTransactions(
  txn: MailTransactionEvents,
  fieldsOf: (e: SaveEvent) => MessageFields | null,
): PushTransaction[] {
  if (!txn.committed) return [{ events: [], success: false }];
  const out: PushTransaction[] = [];
  const byMailbox = new Map<number, PushTransaction>();
  for (const e of txn.events) {
    switch (e.type) {
      case 'MailboxCreate':
      case 'MailboxDelete':
      case 'MailboxSubscribe':
      case 'MailboxUnsubscribe':
        out.push({ events: [{ name: e.type, mailbox: e.mailbox }], success: true });
        break;
      case 'MailboxRename':
        out.push({ events: [{ name: 'MailboxRename', mailbox: e.mailbox, mailbox_old: e.oldMailbox }], success: true });
        break;
      default: {
        let t = byMailbox.get(e.mailboxId);
        if (!t) {
          t = { events: [], success: true };
          byMailbox.set(e.mailboxId, t);
          out.push(t);
        }
        const base = { mailbox: e.mailbox, uid: e.uid, uid_validity: e.uidValidity };
        if (e.type === 'MessageExpunge') t.events.push({ name: 'MessageExpunge', ...base });
        else if (e.type === 'MessageSave') t.events.push(saveTable(e, base, fieldsOf(e)));
        else t.events.push(...flagTables(e, base));
      }
    }
  }
  return out;
}

function saveTable(e: SaveEvent, base: { mailbox: string; uid: number; uid_validity: number }, f: MessageFields | null): PushEventTable {
  const table: PushEventTable = {
    name: e.origin === 'delivery' ? 'MessageNew' : 'MessageAppend',
    ...base,
    flags: systemFlags(e.flags),
    keywords: keywords(e.flags),
  };
  if (f) Object.assign(table, f);
  else Object.assign(table, { date: -1, tz: 0, from: '', to: '', from_address: '', from_display_name: '', to_address: '', to_display_name: '' });
  return table;
}

function flagTables(e: FlagsEvent, base: { mailbox: string; uid: number; uid_validity: number }): PushEventTable[] {
  const oldSys = systemFlags(e.oldFlags);
  const newSys = systemFlags(e.newFlags);
  const oldKw = keywords(e.oldFlags);
  const newKw = keywords(e.newFlags);
  // Dovecot's notify reports system flags and keywords as separate changes; each part of the
  // data is filled only by its own kind of change (flags_old stays empty for a keyword-only STORE).
  const flagsChanged = !sameSet(oldSys, newSys);
  const keywordsChanged = !sameSet(oldKw, newKw);
  const tables: PushEventTable[] = [
    {
      name: 'FlagsClear',
      ...base,
      flags: flagsChanged ? minus(oldSys, newSys) : [],
      flags_old: flagsChanged ? systemFlags(e.oldRecent ? [...oldSys, '\\Recent'] : oldSys) : [],
      keywords: keywordsChanged ? minus(oldKw, newKw) : [],
      keywords_old: keywordsChanged ? oldKw : [],
    },
    {
      name: 'FlagsSet',
      ...base,
      flags: flagsChanged ? minus(newSys, oldSys) : [],
      keywords: keywordsChanged ? minus(newKw, oldKw) : [],
    },
  ];
  if (!oldSys.includes('\\Seen') && newSys.includes('\\Seen')) tables.push({ name: 'MessageRead', ...base });
  if (!oldSys.includes('\\Deleted') && newSys.includes('\\Deleted')) tables.push({ name: 'MessageTrash', ...base });
  return tables;
}
