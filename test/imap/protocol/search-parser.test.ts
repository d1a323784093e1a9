import { cmd, err } from './helpers.js';

const criteria = (raw: string) => {
  const c = cmd(`a SEARCH ${raw}\r\n`);
  if (c.name !== 'SEARCH') throw new Error('not SEARCH');
  return c.criteria;
};

describe('SEARCH', () => {
  test('flag keys', () => {
    const keys = ['ANSWERED', 'DELETED', 'DRAFT', 'FLAGGED', 'SEEN', 'RECENT', 'UNANSWERED', 'UNDELETED', 'UNDRAFT', 'UNFLAGGED', 'UNSEEN'];
    expect(criteria(keys.join(' '))).toEqual({
      type: 'and',
      keys: [
        { type: 'flag', flag: '\\Answered', set: true },
        { type: 'flag', flag: '\\Deleted', set: true },
        { type: 'flag', flag: '\\Draft', set: true },
        { type: 'flag', flag: '\\Flagged', set: true },
        { type: 'flag', flag: '\\Seen', set: true },
        { type: 'flag', flag: '\\Recent', set: true },
        { type: 'flag', flag: '\\Answered', set: false },
        { type: 'flag', flag: '\\Deleted', set: false },
        { type: 'flag', flag: '\\Draft', set: false },
        { type: 'flag', flag: '\\Flagged', set: false },
        { type: 'flag', flag: '\\Seen', set: false },
      ],
    });
    expect(criteria('KEYWORD $Junk')).toEqual({ type: 'flag', flag: '$Junk', set: true });
    expect(criteria('unkeyword $Junk')).toEqual({ type: 'flag', flag: '$Junk', set: false });
    expect(criteria('ALL')).toEqual({ type: 'all' });
    expect(criteria('NEW OLD')).toEqual({ type: 'and', keys: [{ type: 'new' }, { type: 'old' }] });
  });

  test('dates, sizes, text and header keys', () => {
    expect(criteria('SINCE 1-Feb-1994 BEFORE "10-Mar-2026" ON 05-Nov-2026')).toEqual({
      type: 'and',
      keys: [
        { type: 'date', field: 'internal', op: 'since', date: { year: 1994, month: 2, day: 1 } },
        { type: 'date', field: 'internal', op: 'before', date: { year: 2026, month: 3, day: 10 } },
        { type: 'date', field: 'internal', op: 'on', date: { year: 2026, month: 11, day: 5 } },
      ],
    });
    expect(criteria('SENTBEFORE 1-Jan-2000 SENTON 2-Jan-2000 SENTSINCE 3-Jan-2000')).toMatchObject({
      keys: [{ field: 'sent', op: 'before' }, { field: 'sent', op: 'on' }, { field: 'sent', op: 'since' }],
    });
    expect(criteria('LARGER 100 SMALLER 5000')).toEqual({ type: 'and', keys: [{ type: 'size', op: 'larger', size: 100 }, { type: 'size', op: 'smaller', size: 5000 }] });
    expect(criteria('FROM alice TO "bob smith" CC c BCC d SUBJECT {5}\r\nhello')).toEqual({
      type: 'and',
      keys: [
        { type: 'header', address: true, field: 'From', value: 'alice' },
        { type: 'header', address: true, field: 'To', value: 'bob smith' },
        { type: 'header', address: true, field: 'Cc', value: 'c' },
        { type: 'header', address: true, field: 'Bcc', value: 'd' },
        { type: 'header', field: 'Subject', value: 'hello' },
      ],
    });
    expect(criteria('HEADER X-Spam "" BODY x TEXT y')).toEqual({
      type: 'and',
      keys: [{ type: 'header', field: 'X-Spam', value: '' }, { type: 'body', value: 'x' }, { type: 'text', value: 'y' }],
    });
    expect(criteria('OLDER 3600 YOUNGER 60')).toMatchObject({ keys: [{ type: 'age', op: 'older', seconds: 3600 }, { type: 'age', op: 'younger', seconds: 60 }] });
  });

  test('OR, NOT, groups, sequence and UID sets, $', () => {
    expect(criteria('OR (SEEN FLAGGED) NOT 1:5 UID 2,4:*')).toEqual({
      type: 'and',
      keys: [
        {
          type: 'or',
          left: { type: 'and', keys: [{ type: 'flag', flag: '\\Seen', set: true }, { type: 'flag', flag: '\\Flagged', set: true }] },
          right: { type: 'not', key: { type: 'sequence', set: { kind: 'ranges', ranges: [{ from: 1, to: 5 }] } } },
        },
        { type: 'uid', set: { kind: 'ranges', ranges: [{ from: 2, to: 2 }, { from: 4, to: '*' }] } },
      ],
    });
    expect(criteria('OR OR SEEN DRAFT DELETED')).toMatchObject({ type: 'or', left: { type: 'or' }, right: { flag: '\\Deleted' } });
    expect(criteria('$')).toEqual({ type: 'sequence', set: { kind: 'saved' } });
    expect(criteria('UID $')).toEqual({ type: 'uid', set: { kind: 'saved' } });
    expect(criteria('((SEEN))')).toEqual({ type: 'flag', flag: '\\Seen', set: true });
  });

  test('MODSEQ with and without entry (RFC 7162)', () => {
    expect(criteria('MODSEQ 620162338')).toEqual({ type: 'modseq', modseq: 620162338 });
    expect(criteria('MODSEQ "/flags/\\\\draft" all 620162338')).toEqual({ type: 'modseq', modseq: 620162338, entry: { name: '/flags/\\draft', kind: 'all' } });
  });

  test('CHARSET, RETURN and UID SEARCH', () => {
    expect(cmd('a UID SEARCH RETURN (MIN COUNT SAVE) CHARSET UTF-8 SUBJECT "ä"\r\n')).toEqual({
      name: 'SEARCH',
      uid: true,
      charset: 'UTF-8',
      returnOptions: ['MIN', 'COUNT', 'SAVE'],
      partial: null,
      criteria: { type: 'header', field: 'Subject', value: 'ä' },
    });
    expect(cmd('a SEARCH RETURN () ALL\r\n')).toMatchObject({ returnOptions: ['ALL'] });
    // RFC 5267: UPDATE and PARTIAL m:n (the range is kept ascending).
    expect(cmd('a SEARCH RETURN (UPDATE PARTIAL 5:2) ALL\r\n')).toMatchObject({ returnOptions: ['UPDATE', 'PARTIAL'], partial: { from: 2, to: 5 } });
    expect(cmd('a SEARCH ALL\r\n')).toMatchObject({ returnOptions: null, charset: null, uid: false });
  });

  test('errors', () => {
    expect(err('a SEARCH\r\n')).toBe('BAD Missing search parameters');
    expect(err('a SEARCH FOO\r\n')).toBe('BAD Unknown argument FOO');
    expect(err('a SEARCH SINCE 31-Feb-2026\r\n')).toBe('BAD Invalid search date parameter');
    expect(err('a SEARCH SINCE yesterday\r\n')).toBe('BAD Invalid search date parameter');
    expect(err('a SEARCH FROM\r\n')).toBe('BAD Missing parameter for argument FROM');
    expect(err('a SEARCH OR SEEN\r\n')).toBe('BAD Missing argument');
    expect(err('a SEARCH NOT\r\n')).toBe('BAD Missing argument');
    expect(err('a SEARCH LARGER x\r\n')).toBe('BAD Invalid search size parameter');
    expect(err('a SEARCH 0:4\r\n')).toBe('BAD Invalid messageset');
    expect(err('a SEARCH UID 1:0\r\n')).toBe('BAD Invalid uidset');
    expect(err('a SEARCH RETURN (FOO) ALL\r\n')).toBe('BAD Unknown RETURN option');
    expect(err('a SEARCH (SEEN\r\n')).toBe("BAD Missing ')'");
    expect(err('a SEARCH ()\r\n')).toBe('BAD Empty list');
    expect(err('a SEARCH MODSEQ "/flags/x" bogus 5\r\n')).toBe('BAD Invalid MODSEQ entry type');
  });
});
