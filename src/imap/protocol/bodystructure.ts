// FETCH BODY / BODYSTRUCTURE (RFC 3501 section 7.4.2), byte-exact to Dovecot 2.3.19
// (lib-imap/imap-bodystructure.c). Output is a binary string (one char per byte).
import type { MimeParam, MimePart } from '../../mime/types.js';
import { formatEnvelope, imapNString, imapString } from './envelope.js';

// imap-bodystructure.c: a multipart without any parts is written as one empty text/plain part.
const EMPTY_TEXT_PART = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0';

function paramList(params: MimeParam[]): string {
  if (params.length === 0) return 'NIL';
  return '(' + params.map(([n, v]) => `${imapString(n)} ${imapString(v)}`).join(' ') + ')';
}

function dispositionAndRest(part: MimePart): string {
  const d = part.disposition ? `(${imapString(part.disposition.type)} ${paramList(part.disposition.params)})` : 'NIL';
  const lang = part.language ? '(' + part.language.map(imapString).join(' ') + ')' : 'NIL';
  return `${d} ${lang} ${imapNString(part.location)}`;
}

function formatMultipart(part: MimePart, extended: boolean): string {
  const children = part.children ?? [];
  let out = '(';
  if (children.length === 0) out += EMPTY_TEXT_PART + (extended ? ' NIL NIL NIL NIL)' : ')');
  for (const child of children) out += formatPart(child, extended);
  out += ' ' + imapString(part.contentType?.subtype ?? 'mixed');
  if (extended) out += ` ${paramList(part.contentType?.params ?? [])} ${dispositionAndRest(part)}`;
  return out + ')';
}

function formatSinglePart(part: MimePart, extended: boolean): string {
  const ct = part.contentType;
  const isDefaultMessage = !ct && part.mimeType === 'message/rfc822';
  const type = ct ? ct.type : isDefaultMessage ? 'message' : 'text';
  const subtype = ct ? ct.subtype : isDefaultMessage ? 'rfc822' : 'plain';
  let params: MimeParam[] = ct ? ct.params : [];
  // Dovecot adds the RFC 2045 default charset to text parts that name none.
  if (type.toLowerCase() === 'text' && !params.some(([n]) => n.toLowerCase() === 'charset')) {
    params = [...params, ['charset', 'us-ascii']];
  }
  let out = `(${imapString(type)} ${imapString(subtype)} ${paramList(params)} ${imapNString(part.id)} ` +
    `${imapNString(part.description)} ${imapString(part.encoding ?? '7bit')} ${part.body.virtual}`;
  if (type.toLowerCase() === 'text') {
    out += ` ${part.body.lines}`;
  } else if (part.message && type.toLowerCase() === 'message' && subtype.toLowerCase() === 'rfc822') {
    out += ` ${formatEnvelope(part.message.envelope ?? {})} ${formatPart(part.message, extended)} ${part.body.lines}`;
  }
  if (extended) out += ` ${imapNString(part.md5)} ${dispositionAndRest(part)}`;
  return out + ')';
}

function formatPart(part: MimePart, extended: boolean): string {
  return part.children ? formatMultipart(part, extended) : formatSinglePart(part, extended);
}

/** BODYSTRUCTURE (extended = true) or BODY (extended = false) of a message or part. */
export function formatBodyStructure(part: MimePart, extended: boolean): string {
  return formatPart(part, extended);
}
