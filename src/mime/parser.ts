// parseMessage(): one pass over the message, line by line through a chunk window, building the
// MIME tree with byte offsets and IMAP sizes. Boundary rules follow Dovecot's
// lib-mail/message-parser.c: a boundary line is "--" + a prefix match of any open boundary
// (innermost first, longest wins), "--" after it closes the multipart, the line break before a
// boundary line belongs to the boundary, and broken structure never throws: a part simply ends
// at the end of the message.
import { ChunkedReader } from './source.js';
import { parseHeaderFields, type HeaderField } from './header.js';
import { decodeParams, parseTypeValue } from './content-type.js';
import type { ContentDisposition, ContentType, EnvelopeHeaders, MessageSource, MimePart } from './types.js';

// RFC 2046 section 5.1.1: boundaries are at most 70 characters; Dovecot reads a little more.
const MAX_BOUNDARY_LINE = 80 + 2 + 2;
// Dovecot's message_parser max_nested_mime_parts: deeper multipart / message/rfc822 parts are
// kept as plain leaves, so hostile nesting cannot exhaust the stack.
const MAX_NESTED_PARTS = 100;
// Dovecot's max_total_mime_parts: past this many parts the rest of a message is not split further,
// so a message of 100,000 tiny parts cannot cost seconds of parsing.
const MAX_TOTAL_PARTS = 10_000;

interface Counters {
  pos: number;
  /** LFs before pos. */
  lf: number;
  /** LFs not preceded by CR before pos. */
  bareLf: number;
}

interface OpenBoundary {
  boundary: Buffer;
  /** Set once the closing `--boundary--` was seen. */
  closed: boolean;
}

interface BoundaryHit {
  index: number;
  closing: boolean;
}

class MessageParser {
  private readonly reader: ChunkedReader;
  private readonly at: Counters = { pos: 0, lf: 0, bareLf: 0 };
  /** Line break length (0, 1 or 2) and bareness of the line just consumed. */
  private lastEol = 0;
  private lastEolBare = false;
  private readonly open: OpenBoundary[] = [];
  /** Multipart / message/rfc822 parts enclosing the part being parsed. */
  private depth = 0;
  /** Parts parsed so far in this message. */
  private parts = 0;
  /** MAX_TOTAL_PARTS reached: no boundary is recognised any more. */
  private exhausted = false;

  constructor(source: MessageSource | Buffer) {
    this.reader = new ChunkedReader(source);
  }

  parse(): MimePart {
    return this.parsePart('text/plain', true);
  }

  /** Consumes one line; returns the offset where its content ends (before CR LF / LF). */
  private consumeLine(): number {
    const start = this.at.pos;
    const lf = this.reader.indexOfLf(start);
    if (lf < 0) {
      this.at.pos = this.reader.size;
      this.lastEol = 0;
      this.lastEolBare = false;
      return this.reader.size;
    }
    const cr = lf > start && this.reader.byteAt(lf - 1) === 13;
    this.at.pos = lf + 1;
    this.at.lf++;
    if (!cr) this.at.bareLf++;
    this.lastEol = cr ? 2 : 1;
    this.lastEolBare = !cr;
    return cr ? lf - 1 : lf;
  }

  /** Is the line at the current position a boundary line of an open multipart? */
  private boundaryAtLine(): BoundaryHit | null {
    if (this.open.length === 0 || this.exhausted) return null;
    const pos = this.at.pos;
    if (this.reader.byteAt(pos) !== 45 || this.reader.byteAt(pos + 1) !== 45) return null;
    const head = this.reader.slice(pos + 2, Math.min(this.reader.size, pos + MAX_BOUNDARY_LINE));
    let len = head.indexOf(10);
    if (len < 0) len = head.length;
    if (len > 0 && head[len - 1] === 13) len--;
    let best = -1;
    for (let i = this.open.length - 1; i >= 0; i--) {
      const b = this.open[i]!.boundary;
      if (b.length <= len && head.compare(b, 0, b.length, 0, b.length) === 0) {
        if (best < 0 || this.open[best]!.boundary.length < b.length) best = i;
      }
    }
    if (best < 0) return null;
    const blen = this.open[best]!.boundary.length;
    const closing = len >= blen + 2 && head[blen] === 45 && head[blen + 1] === 45;
    return { index: best, closing };
  }

