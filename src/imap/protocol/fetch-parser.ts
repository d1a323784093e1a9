// FETCH attributes (RFC 3501 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ/CHANGEDSINCE/VANISHED).
import type { ImapArg } from './args.js';
import { fail } from './arg-cursor.js';
import type { BodySection, FetchAttribute, Partial, SectionSpecifier } from './commands.js';

const SIMPLE = ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'UID', 'MODSEQ', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'SAVEDATE', 'EMAILID', 'THREADID'] as const;

// RFC 3501 §6.4.5 macros; only valid on their own, never inside a list.
const MACROS: Record<string, Array<(typeof SIMPLE)[number]>> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

const SECTIONED = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[([^\]]*)\](.*)$/i;

export function parseFetchAttributes(arg: ImapArg): FetchAttribute[] {
  if (arg.type === 'atom') {
    const macro = MACROS[arg.value.toUpperCase()];
    if (macro) return macro.map((type) => ({ type }));
    if (arg.value.toUpperCase() === 'PREVIEW') return [parsePreview('PREVIEW', null)];
    return [parseFetchAttribute(arg)];
  }
  if (arg.type === 'list') {
    if (arg.items.length === 0) fail('Invalid arguments.');
    const out: FetchAttribute[] = [];
    for (let i = 0; i < arg.items.length; i++) {
      const item = arg.items[i]!;
      const word = item.type === 'atom' ? item.value.toUpperCase() : '';
      if (word === 'PREVIEW' || word === 'SNIPPET') {
        // RFC 8970: PREVIEW may carry a modifier list; SNIPPET needs one.
        const next = arg.items[i + 1];
        const mods = next?.type === 'list' ? next.items : null;
        if (mods) i++;
        out.push(parsePreview(word, mods));
      } else out.push(parseFetchAttribute(item));
    }
    return out;
  }
  fail('Invalid arguments.');
}

/** PREVIEW [(LAZY)] or SNIPPET (FUZZY); Dovecot 2.3.19's error text for other modifiers. */
export function parsePreview(word: 'PREVIEW' | 'SNIPPET' | string, mods: ImapArg[] | null): FetchAttribute {
  const allowed = word === 'PREVIEW' ? 'LAZY' : 'FUZZY';
  if (word === 'SNIPPET' && !mods) fail('Invalid arguments.');
  for (const m of mods ?? []) {
    const name = m.type === 'atom' ? m.value : '';
    if (name.toUpperCase() !== allowed) fail(`'${name}' is not a supported ${word} modifier`);
  }
  const lazy = word === 'PREVIEW' && (mods ?? []).length > 0;
  return lazy ? { type: 'PREVIEW', snippet: false, lazy: true } : { type: 'PREVIEW', snippet: word === 'SNIPPET' };
}

function parseFetchAttribute(arg: ImapArg): FetchAttribute {
  if (arg.type !== 'atom') fail('Invalid arguments.');
  const text = arg.value;
  const upper = text.toUpperCase();
  const simple = SIMPLE.find((s) => s === upper);
  if (simple) return { type: simple };
  const m = SECTIONED.exec(text);
  if (!m) fail(`Unknown parameter ${text}`);
  const kind = m[1]!.toUpperCase();
  const partial = parsePartial(m[3]!, text);
  if (kind === 'BODY' || kind === 'BODY.PEEK') {
    const section = parseSection(m[2]!, text);
    const responseName = `BODY[${formatSection(section)}]${partial ? `<${partial.offset}>` : ''}`;
    return { type: 'BODY[]', peek: kind === 'BODY.PEEK', section, partial, responseName };
  }
  const part = parsePartNumbers(m[2]!, text);
  if (kind === 'BINARY.SIZE') {
    if (partial) fail(`Invalid parameter ${text}`);
    return { type: 'BINARY.SIZE', part, responseName: `BINARY.SIZE[${part.join('.')}]` };
  }
  const responseName = `BINARY[${part.join('.')}]${partial ? `<${partial.offset}>` : ''}`;
  return { type: 'BINARY[]', peek: kind === 'BINARY.PEEK', part, partial, responseName };
}

// RFC 3501 §9: partial = "<" number "." nz-number ">"
function parsePartial(text: string, whole: string): Partial | null {
  if (text === '') return null;
  const m = /^<([0-9]{1,10})\.([0-9]{1,10})>$/.exec(text);
  if (!m || Number(m[2]) === 0) fail(`Invalid partial ${whole}`);
  return { offset: Number(m[1]), length: Number(m[2]) };
}

function parsePartNumbers(text: string, whole: string): number[] {
  if (text === '') return [];
  if (!/^[1-9][0-9]*(\.[1-9][0-9]*)*$/.test(text)) fail(`Invalid BINARY[] section ${whole}`);
  return text.split('.').map(Number);
}

/** RFC 3501 §9 section-spec: section-msgtext / (section-part ["." section-text]). */
export function parseSection(text: string, whole: string = text): BodySection {
  const bad = (): never => fail(`Invalid BODY[] section ${whole}`);
  const space = text.indexOf(' ');
  const head = space < 0 ? text : text.slice(0, space);
  const tail = space < 0 ? '' : text.slice(space + 1);
  const pieces = head === '' ? [] : head.split('.');
  const part: number[] = [];
  while (pieces.length > 0 && /^[0-9]+$/.test(pieces[0]!)) {
    if (!/^[1-9][0-9]*$/.test(pieces[0]!)) bad();
    part.push(Number(pieces.shift()));
  }
  const spec = pieces.join('.').toUpperCase();
  if (spec === '') {
    if (tail) bad();
    return { part, specifier: null, fields: [] };
  }
  const specifier = (['HEADER', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT', 'MIME', 'TEXT'] as SectionSpecifier[]).find((s) => s === spec) ?? bad();
  // MIME describes a body part's own header, so it needs a part number.
  if (specifier === 'MIME' && part.length === 0) bad();
  if (specifier === 'HEADER.FIELDS' || specifier === 'HEADER.FIELDS.NOT') {
    const fields = parseHeaderList(tail) ?? bad();
    return { part, specifier, fields };
  }
  if (tail) bad();
  return { part, specifier, fields: [] };
}

// header-list = "(" header-fld-name *(SP header-fld-name) ")", names are astrings.
function parseHeaderList(text: string): string[] | null {
  const m = /^\((.*)\)$/.exec(text.trim());
  if (!m) return null;
  const fields: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"()]+))/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = re.exec(m[1]!)) !== null) {
    fields.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!);
    consumed = re.lastIndex;
  }
  if (m[1]!.slice(consumed).trim() !== '' || fields.length === 0) return null;
  // Header names are printable ASCII without colon (RFC 5322 §3.6.8 ftext).
  if (fields.some((f) => !/^[\x21-\x39\x3b-\x7e]+$/.test(f))) return null;
  return fields;
}

/** Wire form of a section for the FETCH response, e.g. `1.2.HEADER.FIELDS (From To)`. */
export function formatSection(section: BodySection): string {
  const parts = section.part.map(String);
  if (section.specifier) parts.push(section.specifier);
  const base = parts.join('.');
  return section.fields.length > 0 ? `${base} (${section.fields.join(' ')})` : base;
}
