// SEARCH engine: every RFC 3501 key (plus OLDER/YOUNGER, MODSEQ, $), decoded and case-folded text
// matching, cheap-keys-first evaluation, and the SEARCH/ESEARCH response lines (as Dovecot 2.3.19).
import { evaluateSearch, type SearchOptions } from '../../../src/imap/commands/search-eval.js';
import { formatEsearch, formatSearchResponse, searchCharsetError } from '../../../src/imap/commands/search-response.js';
import { SearchTextCache } from '../../../src/imap/commands/search-text.js';
import type { MessageBodyStore } from '../../../src/imap/commands/fetch-mime.js';
import { fixture, searchKey, testMailbox, type TestMailbox } from './helpers.js';

const third = Buffer.from(
  'Date: Sun, 9 Mar 2025 23:30:00 -0800\r\nFrom: =?ISO-8859-1?Q?J=F6rg?= <joerg@example.de>\r\nTo: Alice <alice@example.org>\r\n' +
  'Cc: carol@example.net\r\nBcc: dave@example.net\r\nSubject: Gro\xc3\x9fe =?UTF-8?B?U3RyYcOfZQ==?=\r\nX-Custom: Blue\r\n' +
  'Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nDas Wetter ist sch=F6n =\r\nheute.\r\n', 'latin1');

