import { compileMailboxPattern, joinReferenceAndPattern, matchMailboxPattern } from '../../../src/imap/protocol/index.js';

describe('LIST patterns', () => {
  const names = ['INBOX', 'INBOX/Sub', 'Archive', 'Archive/2025', 'Archive/2025/Q1', 'Arch', 'Sent'];
  const list = (pattern: string) => names.filter((n) => matchMailboxPattern(pattern, n, '/'));

  test('* crosses the separator, % does not', () => {
    expect(list('*')).toEqual(names);
    expect(list('%')).toEqual(['INBOX', 'Archive', 'Arch', 'Sent']);
    expect(list('Archive/%')).toEqual(['Archive/2025']);
    expect(list('Archive/*')).toEqual(['Archive/2025', 'Archive/2025/Q1']);
    expect(list('Arch%')).toEqual(['Archive', 'Arch']);
    expect(list('%/%')).toEqual(['INBOX/Sub', 'Archive/2025']);
    expect(list('Sent')).toEqual(['Sent']);
    expect(list('sent')).toEqual([]);
  });

  test('INBOX is case-insensitive, also as a parent', () => {
    expect(list('inbox')).toEqual(['INBOX']);
    expect(list('InBox/%')).toEqual(['INBOX/Sub']);
    expect(matchMailboxPattern('INBOX', 'inbox', '/')).toBe(true);
    expect(matchMailboxPattern('INBOXES', 'inboxes', '/')).toBe(false);
  });

  test('regex specials in names are literal', () => {
    expect(matchMailboxPattern('a.b', 'axb', '.')).toBe(false);
    expect(matchMailboxPattern('a(b)+', 'a(b)+', '/')).toBe(true);
    expect(matchMailboxPattern('x%', 'x.y', '.')).toBe(false);
  });

  test('children that could match (for \\HasChildren and RECURSIVEMATCH parents)', () => {
    const m = compileMailboxPattern('Archive/%', '/');
    expect(m.mayMatchChildren('Archive')).toBe(true);
    expect(m.mayMatchChildren('Archive/2025')).toBe(false);
    expect(m.mayMatchChildren('Sent')).toBe(false);
    expect(compileMailboxPattern('*', '/').mayMatchChildren('Sent')).toBe(true);
    expect(compileMailboxPattern('Arch*', '/').mayMatchChildren('Archive')).toBe(true);
    expect(compileMailboxPattern('Arch*', '/').mayMatchChildren('Sent')).toBe(false);
  });

  test('reference and pattern join', () => {
    expect(joinReferenceAndPattern('', '%', '/')).toBe('%');
    expect(joinReferenceAndPattern('Archive/', '%', '/')).toBe('Archive/%');
    expect(joinReferenceAndPattern('Archive/', '/x', '/')).toBe('Archive/x');
  });
});
