// The cached MIME tree: computed once at delivery/APPEND (parseMessage) and stored as JSON, then read
// by FETCH, SEARCH, push notifications and Lua without rereading the message.

/** Where the message bytes come from: a Buffer or a storage BodyReader (chunked reads). */
export interface MessageSource {
  size: number;
  /** Reads `length` bytes at `offset` (fewer at the end). */
  read(offset: number, length: number): Buffer;
}

/** One MIME parameter as Dovecot keeps it: RFC 2231 continuations joined, `name*` values raw. */
export type MimeParam = [name: string, value: string];

export interface ContentType {
  /** As written in the header (case preserved, Dovecot does not lowercase). */
  type: string;
  subtype: string;
  /** In Dovecot's order: plain parameters first, then RFC 2231 ones (joined, sorted by name). */
  params: MimeParam[];
}

export interface ContentDisposition {
  type: string;
  params: MimeParam[];
}

/** Byte counts as IMAP reports them: a bare LF counts as CRLF (RFC 3501 sizes are in CRLF form). */
export interface PartSize {
  /** Bytes in the stored source. */
  physical: number;
  /** Bytes as sent over IMAP (bare LFs expanded to CRLF). */
  virtual: number;
  /** Number of LF characters (IMAP "lines"). */
  lines: number;
}

/** Raw (unfolded, undecoded) values of the ENVELOPE headers: the first occurrence of each... */
export interface EnvelopeHeaders {
  date?: string;
  subject?: string;
  from?: string;
  sender?: string;
  replyTo?: string;
  to?: string;
  cc?: string;
  bcc?: string;
  inReplyTo?: string;
  messageId?: string;
}

export interface MimePart {
  /** Offset of the first header byte in the source. */
  headerStart: number;
  /** Offset of the first body byte (just after the blank line ending the header). */
  bodyStart: number;
  /** Offset just past the last body byte (the line break before a boundary belongs to the boundary). */
  bodyEnd: number;
  header: PartSize;
  body: PartSize;
  /** False when the header ran to the end of its part without a blank line. */
  headerHasEnd: boolean;
  /** Null when there is no (parsable) Content-Type header: the part gets the default type. */
  contentType: ContentType | null;
  /** The effective lowercased type/subtype (defaults applied: text/plain, or message/rfc822 in a digest). */
  mimeType: string;
  /** RFC 2231-decoded parameters of Content-Type, lowercase names → UTF-8 values. */
  decodedParams: Record<string, string>;
  encoding: string | null;
  id: string | null;
  description: string | null;
  md5: string | null;
  disposition: ContentDisposition | null;
  /** RFC 2231-decoded parameters of Content-Disposition, lowercase names → UTF-8 values. */
  decodedDispositionParams: Record<string, string>;
  language: string[] | null;
  location: string | null;
  /** Children of a multipart (may be empty: Dovecot then writes one empty text/plain part). */
  children?: MimePart[];
  /** The embedded message of a message/rfc822 part (its own header and envelope). */
  message?: MimePart;
  /** ENVELOPE headers of this part's header (top-level message and embedded messages). */
  envelope?: EnvelopeHeaders;
}
