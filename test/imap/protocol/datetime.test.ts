import { compareImapDates, formatImapDate, formatImapDateTime, parseImapDate, parseImapDateTime } from '../../../src/imap/protocol/index.js';

describe('IMAP dates', () => {
  test('formats date-time like Dovecot', () => {
    expect(formatImapDateTime(new Date(Date.UTC(2026, 10, 25, 22, 10, 40)))).toBe('25-Nov-2026 22:10:40 +0000');
    expect(formatImapDateTime(new Date(Date.UTC(2026, 0, 5, 1, 2, 3)), -300)).toBe('04-Jan-2026 20:02:03 -0500');
    expect(formatImapDateTime(new Date(Date.UTC(2026, 0, 5, 23, 30, 0)), 90)).toBe('06-Jan-2026 01:00:00 +0130');
  });

  test('parses date-time with zone and space-padded day', () => {
    expect(parseImapDateTime('25-Nov-2026 22:10:40 +0000')?.date.toISOString()).toBe('2026-11-25T22:10:40.000Z');
    const p = parseImapDateTime(' 5-jan-2026 20:02:03 -0500');
    expect(p?.date.toISOString()).toBe('2026-01-06T01:02:03.000Z');
    expect(p?.timezoneOffsetMinutes).toBe(-300);
    expect(formatImapDateTime(p!.date, p!.timezoneOffsetMinutes)).toBe('05-Jan-2026 20:02:03 -0500');
  });

  test.each(['', '25-Nov-2026', '25-Nov-2026 22:10:40', '32-Jan-2026 00:00:00 +0000', '29-Feb-2026 00:00:00 +0000', '25-Foo-2026 00:00:00 +0000', '25-Nov-2026 24:00:00 +0000', '25-Nov-26 00:00:00 +0000', '25-Nov-2026 00:00:00 0000'])(
    'rejects date-time %j',
    (text) => expect(parseImapDateTime(text)).toBeNull(),
  );

  test('dates for SEARCH', () => {
    expect(parseImapDate('1-Feb-1994')).toEqual({ year: 1994, month: 2, day: 1 });
    expect(parseImapDate('29-feb-2024')).toEqual({ year: 2024, month: 2, day: 29 });
    expect(parseImapDate('29-Feb-2023')).toBeNull();
    expect(parseImapDate('1-Feb-94')).toBeNull();
    expect(formatImapDate({ year: 1994, month: 2, day: 1 })).toBe('01-Feb-1994');
    expect(compareImapDates({ year: 2026, month: 1, day: 2 }, { year: 2026, month: 1, day: 1 })).toBeGreaterThan(0);
  });
});
