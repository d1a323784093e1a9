// Response serialisation helpers (RFC 3501 §7, §9): strings as atom, quoted or literal by content,
// NIL, lists, status lines with response codes, continuation requests.
import { encodeMailboxName } from './mutf7.js';

/** A value to serialise: raw `Atom`s are written as is, strings are quoted or made literals. */
export type ResponseValue = string | Buffer | number | null | Atom | ResponseValue[];

/** Text written verbatim (flags, keywords, `BODY[...]`, numbers as atoms). */
export class Atom {
  constructor(readonly text: string) {}
}
export const atom = (text: string): Atom => new Atom(text);

/** Quoted strings longer than this become literals (keeps lines short for clients). */
export const MAX_QUOTED_LENGTH = 1024;

export interface QuoteOptions {
  /** After ENABLE UTF8=ACCEPT (RFC 6855) 8-bit UTF-8 may be quoted. */
  utf8?: boolean;
}

/** Whether the bytes can be sent as a quoted string (RFC 3501 §9 QUOTED-CHAR). */
function quotable(bytes: Buffer, options: QuoteOptions): boolean {
  if (bytes.length > MAX_QUOTED_LENGTH) return false;
  for (const b of bytes) {
    if (b === 0x0d || b === 0x0a || b === 0x00) return false;
    if (b >= 0x80 && !options.utf8) return false;
  }
  return true;
}

/** `"..."` or `{n}\r\n...` for a string value (RFC 3501 §4.3). */
export function formatString(value: string | Buffer, options: QuoteOptions = {}): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (quotable(bytes, options)) {
    return `"${bytes.toString(options.utf8 ? 'utf8' : 'latin1').replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
  }
  return `{${bytes.length}}\r\n${bytes.toString('latin1')}`;
}

/** nstring: NIL or a string. */
export function formatNString(value: string | Buffer | null, options: QuoteOptions = {}): string {
  return value === null ? 'NIL' : formatString(value, options);
}

const ATOM_SAFE = /^[^\x00-\x20\x7f-\uffff(){%*"\\\]]+$/;

/** astring: an atom when the text allows it (and is not NIL), else quoted/literal. */
export function formatAstring(value: string, options: QuoteOptions = {}): string {
  return ATOM_SAFE.test(value) && value.toUpperCase() !== 'NIL' ? value : formatString(value, options);
}

/** A mailbox name for LIST/LSUB/STATUS responses: mUTF-7 encoded unless UTF8=ACCEPT. */
export function formatMailbox(name: string, options: QuoteOptions = {}): string {
  const wire = options.utf8 ? name : encodeMailboxName(name);
  // Dovecot always quotes mailbox names in LIST/LSUB/STATUS.
  return formatString(wire, options);
}

/**
 * Serialises a value. Strings and Buffers become quoted strings or literals; `Atom`s and numbers
 * are written verbatim; arrays become parenthesised lists; null is NIL.
 */
export function formatValue(value: ResponseValue, options: QuoteOptions = {}): string {
  if (value === null) return 'NIL';
  if (typeof value === 'number') return String(value);
  if (value instanceof Atom) return value.text;
  if (Array.isArray(value)) return `(${value.map((v) => formatValue(v, options)).join(' ')})`;
  return formatString(value, options);
}

export function formatList(values: ResponseValue[], options: QuoteOptions = {}): string {
  return formatValue(values, options);
}

/** A response code (RFC 3501 §7.1), e.g. `{ name: 'UIDNEXT', args: '5' }` → `[UIDNEXT 5]`. */
export interface ResponseCode {
  name: string;
  /** Text after the name, written verbatim (`(\Seen \Deleted)`, `5`, `123 1:4 7:10`). */
  args?: string;
}

export function formatResponseCode(code: ResponseCode | string | undefined): string {
  if (code === undefined) return '';
  if (typeof code === 'string') return `[${code}] `;
  return `[${code.name}${code.args !== undefined && code.args !== '' ? ` ${code.args}` : ''}] `;
}

export type Status = 'OK' | 'NO' | 'BAD' | 'PREAUTH' | 'BYE';

/** `tag OK [CODE] text\r\n` */
export function taggedLine(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: ResponseCode | string): string {
  return `${tag} ${status} ${formatResponseCode(code)}${text}\r\n`;
}

/** `* OK [CODE] text\r\n` */
export function untaggedStatusLine(status: Status, text: string, code?: ResponseCode | string): string {
  return `* ${status} ${formatResponseCode(code)}${text}\r\n`;
}

/** `* <data>\r\n`, e.g. untaggedLine('3 EXISTS'). */
export function untaggedLine(data: string): string {
  return `* ${data}\r\n`;
}

/** `+ text\r\n` (RFC 3501 §7.5); base64 SASL challenges too. */
export function continuationLine(text = 'OK'): string {
  return `+ ${text}\r\n`;
}

/** The `* BAD`/tagged reply for a protocol error value. */
export function errorLine(error: { tag: string | null; status: 'BAD' | 'NO'; code?: string; text: string }): string {
  return error.tag === null ? untaggedStatusLine(error.status, error.text, error.code) : taggedLine(error.tag, error.status, error.text, error.code);
}
