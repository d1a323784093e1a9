// FETCH ENVELOPE (RFC 3501 section 7.4.2), byte-exact to Dovecot 2.3.19 (lib-imap/imap-envelope.c).
// Output is a binary string: one char per byte; write it with Buffer.from(s, 'latin1').
import { parseAddressList, type EnvelopeAddress } from '../../mime/address.js';
import type { EnvelopeHeaders } from '../../mime/types.js';

// Dovecot (imap-quote.c) prefers a literal once a quoted string would need this many escapes.
const QUOTED_MAX_ESCAPES = 4;

function literal(s: string): string {
  return `{${s.length}}\r\n${s}`;
}

/** IMAP string: quoted unless CR/LF, 8-bit bytes or more than 4 quoted-specials call for a literal. */
export function imapString(s: string): string {
  let escapes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) {
      if (escapes++ < QUOTED_MAX_ESCAPES) continue;
      return literal(s);
    }
    if (c === 13 || c === 10 || c >= 0x80) return literal(s);
  }
  return '"' + s.replace(/["\\]/g, '\\$&') + '"';
}

/** NIL for null/undefined, else imapString(). */
export function imapNString(s: string | null | undefined): string {
  return s === null || s === undefined ? 'NIL' : imapString(s);
}

/**
 * Dovecot's "string for humans" (subject, display names): CR/LF dropped, TAB and runs of
 * spaces collapsed to one space, leading/trailing whitespace removed, NUL → 0x80; written as a
 * literal whenever anything had to change or it contains quoted-specials or 8-bit bytes.
 */
export function imapStringForHumans(s: string): string {
  let modify = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 9 || c === 13 || c === 10 || c === 0x22 || c === 0x5c || c >= 0x80) modify = true;
  }
  const cleaned = s.replace(/[\r\n]/g, '').replace(/\0/g, '\x80').replace(/[ \t]+/g, ' ').replace(/^ /, '').replace(/ $/, '');
  if (!modify && cleaned.length === s.length) return '"' + s + '"';
  if (cleaned.length === 0) return '""';
  return literal(cleaned);
}

function formatAddressList(raw: string | undefined): string {
  if (raw === undefined) return 'NIL';
  const list: EnvelopeAddress[] = parseAddressList(raw);
  if (list.length === 0) return 'NIL';
  const items = list.map((a) =>
    `(${a.name === null ? 'NIL' : imapStringForHumans(a.name)} ${imapNString(a.route)} ${imapNString(a.mailbox)} ${imapNString(a.domain)})`);
  return `(${items.join('')})`;
}

/** The ENVELOPE list for a message header (raw values as kept by parseMessage). */
export function formatEnvelope(headers: EnvelopeHeaders): string {
  const from = formatAddressList(headers.from);
  // RFC 3501 §7.4.2: Sender and Reply-To default to From when absent *or present but empty*
  // (Dovecot: an address list that parses to nothing is NULL and falls back to From as well).
  const senderList = formatAddressList(headers.sender);
  const replyToList = formatAddressList(headers.replyTo);
  const sender = senderList === 'NIL' ? from : senderList;
  const replyTo = replyToList === 'NIL' ? from : replyToList;
  return '(' + [
    imapNString(headers.date),
    headers.subject === undefined ? 'NIL' : imapStringForHumans(headers.subject),
    from,
    sender,
    replyTo,
    formatAddressList(headers.to),
    formatAddressList(headers.cc),
    formatAddressList(headers.bcc),
    imapNString(headers.inReplyTo),
    imapNString(headers.messageId),
  ].join(' ') + ')';
}