  /** Skips lines until a boundary line (not consumed) or the end; returns the hit. */
  private skipToBoundary(): BoundaryHit | null {
    while (this.at.pos < this.reader.size) {
      const hit = this.boundaryAtLine();
      if (hit) return hit;
      this.consumeLine();
    }
    return null;
  }

  private parsePart(defaultType: string, isMessage: boolean): MimePart {
    const headerStartAt = { ...this.at };
    let headerHasEnd = false;
    let headerContentEnd = this.at.pos;
    while (this.at.pos < this.reader.size) {
      if (this.boundaryAtLine()) break;
      const lineStart = this.at.pos;
      const contentEnd = this.consumeLine();
      if (contentEnd === lineStart) {
        headerHasEnd = true;
        break;
      }
      headerContentEnd = this.at.pos;
    }
    const bodyStartAt = { ...this.at };
    const fields = parseHeaderFields(this.reader.slice(headerStartAt.pos, headerContentEnd));
    const part = describePart(fields, defaultType, headerStartAt, bodyStartAt, headerHasEnd);
    if (isMessage) part.envelope = envelopeOf(fields);

    const boundary = part.contentType && part.mimeType.startsWith('multipart/')
      ? part.contentType.params.find(([n]) => n.toLowerCase() === 'boundary')?.[1]
      : undefined;
    const tooDeep = this.depth >= MAX_NESTED_PARTS;
    // The last part allowed takes the rest of the message: boundaries are no longer looked for.
    if (++this.parts >= MAX_TOTAL_PARTS) this.exhausted = true;
    if (boundary !== undefined && boundary !== '' && !tooDeep) {
      this.depth++;
      part.children = this.parseMultipartBody(Buffer.from(boundary, 'latin1'), part.mimeType === 'multipart/digest');
      this.depth--;
    } else if (part.mimeType.startsWith('multipart/')) {
      part.children = [];
      this.skipToBoundary();
    } else if (part.mimeType === 'message/rfc822' && !tooDeep) {
      this.depth++;
      part.message = this.parsePart('text/plain', true);
      this.depth--;
    } else {
      this.skipToBoundary();
    }
    this.finishBody(part, bodyStartAt);
    return part;
  }

  private parseMultipartBody(boundary: Buffer, digest: boolean): MimePart[] {
    const children: MimePart[] = [];
    const own = this.open.length;
    this.open.push({ boundary, closed: false });
    for (;;) {
      const hit = this.skipToBoundary();
      if (!hit || hit.index < own) break; // end of message, or a parent's boundary ends us too
      if (hit.index > own) {
        // a stale inner boundary (its multipart already ended): drop it
        this.open.length = hit.index;
        continue;
      }
      this.consumeLine();
      if (hit.closing) {
        // epilogue: runs to the parent's boundary or the end
        this.open.pop();
        this.skipToBoundary();
        return children;
      }
      children.push(this.parsePart(digest ? 'message/rfc822' : 'text/plain', false));
      this.open.length = own + 1;
    }
    this.open.length = own;
    return children;
  }

  /** Sets body offsets and sizes; the line break before a boundary line is not part of the body. */
  private finishBody(part: MimePart, bodyStartAt: Counters): void {
    let end = this.at.pos;
    let lf = this.at.lf;
    let bareLf = this.at.bareLf;
    // Stopped at a boundary line (never at the end of the message): drop the line break before it.
    if (end > bodyStartAt.pos && end < this.reader.size && this.lastEol > 0) {
      end -= this.lastEol;
      lf--;
      if (this.lastEolBare) bareLf--;
    }
    part.bodyEnd = end;
    const physical = end - bodyStartAt.pos;
    part.body = { physical, virtual: physical + bareLf - bodyStartAt.bareLf, lines: lf - bodyStartAt.lf };
  }
}

