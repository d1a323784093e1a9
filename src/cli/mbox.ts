// Reading and writing mbox (RFC 4155) as Dovecot 2.3 does (doc:
// https://doc.dovecot.org/2.3/admin_manual/mailbox_formats/mbox/ and src/lib-storage/index/mbox/).
//
// One file: messages start at `From ` lines. Dovecot writes a Content-Length header and trusts it
// when it points at the blank line before the next From_ line (or the end), so a body line starting
// with `From ` needs no quoting; without a valid Content-Length a message ends at the next From_
// line after a blank line and `>From ` is unquoted one level (mboxrd). The internal date is the
// From_ line's asctime date. Flags come from Status (R = \Seen), X-Status (A \Answered, F \Flagged,
// T \Draft, D \Deleted) and X-Keywords; Dovecot's UIDs from X-UID, with UIDVALIDITY and the last
// UID given out in the first message's X-IMAPbase (mbox-sync-parse.c). Those headers, and Content-Length,
// are Dovecot's bookkeeping: it hides them from clients (mbox-storage.c mbox_hide_headers), and so
// does the import. A pseudo message carrying X-IMAP (UW-IMAP's folder data) is not a message.
//
// A tree (Dovecot's `mail_location = mbox:~/mail`, LAYOUT=fs): each file is a mailbox named by its
// path below the root (mUTF-7, `/` between levels), directories are the hierarchy, `inbox` at the
// top is INBOX, `.imap/` holds Dovecot's indexes (ignored) and `.subscriptions` the subscriptions.
// A mailbox cannot hold both messages and children there (a file cannot be a directory).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { decodeMailboxName, encodeMailboxName } from '../imap/protocol/mutf7.js';
import { UsageError } from './args.js';

export interface MboxMessage {
  content: Buffer;
  flags: string[];
  internalDate: Date;
  /** A stable id for the message (hash of its bytes and From_ line), so a second import skips it. */
  guid: string;
  /** Dovecot's UID (X-UID), when the file has Dovecot's X-IMAPbase. */
  uid?: number;
}

export interface MboxFile {
  /** From the first message's X-IMAPbase (or a pseudo message's X-IMAP). */
  uidValidity?: number;
  uidNext?: number;
  messages: MboxMessage[];
}

export interface MboxFolder extends MboxFile {
  /** IMAP name with `/` as separator; `INBOX` for the top-level `inbox` file. */
  name: string;
}

/** Dovecot's subscriptions file in an mbox root. */
export const MBOX_SUBSCRIPTIONS = '.subscriptions';

/** Headers Dovecot keeps its state in and hides from clients (mbox-storage.c). */
const HIDDEN_HEADERS = new Set(['content-length', 'status', 'x-imap', 'x-imapbase', 'x-keywords', 'x-status', 'x-uid']);

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** `From sender Thu Feb  1 09:30:00 2024` → the date (UTC; a trailing zone like +0100 is applied). */
export function parseFromLineDate(line: string): Date | undefined {
  const m = /([A-Z][a-z]{2}) +(\d{1,2}) (\d{1,2}):(\d{2})(?::(\d{2}))? (?:([+-]\d{4}) )?(\d{4})(?: ([+-]\d{4}))?\s*$/.exec(line);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1]!);
  if (month < 0) return undefined;
  const zone = m[6] ?? m[8];
  let t = Date.UTC(Number(m[7]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5] ?? 0));
  if (zone) t -= (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3))) * 60_000;
  return new Date(t);
}

/** The From_ line Dovecot writes (mbox-from.c): sender, two spaces, the date in asctime form (UTC). */
export function fromLine(sender: string, date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const when = `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${p(date.getUTCDate())} ${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())} ${date.getUTCFullYear()}`;
  return `From ${sender}  ${when}`;
}

interface HeaderField {
  name: string;
  value: string;
  /** The field's lines as in the message, line ends included. */
  raw: string;
}

/** Splits a header block (latin1 text) into fields; continuation lines stay with their field. */
function headerFields(head: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of head.split(/(?<=\n)/)) {
    const last = fields.at(-1);
    if (last && /^[ \t]/.test(line)) {
      last.raw += line;
      last.value += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    fields.push({ name: colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '', value: colon > 0 ? line.slice(colon + 1).trim() : '', raw: line });
  }
  return fields;
}

/** Where the header ends in `text` from `start`: [end of the header block, start of the body]. */
function headerEnd(text: string, start: number, limit: number): [number, number] {
  if (text.startsWith('\n', start)) return [start, start + 1];
  if (text.startsWith('\r\n', start)) return [start, start + 2];
  const re = /\n(\r?\n)/g;
  re.lastIndex = start;
  const m = re.exec(text);
  if (!m || m.index >= limit) return [limit, limit];
  return [m.index + 1, m.index + 1 + m[1]!.length];
}

