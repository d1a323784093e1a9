// The header data Dovecot's push-notification Lua driver collects for MessageNew and MessageAppend
// (spec §12.4; Dovecot: push-notification-event-message-common.c, DLUA_DEFAULT_EVENTS): From, To,
// Subject, Date, Message-ID and the body snippet, read from the MIME structure cached at save time.
import { parseAddressList } from '../../mime/address.js';
import { decodeHeaderText } from '../../mime/content-type.js';
import { snippet } from '../../mime/decode.js';
import { firstValue, parseHeaderFields } from '../../mime/header.js';
import { parseMessage } from '../../mime/parser.js';
import { readRange } from '../../mime/source.js';
import type { MimePart } from '../../mime/types.js';
import { isPromise, syncBody, type MaybePromise } from '../../storage/maybe-async.js';
import type { SavedMessage } from '../../storage/mail-events.js';
import type { SyncBodyReader, UserStore } from '../../storage/types.js';

export interface MessageFields {
  /** Date: header as unix time, 0 when missing or unparsable. */
  date: number;
  /** Timezone offset of the Date: header in minutes. */
  tz: number;
  /** Raw (undecoded, unfolded) first values, '' when missing. */
  from: string;
  to: string;
  /** RFC 2047-decoded subject, null without a Subject header. */
  subject: string | null;
  snippet: string | null;
  message_id: string | null;
  from_address: string;
  from_display_name: string;
  to_address: string;
  to_display_name: string;
}

/**
 * Reads the fields of one stored body; a body that is gone yields the "not collected" values. A
 * synchronous store answers at once; with an asynchronous one the body is read whole first (the
 * MIME readers are synchronous), and the answer is a promise.
 */
export function messageFields(store: UserStore, bodyId: number): MaybePromise<MessageFields> {
  let opened;
  try {
    opened = store.openBody(bodyId);
  } catch {
    return emptyFields();
  }
  if (!isPromise(opened)) {
    const structure = store.getMimeStructure(bodyId);
    if (!isPromise(structure)) {
      const reader = syncBody(opened);
      if (!isPromise(reader)) return fieldsOf(reader, structure);
    }
  }
  const whenOpened = opened;
  return (async () => {
    let reader;
    try {
      reader = await syncBody(await whenOpened);
    } catch {
      return emptyFields();
    }
    return fieldsOf(reader, await store.getMimeStructure(bodyId));
  })();
}

/** The fields of a message saved from memory (storage's savedMessage): nothing read back from the store. */
export function savedMessageFields(saved: SavedMessage): MessageFields {
  return fieldsOf(saved.content, saved.mimeStructure);
}

function fieldsOf(reader: SyncBodyReader | Buffer, structure: unknown): MessageFields {
  const root = (structure as MimePart | undefined) ?? parseMessage(reader);
  const header = parseHeaderFields(readRange(reader, root.headerStart, root.bodyStart));
  const raw = (name: string) => {
    const v = firstValue(header, name);
    return v === undefined ? undefined : Buffer.from(unfold(v), 'latin1').toString('utf8');
  };
  const binary = (name: string) => {
    const v = firstValue(header, name);
    return v === undefined ? undefined : unfold(v);
  };
  const { date, tz } = parseDate(raw('Date'));
  const from = firstAddress(binary('From'));
  const to = firstAddress(binary('To'));
  const subject = binary('Subject');
  let text: string | null;
  try {
    text = snippet(reader, root);
  } catch {
    text = null;
  }
  return {
    date,
    tz,
    from: raw('From') ?? '',
    to: raw('To') ?? '',
    subject: subject === undefined ? null : decodeHeaderText(subject),
    snippet: text,
    message_id: raw('Message-ID') ?? null,
    from_address: from.address,
    from_display_name: from.name,
    to_address: to.address,
    to_display_name: to.name,
  };
}

function emptyFields(): MessageFields {
  return {
    date: -1,
    tz: 0,
    from: '',
    to: '',
    subject: null,
    snippet: null,
    message_id: null,
    from_address: '',
    from_display_name: '',
    to_address: '',
    to_display_name: '',
  };
}

function unfold(v: string): string {
  return v.replace(/\r?\n(?=[ \t])/g, '');
}

/** `local@domain` and the decoded display name of the first address ('' when none). */
function firstAddress(binaryValue: string | undefined): { address: string; name: string } {
  if (binaryValue === undefined) return { address: '', name: '' };
  const a = parseAddressList(binaryValue).find((x) => x.mailbox !== null && x.domain !== null);
  if (!a) return { address: '', name: '' };
  const utf8 = (s: string) => Buffer.from(s, 'latin1').toString('utf8');
  return {
    address: utf8(`${a.mailbox}@${a.domain}`),
    name: a.name ? decodeHeaderText(a.name) : '',
  };
}

// RFC 822 zone names Dovecot's message_date_parse accepts (minutes east of UTC).
const ZONES: Record<string, number> = {
  UT: 0, GMT: 0, Z: 0, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** RFC 5322 date-time → unix time and zone in minutes; {0, 0} when missing or unparsable. */
export function parseDate(value: string | undefined): { date: number; tz: number } {
  if (value === undefined) return { date: 0, tz: 0 };
  const m = /^\s*(?:[A-Za-z]{3},?\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,3})?/.exec(
    value.replace(/\([^)]*\)/g, ' '),
  );
  if (!m) return { date: 0, tz: 0 };
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  if (month < 0) return { date: 0, tz: 0 };
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  let tz = 0;
  const zone = m[7];
  if (zone && /^[+-]\d{4}$/.test(zone)) {
    const mins = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3));
    tz = zone[0] === '-' ? -mins : mins;
  } else if (zone) {
    tz = ZONES[zone.toUpperCase()] ?? 0;
  }
  const utc = Date.UTC(year, month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)) / 1000;
  return { date: utc - tz * 60, tz };
}
