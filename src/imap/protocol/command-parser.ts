// Turns a reader command (tag, name, argument tree) into a typed `ImapCommand`, or a protocol
// error value (`BAD <reason>`; `NO` for an invalid mUTF-7 name as in Dovecot).
import { argToAstring, type ImapArg, type ProtocolError } from './args.js';
import { ArgCursor, CommandSyntaxError, decodeMailbox, decodePattern, fail, INVALID_ARGUMENTS, parseFlag, parseNumber, type ParseOptions } from './arg-cursor.js';
import type { AppendMessage, CatenatePart, ImapCommand, QresyncParams, ListReturn, ListSelection, MetadataDepth, StatusItem, StoreAction } from './commands.js';
import { disposeSpooled } from './command-reader.js';
import { parseImapDateTime } from './datetime.js';
import { parseFetchAttributes, parsePreview } from './fetch-parser.js';
import { parseNotifyArguments } from './notify-parser.js';
import { BufferLiteral } from './literal.js';
import { parseSearchArguments, parseSortArguments, parseThreadArguments } from './search-parser.js';
import { parseSequenceSet, type SequenceSet } from './sequence-set.js';
import { parseGenUrlAuthArgs, parseResetKeyArgs, parseUrlFetchArgs } from './urlauth-parser.js';

export type { ParseOptions } from './arg-cursor.js';

export type ParseResult = { ok: true; tag: string; command: ImapCommand } | { ok: false; error: ProtocolError };

export const UNKNOWN_COMMAND = 'Unknown command.';

const STATUS_ITEMS: StatusItem[] = ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ', 'SIZE', 'APPENDLIMIT', 'MAILBOXID'];

type Parser = (c: ArgCursor) => ImapCommand;

const noArgs =
  (name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'IDLE' | 'NAMESPACE' | 'UNAUTHENTICATE'): Parser =>
  (c) => {
    c.end();
    return { name };
  };

