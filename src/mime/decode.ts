// Decoded text for SEARCH and notifications: header values (RFC 2047, charset → UTF-8),
// body text (Content-Transfer-Encoding and charset undone) and a Dovecot-like snippet.
import { decode as decodeCharset } from 'libmime/lib/charset.js';
import { decodeHeaderText } from './content-type.js';
import { parseHeaderFields } from './header.js';
import { readRange } from './source.js';
import type { MessageSource, MimePart } from './types.js';

/** All values of header `name` in the part's header, unfolded and decoded to UTF-8. */
export function headerValues(source: MessageSource | Buffer, part: MimePart, name: string): string[] {
  const lower = name.toLowerCase();
  const block = readRange(source, part.headerStart, part.bodyStart);
  return parseHeaderFields(block)
    .filter((f) => f.hasColon && f.name.toLowerCase() === lower)
    .map((f) => decodeHeaderText(f.value.replace(/\r?\n(?=[ \t])/g, '')));
}

/** RFC 2045 section 6.7 quoted-printable, lenient: invalid escapes stay as they are. */
export function decodeQuotedPrintable(raw: Buffer): Buffer {
  const out = Buffer.alloc(raw.length);
  let o = 0;
  const hex = (c: number | undefined): number =>
    c === undefined ? -1 : c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== 61) { out[o++] = c; continue; }
    const h = hex(raw[i + 1]);
    const l = hex(raw[i + 2]);
    if (h >= 0 && l >= 0) { out[o++] = h * 16 + l; i += 2; continue; }
    // soft line break: "=" followed by optional whitespace and a line end
    let j = i + 1;
    while (raw[j] === 32 || raw[j] === 9) j++;
    if (raw[j] === 13 && raw[j + 1] === 10) { i = j + 1; continue; }
    if (raw[j] === 10 || j >= raw.length) { i = j; continue; }
    out[o++] = c;
  }
  return out.subarray(0, o);
}

/** Body bytes with the Content-Transfer-Encoding undone (unknown encodings pass through). */
export function decodedBody(source: MessageSource | Buffer, part: MimePart): Buffer {
  const raw = readRange(source, part.bodyStart, part.bodyEnd);
  switch ((part.encoding ?? '').toLowerCase()) {
    case 'base64': {
      // Like Dovecot's base64 decoder, stop at the first byte that is neither base64 nor whitespace.
      const text = raw.toString('latin1');
      const valid = /^[A-Za-z0-9+/\s]*/.exec(text)![0];
      return Buffer.from(valid.replace(/\s+/g, ''), 'base64');
    }
    case 'quoted-printable':
      return decodeQuotedPrintable(raw);
    default:
      return raw;
  }
}

/** Leaf parts in order, descending into multiparts and embedded messages. */
export function leafParts(part: MimePart): MimePart[] {
  if (part.children) return part.children.flatMap(leafParts);
  if (part.message) return leafParts(part.message);
  return [part];
}

function isText(part: MimePart): boolean {
  return part.mimeType.startsWith('text/');
}

/** UTF-8 text of a text part, or of all text parts below a multipart/message (joined by newlines). */
export function bodyText(source: MessageSource | Buffer, part: MimePart): string {
  if (part.children || part.message) {
    return leafParts(part).filter(isText).map((p) => bodyText(source, p)).join('\n');
  }
  if (!isText(part)) return '';
  const charset = part.decodedParams['charset'] ?? 'us-ascii';
  const bytes = decodedBody(source, part);
  return decodeCharset(bytes, /^(us-)?ascii$/i.test(charset) ? 'utf-8' : charset);
}

const SNIPPET_MAX_CHARS = 200;

/** Rough HTML → text for snippets: drop head/style/script, tags and decode the common entities. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(head|style|script)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ').replace(/&lt;/gi, '<').replace(/&gt;/gi, '>').replace(/&quot;/gi, '"')
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/gi, '&');
}

/**
 * Like Dovecot's body.snippet / FETCH PREVIEW: the first text/plain (else text/html, stripped)
 * part, quoted lines ("> ...") skipped, whitespace collapsed, at most 200 characters.
 */
export function snippet(source: MessageSource | Buffer, root: MimePart): string {
  // Dovecot does not look into attached messages for a preview.
  const leaves = root.children ? root.children.flatMap((c) => (c.message ? [] : leafParts(c))) : root.message ? [] : [root];
  const plain = leaves.find((p) => p.mimeType === 'text/plain' && !isAttachment(p));
  const html = plain ? undefined : leaves.find((p) => p.mimeType === 'text/html' && !isAttachment(p));
  const chosen = plain ?? html;
  if (!chosen || chosen === root && root.children) return '';
  let text = bodyText(source, chosen);
  if (chosen === html) text = htmlToText(text);
  return collapsedPrefix(text, SNIPPET_MAX_CHARS);
}

/**
 * The first `max` characters (code points) of `text` with its quoted lines ("> ...", lines split
 * at CRLF or LF) left out, NULs removed, each run of whitespace made one space, and no leading or
 * trailing space (but the one the cut may end on). It stops reading once it has them: the whole text is not split and copied for
 * 200 characters.
 */
export function collapsedPrefix(text: string, max: number): string {
  let out = '';
  let count = 0;
  let space = false;
  for (let start = 0; start <= text.length && count < max; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const lineEnd = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (text.charCodeAt(start) !== 62 /* > */) {
      // Runs of kept characters are copied whole; `count` counts code points.
      let run = -1;
      for (let i = start; i < lineEnd; i++) {
        const c = text.charCodeAt(i);
        if (c === 0 || isSpace(c)) {
          if (run >= 0) out += text.slice(run, i);
          run = -1;
          if (c !== 0) space = true;
          continue;
        }
        if (isLowSurrogate(c) && i > start && isHighSurrogate(text.charCodeAt(i - 1)) && run >= 0) continue;
        if (space && count > 0) {
          if (run >= 0) out += text.slice(run, i);
          out += ' ';
          run = -1;
          if (++count === max) break;
        }
        space = false;
        if (run < 0) run = i;
        if (++count === max) {
          const pair = isHighSurrogate(c) && i + 1 < lineEnd && isLowSurrogate(text.charCodeAt(i + 1));
          const next = pair ? i + 2 : i + 1;
          out += text.slice(run, next);
          run = -1;
          break;
        }
      }
      if (run >= 0) out += text.slice(run, lineEnd);
      space = true; // the lines are joined with a space
    }
    start = end + 1;
  }
  return out;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** JavaScript's `\s`. */
function isSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function isAttachment(part: MimePart): boolean {
  return part.disposition?.type.toLowerCase() === 'attachment';
}
