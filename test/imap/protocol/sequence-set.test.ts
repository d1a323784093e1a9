import {
  expandSequenceSet,
  formatNumberSet,
  formatSequenceSet,
  parseSequenceSet,
  sequenceSetFitsMessageCount,
  sequenceSetHas,
  sequenceSetIntervals,
  sequenceSetMaxNumber,
} from '../../../src/imap/protocol/index.js';

const set = (text: string) => {
  const s = parseSequenceSet(text);
  if (!s) throw new Error(`invalid ${text}`);
  return s;
};

describe('sequence sets', () => {
  test('parse numbers, *, ranges in either order, lists', () => {
    expect(expandSequenceSet(set('1'), 10)).toEqual([1]);
    expect(expandSequenceSet(set('*'), 10)).toEqual([10]);
    expect(expandSequenceSet(set('8:*'), 10)).toEqual([8, 9, 10]);
    expect(expandSequenceSet(set('*:8'), 10)).toEqual([8, 9, 10]);
    expect(expandSequenceSet(set('5:3,1,4,9:10'), 10)).toEqual([1, 3, 4, 5, 9, 10]);
    expect(formatSequenceSet(set('5:3,1,*'))).toBe('5:3,1,*');
    expect(parseSequenceSet('$')).toEqual({ kind: 'saved' });
  });

  test.each(['0', '1:0', '', ',', '1,', ':1', '1:', '1:2:3', 'a', '01', '-1', '1 2', '4294967296', '$,1'])('rejects %j', (text) => {
    expect(parseSequenceSet(text)).toBeNull();
  });

  test('intervals clip to the maximum and merge', () => {
    expect(sequenceSetIntervals(set('1:3,2:5,7,20:*'), 8)).toEqual([[1, 5], [7, 8]]);
    // UID ranges beyond the highest UID name nothing, except `*`, which is the highest.
    expect(sequenceSetIntervals(set('100:200'), 8)).toEqual([]);
    expect(sequenceSetIntervals(set('100:*'), 8)).toEqual([[8, 8]]);
    expect(expandSequenceSet(set('1:*'), 0)).toEqual([]);
  });

  test('membership', () => {
    const s = set('2:4,10:*');
    expect([1, 2, 4, 5, 9, 10, 99].map((n) => sequenceSetHas(s, n, 50))).toEqual([false, true, true, false, false, true, false]);
    expect(sequenceSetHas(set('*'), 7, 7)).toBe(true);
    expect(sequenceSetHas(set('*'), 6, 7)).toBe(false);
  });

  test('message-count check (Dovecot: "Invalid messageset" beyond the mailbox)', () => {
    expect(sequenceSetFitsMessageCount(set('1:5,*'), 5)).toBe(true);
    expect(sequenceSetFitsMessageCount(set('6'), 5)).toBe(false);
    expect(sequenceSetMaxNumber(set('3:9,2,*'))).toBe(9);
  });

  test('number sets compress to ranges', () => {
    expect(formatNumberSet([7, 1, 2, 3, 9, 10, 3])).toBe('1:3,7,9:10');
    expect(formatNumberSet([])).toBe('');
  });
});