/** The next message start at or after `from`: a From_ line at the start or after a blank line. */
function nextFromLine(text: string, from: number): number {
  const re = /\n(\r?\n)From /g;
  re.lastIndex = from;
  const m = re.exec(text);
  return m ? m.index + 1 + m[1]!.length : text.length;
}

/** Parses the bytes of an mbox file (`label` names it in errors). */
export function parseMbox(data: Buffer, label: string): MboxFile {
  if (data.length && !data.subarray(0, 5).equals(Buffer.from('From '))) throw new UsageError(`${label} is not an mbox file (no From_ line first)`, 65);
  const text = data.toString('latin1'); // byte-preserving: split on ASCII, convert back exactly
  const file: MboxFile = { messages: [] };
  let first = true;
  for (let pos = 0; pos < text.length; ) {
    const lineEnd = text.indexOf('\n', pos);
    const start = lineEnd < 0 ? text.length : lineEnd + 1;
    const from = text.slice(pos, lineEnd < 0 ? text.length : lineEnd).replace(/\r$/, '');
    const fallbackEnd = nextFromLine(text, start);
    const [headEnd, bodyStart] = headerEnd(text, start, fallbackEnd);
    const fields = headerFields(text.slice(start, headEnd));
    const field = (name: string) => fields.find((f) => f.name === name)?.value;
    // Content-Length, when it lands on the blank line before a From_ line or on the end (Dovecot's istream-raw-mbox.c).
    let end = -1;
    let next = -1;
    const length = field('content-length');
    if (length !== undefined && /^\d+$/.test(length)) {
      const at = bodyStart + Number(length);
      if (at === text.length) [end, next] = [at, at];
      else if (at + 1 === text.length && text[at] === '\n') [end, next] = [at, at + 1];
      else if (text.startsWith('\nFrom ', at)) [end, next] = [at, at + 1];
      else if (text.startsWith('\r\nFrom ', at)) [end, next] = [at, at + 2];
    }
    let raw: string;
    if (end >= 0) {
      raw = text.slice(start, end);
    } else {
      next = fallbackEnd;
      raw = text.slice(start, next);
      // The blank line before the next From_ line (or at the end of the file) belongs to the mbox.
      raw = raw.replace(/(\r?\n)\r?\n$/, '$1');
      raw = raw.replace(/^>(>*From )/gm, '$1');
    }
    pos = next;
    const guid = createHash('sha1').update(from).update(Buffer.from(raw, 'latin1')).digest('hex');
    // A UW-IMAP / Dovecot pseudo message: folder data, not mail.
    const imap = field('x-imap');
    const base = field('x-imapbase') ?? imap;
    if (first && base) {
      const [v, n] = base.split(/\s+/);
      if (v && /^\d+$/.test(v)) file.uidValidity = Number(v);
      // UW-IMAP's field is the last UID given out, not the next one.
      if (n && /^\d+$/.test(n)) file.uidNext = Number(n) + 1;
    }
    first = false;
    if (imap !== undefined) continue;
    const flags: string[] = [];
    const status = field('status') ?? '';
    const xstatus = field('x-status') ?? '';
    if (status.includes('R')) flags.push('\\Seen');
    if (xstatus.includes('A')) flags.push('\\Answered');
    if (xstatus.includes('F')) flags.push('\\Flagged');
    if (xstatus.includes('T')) flags.push('\\Draft');
    if (xstatus.includes('D')) flags.push('\\Deleted');
    for (const k of (field('x-keywords') ?? '').split(/[\s,]+/)) if (k) flags.push(k);
    const uidText = field('x-uid');
    const uid = file.uidValidity !== undefined && uidText && /^\d+$/.test(uidText) ? Number(uidText) : undefined;
    const headLength = headEnd - start;
    const kept = fields.filter((f) => !HIDDEN_HEADERS.has(f.name)).map((f) => f.raw).join('');
    const content = Buffer.from(kept + raw.slice(headLength), 'latin1');
    file.messages.push({ content, flags, internalDate: parseFromLineDate(from) ?? new Date(), guid, uid });
  }
  return file;
}

export function readMbox(path: string): MboxFile {
  return parseMbox(readFileSync(path), path);
}

/**
 * Every mailbox of the mbox tree at `root`, INBOX first. `skipped` gets the files that are not
 * mbox files (Dovecot would fail to open them as mailboxes).
 */
export function readMboxTree(root: string, skipped: string[] = []): MboxFolder[] {
  const folders: MboxFolder[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      // `.imap` (indexes), `.subscriptions`, dotlock files and other hidden files are not mailboxes.
      if (entry.startsWith('.') || entry.endsWith('.lock')) continue;
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      const rel = relative(root, path).split(sep).join('/');
      const name = dir === root && entry.toLowerCase() === 'inbox' ? 'INBOX' : decodeMailboxName(rel);
      if (name === null) throw new UsageError(`${path}: mailbox name is not modified UTF-7`, 65);
      const data = readFileSync(path);
      if (data.length > 0 && !data.subarray(0, 5).equals(Buffer.from('From '))) {
        skipped.push(path);
        continue;
      }
      folders.push({ name, ...parseMbox(data, path) });
    }
  };
  walk(root);
  return folders.sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : 0));
}

