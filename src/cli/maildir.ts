// Reading and writing Dovecot's Maildir++ layout (doc: https://doc.dovecot.org/2.3/admin_manual/mailbox_formats/maildir/):
// INBOX is the root's cur/ and new/, folder `a/b` is `.a.b` (names in modified UTF-7, RFC 3501
// §5.1.3); flags follow `:2,` in a file name (D Draft, F Flagged, R Answered, S Seen, T Deleted;
// a-z are keywords numbered in `dovecot-keywords`); `dovecot-uidlist` keeps UIDVALIDITY, the
// next UID and each file's UID (Dovecot src/lib-storage/index/maildir/maildir-uidlist.c);
// `subscriptions` lists subscribed names (version 2: hierarchy levels separated by a tab). The
// internal date of a message is its file's mtime (maildir-mail.c: received date = mtime).
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { decodeMailboxName, encodeMailboxName } from '../imap/protocol/mutf7.js';
import { UsageError } from './args.js';

export interface MaildirMessage {
  /** The file name up to `:` (Dovecot's GUID for a maildir message without a G extension). */
  baseName: string;
  path: string;
  flags: string[];
  internalDate: Date;
  /** From dovecot-uidlist; undefined for a file Dovecot has not given a UID yet. */
  uid?: number;
}

export interface MaildirFolder {
  /** IMAP name with `/` as separator; `INBOX` for the root. */
  name: string;
  uidValidity?: number;
  uidNext?: number;
  messages: MaildirMessage[];
}

const SYSTEM_FLAG_LETTERS: Record<string, string> = { D: '\\Draft', F: '\\Flagged', R: '\\Answered', S: '\\Seen', T: '\\Deleted' };
const LETTER_OF_FLAG: Record<string, string> = Object.fromEntries(Object.entries(SYSTEM_FLAG_LETTERS).map(([l, f]) => [f.toLowerCase(), l]));

function readKeywords(dir: string): string[] {
  const file = join(dir, 'dovecot-keywords');
  const list: string[] = [];
  if (!existsSync(file)) return list;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(\d+) (.+)$/.exec(line);
    if (m && Number(m[1]) < 26) list[Number(m[1])] = m[2]!;
  }
  return list;
}

function readUidlist(dir: string): { uidValidity?: number; uidNext?: number; uids: Map<string, number> } {
  const file = join(dir, 'dovecot-uidlist');
  const uids = new Map<string, number>();
  if (!existsSync(file)) return { uids };
  const [header = '', ...lines] = readFileSync(file, 'utf8').split('\n');
  let uidValidity: number | undefined;
  let uidNext: number | undefined;
  if (header.startsWith('3 ')) {
    for (const field of header.slice(2).split(' ')) {
      if (field[0] === 'V') uidValidity = Number(field.slice(1));
      if (field[0] === 'N') uidNext = Number(field.slice(1));
    }
  } else {
    const m = /^1 (\d+) (\d+)/.exec(header); // version 1: `1 <uidvalidity> <nextuid>`
    if (m) [uidValidity, uidNext] = [Number(m[1]), Number(m[2])];
  }
  for (const line of lines) {
    // v3: `<uid> [<ext>...] :<basename>`; v1: `<uid> <basename>`
    const m = /^(\d+) (?:.*?:)?([^ :]+)(?::.*)?$/.exec(line.trim());
    if (m) uids.set(m[2]!, Number(m[1]));
  }
  return { uidValidity, uidNext, uids };
}

function readFolder(dir: string, name: string): MaildirFolder {
  const keywords = readKeywords(dir);
  const { uidValidity, uidNext, uids } = readUidlist(dir);
  const messages: MaildirMessage[] = [];
  for (const sub of ['cur', 'new']) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    for (const file of readdirSync(d)) {
      if (file.startsWith('.')) continue;
      const colon = file.indexOf(':');
      const baseName = colon < 0 ? file : file.slice(0, colon);
      const info = colon < 0 ? '' : file.slice(colon + 1);
      const flags: string[] = [];
      if (info.startsWith('2,')) {
        for (const ch of info.slice(2)) {
          if (SYSTEM_FLAG_LETTERS[ch]) flags.push(SYSTEM_FLAG_LETTERS[ch]!);
          else if (ch >= 'a' && ch <= 'z' && keywords[ch.charCodeAt(0) - 97]) flags.push(keywords[ch.charCodeAt(0) - 97]!);
        }
      }
      const path = join(d, file);
      messages.push({ baseName, path, flags, internalDate: statSync(path).mtime, uid: uids.get(baseName) });
    }
  }
  // Files with a UID first in UID order, then new ones in name order (their delivery order).
  messages.sort((a, b) => (a.uid ?? Infinity) - (b.uid ?? Infinity) || (a.baseName < b.baseName ? -1 : a.baseName > b.baseName ? 1 : 0));
  return { name, uidValidity, uidNext, messages };
}