const PARSERS: Record<string, Parser> = {
  CAPABILITY: noArgs('CAPABILITY'),
  NOOP: noArgs('NOOP'),
  LOGOUT: noArgs('LOGOUT'),
  STARTTLS: noArgs('STARTTLS'),
  CHECK: noArgs('CHECK'),
  CLOSE: noArgs('CLOSE'),
  UNSELECT: noArgs('UNSELECT'),
  IDLE: noArgs('IDLE'),
  NAMESPACE: noArgs('NAMESPACE'),
  UNAUTHENTICATE: noArgs('UNAUTHENTICATE'),
  // RFC 4467: Dovecot answers these before looking at their arguments (imap/cmd-genurlauth.c etc.).
  GENURLAUTH: (c) => ({ name: 'GENURLAUTH', args: parseGenUrlAuthArgs(c.rest()) }),
  RESETKEY: (c) => ({ name: 'RESETKEY', args: parseResetKeyArgs(c.rest(), c.options) }),
  URLFETCH: (c) => ({ name: 'URLFETCH', args: parseUrlFetchArgs(c.rest()) }),
  EXPUNGE: (c) => {
    c.end();
    return { name: 'EXPUNGE', uid: false };
  },
  AUTHENTICATE: (c) => {
    const mechanism = c.atom().toUpperCase();
    // RFC 4959: the initial response is base64 or "=" for an empty one.
    const initialResponse = c.done ? null : c.atom();
    c.end();
    if (initialResponse !== null && initialResponse !== '=' && !/^[A-Za-z0-9+/]+={0,2}$/.test(initialResponse)) fail('Invalid base64 data in initial response');
    return { name: 'AUTHENTICATE', mechanism, initialResponse };
  },
  LOGIN: (c) => {
    const username = c.astring();
    const password = c.astring();
    c.end();
    return { name: 'LOGIN', username, password };
  },
  SELECT: (c) => parseSelect('SELECT', c),
  EXAMINE: (c) => parseSelect('EXAMINE', c),
  CREATE: (c) => {
    const mailbox = c.mailbox();
    const specialUse: string[] = [];
    if (!c.done) {
      // RFC 6154 §3: CREATE name (USE (\Sent ...))
      const params = new ArgCursor(c.list(), c.options);
      while (!params.done) {
        if (!params.acceptAtom('USE')) fail('Unknown CREATE parameter');
        for (const use of params.list()) {
          if (use.type !== 'atom' || !use.value.startsWith('\\')) fail('Invalid USE parameter');
          specialUse.push(use.value);
        }
      }
    }
    c.end();
    return { name: 'CREATE', mailbox, specialUse };
  },
  DELETE: (c) => oneMailbox('DELETE', c),
  SUBSCRIBE: (c) => oneMailbox('SUBSCRIBE', c),
  UNSUBSCRIBE: (c) => oneMailbox('UNSUBSCRIBE', c),
  RENAME: (c) => {
    const from = c.mailbox();
    const to = c.mailbox();
    c.end();
    return { name: 'RENAME', from, to };
  },
  LIST: parseList,
  LSUB: (c) => {
    const reference = decodePattern(c.astring(), c.options);
    const pattern = decodePattern(c.astring(), c.options);
    c.end();
    return { name: 'LSUB', reference, pattern };
  },
  STATUS: (c) => {
    const mailbox = c.mailbox();
    const items = parseStatusItems(c.list());
    c.end();
    return { name: 'STATUS', mailbox, items };
  },
  APPEND: parseAppend,
  SEARCH: (c) => ({ name: 'SEARCH', uid: false, ...parseSearchArguments(c) }),
  SORT: (c) => ({ name: 'SORT', uid: false, ...parseSortArguments(c) }),
  THREAD: (c) => ({ name: 'THREAD', uid: false, ...parseThreadArguments(c) }),
  FETCH: (c) => parseFetch(c, false),
  STORE: (c) => parseStore(c, false),
  COPY: (c) => parseCopyMove('COPY', c, false),
  MOVE: (c) => parseCopyMove('MOVE', c, false),
  UID: parseUid,
  ID: parseId,
  ENABLE: (c) => {
    const capabilities: string[] = [];
    while (!c.done) capabilities.push(c.atom().toUpperCase());
    if (capabilities.length === 0) fail(INVALID_ARGUMENTS);
    return { name: 'ENABLE', capabilities };
  },
  // Dovecot's text for a missing argument (imap_quota plugin).
  GETQUOTAROOT: (c) => {
    if (c.done) fail('Missing arguments');
    const mailbox = c.mailbox();
    c.end();
    return { name: 'GETQUOTAROOT', mailbox };
  },
  GETQUOTA: (c) => {
    if (c.done) fail('Missing arguments');
    const root = c.astring();
    c.end();
    return { name: 'GETQUOTA', root };
  },
  SETQUOTA: (c) => {
    if (c.done) fail('Missing arguments');
    const root = c.astring();
    const limits = c.list();
    c.end();
    return { name: 'SETQUOTA', root, limits };
  },
  CANCELUPDATE: (c) => {
    const tags: string[] = [];
    while (!c.done) tags.push(c.string());
    if (tags.length === 0) fail('Missing arguments');
    return { name: 'CANCELUPDATE', tags };
  },
  REPLACE: (c) => parseReplace(c, false),
  COMPRESS: (c) => {
    const mechanism = c.atom().toUpperCase();
    c.end();
    return { name: 'COMPRESS', mechanism };
  },
  GETMETADATA: parseGetMetadata,
  SETMETADATA: parseSetMetadata,
  NOTIFY: (c) => ({ name: 'NOTIFY', spec: parseNotifyArguments(c) }),
};

/** Parses one command from the reader. `name` is upper case as the reader gives it. */
export function parseCommand(tag: string, name: string, args: ImapArg[], options: ParseOptions = {}): ParseResult {
  const parser = PARSERS[name.toUpperCase()];
  if (!parser) return { ok: false, error: { tag, status: 'BAD', text: UNKNOWN_COMMAND } };
  try {
    return { ok: true, tag, command: parser(new ArgCursor(args, options)) };
  } catch (e) {
    if (e instanceof CommandSyntaxError) {
      // A refused APPEND must not leave its spooled message behind.
      args.forEach(disposeSpooled);
      return { ok: false, error: { tag, status: e.status, text: e.reason } };
    }
    throw e;
  }
}

function oneMailbox(name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE', c: ArgCursor): ImapCommand {
  const mailbox = c.mailbox();
  c.end();
  return { name, mailbox };
}

