// Content-Type / Content-Disposition parsing (RFC 2045 section 5.1, RFC 2183) with RFC 2231
// parameter continuations, kept in the form Dovecot's BODYSTRUCTURE writes them
// (lib-mail/rfc2231-parser.c behaviour): plain parameters first in header order, then the
// continued/extended ones joined, sorted by name; an extended (`*`) name keeps its raw
// `charset'lang'%XX` value. Values are binary strings (one char per byte).
import libmime from 'libmime';
import { decode as decodeCharset } from 'libmime/lib/charset.js';
import type { MimeParam } from './types.js';

const TSPECIALS = '()<>@,;:\\"/[]?=';

/** A small RFC 822 lexer: skips whitespace and (nested) comments, reads tokens and quoted strings. */
class ValueLexer {
  pos = 0;
  constructor(readonly text: string) {}

  skipSpaceAndComments(): void {
    for (;;) {
      const c = this.text[this.pos];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.pos++;
      else if (c === '(') this.skipComment();
      else return;
    }
  }

  private skipComment(): void {
    let depth = 0;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos++];
      if (c === '\\') this.pos++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) return;
    }
  }

  peek(): string | undefined {
    return this.text[this.pos];
  }

  token(): string {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (c <= ' ' || c === '\x7f' || TSPECIALS.includes(c)) break;
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }

  quoted(): string {
    this.pos++; // opening quote
    let out = '';
    while (this.pos < this.text.length) {
      const c = this.text[this.pos++]!;
      if (c === '"') return out;
      if (c === '\\' && this.pos < this.text.length) out += this.text[this.pos++];
      else if (c !== '\r' && c !== '\n') out += c;
    }
    return out;
  }
}

export interface ParsedTypeValue {
  /** `type/subtype` for Content-Type, the disposition type for Content-Disposition. */
  value: string;
  params: MimeParam[];
}

/** Parses `type/subtype; a=b` (withSlash) or `inline; a=b`. Null if the leading value is unusable. */
export function parseTypeValue(raw: string, withSlash: boolean): ParsedTypeValue | null {
  const lex = new ValueLexer(raw);
  lex.skipSpaceAndComments();
  let value = lex.token();
  if (value === '') return null;
  if (withSlash) {
    lex.skipSpaceAndComments();
    if (lex.peek() !== '/') return null;
    lex.pos++;
    lex.skipSpaceAndComments();
    const sub = lex.token();
    if (sub === '') return null;
    value += '/' + sub;
  }
  const rawParams: MimeParam[] = [];
  for (;;) {
    lex.skipSpaceAndComments();
    if (lex.peek() !== ';') {
      // garbage before the next parameter: skip to the next ';'
      const next = raw.indexOf(';', lex.pos);
      if (next < 0) break;
      lex.pos = next;
    }
    lex.pos++;
    lex.skipSpaceAndComments();
    const name = lex.token();
    lex.skipSpaceAndComments();
    if (name === '' || lex.peek() !== '=') continue;
    lex.pos++;
    lex.skipSpaceAndComments();
    const val = lex.peek() === '"' ? lex.quoted() : lex.token();
    rawParams.push([name, val]);
  }
  return { value, params: joinRfc2231(rawParams) };
}

interface Continuation {
  base: string;
  index: number;
  extended: boolean;
  value: string;
}

/** RFC 2231 section 3/4: joins `name*0*`, `name*1` ... into one parameter, plain ones first. */
function joinRfc2231(params: MimeParam[]): MimeParam[] {
  const plain: MimeParam[] = [];
  const continued: Continuation[] = [];
  for (const [name, value] of params) {
    const star = name.indexOf('*');
    if (star < 0) {
      plain.push([name, value]);
      continue;
    }
    const base = name.slice(0, star);
    const rest = name.slice(star + 1);
    const extended = rest.endsWith('*') || rest === '';
    const digits = rest.endsWith('*') ? rest.slice(0, -1) : rest;
    const index = digits === '' ? 0 : /^\d+$/.test(digits) ? Number(digits) : NaN;
    if (Number.isNaN(index)) {
      plain.push([name, value]);
      continue;
    }
    continued.push({ base, index, extended, value });
  }
  continued.sort((a, b) => {
    const an = a.base.toLowerCase();
    const bn = b.base.toLowerCase();
    return an < bn ? -1 : an > bn ? 1 : a.index - b.index;
  });
  const joined: MimeParam[] = [];
  for (let i = 0; i < continued.length; ) {
    const first = continued[i]!;
    let value = '';
    let j = i;
    for (; j < continued.length && continued[j]!.base.toLowerCase() === first.base.toLowerCase(); j++) {
      const c = continued[j]!;
      // Inside an extended parameter, plain pieces must be %-escaped to stay one encoding.
      value += first.extended && !c.extended ? escapePercent(c.value) : c.value;
    }
    joined.push([first.extended ? first.base + '*' : first.base, value]);
    i = j;
  }
  return [...plain, ...joined];
}

function escapePercent(s: string): string {
  return s.replace(/[%\s*'()<>@,;:\\"/[\]?=\x80-\xff]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/**
 * Decoded parameters (lowercase name → UTF-8): `name*` values charset-decoded per RFC 2231,
 * RFC 2047 encoded words (common in `name="=?UTF-8?...?="`) decoded, raw 8-bit taken as UTF-8.
 */
export function decodeParams(params: MimeParam[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of params) {
    const lower = name.toLowerCase();
    if (lower.endsWith('*')) {
      const m = /^([^']*)'[^']*'(.*)$/s.exec(value);
      const bytes = Buffer.from((m ? m[2]! : value).replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      out[lower.slice(0, -1)] = decodeCharset(bytes, m && m[1] ? m[1] : 'utf-8');
    } else if (!(lower in out)) {
      out[lower] = decodeHeaderText(value);
    }
  }
  return out;
}

/** RFC 2047 words decoded; other bytes read as UTF-8 (a binary string in, a JS string out). */
export function decodeHeaderText(binary: string): string {
  const utf8 = Buffer.from(binary, 'latin1').toString('utf8');
  if (!utf8.includes('=?')) return utf8;
  try {
    return libmime.decodeWords(utf8);
  } catch {
    return utf8;
  }
}