function describePart(fields: HeaderField[], defaultType: string, h: Counters, b: Counters, headerHasEnd: boolean): MimePart {
  const last = (name: string): string | undefined => {
    let value: string | undefined;
    for (const f of fields) if (f.hasColon && f.name.toLowerCase() === name) value = f.value;
    return value;
  };
  let contentType: ContentType | null = null;
  const ctRaw = last('content-type');
  if (ctRaw !== undefined) {
    const parsed = parseTypeValue(ctRaw, true);
    if (parsed) {
      const slash = parsed.value.indexOf('/');
      contentType = { type: parsed.value.slice(0, slash), subtype: parsed.value.slice(slash + 1), params: parsed.params };
    }
  }
  let disposition: ContentDisposition | null = null;
  const cdRaw = last('content-disposition');
  if (cdRaw !== undefined) {
    const parsed = parseTypeValue(cdRaw, false);
    if (parsed) disposition = { type: parsed.value, params: parsed.params };
  }
  const encRaw = last('content-transfer-encoding');
  const encoding = encRaw === undefined ? null : (/^[\s]*([^\s;()]+)/.exec(encRaw)?.[1] ?? null);
  const langRaw = last('content-language');
  const language = langRaw === undefined ? null : langRaw.split(',').map((l) => l.trim()).filter((l) => l !== '');
  const headerPhysical = b.pos - h.pos;
  return {
    headerStart: h.pos,
    bodyStart: b.pos,
    bodyEnd: b.pos,
    header: { physical: headerPhysical, virtual: headerPhysical + b.bareLf - h.bareLf, lines: b.lf - h.lf },
    body: { physical: 0, virtual: 0, lines: 0 },
    headerHasEnd,
    contentType,
    mimeType: contentType ? `${contentType.type}/${contentType.subtype}`.toLowerCase() : defaultType,
    decodedParams: contentType ? decodeParams(contentType.params) : {},
    encoding,
    id: trimmedOrNull(last('content-id')),
    description: last('content-description') ?? null,
    md5: trimmedOrNull(last('content-md5')),
    disposition,
    decodedDispositionParams: disposition ? decodeParams(disposition.params) : {},
    language: language && language.length > 0 ? language : null,
    location: trimmedOrNull(last('content-location')),
  };
}

function trimmedOrNull(v: string | undefined): string | null {
  return v === undefined ? null : v.trim();
}

const ENVELOPE_FIELDS: Record<string, keyof EnvelopeHeaders> = {
  date: 'date', subject: 'subject', from: 'from', sender: 'sender', 'reply-to': 'replyTo',
  to: 'to', cc: 'cc', bcc: 'bcc', 'in-reply-to': 'inReplyTo', 'message-id': 'messageId',
};

/** Raw envelope header values; a repeated header overwrites the earlier one, as in Dovecot. */
function envelopeOf(fields: HeaderField[]): EnvelopeHeaders {
  const env: EnvelopeHeaders = {};
  for (const f of fields) {
    const key = f.hasColon ? ENVELOPE_FIELDS[f.name.toLowerCase()] : undefined;
    if (key) env[key] = f.value;
  }
  return env;
}

/**
 * Parses a whole message into its MIME tree. Reads the source sequentially in chunks (a storage
 * BodyReader is never read whole). Never throws on malformed input.
 */
export function parseMessage(source: MessageSource | Buffer): MimePart {
  return new MessageParser(source).parse();
}

/** The message size IMAP reports (RFC822.SIZE): header and body with bare LFs counted as CRLF. */
export function imapMessageSize(root: MimePart): number {
  return root.header.virtual + root.body.virtual;
}