function parseSelect(name: 'SELECT' | 'EXAMINE', c: ArgCursor): ImapCommand {
  const mailbox = c.mailbox();
  let condstore = false;
  let qresync: QresyncParams | null = null;
  if (!c.done) {
    // RFC 4466 select-params; RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC.
    const params = new ArgCursor(c.list(), c.options);
    while (!params.done) {
      const word = params.atom().toUpperCase();
      if (word === 'CONDSTORE') condstore = true;
      else if (word === 'QRESYNC' && qresync === null) qresync = parseQresyncParams(params.peek());
      else fail(`Unknown ${name} parameter`);
      if (word === 'QRESYNC') params.next();
    }
  }
  c.end();
  return { name, mailbox, condstore, qresync };
}

// Dovecot's texts (imap/cmd-select.c).
const INVALID_QRESYNC = 'Invalid QRESYNC parameters';

function parseQresyncParams(arg: ImapArg | undefined): QresyncParams {
  if (arg?.type !== 'list') fail(INVALID_QRESYNC);
  const items = arg.items;
  if (items.length < 2 || items.length > 4) fail(INVALID_QRESYNC);
  const atomOf = (a: ImapArg | undefined, reason: string): string => (a?.type === 'atom' ? a.value : fail(reason));
  const uidValidity = parseNumber(atomOf(items[0], INVALID_QRESYNC), INVALID_QRESYNC);
  const modseq = parseNumber(atomOf(items[1], INVALID_QRESYNC), INVALID_QRESYNC);
  if (uidValidity === 0) fail(INVALID_QRESYNC);
  let knownUids: SequenceSet | null = null;
  let seqMatch: QresyncParams['seqMatch'] = null;
  let rest = 2;
  if (items[rest]?.type === 'atom') {
    knownUids = parseSequenceSetOr(atomOf(items[rest], ''), 'Invalid QRESYNC known-uids');
    rest++;
  }
  const match = items[rest];
  if (match !== undefined) {
    if (match.type !== 'list' || match.items.length !== 2) fail('Invalid QRESYNC known-sequence-set');
    const seqs = parseSequenceSetOr(atomOf(match.items[0], 'Invalid QRESYNC known-sequence-set'), 'Invalid QRESYNC known-sequence-set');
    const uids = parseSequenceSetOr(atomOf(match.items[1], 'Invalid QRESYNC known-uid-set'), 'Invalid QRESYNC known-uid-set');
    seqMatch = { seqs, uids };
    rest++;
  }
  if (rest !== items.length) fail(INVALID_QRESYNC);
  return { uidValidity, modseq, knownUids, seqMatch };
}

function parseSequenceSetOr(text: string, reason: string): SequenceSet {
  const set = parseSequenceSet(text);
  if (!set || set.kind !== 'ranges') fail(reason);
  return set;
}

function parseStatusItems(items: ImapArg[]): StatusItem[] {
  if (items.length === 0) fail('Empty status list');
  return items.map((item) => {
    const word = item.type === 'atom' ? item.value.toUpperCase() : '';
    const status = STATUS_ITEMS.find((s) => s === word);
    if (!status) fail(`Invalid status item ${item.type === 'atom' ? item.value : ''}`.trim());
    return status;
  });
}

