// SEARCH criteria (RFC 3501 §6.4.4, RFC 4731 RETURN, RFC 5182 `$`, RFC 7162 MODSEQ,
// RFC 5032 OLDER/YOUNGER). Error texts follow Dovecot's imap-search-args.
import { argToAstring, type ImapArg } from './args.js';
import { ArgCursor, fail, parseNumber, parseSet } from './arg-cursor.js';
import type { PartialRange, SearchKey, SearchReturnOption, SortCriterion, SortKey, ThreadAlgorithm } from './commands.js';
import { parseImapDate, type ImapDate } from './datetime.js';
import { charsetDecoder } from './search-charset.js';

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  RECENT: ['\\Recent', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};

const DATE_KEYS: Record<string, ['internal' | 'sent' | 'saved', 'before' | 'on' | 'since']> = {
  SAVEDBEFORE: ['saved', 'before'],
  SAVEDON: ['saved', 'on'],
  SAVEDSINCE: ['saved', 'since'],
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
};

/** Keys that search one header field; the address ones match the rewritten address list. */
const HEADER_KEYS: Record<string, string> = { FROM: 'From', TO: 'To', CC: 'Cc', BCC: 'Bcc', SUBJECT: 'Subject' };

const RETURN_OPTIONS: SearchReturnOption[] = ['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE', 'UPDATE', 'PARTIAL'];

class SearchCursor {
  private i = 0;
  constructor(
    private readonly args: ImapArg[],
    /** The CHARSET's decoder (strict); null: an unknown charset, read as UTF-8 until the handler refuses it. */
    readonly decoder: TextDecoder | null,
  ) {}
  get done(): boolean {
    return this.i >= this.args.length;
  }
  next(): ImapArg | undefined {
    return this.args[this.i++];
  }
  value(key: string): string {
    const s = argToAstring(this.next());
    if (s === null) fail(`Missing parameter for argument ${key}`);
    return s;
  }
  /** A string to look for in the message: read in the search's charset (Dovecot converts these only). */
  text(key: string): string {
    const arg = this.next();
    if (!arg || argToAstring(arg) === null) fail(`Missing parameter for argument ${key}`);
    if (!this.decoder) return argToAstring(arg)!;
    const bytes = arg.type === 'literal' ? arg.data : arg.type === 'string' ? (arg.raw ?? Buffer.from(arg.value, 'utf8')) : Buffer.from(argToAstring(arg)!, 'latin1');
    try {
      return this.decoder.decode(bytes);
    } catch {
      // Dovecot 2.3.19: bytes that are not valid in the charset.
      fail('Invalid search key');
    }
  }
}

function parseDate(text: string): ImapDate {
  const date = parseImapDate(text);
  if (!date) fail('Invalid search date parameter');
  return date;
}

/** Deepest NOT / OR / list nesting accepted: evaluation recurses per level. */
const MAX_SEARCH_DEPTH = 100;

function parseKey(cursor: SearchCursor, depth = 0): SearchKey {
  if (depth > MAX_SEARCH_DEPTH) fail('Too deep search nesting');
  const arg = cursor.next();
  if (!arg) fail('Missing argument');
  if (arg.type === 'list') {
    if (arg.items.length === 0) fail('Empty list');
    return andOf(parseKeys(new SearchCursor(arg.items, cursor.decoder), depth + 1));
  }
  const word = argToAstring(arg);
  if (word === null || arg.type === 'nil') fail('Invalid search argument');
  const key = word.toUpperCase();

  const flag = FLAG_KEYS[key];
  if (flag) return { type: 'flag', flag: flag[0], set: flag[1] };
  const date = DATE_KEYS[key];
  if (date) return { type: 'date', field: date[0], op: date[1], date: parseDate(cursor.value(key)) };
  const field = HEADER_KEYS[key];
  if (field) return field === 'Subject' ? { type: 'header', field, value: cursor.text(key) } : { type: 'header', field, value: cursor.text(key), address: true };

  switch (key) {
    case 'ALL':
      return { type: 'all' };
    case 'NEW':
      return { type: 'new' };
    case 'OLD':
      return { type: 'old' };
    case 'KEYWORD':
    case 'UNKEYWORD':
      return { type: 'flag', flag: cursor.value(key), set: key === 'KEYWORD' };
    case 'HEADER': {
      const field = cursor.value(key);
      return { type: 'header', field, value: cursor.text(key) };
    }
    case 'BODY':
      return { type: 'body', value: cursor.text(key) };
    case 'TEXT':
      return { type: 'text', value: cursor.text(key) };
    case 'LARGER':
    case 'SMALLER':
      return { type: 'size', op: key === 'LARGER' ? 'larger' : 'smaller', size: parseNumber(cursor.value(key), 'Invalid search size parameter') };
    case 'OLDER':
    case 'YOUNGER':
      return { type: 'age', op: key === 'OLDER' ? 'older' : 'younger', seconds: parseNumber(cursor.value(key)) };
    case 'UID':
      return { type: 'uid', set: parseSet(cursor.value(key), true) };
    case 'NOT':
      return { type: 'not', key: parseKey(cursor, depth + 1) };
    case 'OR': {
      const left = parseKey(cursor, depth + 1);
      return { type: 'or', left, right: parseKey(cursor, depth + 1) };
    }
    case 'MODSEQ':
      return parseModseq(cursor);
    // RFC 8514 §4.2: every message here has a save date.
    case 'SAVEDATESUPPORTED':
      return { type: 'all' };
    case 'EMAILID':
    case 'THREADID':
      return { type: 'objectid', field: key === 'EMAILID' ? 'emailid' : 'threadid', id: cursor.value(key) };
  }
  if (/^[0-9*$]/.test(key)) return { type: 'sequence', set: parseSet(key, false) };
  fail(`Unknown argument ${word}`);
}