describe('evaluateSearch', () => {
  let box: TestMailbox;
  let now: Date;
  beforeAll(() => {
    box = testMailbox();
    box.append(fixture('simple-text'), { flags: ['\\Seen'], internalDate: new Date('2025-03-03T12:00:00Z') });
    box.append(fixture('multipart-alternative'), { flags: ['\\Flagged', '$Foo'], internalDate: new Date('2025-03-06T12:00:00Z') });
    box.append(third, { flags: ['\\Deleted', '\\Answered', '\\Draft'], internalDate: new Date('2025-03-10T12:00:00Z') });
    box.store.storeFlags(box.mailboxId, { uids: [2], operation: 'add', flags: ['\\Seen'] });
    now = new Date('2025-03-10T13:00:00Z');
  });
  afterAll(() => box.cleanup());

  function search(criteria: string, extra: Partial<SearchOptions> = {}, store: MessageBodyStore = box.store): number[] {
    const messages = box.messages();
    return evaluateSearch({ store, now }, messages, searchKey(criteria), {
      recentUids: new Set([3]), highestSeq: messages.length, maxUid: 3, returnUids: false, ...extra,
    }).numbers;
  }

  test.each([
    ['ALL', [1, 2, 3]],
    ['ANSWERED', [3]], ['UNANSWERED', [1, 2]], ['DELETED', [3]], ['UNDELETED', [1, 2]], ['DRAFT', [3]], ['UNDRAFT', [1, 2]],
    ['FLAGGED', [2]], ['UNFLAGGED', [1, 3]], ['SEEN', [1, 2]], ['UNSEEN', [3]],
    ['RECENT', [3]], ['NEW', [3]], ['OLD', [1, 2]],
    ['KEYWORD $Foo', [2]], ['KEYWORD $foo', [2]], ['UNKEYWORD $Foo', [1, 3]], ['KEYWORD nothere', []],
    ['BEFORE 6-Mar-2025', [1]], ['ON 6-Mar-2025', [2]], ['SINCE 6-Mar-2025', [2, 3]],
    // The sent date is the day written in the Date: header, whatever its zone.
    ['SENTBEFORE 5-Mar-2025', [1]], ['SENTON 9-Mar-2025', [3]], ['SENTSINCE 5-Mar-2025', [2, 3]],
    ['LARGER 500', [2]], ['SMALLER 400', [1, 3]],
    ['2:*', [2, 3]], ['*', [3]], ['1,3', [1, 3]], ['UID 2', [2]], ['UID 3:*', [3]], ['UID 9:*', [3]], ['UID 4:7', []],
    ['OLDER 3600', [1, 2]], ['YOUNGER 3600', [3]],
    ['HEADER X-Custom blue', [3]], ['HEADER X-Custom ""', [3]], ['HEADER Message-ID ""', [1, 2]],
    ['FROM alice', [1]], ['FROM "jörg"', [3]], ['TO alice', [3]], ['CC carol', [3]], ['BCC dave', [3]],
    ['SUBJECT "spring sale – 30%"', [2]], ['SUBJECT "GROSSE STRASSE"', [3]], ['SUBJECT lunch', [1]],
    ['BODY friday', [1]], ['BODY "café"', [2]], ['BODY "schön heute"', [3]], ['BODY spring', [2]], ['BODY alice', [1]],
    ['TEXT alice', [1, 3]], ['TEXT "customer@example"', [2]], ['TEXT zzz', []],
    ['NOT SEEN', [3]], ['OR FLAGGED DELETED', [2, 3]], ['OR BODY friday SUBJECT spring', [1, 2]],
    ['(SEEN FROM news)', [2]], ['NOT (SEEN NOT BODY friday)', [1, 3]], ['SEEN SINCE 1-Jan-2025 BODY "café"', [2]],
  ])('SEARCH %s', (criteria, expected) => {
    expect(search(criteria)).toEqual(expected);
  });

  test('UID SEARCH returns UIDs; $ is the saved result; MODSEQ reports the highest', () => {
    expect(search('2:3', { returnUids: true })).toEqual([2, 3]);
    expect(search('$', { savedResult: [1, 3] })).toEqual([1, 3]);
    expect(search('UID $', { savedResult: [2] })).toEqual([2]);
    expect(search('$')).toEqual([]);
    const messages = box.messages();
    const modseqs = messages.map((m) => m.meta.modseq);
    const r = evaluateSearch({ store: box.store }, messages, searchKey(`MODSEQ ${modseqs[0]}`), { recentUids: new Set(), highestSeq: 3, maxUid: 3, returnUids: false });
    expect(r.numbers).toEqual([1, 2, 3]);
    expect(r.highestModseq).toBe(Math.max(...modseqs));
    expect(evaluateSearch({ store: box.store }, messages, searchKey('ALL'), { recentUids: new Set(), highestSeq: 3, maxUid: 3, returnUids: false }).highestModseq).toBeNull();
  });

  test('index-only keys never open a body; body text is read once with a cache', () => {
    const opened: number[] = [];
    const counting: MessageBodyStore = {
      openBody: (id) => { opened.push(id); return box.store.openBody(id); },
      getMimeStructure: (id) => box.store.getMimeStructure(id),
      setMimeStructure: (id, s) => box.store.setMimeStructure(id, s),
    };
    expect(search('SEEN LARGER 100 UID 1:* NOT OLD', {}, counting)).toEqual([]);
    expect(opened).toEqual([]);
    expect(search('UNSEEN BODY friday', {}, counting)).toEqual([]);
    // Only message 3 is unseen: opened once for its header block and its body text.
    expect(opened.map((id) => box.messages().find((m) => m.meta.bodyId === id)!.seq)).toEqual([3]);
    const cache = new SearchTextCache(1024 * 1024);
    const messages = box.messages();
    const opts = { recentUids: new Set<number>(), highestSeq: 3, maxUid: 3, returnUids: false };
    opened.length = 0;
    evaluateSearch({ store: counting, textCache: cache }, messages, searchKey('TEXT "schön"'), opts);
    const first = opened.length;
    expect(evaluateSearch({ store: counting, textCache: cache }, messages, searchKey('TEXT "schön"'), opts).numbers).toEqual([3]);
    expect(opened.length).toBe(first);
    expect(cache.size).toBeGreaterThan(0);
  });

  test('the text cache stays within its byte budget', () => {
    const cache = new SearchTextCache(2000);
    const messages = box.messages();
    evaluateSearch({ store: box.store, textCache: cache }, messages, searchKey('TEXT nothing-matches'), { recentUids: new Set(), highestSeq: 3, maxUid: 3, returnUids: false });
    expect(cache.size).toBeLessThanOrEqual(2000);
  });
});