// RFC 5258 §6: LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
function parseList(c: ArgCursor): ImapCommand {
  const selection: ListSelection = { subscribed: false, remote: false, recursiveMatch: false, specialUse: false };
  const returns: ListReturn = { subscribed: false, children: false, specialUse: false, status: null };
  let extended = false;
  if (c.peek()?.type === 'list') {
    extended = true;
    for (const opt of c.list()) {
      const word = opt.type === 'atom' ? opt.value.toUpperCase() : '';
      if (word === 'SUBSCRIBED') selection.subscribed = true;
      else if (word === 'REMOTE') selection.remote = true;
      else if (word === 'RECURSIVEMATCH') selection.recursiveMatch = true;
      else if (word === 'SPECIAL-USE') selection.specialUse = true;
      else fail('List selection options contain invalid option');
    }
    // RFC 5258 §3.1: RECURSIVEMATCH needs another selection option to modify.
    if (selection.recursiveMatch && !selection.subscribed && !selection.specialUse) fail('Recursive match without a selection option');
  }
  const reference = decodePattern(c.astring(), c.options);
  const patterns: string[] = [];
  if (c.peek()?.type === 'list') {
    extended = true;
    for (const p of c.list()) {
      const cursor = new ArgCursor([p], c.options);
      patterns.push(decodePattern(cursor.astring(), c.options));
    }
    if (patterns.length === 0) fail(INVALID_ARGUMENTS);
  } else {
    patterns.push(decodePattern(c.astring(), c.options));
  }
  if (c.acceptAtom('RETURN')) {
    extended = true;
    const opts = new ArgCursor(c.list(), c.options);
    while (!opts.done) {
      const word = opts.atom().toUpperCase();
      if (word === 'SUBSCRIBED') returns.subscribed = true;
      else if (word === 'CHILDREN') returns.children = true;
      else if (word === 'SPECIAL-USE') returns.specialUse = true;
      else if (word === 'STATUS') returns.status = parseStatusItems(opts.list());
      else fail('Unknown return option');
    }
  }
  c.end();
  return { name: 'LIST', reference, patterns, selection, returns, extended };
}

// RFC 3501 §6.3.11, RFC 3502 MULTIAPPEND, RFC 3516 literal8:
// APPEND mailbox 1*(SP [flag-list SP] [date-time SP] literal)
function parseAppend(c: ArgCursor): ImapCommand {
  const mailbox = c.mailbox();
  const messages: AppendMessage[] = [];
  do messages.push(parseAppendMessage(c));
  while (!c.done);
  return { name: 'APPEND', mailbox, messages };
}

// RFC 8508: REPLACE seq mailbox [flag-list] [date-time] literal
function parseReplace(c: ArgCursor, uid: boolean): ImapCommand {
  const set = c.sequenceSet(uid);
  const mailbox = c.mailbox();
  const message = parseAppendMessage(c);
  c.end();
  return { name: 'REPLACE', uid, set, mailbox, message };
}

function parseAppendMessage(c: ArgCursor): AppendMessage {
  {
    let flags: string[] = [];
    let internalDate: AppendMessage['internalDate'] = null;
    if (c.peek()?.type === 'list') flags = c.list().map(parseFlag);
    const maybeDate = c.peek();
    if (maybeDate?.type === 'string') {
      internalDate = parseImapDateTime(maybeDate.value);
      if (!internalDate) fail('Invalid internal date.');
      c.next();
    }
    let literal = c.next();
    if (literal.type === 'atom' && literal.value.toUpperCase() === 'CATENATE') {
      return { flags, internalDate, body: new BufferLiteral(Buffer.alloc(0)), binary: false, catenate: parseCatenateParts(c.list()) };
    }
    // RFC 6855 §4: `UTF8 (~{n}...)` carries a message with UTF-8 headers (only after ENABLE).
    if (literal.type === 'atom' && literal.value.toUpperCase() === 'UTF8') {
      if (!c.options.utf8Accept) fail('UTF8 APPEND without ENABLE UTF8=ACCEPT');
      const inner = c.list();
      if (inner.length !== 1) fail(INVALID_ARGUMENTS);
      literal = inner[0]!;
    }
    if (literal.type === 'literal') return { flags, internalDate, body: new BufferLiteral(literal.data), binary: literal.binary };
    if (literal.type === 'spooled') return { flags, internalDate, body: literal.body, binary: literal.binary };
    fail(INVALID_ARGUMENTS);
  }
}

// RFC 4469: CATENATE (1*(TEXT literal / URL astring)), Dovecot's texts (imap/cmd-append.c).
function parseCatenateParts(items: ImapArg[]): CatenatePart[] {
  if (items.length === 0) fail('Empty CATENATE list');
  const parts: CatenatePart[] = [];
  for (let i = 0; i < items.length; i += 2) {
    const kind = items[i];
    const value = items[i + 1];
    const word = kind?.type === 'atom' ? kind.value.toUpperCase() : '';
    if (word === 'TEXT' && value?.type === 'literal') parts.push({ type: 'text', body: new BufferLiteral(value.data) });
    else if (word === 'TEXT' && value?.type === 'spooled') parts.push({ type: 'text', body: value.body });
    else if (word === 'URL' && (value?.type === 'string' || value?.type === 'atom' || value?.type === 'literal')) parts.push({ type: 'url', url: argToAstring(value)! });
    else fail(INVALID_ARGUMENTS);
  }
  return parts;
}