// RFC 7162 §3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer
function parseModseq(cursor: SearchCursor): SearchKey {
  const first = cursor.value('MODSEQ');
  if (/^[0-9]+$/.test(first)) return { type: 'modseq', modseq: parseNumber(first) };
  const kind = cursor.value('MODSEQ').toLowerCase();
  if (kind !== 'priv' && kind !== 'shared' && kind !== 'all') fail('Invalid MODSEQ entry type');
  return { type: 'modseq', entry: { name: first, kind }, modseq: parseNumber(cursor.value('MODSEQ')) };
}

function parseKeys(cursor: SearchCursor, depth = 0): SearchKey[] {
  const keys: SearchKey[] = [];
  while (!cursor.done) keys.push(parseKey(cursor, depth));
  return keys;
}

function andOf(keys: SearchKey[]): SearchKey {
  return keys.length === 1 ? keys[0]! : { type: 'and', keys };
}

export interface ParsedSearch {
  charset: string | null;
  returnOptions: SearchReturnOption[] | null;
  partial: PartialRange | null;
  criteria: SearchKey;
}

/** `[RETURN (...)] [CHARSET name] key...` */
export function parseSearchArguments(cursor: ArgCursor): ParsedSearch {
  const { returnOptions, partial } = parseReturnOptions(cursor);
  let charset: string | null = null;
  if (cursor.acceptAtom('CHARSET')) charset = cursor.astring();
  return { charset, returnOptions, partial, criteria: parseCriteria(cursor, charset) };
}

function parseCriteria(cursor: ArgCursor, charset: string | null): SearchKey {
  const rest: ImapArg[] = [];
  while (!cursor.done) rest.push(cursor.next());
  if (rest.length === 0) fail('Missing search parameters');
  return andOf(parseKeys(new SearchCursor(rest, charsetDecoder(charset))));
}

const SORT_KEYS: readonly SortKey[] = ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'];

/** RFC 5256 §3: `[RETURN (...)] (sort-criteria) charset key...` (Dovecot's texts, imap/cmd-sort.c). */
export function parseSortArguments(cursor: ArgCursor): { program: SortCriterion[]; charset: string; returnOptions: SearchReturnOption[] | null; partial: PartialRange | null; criteria: SearchKey } {
  const { returnOptions, partial } = parseReturnOptions(cursor);
  const list = cursor.peek();
  if (list?.type !== 'list') fail('Invalid sort argument');
  cursor.next();
  const program: SortCriterion[] = [];
  let reverse = false;
  for (const item of list.items) {
    const word = item.type === 'atom' ? item.value.toUpperCase() : '';
    if (word === 'REVERSE') {
      // REVERSE REVERSE cancels out, as in Dovecot.
      reverse = !reverse;
      continue;
    }
    const key = SORT_KEYS.find((k) => k === word);
    if (!key) fail(`Unknown sort argument: ${item.type === 'atom' ? item.value : ''}`);
    program.push({ key, reverse });
    reverse = false;
  }
  if (reverse) fail('Sort list ends with REVERSE');
  if (program.length === 0) fail('Empty sort program');
  const charset = cursor.astring();
  return { program, charset, returnOptions, partial, criteria: parseCriteria(cursor, charset) };
}

const THREAD_ALGORITHMS: readonly ThreadAlgorithm[] = ['ORDEREDSUBJECT', 'REFERENCES', 'REFS'];

/** RFC 5256 §3: `algorithm charset key...`. */
export function parseThreadArguments(cursor: ArgCursor): { algorithm: ThreadAlgorithm; charset: string; criteria: SearchKey } {
  const name = cursor.atom().toUpperCase();
  const algorithm = THREAD_ALGORITHMS.find((a) => a === name);
  if (!algorithm) fail('Unknown thread algorithm');
  const charset = cursor.astring();
  return { algorithm, charset, criteria: parseCriteria(cursor, charset) };
}

function parseReturnOptions(cursor: ArgCursor): { returnOptions: SearchReturnOption[] | null; partial: PartialRange | null } {
  let returnOptions: SearchReturnOption[] | null = null;
  let partial: PartialRange | null = null;
  if (cursor.acceptAtom('RETURN')) {
    returnOptions = [];
    const items = cursor.list();
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const name = item.type === 'atom' ? item.value.toUpperCase() : '';
      const option = RETURN_OPTIONS.find((o) => o === name);
      if (!option) fail('Unknown RETURN option');
      if (option === 'PARTIAL') {
        // RFC 5267 §4.4: PARTIAL m:n with 1 ≤ m ≤ n.
        const range = items[++i];
        const m = range?.type === 'atom' ? /^([1-9][0-9]{0,9}):([1-9][0-9]{0,9})$/.exec(range.value) : null;
        if (!m) fail('Invalid PARTIAL range');
        const from = Number(m[1]);
        const to = Number(m[2]);
        partial = { from: Math.min(from, to), to: Math.max(from, to) };
      }
      if (!returnOptions.includes(option)) returnOptions.push(option);
    }
    // RFC 4731 §3.1: an empty RETURN () means RETURN (ALL).
    if (returnOptions.length === 0) returnOptions.push('ALL');
  }
  return { returnOptions, partial };
}
