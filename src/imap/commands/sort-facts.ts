// What SORT and THREAD (RFC 5256) order messages by, read once per matched message: sent date,
// base subject, first addresses, Message-ID and references. The header text comes from the SEARCH
// text cache (decoded, case-folded), in time slices so a SORT over a large mailbox leaves the
// event loop to other connections between slices, like SEARCH.
import { performance } from 'node:perf_hooks';
import { parseAddressList } from '../../mime/address.js';
import { StorageError } from '../../storage/types.js';
import { baseSubject } from './base-subject.js';
import { type SearchContext, type SearchMessage } from './search-eval.js';
import { sentTimestamp } from './search-dates.js';
import { messageText, type MessageText } from './search-text.js';
import { SORT_SLICE_MS } from './yield-slices.js';
import { isPromise } from '../../storage/maybe-async.js';

export interface SortFacts {
  seq: number;
  uid: number;
  /** INTERNALDATE, ms. */
  arrival: number;
  size: number;
  /** Sent date (Date: header, else the internal date; RFC 5256 §3), ms. */
  date: number;
  /** RFC 5256 §2.1 base subject, upper case. */
  subject: string;
  subjectIsReply: boolean;
  /** Sort keys of the first From/To/Cc address (RFC 5256: its mailbox part), upper case. */
  from: string;
  to: string;
  cc: string;
  /** RFC 5957 display keys: the display name, else the address. */
  displayFrom: string;
  displayTo: string;
  messageId: string | null;
  /** References (or In-Reply-To's first id), oldest first. */
  references: string[];
}

const MSG_ID = /<[^<>]*>/g;

function firstAddressKeys(text: MessageText, field: string): { mailbox: string; display: string } {
  const value = text.headers.get(field)?.[0];
  if (value === undefined) return { mailbox: '', display: '' };
  const first = parseAddressList(value)[0];
  if (!first) return { mailbox: '', display: '' };
  // A group's first entry carries the group name as its mailbox (Dovecot's message_address_parse).
  const mailbox = (first.mailbox ?? '').replace(/^"(.*)"$/, '$1');
  const name = first.name?.trim() ?? '';
  const display = name !== '' ? name : first.domain !== null ? `${mailbox}@${first.domain}` : mailbox;
  return { mailbox: mailbox.toUpperCase(), display: display.toUpperCase() };
}

/** The facts a SORT program or THREAD algorithm reads; the others stay empty (and unread). */
export type FactNeed = 'date' | 'subject' | 'from' | 'to' | 'cc' | 'references';

const NO_ADDRESS = { mailbox: '', display: '' };

function factsOf(m: SearchMessage, text: MessageText | null, needs: ReadonlySet<FactNeed>): SortFacts {
  const arrival = m.meta.internalDate.getTime();
  const f: SortFacts = {
    seq: m.seq, uid: m.meta.uid, arrival, size: m.meta.size, date: arrival, subject: '', subjectIsReply: false,
    from: '', to: '', cc: '', displayFrom: '', displayTo: '', messageId: null, references: [],
  };
  if (!text) return f;
  if (needs.has('date')) {
    const dateHeader = text.headers.get('date')?.[0];
    f.date = (dateHeader === undefined ? null : sentTimestamp(dateHeader)) ?? arrival;
  }
  if (needs.has('subject')) {
    const subject = baseSubject(text.headers.get('subject')?.[0] ?? '');
    f.subject = subject.base;
    f.subjectIsReply = subject.isReplyOrForward;
  }
  const from = needs.has('from') ? firstAddressKeys(text, 'from') : NO_ADDRESS;
  const to = needs.has('to') ? firstAddressKeys(text, 'to') : NO_ADDRESS;
  f.from = from.mailbox;
  f.displayFrom = from.display;
  f.to = to.mailbox;
  f.displayTo = to.display;
  if (needs.has('cc')) f.cc = firstAddressKeys(text, 'cc').mailbox;
  if (needs.has('references')) {
    f.messageId = text.headers.get('message-id')?.[0]?.match(MSG_ID)?.[0] ?? null;
    f.references = text.headers.get('references')?.[0]?.match(MSG_ID) ?? [];
    if (f.references.length === 0) {
      const first = text.headers.get('in-reply-to')?.[0]?.match(MSG_ID)?.[0];
      if (first) f.references = [first];
    }
  }
  return f;
}

/**
 * The facts of `messages`, sliced like searchInSlices (a pause every `sliceMs`, by default
 * SORT_SLICE_MS); null when `aborted()` says so after a pause. A message expunged meanwhile (body gone) is left out.
 */
export async function collectSortFacts(
  ctx: SearchContext,
  messages: readonly SearchMessage[],
  needs: ReadonlySet<FactNeed>,
  slicing: { sliceMs?: number; aborted?: () => boolean } = {},
): Promise<SortFacts[] | null> {
  // ARRIVAL and SIZE come from the index: no message text to read.
  const readText = needs.size > 0;
  const out: SortFacts[] = [];
  const sliceMs = slicing.sliceMs ?? SORT_SLICE_MS;
  let deadline = performance.now() + sliceMs;
  ctx.textCache?.beginScan();
  for (const m of messages) {
    if (performance.now() >= deadline) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (slicing.aborted?.()) return null;
      deadline = performance.now() + sliceMs;
    }
    try {
      let text = readText ? messageText(ctx.store, m.meta, ctx.textCache) : null;
      if (isPromise(text)) text = await text;
      out.push(factsOf(m, text, needs));
    } catch (err) {
      if (err instanceof StorageError && err.code === 'EXPUNGEISSUED') continue;
      throw err;
    }
  }
  return out;
}