function parseFetch(c: ArgCursor, uid: boolean): ImapCommand {
  const set = c.sequenceSet(uid);
  const attributes = parseFetchAttributes(c.next());
  // `FETCH n PREVIEW (LAZY)`: the list is PREVIEW's modifier, not a FETCH modifier (Dovecot).
  const afterPreview = c.peek();
  if (attributes.length === 1 && attributes[0]!.type === 'PREVIEW' && afterPreview?.type === 'list' && afterPreview.items[0]?.type === 'atom' && afterPreview.items[0].value.toUpperCase() === 'LAZY') {
    attributes[0] = parsePreview('PREVIEW', c.list());
  }
  let changedSince: number | null = null;
  let vanished = false;
  if (!c.done) {
    // RFC 4466 fetch-modifiers; RFC 7162 CHANGEDSINCE and VANISHED.
    const mods = new ArgCursor(c.list(), c.options);
    while (!mods.done) {
      const word = mods.atom().toUpperCase();
      if (word === 'CHANGEDSINCE') changedSince = parseNumber(mods.atom(), 'Invalid CHANGEDSINCE modseq.');
      // Dovecot's texts (imap/cmd-fetch.c): VANISHED is a UID FETCH modifier only.
      else if (word === 'VANISHED' && uid) vanished = true;
      else fail('Unknown FETCH modifier');
    }
  }
  c.end();
  // RFC 7162 §3.2.6: VANISHED only for UID FETCH together with CHANGEDSINCE.
  // RFC 7162 §3.2.6: VANISHED only together with CHANGEDSINCE.
  if (vanished && changedSince === null) fail('VANISHED used without CHANGEDSINCE');
  return { name: 'FETCH', uid, set, attributes, changedSince, vanished };
}

// STORE set [(UNCHANGEDSINCE n)] (+|-)FLAGS[.SILENT] (flag-list | flag *(SP flag))
function parseStore(c: ArgCursor, uid: boolean): ImapCommand {
  const set = c.sequenceSet(uid);
  let unchangedSince: number | null = null;
  if (c.peek()?.type === 'list') {
    const mods = new ArgCursor(c.list(), c.options);
    while (!mods.done) {
      const word = mods.atom().toUpperCase();
      if (word === 'UNCHANGEDSINCE') unchangedSince = parseNumber(mods.atom(), 'Invalid UNCHANGEDSINCE modseq.');
      else fail(`Unknown STORE modifier ${word}`);
    }
  }
  const item = c.atom().toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
  if (!m) fail(`Invalid STORE parameter ${item}`);
  const action: StoreAction = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
  const flags: string[] = [];
  if (c.peek()?.type === 'list') {
    flags.push(...c.list().map(parseFlag));
    c.end();
  } else {
    while (!c.done) flags.push(parseFlag(c.next()));
    if (flags.length === 0 && action !== 'set') fail(INVALID_ARGUMENTS);
  }
  return { name: 'STORE', uid, set, action, silent: m[2] !== undefined, flags: [...new Set(flags)], unchangedSince };
}

function parseCopyMove(name: 'COPY' | 'MOVE', c: ArgCursor, uid: boolean): ImapCommand {
  const set = c.sequenceSet(uid);
  const mailbox = c.mailbox();
  c.end();
  return { name, uid, set, mailbox };
}

function parseUid(c: ArgCursor): ImapCommand {
  const sub = c.atom().toUpperCase();
  switch (sub) {
    case 'FETCH':
      return parseFetch(c, true);
    case 'STORE':
      return parseStore(c, true);
    case 'COPY':
      return parseCopyMove('COPY', c, true);
    case 'MOVE':
      return parseCopyMove('MOVE', c, true);
    case 'SEARCH':
      return { name: 'SEARCH', uid: true, ...parseSearchArguments(c) };
    case 'SORT':
      return { name: 'SORT', uid: true, ...parseSortArguments(c) };
    case 'REPLACE':
      return parseReplace(c, true);
    case 'THREAD':
      return { name: 'THREAD', uid: true, ...parseThreadArguments(c) };
    case 'EXPUNGE': {
      const set = c.sequenceSet(true);
      c.end();
      return { name: 'EXPUNGE', uid: true, set };
    }
    default:
      fail(UNKNOWN_COMMAND);
  }
}

