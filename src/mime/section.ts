// BODY[section] (RFC 3501 section 6.4.5) resolved on the cached tree, as Dovecot 2.3.19 answers:
// a nonexistent part gives an empty string, "n" on a non-multipart part means the part itself,
// n.HEADER/n.TEXT/n.HEADER.FIELDS only exist for message/rfc822 parts, HEADER.FIELDS always ends
// with the blank line while HEADER.FIELDS.NOT keeps it only if the header had one.
// Sent bytes are in IMAP form: bare LF becomes CRLF, NUL becomes 0x80 (as Dovecot sends them).
import { parseHeaderFields } from './header.js';
import { readRange } from './source.js';
import type { MessageSource, MimePart } from './types.js';

export type SectionKind = 'full' | 'header' | 'text' | 'mime' | 'header.fields' | 'header.fields.not';

export interface SectionSpec {
  /** Part numbers, e.g. [1, 2] for "1.2"; empty for the whole message. */
  path: number[];
  kind: SectionKind;
  /** Header names for HEADER.FIELDS / HEADER.FIELDS.NOT. */
  fields?: string[];
}

/** What a section is made of: a raw byte range, selected header lines, or nothing. */
export type ResolvedSection =
  | { type: 'range'; start: number; end: number }
  | { type: 'header-fields'; headerStart: number; headerEnd: number; fields: string[]; exclude: boolean; headerHasEnd: boolean }
  | { type: 'empty' };

/** Parses the text between the brackets of BODY[...]; null if it is not valid section syntax. */
export function parseSectionSpec(spec: string): SectionSpec | null {
  const m = /^((?:[1-9]\d*\.)*[1-9]\d*)?(?:(?:^|\.)(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)(?:\s+\(([^()]*)\))?)?$/i.exec(spec.trim());
  if (!m) return null;
  const path = m[1] ? m[1].split('.').map(Number) : [];
  const word = m[2]?.toUpperCase();
  if (m[1] && m[2] && !spec.includes(`${m[1]}.`)) return null;
  if (word === undefined) return m[3] === undefined ? { path, kind: 'full' } : null;
  if (word === 'MIME' && path.length === 0) return null;
  const wantsList = word === 'HEADER.FIELDS' || word === 'HEADER.FIELDS.NOT';
  if (wantsList !== (m[3] !== undefined)) return null;
  const kind = word.toLowerCase() as SectionKind;
  if (!wantsList) return { path, kind };
  const fields = m[3]!.trim().split(/\s+/).filter((f) => f !== '').map((f) => f.replace(/^"(.*)"$/, '$1'));
  return fields.length === 0 ? null : { path, kind, fields };
}

/** The part a section path points at (RFC 3501: "1" of a non-multipart message is its body part). */
export function findPart(root: MimePart, path: number[]): MimePart | null {
  let part: MimePart = root;
  for (let i = 0; i < path.length; i++) {
    const n = path[i]!;
    if (i === 0 && !root.children) {
      // "1" of a single-part message is the message body; Dovecot has no "1.1" below a plain one.
      if (n !== 1 || (path.length > 1 && !root.message)) return null;
      continue;
    }
    const container: MimePart = part.message ?? part;
    if (container.children) {
      const child = container.children[n - 1];
      if (!child) return null;
      part = child;
    } else if (n === 1) {
      part = container;
    } else {
      return null;
    }
  }
  return part;
}

export function resolveSection(root: MimePart, spec: SectionSpec): ResolvedSection {
  const part = findPart(root, spec.path);
  if (!part) return { type: 'empty' };
  // HEADER/TEXT address a message: the top level, or the message inside a message/rfc822 part.
  let message: MimePart | null = part;
  if (spec.path.length > 0 && spec.kind !== 'full' && spec.kind !== 'mime') message = part.message ?? null;
  if (!message) return { type: 'empty' };
  switch (spec.kind) {
    case 'full':
      return spec.path.length === 0
        ? { type: 'range', start: part.headerStart, end: part.bodyEnd }
        : { type: 'range', start: part.bodyStart, end: part.bodyEnd };
    case 'mime':
      return { type: 'range', start: part.headerStart, end: part.bodyStart };
    case 'header':
      return { type: 'range', start: message.headerStart, end: message.bodyStart };
    case 'text':
      return { type: 'range', start: message.bodyStart, end: message.bodyEnd };
    case 'header.fields':
    case 'header.fields.not':
      return {
        type: 'header-fields', headerStart: message.headerStart, headerEnd: message.bodyStart,
        fields: spec.fields ?? [], exclude: spec.kind === 'header.fields.not', headerHasEnd: message.headerHasEnd,
      };
  }
}

/** Converts stored bytes to what IMAP sends: bare LF → CRLF, NUL → 0x80. */
export function toImapBytes(raw: Buffer): Buffer {
  let needs = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0 || (c === 10 && (i === 0 || raw[i - 1] !== 13))) { needs = true; break; }
  }
  if (!needs) return raw;
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0) out.push(0x80);
    else if (c === 10 && (i === 0 || raw[i - 1] !== 13)) out.push(13, 10);
    else out.push(c);
  }
  return Buffer.from(out);
}

/** The bytes of a section as IMAP sends them (before any <partial>). */
export function readSection(source: MessageSource | Buffer, root: MimePart, spec: SectionSpec): Buffer {
  const r = resolveSection(root, spec);
  if (r.type === 'empty') return Buffer.alloc(0);
  if (r.type === 'range') return toImapBytes(readRange(source, r.start, r.end));
  const block = readRange(source, r.headerStart, r.headerEnd);
  const wanted = new Set(r.fields.map((f) => f.toLowerCase()));
  const pieces: Buffer[] = [];
  for (const f of parseHeaderFields(block)) {
    if (!f.hasColon && f.name === '') continue; // the blank line
    const match = f.hasColon && wanted.has(f.name.toLowerCase());
    if (match !== r.exclude) pieces.push(block.subarray(f.rawStart, f.rawEnd));
  }
  let text = toImapBytes(Buffer.concat(pieces));
  if (text.length > 0 && text[text.length - 1] !== 10) text = Buffer.concat([text, Buffer.from('\r\n')]);
  if (!r.exclude || r.headerHasEnd) text = Buffer.concat([text, Buffer.from('\r\n')]);
  return text;
}

/** Applies a FETCH <offset.length> partial (RFC 3501 section 6.4.5) to section bytes. */
export function applyPartial(bytes: Buffer, offset: number, length?: number): Buffer {
  if (offset >= bytes.length) return Buffer.alloc(0);
  return bytes.subarray(offset, length === undefined ? bytes.length : Math.min(bytes.length, offset + length));
}