describe('SEARCH responses', () => {
  test('plain SEARCH, with MODSEQ only when something matched', () => {
    expect(formatSearchResponse([1, 2, 3], 11)).toBe('* SEARCH 1 2 3 (MODSEQ 11)\r\n');
    expect(formatSearchResponse([], 11)).toBe('* SEARCH\r\n');
    expect(formatSearchResponse([4, 9], null)).toBe('* SEARCH 4 9\r\n');
  });

  test('ESEARCH as Dovecot orders it', () => {
    expect(formatEsearch('t11', false, [1, 2, 3], ['MIN', 'MAX', 'COUNT', 'ALL'])).toBe('* ESEARCH (TAG "t11") MIN 1 MAX 3 ALL 1:3 COUNT 3\r\n');
    expect(formatEsearch('a1', true, [1, 2, 3, 7], ['ALL', 'COUNT', 'MIN', 'MAX'])).toBe('* ESEARCH (TAG "a1") UID MIN 1 MAX 7 ALL 1:3,7 COUNT 4\r\n');
    expect(formatEsearch('t12', true, [1, 2, 3], [])).toBe('* ESEARCH (TAG "t12") UID ALL 1:3\r\n');
    expect(formatEsearch('t13', false, [], ['COUNT'])).toBe('* ESEARCH (TAG "t13") COUNT 0\r\n');
    expect(formatEsearch('t19', false, [], ['MIN'])).toBe('* ESEARCH (TAG "t19")\r\n');
    expect(formatEsearch('t15', false, [1, 2, 3], ['ALL'], 11)).toBe('* ESEARCH (TAG "t15") ALL 1:3 MODSEQ 11\r\n');
    expect(formatEsearch('s', false, [1], ['SAVE'])).toBeNull();
    // RFC 7162 §3.2.5: MIN/MAX alone report the modseq of the returned messages, not of all matches.
    expect(formatEsearch('m1', false, [1, 2, 3], ['MIN'], 8, [6, 8, 7])).toBe('* ESEARCH (TAG "m1") MIN 1 MODSEQ 6\r\n');
    expect(formatEsearch('m2', false, [1, 2, 3], ['MAX'], 8, [6, 8, 7])).toBe('* ESEARCH (TAG "m2") MAX 3 MODSEQ 7\r\n');
    expect(formatEsearch('m3', false, [1, 2, 3], ['MIN', 'MAX'], 8, [6, 8, 7])).toBe('* ESEARCH (TAG "m3") MIN 1 MAX 3 MODSEQ 7\r\n');
    expect(formatEsearch('m4', false, [1, 2, 3], ['MIN', 'COUNT'], 8, [6, 8, 7])).toBe('* ESEARCH (TAG "m4") MIN 1 COUNT 3 MODSEQ 8\r\n');
  });

  test('charsets', () => {
    for (const c of [null, 'UTF-8', 'utf-8', 'US-ASCII', 'ISO-8859-1', 'KOI8-R', 'windows-1252']) expect(searchCharsetError(c, false)).toBeNull();
    expect(searchCharsetError('X-UNKNOWN', false)).toEqual({ status: 'NO', text: 'Unknown charset', code: 'BADCHARSET (US-ASCII UTF-8)' });
    // RFC 6855 §3 (erratum 4029): after ENABLE UTF8=ACCEPT only UTF-8.
    for (const c of [null, 'UTF-8', 'US-ASCII']) expect(searchCharsetError(c, true)).toBeNull();
    expect(searchCharsetError('ISO-8859-1', true)?.status).toBe('BAD');
  });
});