// RFC 2971 §3.3: "(" field value ... ")" / NIL; at most 30 pairs, fields ≤ 30, values ≤ 1024 octets.
function parseId(c: ArgCursor): ImapCommand {
  const first = c.next();
  c.end();
  if (first.type === 'nil') return { name: 'ID', params: null };
  if (first.type !== 'list' || first.items.length % 2 !== 0) fail(INVALID_ARGUMENTS);
  const params: Array<[string, string | null]> = [];
  const cursor = new ArgCursor(first.items, c.options);
  while (!cursor.done) {
    const key = cursor.string();
    const value = cursor.nstring();
    if (Buffer.byteLength(key) > 30 || (value !== null && Buffer.byteLength(value) > 1024)) fail(INVALID_ARGUMENTS);
    params.push([key, value]);
  }
  if (params.length > 30) fail(INVALID_ARGUMENTS);
  return { name: 'ID', params };
}

// RFC 5464 §4.2: GETMETADATA [SP getmetadata-options] SP mailbox SP (entry / "(" entries ")")
function parseGetMetadata(c: ArgCursor): ImapCommand {
  let maxSize: number | null = null;
  let depth: MetadataDepth = '0';
  if (c.peek()?.type === 'list') {
    const opts = new ArgCursor(c.list(), c.options);
    while (!opts.done) {
      const word = opts.atom().toUpperCase();
      if (word === 'MAXSIZE') maxSize = parseNumber(opts.atom(), 'Invalid value for MAXSIZE option');
      else if (word === 'DEPTH') {
        const d = opts.atom().toLowerCase();
        if (d !== '0' && d !== '1' && d !== 'infinity') fail('Invalid value for DEPTH option');
        depth = d;
      } else fail('Unknown option');
    }
  }
  const mailbox = metadataMailbox(c);
  const entries: string[] = [];
  if (c.peek()?.type === 'list') {
    const list = new ArgCursor(c.list(), c.options);
    while (!list.done) entries.push(metadataEntry(list.astring()));
  } else entries.push(metadataEntry(c.astring()));
  c.end();
  if (entries.length === 0) fail(INVALID_ARGUMENTS);
  return { name: 'GETMETADATA', mailbox, entries, maxSize, depth };
}

// RFC 5464 §4.3: SETMETADATA SP mailbox SP "(" entry SP value *(SP entry SP value) ")"
function parseSetMetadata(c: ArgCursor): ImapCommand {
  const mailbox = metadataMailbox(c);
  const list = new ArgCursor(c.list(), c.options);
  c.end();
  const entries: Array<{ entry: string; value: Buffer | null }> = [];
  while (!list.done) {
    const entry = metadataEntry(list.astring());
    const value = list.next();
    if (value.type === 'nil') entries.push({ entry, value: null });
    else if (value.type === 'string') entries.push({ entry, value: Buffer.from(value.value, 'utf8') });
    else if (value.type === 'literal') entries.push({ entry, value: value.data });
    else fail(INVALID_ARGUMENTS);
  }
  if (entries.length === 0) fail(INVALID_ARGUMENTS);
  return { name: 'SETMETADATA', mailbox, entries };
}

function metadataMailbox(c: ArgCursor): string {
  const wire = c.astring();
  // "" names the server itself (RFC 5464 §3.2).
  return wire === '' ? '' : decodeMailbox(wire, c.options);
}

// RFC 5464 §3.2: entries are slash-separated, start with /private or /shared, no "//", no trailing "/", no * or %.
function metadataEntry(entry: string): string {
  const lower = entry.toLowerCase();
  if (!(lower.startsWith('/private/') || lower.startsWith('/shared/') || lower === '/private' || lower === '/shared')) fail('Entry name must begin with /private or /shared');
  if (entry.includes('//') || entry.endsWith('/') || /[*%\x00-\x1f\x7f-\uffff]/.test(entry)) fail('Invalid entry name');
  return entry;
}