/** Every folder of the Maildir++ at `root`, INBOX first. */
export function readMaildir(root: string): MaildirFolder[] {
  if (!existsSync(join(root, 'cur')) && !existsSync(join(root, 'new'))) {
    throw new UsageError(`${root} is not a Maildir (no cur/ or new/)`, 66);
  }
  const folders = [readFolder(root, 'INBOX')];
  for (const entry of readdirSync(root).sort()) {
    if (!entry.startsWith('.') || entry === '.' || entry === '..') continue;
    if (!statSync(join(root, entry)).isDirectory()) continue;
    const name = decodeMailboxName(entry.slice(1).split('.').join('/'));
    if (name === null) throw new UsageError(`${join(root, entry)}: folder name is not modified UTF-7`, 65);
    folders.push(readFolder(join(root, entry), name));
  }
  return folders;
}

/**
 * `subscriptions` of a Maildir++ root (version 2 or the older one-name-per-line form); an mbox
 * root keeps the same file as `.subscriptions`.
 */
export function readSubscriptions(root: string, name = 'subscriptions'): string[] {
  const file = join(root, name);
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines[0] === 'V\t2') return lines.slice(2).filter(Boolean).map((l) => l.split('\t').join('/'));
  return lines.filter(Boolean);
}

export interface ExportMessage {
  uid: number;
  guid: string;
  flags: string[];
  internalDate: Date;
  content: Buffer;
}

function folderDir(root: string, name: string): string {
  if (name === 'INBOX') return root;
  return join(root, '.' + encodeMailboxName(name).split('/').join('.'));
}

/** The GUID a base name carries: Roost's exported names embed it (exportBaseName), else the name itself. */
export function guidOfBaseName(baseName: string): string {
  return /^\d+\.R([0-9a-f]{32,40})\./.exec(baseName)?.[1] ?? baseName;
}

/** A maildir base name Dovecot would accept as its own: the GUID when it already is one. */
function exportBaseName(guid: string, date: Date): string {
  if (/^\d+\.[A-Za-z0-9_.,=-]+$/.test(guid) && !guid.includes(':')) return guid;
  return `${Math.floor(date.getTime() / 1000)}.R${guid}.${hostname().replace(/[/:]/g, '_')}`;
}

/** Writes one folder in Dovecot's layout, with dovecot-uidlist (version 3) and dovecot-keywords. */
export function writeMaildirFolder(root: string, name: string, ids: { uidValidity: number; uidNext: number }, messages: ExportMessage[]): void {
  const dir = folderDir(root, name);
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  if (name !== 'INBOX') writeFileSync(join(dir, 'maildirfolder'), '');
  const keywords: string[] = [];
  const uidLines: string[] = [];
  for (const m of messages) {
    let letters = '';
    const kwLetters: string[] = [];
    for (const f of m.flags) {
      const sys = LETTER_OF_FLAG[f.toLowerCase()];
      if (sys) letters += sys;
      else if (!f.startsWith('\\')) {
        let i = keywords.indexOf(f);
        if (i < 0 && keywords.length < 26) i = keywords.push(f) - 1;
        if (i >= 0) kwLetters.push(String.fromCharCode(97 + i));
      }
    }
    const base = exportBaseName(m.guid, m.internalDate);
    const flagPart = [...letters].sort().join('') + kwLetters.sort().join('');
    const path = join(dir, 'cur', `${base}:2,${flagPart}`);
    writeFileSync(path, m.content);
    utimesSync(path, m.internalDate, m.internalDate);
    uidLines.push(`${m.uid} :${base}`);
  }
  writeFileSync(join(dir, 'dovecot-keywords'), keywords.map((k, i) => `${i} ${k}\n`).join(''));
  writeFileSync(join(dir, 'dovecot-uidlist'), `3 V${ids.uidValidity} N${ids.uidNext}\n` + uidLines.map((l) => l + '\n').join(''));
}

export function writeSubscriptions(root: string, names: string[], name = 'subscriptions'): void {
  writeFileSync(join(root, name), 'V\t2\n\n' + names.map((n) => n.split('/').join('\t') + '\n').join(''));
}