export interface MboxExportMessage {
  uid: number;
  flags: string[];
  internalDate: Date;
  content: Buffer;
}

/** The file of mailbox `name` (IMAP name, `/` separator) in the tree at `root`. */
function mailboxFile(root: string, name: string): string {
  return name === 'INBOX' ? join(root, 'inbox') : join(root, ...encodeMailboxName(name).split('/'));
}

/** One message as Dovecot's mbox holds it: its state in the headers, Content-Length, no quoting. */
function mboxEntry(m: MboxExportMessage, base: string | null): Buffer {
  const text = m.content.toString('latin1');
  const [headEnd, bodyStart] = headerEnd(text, 0, text.length);
  const head = text.slice(0, headEnd);
  const body = text.slice(bodyStart);
  const eol = /\r\n/.test(head) ? '\r\n' : '\n';
  const has = (f: string) => m.flags.some((x) => x.toLowerCase() === f.toLowerCase());
  const xstatus = (has('\\Answered') ? 'A' : '') + (has('\\Flagged') ? 'F' : '') + (has('\\Draft') ? 'T' : '') + (has('\\Deleted') ? 'D' : '');
  const keywords = m.flags.filter((f) => !f.startsWith('\\'));
  const added = [
    ...(base !== null ? [`X-IMAPbase: ${base}`] : []),
    `X-UID: ${m.uid}`,
    `Status: ${has('\\Seen') ? 'R' : ''}O`,
    ...(xstatus ? [`X-Status: ${xstatus}`] : []),
    `X-Keywords: ${keywords.join(' ')}`,
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
  ];
  const kept = headerFields(head).filter((f) => !HIDDEN_HEADERS.has(f.name)).map((f) => f.raw).join('');
  const returnPath = /^<?([^<>\s]+)>?$/.exec(headerFields(head).find((f) => f.name === 'return-path')?.value ?? '')?.[1];
  const from = fromLine(returnPath ?? 'MAILER-DAEMON', m.internalDate);
  return Buffer.from(`${from}\n${kept}${added.map((l) => l + eol).join('')}${eol}${body}\n`, 'latin1');
}

/** Throws when a mailbox with messages would need to be a directory too (LAYOUT=fs cannot). */
export function checkMboxLayout(names: string[]): void {
  for (const name of names) {
    if (name === 'INBOX') continue;
    const child = names.find((n) => n.startsWith(name + '/'));
    if (child) throw new UsageError(`${name} and ${child}: an mbox tree cannot hold a mailbox that also has children (Dovecot's mbox cannot either); export maildir: instead`, 65);
  }
}

/** X-IMAPbase's second field: the last UID given out (UIDNEXT - 1), ten digits as Dovecot writes it. */
function lastUid(uidNext: number): string {
  return String(Math.max(0, uidNext - 1)).padStart(10, '0');
}

/**
 * UW-IMAP's folder-data message, which Dovecot reads too (mbox-sync-parse.c X-IMAP): an empty
 * mailbox has no first message to carry X-IMAPbase, so its UIDVALIDITY and next UID go here.
 */
function pseudoMessage(ids: { uidValidity: number; uidNext: number }): Buffer {
  const now = new Date(0);
  return Buffer.from(
    `${fromLine('MAILER-DAEMON', now)}\nDate: Thu, 01 Jan 1970 00:00:00 +0000\nFrom: Mail System Internal Data <MAILER-DAEMON@localhost>\n` +
      `Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: ${ids.uidValidity} ${lastUid(ids.uidNext)}\nStatus: RO\n\n` +
      'This text is part of the internal format of your mail folder, and is not\na real message.  It is created automatically by the mail system software.\n' +
      'If deleted, important folder data will be lost, and it will be re-created\nwith the data reset to initial values.\n\n',
    'latin1',
  );
}

/** Writes mailbox `name` into the tree at `root`, with X-IMAPbase and X-UIDs (Dovecot's layout). */
export function writeMboxFolder(root: string, name: string, ids: { uidValidity: number; uidNext: number }, messages: MboxExportMessage[]): void {
  const file = mailboxFile(root, name);
  mkdirSync(join(file, '..'), { recursive: true });
  if (messages.length === 0) return void writeFileSync(file, pseudoMessage(ids));
  const keywords = [...new Set(messages.flatMap((m) => m.flags.filter((f) => !f.startsWith('\\'))))];
  const base = `${ids.uidValidity} ${lastUid(ids.uidNext)}${keywords.map((k) => ` ${k}`).join('')}`;
  writeFileSync(file, Buffer.concat(messages.map((m, i) => mboxEntry(m, i === 0 ? base : null))));
}
